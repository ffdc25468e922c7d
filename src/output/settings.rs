//! The output stage's settings: which destinations the deployment allows,
//! whether HTTP callers may write, how S3 is reached.

use std::time::Duration;

use super::key::{ObjectUri, split_uri};
use crate::config::Env;
use crate::error::AppError;

/// Multipart parts are this large by default (S3 takes 5 MiB to 5 GiB).
pub(crate) const DEFAULT_PART_BYTES: u64 = 8 * 1024 * 1024;
const MIN_PART_BYTES: u64 = 5 * 1024 * 1024;

/// One allowed destination: a bucket and a key prefix ending in `/` (empty
/// for the whole bucket).
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct AllowedPrefix {
    bucket: String,
    prefix: String,
}

impl AllowedPrefix {
    fn covers(&self, uri: &ObjectUri) -> bool {
        uri.bucket == self.bucket && uri.key.starts_with(&self.prefix)
    }
}

/// Validated output settings.
#[derive(Clone, Debug)]
pub(crate) struct OutputSettings {
    /// `OUTPUT_S3_PREFIXES`: comma-separated `s3://bucket/prefix/`; each is
    /// a folder (a missing trailing `/` is added), so `s3://b/reports`
    /// allows `s3://b/reports/…` and not `s3://b/reports-old/…`.
    pub(crate) prefixes: Vec<AllowedPrefix>,
    /// `OUTPUT_ALLOW_HTTP`: API Gateway and Function URL callers may give
    /// `output` (off by default).
    pub(crate) allow_http: bool,
    /// `OUTPUT_PART_BYTES`: multipart part size, and the size from which an
    /// object is uploaded in parts.
    pub(crate) part_bytes: usize,
    /// `OUTPUT_REQUEST_TIMEOUT_MS`: one S3 request (always within the
    /// invocation's deadline).
    pub(crate) request_timeout: Duration,
    /// `AWS_ENDPOINT_URL_S3` (or `AWS_ENDPOINT_URL`): a custom endpoint,
    /// addressed path-style (`{endpoint}/{bucket}/{key}`).
    pub(crate) endpoint: Option<String>,
    /// `AWS_REGION` (or `AWS_DEFAULT_REGION`; `us-east-1` when neither).
    pub(crate) region: String,
}

impl OutputSettings {
    /// Read them.
    pub(crate) fn from_env(env: &Env<'_>) -> Result<Self, AppError> {
        let mut prefixes = Vec::new();
        for entry in env
            .get("OUTPUT_S3_PREFIXES")
            .unwrap_or_default()
            .split(',')
            .map(str::trim)
            .filter(|s| !s.is_empty())
        {
            let (bucket, prefix) = split_uri(entry).ok_or_else(|| {
                AppError::config(format!(
                    "OUTPUT_S3_PREFIXES: '{}' is not s3://BUCKET/PREFIX/ with a valid bucket name",
                    crate::error::preview(entry)
                ))
            })?;
            if prefix.split('/').any(|s| s == "." || s == "..") || prefix.starts_with('/') {
                return Err(AppError::config(format!(
                    "OUTPUT_S3_PREFIXES: '{}' has a '.', '..' or empty segment",
                    crate::error::preview(entry)
                )));
            }
            let mut prefix = prefix.to_owned();
            if !prefix.is_empty() && !prefix.ends_with('/') {
                prefix.push('/');
            }
            prefixes.push(AllowedPrefix {
                bucket: bucket.to_owned(),
                prefix,
            });
        }
        let endpoint = match env.url("AWS_ENDPOINT_URL_S3")? {
            Some(url) => Some(url),
            None => env.url("AWS_ENDPOINT_URL")?,
        }
        .map(|u| u.trim_end_matches('/').to_owned());
        Ok(OutputSettings {
            prefixes,
            allow_http: env.flag("OUTPUT_ALLOW_HTTP")?,
            part_bytes: env.number(
                "OUTPUT_PART_BYTES",
                DEFAULT_PART_BYTES,
                MIN_PART_BYTES,
                512 * 1024 * 1024,
            )? as usize,
            request_timeout: env.millis("OUTPUT_REQUEST_TIMEOUT_MS", 30_000, 100, 900_000)?,
            endpoint,
            region: env
                .get("AWS_REGION")
                .or_else(|| env.get("AWS_DEFAULT_REGION"))
                .unwrap_or_else(|| "us-east-1".to_owned()),
        })
    }

