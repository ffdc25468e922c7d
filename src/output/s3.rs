//! The few S3 calls the output stage makes — HeadObject, PutObject and a
//! multipart upload, writes conditional on `If-None-Match: *` — sent on the
//! function's one reqwest client and signed with SigV4 (`aws-sigv4`, already
//! in the tree through the AWS SDK).
//!
//! Why not `aws-sdk-s3`: it is one of the largest crates of the SDK (several
//! minutes of compile on the CI machine and about 3 MiB of binary, against a
//! 12 MiB budget) for five operations whose requests are a URL, a few headers
//! and a body. The answers that matter are the status, the `ETag` header,
//! and three elements of S3's fixed XML shapes (`UploadId`, `Code`,
//! `Message`), read by [`element`].
//!
//! Addressing: a custom endpoint (`AWS_ENDPOINT_URL_S3`, moto in the tests)
//! is addressed path-style; AWS itself virtual-hosted
//! (`https://BUCKET.s3.REGION.amazonaws.com/KEY`), or path-style for a
//! bucket with dots in its name (its certificate has no such subdomain).
//! Every payload is signed (`x-amz-content-sha256` is its SHA-256), so the
//! body S3 stores is the body the function encoded.

use std::time::{Duration, SystemTime};

use aws_credential_types::provider::{ProvideCredentials, SharedCredentialsProvider};
use aws_sigv4::http_request::{
    PayloadChecksumKind, PercentEncodingMode, SignableBody, SignableRequest, SigningSettings,
    UriPathNormalizationMode, sign,
};
use aws_sigv4::sign::v4;
use reqwest::Method;
use reqwest::header::HeaderMap;

use super::key::ObjectUri;
use super::settings::OutputSettings;
use crate::deadline::Deadline;
use crate::error::{AppError, ErrorKind};
use crate::upstream::{ERROR_BODY_BYTES, UNRESERVED, read_answer_body};

/// Attempts of one request that S3 answered with a 5xx or `SlowDown`.
const ATTEMPTS: u32 = 3;

/// What the function records on every object it writes.
#[derive(Clone, Debug, Default)]
pub(crate) struct ObjectMeta {
    /// `Content-Type`.
    pub(crate) content_type: &'static str,
    /// `x-amz-meta-*` pairs (names lower-case ASCII; values ASCII).
    pub(crate) user: Vec<(&'static str, String)>,
}

/// An object that is already there.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Existing {
    /// Its `ETag`.
    pub(crate) etag: String,
    /// Its size.
    pub(crate) bytes: u64,
    /// The row count the function recorded on it (`x-amz-meta-rows`).
    pub(crate) rows: Option<u64>,
}

/// What a conditional write did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Written {
    /// The object was created; its `ETag`.
    Created(String),
    /// An object with that key already existed (412): nothing was written.
    AlreadyThere,
}

/// The S3 client of the output stage, built once per cold start.
#[derive(Clone, Debug)]
pub(crate) struct S3Client {
    http: reqwest::Client,
    endpoint: Option<String>,
    region: String,
    timeout: Duration,
    credentials: Option<SharedCredentialsProvider>,
}

/// One answer: status, headers and (at most [`ERROR_BODY_BYTES`] of) body.
struct Answer {
    status: u16,
    headers: HeaderMap,
    body: Vec<u8>,
}

impl S3Client {
    /// A client for `settings`' endpoint and region, signing with
    /// `credentials` (the SDK's chain: in Lambda, the role's credentials
    /// from the environment).
    pub(crate) fn new(
        http: reqwest::Client,
        settings: &OutputSettings,
        credentials: Option<SharedCredentialsProvider>,
    ) -> Self {
        S3Client {
            http,
            endpoint: settings.endpoint.clone(),
            region: settings.region.clone(),
            timeout: settings.request_timeout,
            credentials,
        }
    }

