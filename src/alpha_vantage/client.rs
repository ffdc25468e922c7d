//! The HTTP client for Alpha Vantage's `query` endpoint.
//!
//! One `reqwest::Client` (built at start-up) is shared; each request gets a
//! timeout of `min(ALPHA_VANTAGE_TIMEOUT_MS, time left before the deadline)`
//! covering connect, headers and body. The key travels in the query string as
//! the API requires, so transport errors are described without their URL and
//! upstream text is redacted before it is quoted.

use std::time::Duration;

use serde_json::{Map, Value};

use super::classify::{classify, redact};
use super::task::AlphaVantageTask;
use crate::deadline::Deadline;
use crate::error::{AppError, ErrorKind, preview};
use crate::secrets::SecretValue;
use crate::upstream::{read_body, transport_error};

const SERVICE: &str = "Alpha Vantage";

/// Bodies larger than this are refused (a full intraday month is ~2 MB).
pub const MAX_BODY_BYTES: usize = 64 * 1024 * 1024;

/// Alpha Vantage over HTTP.
#[derive(Clone, Debug)]
pub struct AlphaVantageClient {
    http: reqwest::Client,
    base_url: String,
    timeout: Duration,
}

impl AlphaVantageClient {
    /// A client for `base_url` (the `…/query` endpoint).
    pub fn new(http: reqwest::Client, base_url: impl Into<String>, timeout: Duration) -> Self {
        AlphaVantageClient {
            http,
            base_url: base_url.into(),
            timeout,
        }
    }

    /// Run `task` with `key`; `Ok` only for a data body.
    pub async fn query(
        &self,
        task: &AlphaVantageTask,
        key: &SecretValue,
        deadline: &Deadline,
    ) -> Result<Map<String, Value>, AppError> {
        let what = "the Alpha Vantage request";
        let budget = deadline.bound(self.timeout);
        if budget.is_zero() {
            return Err(AppError::deadline(what));
        }
        let mut params = task.query();
        params.push(("apikey", key.expose().to_owned()));
        let response = self
            .http
            .get(&self.base_url)
            .query(&params)
            .header(reqwest::header::ACCEPT, "application/json")
            .timeout(budget)
            .send()
            .await
            .map_err(|e| transport_error(SERVICE, e, deadline, budget))?;
        drop(params);
        let status = response.status();
        let bytes = read_body(SERVICE, response, MAX_BODY_BYTES, deadline, budget).await?;
        let shown = || {
            preview(&redact(
                &String::from_utf8_lossy(&bytes[..bytes.len().min(4096)]),
                key.expose(),
            ))
        };
        if status == reqwest::StatusCode::TOO_MANY_REQUESTS {
            return Err(AppError::new(
                ErrorKind::UpstreamThrottled,
                format!("Alpha Vantage answered HTTP 429: {}", shown()),
            ));
        }
        if !status.is_success() {
            return Err(AppError::new(
                ErrorKind::UpstreamFailed,
                format!(
                    "Alpha Vantage answered HTTP {}: {}",
                    status.as_u16(),
                    shown()
                ),
            ));
        }
        let body: Value = serde_json::from_slice(&bytes).map_err(|_| {
            AppError::new(
                ErrorKind::UpstreamFailed,
                format!(
                    "Alpha Vantage answered with something that is not JSON: {}",
                    shown()
                ),
            )
        })?;
        let Value::Object(body) = body else {
            return Err(AppError::new(
                ErrorKind::UpstreamFailed,
                "Alpha Vantage answered with JSON that is not an object",
            ));
        };
        classify(task, &body, key.expose())?;
        Ok(body)
    }
}
