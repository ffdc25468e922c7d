//! HTTP plumbing shared by the upstream clients: the one `reqwest::Client`,
//! body reading with a size cap, and transport failures as typed errors that
//! never carry the request URL (the Alpha Vantage key travels in it).

use std::time::Duration;

use crate::deadline::Deadline;
use crate::error::{AppError, ErrorKind};

/// What percent-encoding leaves as it is: RFC 3986's unreserved characters,
/// `A–Z a–z 0–9 - . _ ~`.
pub(crate) const UNRESERVED: &percent_encoding::AsciiSet = &percent_encoding::NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~');

/// Error bodies are read up to this many bytes (enough for any message).
pub(crate) const ERROR_BODY_BYTES: usize = 64 * 1024;

/// The largest upstream body (decompressed) one request may bring into a
/// function of `memory_mb` MB: 1/48 of its memory (5.3 MB at 256 MB), from
/// 1 MiB to 256 MiB. Parsing an Alpha Vantage body into rows multiplies its
/// size several times over (a body at the cap peaks near half the memory),
/// and a Snowflake page may have a few partitions in flight at once.
pub(crate) fn body_cap(memory_mb: u64) -> usize {
    let bytes = memory_mb.saturating_mul(1024 * 1024) / 48;
    bytes.clamp(1024 * 1024, 256 * 1024 * 1024) as usize
}

/// Follow a redirect only within the origin (scheme, host and port) of the
/// request: a redirect elsewhere would carry the Alpha Vantage key in its
/// URL, or re-post SQL and bindings to another server.
fn same_origin_only() -> reqwest::redirect::Policy {
    reqwest::redirect::Policy::custom(|attempt| {
        let first = attempt.previous().first();
        let same = first.is_some_and(|f| f.origin() == attempt.url().origin());
        if !same || attempt.previous().len() > 5 {
            attempt.stop()
        } else {
            attempt.follow()
        }
    })
}

/// The TLS configuration of the one HTTP client: rustls on aws-lc-rs,
/// Mozilla's root certificates compiled in (webpki-roots) — a cold start
/// reads and parses no certificate file, whatever the image's trust-store
/// layout — plus the certificates of `SSL_CERT_FILE` when it is set (a
/// private CA, a TLS-inspecting proxy, or the system bundle itself).
///
/// An empty `SSL_CERT_FILE` adds nothing (some AWS images point it at an
/// empty file to spare OpenSSL its default load) and is logged; a file with
/// content but no PEM certificate is a configuration error, which names
/// OpenSSL's `TRUSTED CERTIFICATE` format when that is what it holds
/// (`ca-bundle.trust.crt` on Amazon Linux).
pub(crate) fn tls_config(
    extra_roots: Option<&std::path::Path>,
) -> Result<rustls::ClientConfig, AppError> {
    use rustls::pki_types::CertificateDer;
    use rustls::pki_types::pem::PemObject;

    let mut roots = rustls::RootCertStore {
        roots: webpki_roots::TLS_SERVER_ROOTS.to_vec(),
    };
    if let Some(path) = extra_roots {
        let bad = |why: String| {
            AppError::config(format!(
                "SSL_CERT_FILE ({}): {why}",
                crate::error::preview(&path.display().to_string())
            ))
        };
        let pem = std::fs::read(path).map_err(|e| bad(e.to_string()))?;
        let mut added = 0;
        for cert in CertificateDer::pem_slice_iter(&pem) {
            let cert = cert.map_err(|e| bad(format!("not PEM certificates ({e})")))?;
            roots
                .add(cert)
                .map_err(|e| bad(format!("an unusable certificate ({e})")))?;
            added += 1;
        }
        if added == 0 && pem.iter().all(u8::is_ascii_whitespace) {
            tracing::warn!(
                "SSL_CERT_FILE names an empty file: only the compiled-in Mozilla roots are trusted"
            );
        } else if added == 0 {
            let trusted =
                memchr::memmem::find(&pem, b"-----BEGIN TRUSTED CERTIFICATE-----").is_some();
            return Err(bad(if trusted {
                "only OpenSSL TRUSTED CERTIFICATE blocks, which are not read; name a PEM bundle \
                 of plain certificates instead (on Amazon Linux, /etc/pki/tls/certs/ca-bundle.crt)"
                    .into()
            } else {
                "no certificate found".into()
            }));
        }
    }
    let provider = std::sync::Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let mut config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| AppError::config(format!("could not configure TLS: {e}")))?
        .with_root_certificates(roots)
        .with_no_client_auth();
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(config)
}

/// The HTTP client shared by every upstream (the AWS SDK's too): rustls with
/// [`tls_config`], HTTP/1.1, bounded connect time, pooled
/// connections kept for warm invocations, and no redirect to another origin.
pub fn http_client() -> Result<reqwest::Client, AppError> {
    let extra_roots = std::env::var_os("SSL_CERT_FILE")
        .filter(|p| !p.is_empty())
        .map(std::path::PathBuf::from);
    reqwest::Client::builder()
        .tls_backend_preconfigured(tls_config(extra_roots.as_deref())?)
        .user_agent(concat!("secret-fetch/", env!("CARGO_PKG_VERSION")))
        .redirect(same_origin_only())
        .connect_timeout(Duration::from_secs(5))
        .pool_idle_timeout(Duration::from_secs(60))
        .tcp_nodelay(true)
        .build()
        .map_err(|e| AppError::config(format!("could not build the HTTP client: {e}")))
}