    /// Sign with `credentials` from now on.
    pub(crate) fn sign_with(&mut self, credentials: Option<SharedCredentialsProvider>) {
        self.credentials = credentials;
    }

    /// The object's URL (its key percent-encoded, `/` kept), plus `query`.
    fn url(&self, uri: &ObjectUri, query: &str) -> String {
        let key = encode_key(&uri.key);
        let base = match &self.endpoint {
            Some(endpoint) => format!("{endpoint}/{}/{key}", uri.bucket),
            None if uri.bucket.contains('.') => format!(
                "https://s3.{}.amazonaws.com/{}/{key}",
                self.region, uri.bucket
            ),
            None => format!(
                "https://{}.s3.{}.amazonaws.com/{key}",
                uri.bucket, self.region
            ),
        };
        if query.is_empty() {
            base
        } else {
            format!("{base}?{query}")
        }
    }

    /// Sign and send one request, retrying 5xx and `SlowDown` answers with
    /// backoff while the deadline allows; any other answer is returned.
    async fn send(
        &self,
        method: Method,
        uri: &ObjectUri,
        query: &str,
        headers: &[(&str, String)],
        body: bytes::Bytes,
        deadline: &Deadline,
    ) -> Result<Answer, AppError> {
        let provider = self.credentials.as_ref().ok_or_else(|| {
            AppError::config("no AWS credentials are available to write output to S3")
        })?;
        let identity = provider
            .provide_credentials()
            .await
            .map_err(|e| {
                AppError::config(format!("could not load the AWS credentials for S3: {e}"))
            })?
            .into();
        let url = self.url(uri, query);
        let payload_hash =
            hex(aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, &body).as_ref());
        let mut attempt = 0;
        loop {
            attempt += 1;
            let mut settings = SigningSettings::default();
            settings.percent_encoding_mode = PercentEncodingMode::Single;
            settings.uri_path_normalization_mode = UriPathNormalizationMode::Disabled;
            settings.payload_checksum_kind = PayloadChecksumKind::XAmzSha256;
            let params = v4::SigningParams::builder()
                .identity(&identity)
                .region(&self.region)
                .name("s3")
                .time(SystemTime::now())
                .settings(settings)
                .build()
                .map_err(|e| AppError::internal(format!("could not sign the S3 request: {e}")))?
                .into();
            let signable = SignableRequest::new(
                method.as_str(),
                url.as_str(),
                headers.iter().map(|(k, v)| (*k, v.as_str())),
                SignableBody::Precomputed(payload_hash.clone()),
            )
            .and_then(|r| sign(r, &params))
            .map_err(|e| AppError::internal(format!("could not sign the S3 request: {e}")))?;
            let (instructions, _) = signable.into_parts();
            let budget = self.timeout.min(deadline.remaining());
            if budget < Duration::from_millis(10) {
                return Err(AppError::deadline("writing the output to S3"));
            }
            let mut request = self
                .http
                .request(method.clone(), url.as_str())
                .timeout(budget)
                .body(body.clone());
            for (name, value) in headers {
                request = request.header(*name, value.as_str());
            }
            for (name, value) in instructions.headers() {
                request = request.header(name, value);
            }
            let answer = match request.send().await {
                Ok(response) => {
                    let status = response.status().as_u16();
                    let headers = response.headers().clone();
                    let body = read_answer_body("S3", response, ERROR_BODY_BYTES, deadline, budget)
                        .await
                        .map_err(as_output_error)?;
                    Answer {
                        status,
                        headers,
                        body,
                    }
                }
                Err(e) => {
                    let err = as_output_error(crate::upstream::transport_error(
                        "S3", e, deadline, budget,
                    ));
                    // A request that may have reached S3 is not re-sent
                    // blindly: the caller decides (a conditional write
                    // answers 412 the second time).
                    if err.is_transient()
                        && attempt < ATTEMPTS
                        && err.kind() != ErrorKind::DeadlineExceeded
                    {
                        backoff(attempt, deadline).await?;
                        continue;
                    }
                    return Err(err);
                }
            };
            let retry = answer.status >= 500 || answer.status == 429;
            if retry && attempt < ATTEMPTS {
                tracing::info!(status = answer.status, attempt, "S3 asked to retry");
                backoff(attempt, deadline).await?;
                continue;
            }
            return Ok(answer);
        }
    }

    /// The object at `uri`, if there is one. A 403 reads as absent (without
    /// `s3:ListBucket` S3 answers a missing key with 403): the conditional
    /// write still keeps an existing object.
    pub(crate) async fn head(
        &self,
        uri: &ObjectUri,
        deadline: &Deadline,
    ) -> Result<Option<Existing>, AppError> {
        let a = self
            .send(Method::HEAD, uri, "", &[], bytes::Bytes::new(), deadline)
            .await?;
        match a.status {
            200 => Ok(Some(Existing {
                etag: header(&a.headers, "etag").unwrap_or_default(),
                bytes: header(&a.headers, "content-length")
                    .and_then(|v| v.parse().ok())
                    .unwrap_or(0),
                rows: header(&a.headers, "x-amz-meta-rows").and_then(|v| v.parse().ok()),
            })),
            404 => Ok(None),
            403 => {
                tracing::info!(
                    "S3 answered 403 to HeadObject on the output key (no s3:GetObject or s3:ListBucket?); writing conditionally"
                );
                Ok(None)
            }
            _ => Err(s3_error(&a, uri, "HeadObject")),
        }
    }

    fn write_headers(meta: &ObjectMeta) -> Vec<(&'static str, String)> {
        let mut headers = vec![("content-type", meta.content_type.to_owned())];
        for (name, value) in &meta.user {
            headers.push((name, value.clone()));
        }
        headers
    }

    /// PutObject `body` at `uri` unless an object is there.
    pub(crate) async fn put_if_absent(
        &self,
        uri: &ObjectUri,
        body: Vec<u8>,
        meta: &ObjectMeta,
        deadline: &Deadline,
    ) -> Result<Written, AppError> {
        let mut headers = Self::write_headers(meta);
        headers.push(("if-none-match", "*".to_owned()));
        let body = bytes::Bytes::from(body);
        let mut conflicts = 0;
        loop {
            let a = self
                .send(Method::PUT, uri, "", &headers, body.clone(), deadline)
                .await?;
            match a.status {
                200 => {
                    return Ok(Written::Created(
                        header(&a.headers, "etag").unwrap_or_default(),
                    ));
                }
                412 => return Ok(Written::AlreadyThere),
                // Another writer of the same key is in flight: once it
                // lands, the retry is a 412.
                409 if conflicts < 2 => {
                    conflicts += 1;
                    backoff(conflicts, deadline).await?;
                }
                _ => return Err(s3_error(&a, uri, "PutObject")),
            }
        }
    }

    /// CreateMultipartUpload: the upload id.
    pub(crate) async fn create_upload(
        &self,
        uri: &ObjectUri,
        meta: &ObjectMeta,
        deadline: &Deadline,
    ) -> Result<String, AppError> {
        let headers = Self::write_headers(meta);
        let a = self
            .send(
                Method::POST,
                uri,
                "uploads=",
                &headers,
                bytes::Bytes::new(),
                deadline,
            )
            .await?;
        if a.status != 200 {
            return Err(s3_error(&a, uri, "CreateMultipartUpload"));
        }
        element(&a.body, "UploadId")
            .filter(|id| !id.is_empty())
            .ok_or_else(|| {
                AppError::new(
                    ErrorKind::OutputFailed,
                    "S3 answered CreateMultipartUpload without an UploadId",
                )
            })
    }

    /// UploadPart `number` (1-based): its ETag.
    pub(crate) async fn upload_part(
        &self,
        uri: &ObjectUri,
        upload_id: &str,
        number: u32,
        body: Vec<u8>,
        deadline: &Deadline,
    ) -> Result<String, AppError> {
        let query = format!("partNumber={number}&uploadId={}", encode_query(upload_id));
        let a = self
            .send(
                Method::PUT,
                uri,
                &query,
                &[],
                bytes::Bytes::from(body),
                deadline,
            )
            .await?;
        match (a.status, header(&a.headers, "etag")) {
            (200, Some(etag)) => Ok(etag),
            (200, None) => Err(AppError::new(
                ErrorKind::OutputFailed,
                "S3 answered UploadPart without an ETag",
            )),
            _ => Err(s3_error(&a, uri, "UploadPart")),
        }
    }

    /// CompleteMultipartUpload of `parts` (number, ETag), unless an object
    /// is there.
    pub(crate) async fn complete_if_absent(
        &self,
        uri: &ObjectUri,
        upload_id: &str,
        parts: &[(u32, String)],
        deadline: &Deadline,
    ) -> Result<Written, AppError> {
        let mut xml = String::from("<CompleteMultipartUpload>");
        for (number, etag) in parts {
            xml.push_str(&format!(
                "<Part><PartNumber>{number}</PartNumber><ETag>{}</ETag></Part>",
                escape(etag)
            ));
        }
        xml.push_str("</CompleteMultipartUpload>");
        let query = format!("uploadId={}", encode_query(upload_id));
        let headers = [
            ("content-type", "application/xml".to_owned()),
            ("if-none-match", "*".to_owned()),
        ];
        let a = self
            .send(
                Method::POST,
                uri,
                &query,
                &headers,
                bytes::Bytes::from(xml),
                deadline,
            )
            .await?;
        match a.status {
            // A 200 may still carry an error document (S3 fails a complete
            // after it started answering).
            200 if element(&a.body, "Code").is_none() => Ok(Written::Created(
                element(&a.body, "ETag")
                    .or_else(|| header(&a.headers, "etag"))
                    .unwrap_or_default(),
            )),
            412 => Ok(Written::AlreadyThere),
            409 => Err(AppError::new(
                ErrorKind::OutputFailed,
                format!(
                    "another writer of {uri} was completing at the same time (409 ConditionalRequestConflict); the next attempt finds its object"
                ),
            )
            .transient()),
            _ => Err(s3_error(&a, uri, "CompleteMultipartUpload")),
        }
    }

    /// AbortMultipartUpload, best effort (a lifecycle rule for incomplete
    /// uploads is the backstop; see the README).
    pub(crate) async fn abort(&self, uri: &ObjectUri, upload_id: &str, deadline: &Deadline) {
        let query = format!("uploadId={}", encode_query(upload_id));
        let short = Deadline::after(deadline.remaining().min(Duration::from_secs(2)));
        match self
            .send(
                Method::DELETE,
                uri,
                &query,
                &[],
                bytes::Bytes::new(),
                &short,
            )
            .await
        {
            Ok(a) if a.status == 204 || a.status == 200 || a.status == 404 => {}
            Ok(a) => tracing::warn!(status = a.status, "AbortMultipartUpload failed"),
            Err(e) => tracing::warn!(error = e.message(), "AbortMultipartUpload failed"),
        }
    }
}

