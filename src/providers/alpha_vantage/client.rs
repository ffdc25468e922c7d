//! The HTTP client for Alpha Vantage's `query` endpoint.
//!
//! One `reqwest::Client` (built at start-up) is shared; each request gets a
//! timeout of `min(ALPHA_VANTAGE_TIMEOUT_MS, time left before the deadline)`
//! covering connect, headers and body. The key travels in the query string as
//! the API requires, so transport errors are described without their URL and
//! upstream text is only attached to errors raw, for the invocation's
//! redactor (see `crate::redact`). Bodies are capped by the function's
//! memory size; no redirect to another origin is followed.

use std::time::Duration;

use super::task::AlphaVantageTask;
use crate::deadline::Deadline;
use crate::error::{AppError, ErrorKind};
use crate::secrets::SecretValue;
use crate::upstream::{read_answer_body, transport_error};

const SERVICE: &str = "Alpha Vantage";

/// Alpha Vantage over HTTP.
#[derive(Clone, Debug)]
pub(crate) struct AlphaVantageClient {
    http: reqwest::Client,
    base_url: String,
    timeout: Duration,
    max_body: usize,
}

impl AlphaVantageClient {
    /// A client for `base_url` (the `…/query` endpoint) that refuses bodies
    /// over `max_body` bytes (a full intraday month is ~2 MB).
    pub(crate) fn new(
        http: reqwest::Client,
        base_url: impl Into<String>,
        timeout: Duration,
        max_body: usize,
    ) -> Self {
        AlphaVantageClient {
            http,
            base_url: base_url.into(),
            timeout,
            max_body,
        }
    }

    /// Run `task` with `key`: the body of an HTTP 200 answer, which may
    /// still be one of Alpha Vantage's error documents (see
    /// `normalize::normalize`, which tells them apart).
    pub(crate) async fn query(
        &self,
        task: &AlphaVantageTask,
        key: &SecretValue,
        deadline: &Deadline,
    ) -> Result<Vec<u8>, AppError> {
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
        let bytes = read_answer_body(SERVICE, response, self.max_body, deadline, budget).await?;
        if !status.is_success() {
            let kind = if status == reqwest::StatusCode::TOO_MANY_REQUESTS {
                ErrorKind::UpstreamThrottled
            } else {
                ErrorKind::UpstreamFailed
            };
            return Err(AppError::new(
                kind,
                format!("Alpha Vantage answered HTTP {}", status.as_u16()),
            )
            .with_upstream_text(&String::from_utf8_lossy(&bytes)));
        }
        Ok(bytes)
    }
}