#[cfg(test)]
mod tls_tests {
    use super::*;

    #[test]
    fn compiled_in_roots_and_an_extra_file() {
        let base = tls_config(None).unwrap();
        assert_eq!(base.alpn_protocols, [b"http/1.1".to_vec()]);
        let dir = std::env::temp_dir().join(format!("sf-roots-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let junk = dir.join("junk.pem");
        std::fs::write(&junk, "no certificates here").unwrap();
        let err = tls_config(Some(&junk)).unwrap_err();
        assert_eq!(err.kind(), crate::error::ErrorKind::ConfigurationError);
        assert!(err.message().contains("SSL_CERT_FILE"));
        assert!(err.message().contains("no certificate found"));
        let missing = dir.join("missing.pem");
        assert!(tls_config(Some(&missing)).is_err());
        // An empty file adds no root and is no error.
        let empty = dir.join("empty.crt");
        std::fs::write(&empty, "\n").unwrap();
        assert!(tls_config(Some(&empty)).is_ok());
        // OpenSSL's trust format (Amazon Linux's ca-bundle.trust.crt) is
        // named in the error, with the bundle to use instead.
        let trust = dir.join("ca-bundle.trust.crt");
        std::fs::write(
            &trust,
            "# ISRG Root X1\n-----BEGIN TRUSTED CERTIFICATE-----\nMIIB\n-----END TRUSTED CERTIFICATE-----\n",
        )
        .unwrap();
        let err = tls_config(Some(&trust)).unwrap_err();
        assert!(
            err.message().contains("TRUSTED CERTIFICATE"),
            "{}",
            err.message()
        );
        assert!(err.message().contains("/etc/pki/tls/certs/ca-bundle.crt"));
        std::fs::remove_dir_all(&dir).ok();
    }
}

/// What to do with a body longer than the limit.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Overflow {
    /// Fail with [`too_large_body`] (a result: a partial one is useless).
    Refuse,
    /// Keep the first bytes and stop reading (an error body: its start
    /// describes it).
    Truncate,
}

/// Read `response`'s body as its status calls for: a success body whole,
/// refused past `max_body` (a partial result is useless); an error body only
/// its first [`ERROR_BODY_BYTES`] (its start describes it).
pub(crate) async fn read_answer_body(
    service: &str,
    response: reqwest::Response,
    max_body: usize,
    deadline: &Deadline,
    budget: Duration,
) -> Result<Vec<u8>, AppError> {
    let (max, overflow) = if response.status().is_success() {
        (max_body, Overflow::Refuse)
    } else {
        (ERROR_BODY_BYTES, Overflow::Truncate)
    };
    read_body(service, response, max, overflow, deadline, budget).await
}

/// Read `response`'s body, at most `max` bytes; what happens past that is
/// `overflow`'s choice.
async fn read_body(
    service: &str,
    mut response: reqwest::Response,
    max: usize,
    overflow: Overflow,
    deadline: &Deadline,
    budget: Duration,
) -> Result<Vec<u8>, AppError> {
    let expected = response
        .content_length()
        .unwrap_or(16 * 1024)
        .min(max as u64) as usize;
    let mut body = Vec::with_capacity(expected);
    while let Some(chunk) = response
        .chunk()
        .await
        .map_err(|e| transport_error(service, e, deadline, budget))?
    {
        let room = max - body.len();
        if chunk.len() > room {
            if overflow == Overflow::Refuse {
                return Err(too_large_body(service, max));
            }
            body.extend_from_slice(&chunk[..room]);
            break;
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body)
}

/// The error for a body over `max` bytes: not transient, so never retried.
pub(crate) fn too_large_body(service: &str, max: usize) -> AppError {
    AppError::new(
        ErrorKind::TooLarge,
        format!(
            "{service} sent more than {max} bytes, more than this function's memory \
             (AWS_LAMBDA_FUNCTION_MEMORY_SIZE) allows; narrow the request"
        ),
    )
}

/// A transport failure talking to `service` within `budget`: a deadline error
/// when the invocation's time is up, otherwise `upstream_failed`.
pub(crate) fn transport_error(
    service: &str,
    e: reqwest::Error,
    deadline: &Deadline,
    budget: Duration,
) -> AppError {
    // The URL can hold the Alpha Vantage key: it never reaches the chain.
    let e = e.without_url();
    if e.is_timeout() {
        if deadline.remaining() < Duration::from_millis(50) {
            return AppError::deadline(&format!("the {service} request")).with_source(e);
        }
        return AppError::new(
            ErrorKind::UpstreamFailed,
            format!("{service} did not answer within {} ms", budget.as_millis()),
        )
        .transient()
        .with_source(e);
    }
    let what = if e.is_connect() {
        format!("could not connect to {service}")
    } else if e.is_body() || e.is_decode() {
        format!("the {service} response broke off")
    } else {
        format!("the request to {service} failed")
    };
    // A request that could not even be built will not build on a retry.
    let transient = !e.is_builder();
    let err = AppError::new(ErrorKind::UpstreamFailed, what).with_source(e);
    if transient { err.transient() } else { err }
}