async fn backoff(attempt: u32, deadline: &Deadline) -> Result<(), AppError> {
    let wait = Duration::from_millis(100 * 4u64.pow(attempt.saturating_sub(1).min(4)));
    if deadline.remaining() <= wait * 2 {
        return Err(AppError::deadline("writing the output to S3"));
    }
    tokio::time::sleep(wait).await;
    Ok(())
}

/// Upstream transport errors of S3 calls are output failures.
fn as_output_error(e: AppError) -> AppError {
    match e.kind() {
        ErrorKind::UpstreamFailed => {
            let transient = e.is_transient();
            let out = AppError::new(ErrorKind::OutputFailed, e.message().to_owned());
            if transient { out.transient() } else { out }
        }
        _ => e,
    }
}

/// The typed error for S3's answer `a` to `operation` on `uri`.
fn s3_error(a: &Answer, uri: &ObjectUri, operation: &str) -> AppError {
    let code = element(&a.body, "Code").unwrap_or_default();
    let message = element(&a.body, "Message").unwrap_or_default();
    let detail = match (code.is_empty(), message.is_empty()) {
        (true, _) => format!("HTTP {}", a.status),
        (false, true) => format!("{code} (HTTP {})", a.status),
        (false, false) => format!(
            "{code} (HTTP {}): {}",
            a.status,
            crate::error::preview(&message)
        ),
    };
    let (kind, retry) = match (a.status, code.as_str()) {
        (_, "NoSuchBucket") => (ErrorKind::OutputBucketNotFound, false),
        (403, _) | (_, "AccessDenied" | "KMS.AccessDeniedException") => {
            (ErrorKind::OutputAccessDenied, false)
        }
        (429 | 503, _) | (_, "SlowDown") => (ErrorKind::OutputThrottled, true),
        _ => (ErrorKind::OutputFailed, a.status >= 500),
    };
    let err = AppError::new(kind, format!("S3 refused {operation} on {uri}: {detail}"))
        .with_upstream_status(a.status);
    match kind {
        ErrorKind::OutputThrottled => err.with_retry_after(Duration::from_secs(1)).transient(),
        _ if retry => err.transient(),
        _ => err,
    }
}