    /// Whether the deployment allows writing `uri`.
    pub(crate) fn allows(&self, uri: &ObjectUri) -> bool {
        self.prefixes.iter().any(|p| p.covers(uri))
    }

    /// The allowed prefixes, for messages.
    pub(crate) fn listed(&self) -> String {
        self.prefixes
            .iter()
            .map(|p| format!("s3://{}/{}", p.bucket, p.prefix))
            .collect::<Vec<_>>()
            .join(", ")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn from(pairs: &[(&str, &str)]) -> Result<OutputSettings, AppError> {
        let map: HashMap<String, String> = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        let lookup = |k: &str| map.get(k).cloned();
        OutputSettings::from_env(&Env::new(&lookup))
    }

    fn uri(bucket: &str, key: &str) -> ObjectUri {
        ObjectUri {
            bucket: bucket.into(),
            key: key.into(),
        }
    }

    #[test]
    fn prefixes_are_folders() {
        let s = from(&[(
            "OUTPUT_S3_PREFIXES",
            "s3://data-lake/reports, s3://scratch-bucket",
        )])
        .unwrap();
        assert!(s.allows(&uri("data-lake", "reports/a.csv")));
        assert!(s.allows(&uri("data-lake", "reports/x/y/a.csv")));
        assert!(!s.allows(&uri("data-lake", "reports-old/a.csv")));
        assert!(!s.allows(&uri("data-lake", "a.csv")));
        assert!(!s.allows(&uri("other", "reports/a.csv")));
        assert!(s.allows(&uri("scratch-bucket", "anything.jsonl")));
        assert_eq!(s.listed(), "s3://data-lake/reports/, s3://scratch-bucket/");
    }

    #[test]
    fn nothing_is_allowed_by_default() {
        let s = from(&[]).unwrap();
        assert!(!s.allows(&uri("data-lake", "reports/a.csv")));
        assert!(!s.allow_http);
        assert_eq!(s.part_bytes as u64, DEFAULT_PART_BYTES);
        assert_eq!(s.region, "us-east-1");
    }

    #[test]
    fn bad_entries_name_the_variable() {
        for bad in ["https://x/y", "s3://UPPER/x", "s3://ok-bucket/../x"] {
            let e = from(&[("OUTPUT_S3_PREFIXES", bad)]).unwrap_err();
            assert!(
                e.message().contains("OUTPUT_S3_PREFIXES"),
                "{}",
                e.message()
            );
        }
        assert!(from(&[("OUTPUT_PART_BYTES", "1024")]).is_err());
        assert!(from(&[("OUTPUT_ALLOW_HTTP", "perhaps")]).is_err());
    }

    #[test]
    fn endpoint_and_region() {
        let s = from(&[
            ("AWS_ENDPOINT_URL", "http://127.0.0.1:5000/"),
            ("AWS_DEFAULT_REGION", "eu-west-1"),
        ])
        .unwrap();
        assert_eq!(s.endpoint.as_deref(), Some("http://127.0.0.1:5000"));
        assert_eq!(s.region, "eu-west-1");
        let s = from(&[
            ("AWS_ENDPOINT_URL", "http://127.0.0.1:5000"),
            ("AWS_ENDPOINT_URL_S3", "http://127.0.0.1:9000"),
        ])
        .unwrap();
        assert_eq!(s.endpoint.as_deref(), Some("http://127.0.0.1:9000"));
    }
}
