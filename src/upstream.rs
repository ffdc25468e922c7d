//! HTTP plumbing shared by the upstream clients: the one `reqwest::Client`,
//! body reading with a size cap, and transport failures as typed errors that
//! never carry the request URL (the Alpha Vantage key travels in it).

use std::time::Duration;

use crate::deadline::Deadline;
use crate::error::{AppError, ErrorKind};

/// The HTTP client shared by every provider: rustls, HTTP/2 when offered,
/// bounded connect time, pooled connections kept for warm invocations.
pub fn http_client() -> Result<reqwest::Client, AppError> {
    reqwest::Client::builder()
        .user_agent(concat!("secret-fetch/", env!("CARGO_PKG_VERSION")))
        .connect_timeout(Duration::from_secs(5))
        .pool_idle_timeout(Duration::from_secs(60))
        .tcp_nodelay(true)
        .build()
        .map_err(|e| AppError::config(format!("could not build the HTTP client: {e}")))
}

/// Read `response`'s body, refusing more than `max` bytes.
pub async fn read_body(
    service: &str,
    mut response: reqwest::Response,
    max: usize,
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
        if body.len() + chunk.len() > max {
            return Err(AppError::new(
                ErrorKind::UpstreamFailed,
                format!("{service} sent more than {max} bytes"),
            ));
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body)
}

/// A transport failure talking to `service` within `budget`: a deadline error
/// when the invocation's time is up, otherwise `upstream_failed`.
pub fn transport_error(
    service: &str,
    e: reqwest::Error,
    deadline: &Deadline,
    budget: Duration,
) -> AppError {
    let e = e.without_url();
    if e.is_timeout() {
        if deadline.remaining() < Duration::from_millis(50) {
            return AppError::deadline(&format!("the {service} request"));
        }
        return AppError::new(
            ErrorKind::UpstreamFailed,
            format!("{service} did not answer within {} ms", budget.as_millis()),
        );
    }
    let what = if e.is_connect() {
        format!("could not connect to {service}")
    } else if e.is_body() || e.is_decode() {
        format!("the {service} response broke off")
    } else {
        format!("the request to {service} failed")
    };
    AppError::new(ErrorKind::UpstreamFailed, what)
}