fn header(headers: &HeaderMap, name: &str) -> Option<String> {
    headers
        .get(name)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned)
}

/// The text of the first `<name>` element of an S3 XML document, entities
/// decoded. S3's answers are flat, fixed documents without CDATA or
/// attributes on these elements, so a scan is enough.
pub(crate) fn element(xml: &[u8], name: &str) -> Option<String> {
    let text = std::str::from_utf8(xml).ok()?;
    let open = format!("<{name}>");
    let start = text.find(&open)? + open.len();
    let end = start + text[start..].find(&format!("</{name}>"))?;
    Some(unescape(&text[start..end]))
}

fn unescape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(at) = rest.find('&') {
        out.push_str(&rest[..at]);
        let tail = &rest[at..];
        let Some(end) = tail.find(';').filter(|e| *e <= 10) else {
            out.push('&');
            rest = &tail[1..];
            continue;
        };
        let entity = &tail[1..end];
        let decoded = match entity {
            "quot" => Some('"'),
            "amp" => Some('&'),
            "lt" => Some('<'),
            "gt" => Some('>'),
            "apos" => Some('\''),
            _ => entity
                .strip_prefix("#x")
                .and_then(|h| u32::from_str_radix(h, 16).ok())
                .or_else(|| entity.strip_prefix('#').and_then(|d| d.parse().ok()))
                .and_then(char::from_u32),
        };
        match decoded {
            Some(c) => {
                out.push(c);
                rest = &tail[end + 1..];
            }
            None => {
                out.push('&');
                rest = &tail[1..];
            }
        }
    }
    out.push_str(rest);
    out
}

fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// A key as a URL path: every byte but `A–Z a–z 0–9 - . _ ~ /` percent-encoded
/// (the same form SigV4's canonical URI takes for S3).
fn encode_key(key: &str) -> String {
    const PATH: &percent_encoding::AsciiSet = &UNRESERVED.remove(b'/');
    percent_encoding::utf8_percent_encode(key, PATH).to_string()
}

fn encode_query(value: &str) -> String {
    percent_encoding::utf8_percent_encode(value, UNRESERVED).to_string()
}

fn hex(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        out.push_str(&format!("{b:02x}"));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn uri(bucket: &str, key: &str) -> ObjectUri {
        ObjectUri {
            bucket: bucket.into(),
            key: key.into(),
        }
    }

    fn client(endpoint: Option<&str>) -> S3Client {
        S3Client {
            http: reqwest::Client::new(),
            endpoint: endpoint.map(str::to_owned),
            region: "eu-west-1".into(),
            timeout: Duration::from_secs(1),
            credentials: None,
        }
    }

    #[test]
    fn addressing() {
        let k = uri("data-lake", "av/dt=2024-01-02/a b+c.csv");
        assert_eq!(
            client(None).url(&k, ""),
            "https://data-lake.s3.eu-west-1.amazonaws.com/av/dt%3D2024-01-02/a%20b%2Bc.csv"
        );
        assert_eq!(
            client(None).url(&uri("my.bucket", "x.csv"), "uploads="),
            "https://s3.eu-west-1.amazonaws.com/my.bucket/x.csv?uploads="
        );
        assert_eq!(
            client(Some("http://127.0.0.1:5000")).url(&uri("b-1", "k/é.jsonl"), ""),
            "http://127.0.0.1:5000/b-1/k/%C3%A9.jsonl"
        );
    }

    #[test]
    fn xml_elements_and_entities() {
        let body = br#"<?xml version="1.0"?><Error><Code>AccessDenied</Code><Message>a &amp; b &lt;c&gt; &#x41;&#66; &bogus; & x</Message></Error>"#;
        assert_eq!(element(body, "Code").as_deref(), Some("AccessDenied"));
        assert_eq!(
            element(body, "Message").as_deref(),
            Some("a & b <c> AB &bogus; & x")
        );
        assert_eq!(element(body, "UploadId"), None);
        let done = b"<CompleteMultipartUploadResult><ETag>&quot;3858f62230ac3c915f300c664312c11f-9&quot;</ETag></CompleteMultipartUploadResult>";
        assert_eq!(
            element(done, "ETag").as_deref(),
            Some("\"3858f62230ac3c915f300c664312c11f-9\"")
        );
    }

    #[test]
    fn errors_are_typed() {
        let answer = |status: u16, body: &str| Answer {
            status,
            headers: HeaderMap::new(),
            body: body.as_bytes().to_vec(),
        };
        let k = uri("b-1", "k");
        let kind = |a: Answer| s3_error(&a, &k, "PutObject").kind();
        assert_eq!(
            kind(answer(403, "<Error><Code>AccessDenied</Code></Error>")),
            ErrorKind::OutputAccessDenied
        );
        assert_eq!(kind(answer(403, "")), ErrorKind::OutputAccessDenied);
        assert_eq!(
            kind(answer(404, "<Error><Code>NoSuchBucket</Code></Error>")),
            ErrorKind::OutputBucketNotFound
        );
        let slow = s3_error(
            &answer(503, "<Error><Code>SlowDown</Code></Error>"),
            &k,
            "PutObject",
        );
        assert_eq!(slow.kind(), ErrorKind::OutputThrottled);
        assert_eq!(slow.retry_after(), Some(Duration::from_secs(1)));
        assert_eq!(
            kind(answer(400, "<Error><Code>InvalidRequest</Code></Error>")),
            ErrorKind::OutputFailed
        );
        assert!(s3_error(&answer(500, ""), &k, "PutObject").is_transient());
        let m = s3_error(
            &answer(400, "<Error><Code>X</Code><Message>why</Message></Error>"),
            &k,
            "PutObject",
        );
        assert!(m.message().contains("s3://b-1/k") && m.message().contains("X (HTTP 400): why"));
    }

    #[test]
    fn complete_body_escapes_etags() {
        assert_eq!(escape("\"a&b\""), "&quot;a&amp;b&quot;");
        assert_eq!(encode_query("a/b=c"), "a%2Fb%3Dc");
        assert_eq!(hex(&[0, 15, 255]), "000fff");
    }
}
