//! HTTP calls to the SQL API v2: submit, status, cancel, partitions.
//!
//! Every request carries the bearer token and its type header, is bounded by
//! `min(SNOWFLAKE_REQUEST_TIMEOUT_MS, time left)`, and has 429/5xx answers
//! retried with backoff (honouring `Retry-After`). A submit that is retried
//! resends the same `requestId` with `retry=true`, so Snowflake never runs the
//! statement twice. Partition bodies are gunzipped whether or not the HTTP
//! stack was asked for gzip.

use std::io::Read;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use reqwest::{Method, StatusCode};
use serde::Deserialize;
use serde_json::value::RawValue;
use serde_json::{Map, Value};

use super::decode::RowType;
use crate::deadline::Deadline;
use crate::error::{AppError, ErrorKind, UpstreamCode};
use crate::secrets::SecretValue;
use crate::upstream::{ERROR_BODY_BYTES, read_answer_body, too_large_body, transport_error};

const SERVICE: &str = "Snowflake";

/// `code` of a 200 whose body does not hold the whole result.
pub(crate) const RESULT_INCOMPLETE_CODE: &str = "391908";
/// `code` of a 422 for a statement handle Snowflake does not know (any more).
pub(crate) const STATEMENT_NOT_FOUND_CODE: &str = "000709";
/// Attempts for one request that meets 429/5xx/connection failures.
const ATTEMPTS: u32 = 4;

/// A partition's rows: the JSON text of each (an array of cells), as spans
/// of one buffer — the partition's own body — so a downloaded partition is
/// delimited in one pass with no allocation or copy per row.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct Rows {
    text: String,
    spans: Vec<(u32, u32)>,
}

impl Rows {
    /// The rows of a partition's body: `{"data": [...]}` as documented, or
    /// the bare array of rows. `None` when it is neither (or over 4 GiB).
    pub(crate) fn parse(body: Vec<u8>) -> Option<Rows> {
        Rows::parse_text(String::from_utf8(body).ok()?)
    }

    /// [`Rows::parse`] of text already known to be UTF-8.
    fn parse_text(text: String) -> Option<Rows> {
        #[derive(Deserialize)]
        struct Partition<'a> {
            #[serde(borrow)]
            data: Vec<&'a RawValue>,
        }
        let raws = match text.bytes().find(|b| !b.is_ascii_whitespace()) {
            Some(b'[') => serde_json::from_str::<Vec<&RawValue>>(&text).ok()?,
            _ => serde_json::from_str::<Partition<'_>>(&text).ok()?.data,
        };
        let base = text.as_ptr() as usize;
        let spans = raws
            .iter()
            .map(|raw| {
                let start = raw.get().as_ptr() as usize - base;
                Some((
                    u32::try_from(start).ok()?,
                    u32::try_from(start + raw.get().len()).ok()?,
                ))
            })
            .collect::<Option<Vec<_>>>()?;
        drop(raws);
        Some(Rows { text, spans })
    }

    /// Rows given as their JSON texts.
    #[cfg(test)]
    pub(crate) fn from_texts<'a>(rows: impl IntoIterator<Item = &'a str>) -> Rows {
        let mut out = Rows::default();
        for row in rows {
            let start = out.text.len() as u32;
            out.text.push_str(row);
            out.spans.push((start, out.text.len() as u32));
        }
        out
    }

    /// How many rows.
    pub(crate) fn len(&self) -> usize {
        self.spans.len()
    }

    /// Whether there are none.
    pub(crate) fn is_empty(&self) -> bool {
        self.spans.is_empty()
    }

    /// Each row's JSON text, in order.
    pub(crate) fn iter(&self) -> impl Iterator<Item = &str> {
        self.spans
            .iter()
            .map(|&(s, e)| &self.text[s as usize..e as usize])
    }
}

/// Partition 0 inside a statement's answer: its array taken whole (one
/// copy, no allocation per row), then delimited as [`Rows`].
impl<'de> Deserialize<'de> for Rows {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let raw = Box::<RawValue>::deserialize(deserializer)?;
        let text: Box<str> = raw.into();
        if !text.starts_with('[') {
            return Err(serde::de::Error::custom("partition 0 is not an array of rows"));
        }
        Rows::parse_text(text.into_string())
            .ok_or_else(|| serde::de::Error::custom("partition 0 is not an array of rows"))
    }
}

/// Where to send requests, and as whom.
pub(crate) struct Connection {
    /// `https://<account>.snowflakecomputing.com` (or an override).
    pub(crate) base_url: String,
    /// Bearer token (JWT, PAT or OAuth).
    pub(crate) bearer: SecretValue,
    /// `X-Snowflake-Authorization-Token-Type`.
    pub(crate) token_type: &'static str,
}

/// Partition sizes from `resultSetMetaData.partitionInfo`.
#[derive(Clone, Debug, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub(crate) struct PartitionInfo {
    /// Rows in the partition.
    pub(crate) row_count: usize,
    /// Uncompressed size in bytes.
    #[serde(default)]
    pub(crate) uncompressed_size: Option<u64>,
}

/// `resultSetMetaData`.
#[derive(Clone, Debug, Default, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub(crate) struct ResultMeta {
    /// Rows over all partitions.
    #[serde(default)]
    pub(crate) num_rows: u64,
    /// One entry per partition.
    #[serde(default)]
    pub(crate) partition_info: Vec<PartitionInfo>,
    /// Column descriptions.
    #[serde(default)]
    pub(crate) row_type: Vec<RowType>,
}

/// A finished statement: metadata plus partition 0.
#[derive(Clone, Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct ResultSet {
    /// Metadata (absent on some non-query answers).
    #[serde(default)]
    pub(crate) result_set_meta_data: Option<ResultMeta>,
    /// Partition 0 rows.
    #[serde(default)]
    pub(crate) data: Rows,
    /// The statement's handle.
    #[serde(default)]
    pub(crate) statement_handle: String,
    /// `sqlState` (`00000` on success).
    #[serde(default)]
    pub(crate) sql_state: Option<String>,
    /// Snowflake's `code` (`090001` on success; `391908`: incomplete).
    #[serde(default)]
    pub(crate) code: Option<String>,
    /// DML counters.
    #[serde(default)]
    pub(crate) stats: Option<Map<String, Value>>,
}

/// What a submit or status request found.
#[derive(Debug)]
pub(crate) enum StatementStatus {
    /// Finished.
    Done(Box<ResultSet>),
    /// Still running.
    Running {
        /// Poll this handle.
        handle: String,
    },
}

/// The SQL API client (one per process).
#[derive(Clone, Debug)]
pub(crate) struct SnowflakeClient {
    http: reqwest::Client,
    request_timeout: Duration,
    max_body: usize,
}

struct Answer {
    status: StatusCode,
    retry_after: Option<Duration>,
    body: Vec<u8>,
}

impl SnowflakeClient {
    /// A client on the shared HTTP client; `request_timeout` caps one
    /// request and `max_body` one body, compressed or decompressed.
    pub(crate) fn new(http: reqwest::Client, request_timeout: Duration, max_body: usize) -> Self {
        SnowflakeClient {
            http,
            request_timeout,
            max_body,
        }
    }

    async fn once(
        &self,
        conn: &Connection,
        method: Method,
        path_and_query: &str,
        body: Option<&Value>,
        deadline: &Deadline,
        inflate: bool,
    ) -> Result<Answer, AppError> {
        let budget = deadline.bound(self.request_timeout);
        if budget.is_zero() {
            return Err(AppError::deadline("the Snowflake request"));
        }
        let mut req = self
            .http
            .request(method, format!("{}{path_and_query}", conn.base_url))
            .bearer_auth(conn.bearer.expose())
            .header("X-Snowflake-Authorization-Token-Type", conn.token_type)
            .header(reqwest::header::ACCEPT, "application/json")
            .header(reqwest::header::ACCEPT_ENCODING, "gzip")
            .timeout(budget);
        if let Some(body) = body {
            req = req.json(body);
        }
        let response = req
            .send()
            .await
            .map_err(|e| transport_error(SERVICE, e, deadline, budget))?;
        let status = response.status();
        let retry_after = response
            .headers()
            .get(reqwest::header::RETRY_AFTER)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.trim().parse::<u64>().ok())
            .map(Duration::from_secs);
        let raw = read_answer_body(SERVICE, response, self.max_body, deadline, budget).await?;
        let body = if !status.is_success() {
            // An error body only describes the error: one that does not
            // gunzip (cut at the prefix, or corrupt) is dropped, and the
            // status still says what went wrong.
            gunzip(raw, ERROR_BODY_BYTES).unwrap_or_default()
        } else if inflate {
            gunzip(raw, self.max_body)?
        } else {
            raw
        };
        Ok(Answer {
            status,
            retry_after,
            body,
        })
    }

    /// Send with retries on 429, 5xx and connection failures. `path` gets
    /// whether this is a retry (a submit then adds `retry=true`).
    async fn send(
        &self,
        conn: &Connection,
        method: Method,
        path: &dyn Fn(bool) -> String,
        body: Option<&Value>,
        deadline: &Deadline,
        inflate: bool,
    ) -> Result<Answer, AppError> {
        let mut retrying = false;
        let mut attempt = 0;
        loop {
            attempt += 1;
            let result = self
                .once(conn, method.clone(), &path(retrying), body, deadline, inflate)
                .await;
            let (wait, last_error) = match result {
                Ok(a) if is_retryable(a.status) && attempt < ATTEMPTS => {
                    let wait = a.retry_after.unwrap_or_else(|| backoff(attempt));
                    (wait, error_for(&a))
                }
                Ok(a) => return Ok(a),
                // Only transport failures: an oversized or corrupt body
                // would be the same again.
                Err(e) if e.is_transient() && attempt < ATTEMPTS => (backoff(attempt), e),
                Err(e) => return Err(e),
            };
            // Leave time for the retry itself.
            if deadline.remaining() < wait + Duration::from_millis(500) {
                return Err(last_error);
            }
            tracing::info!(
                attempt,
                wait_ms = wait.as_millis() as u64,
                "retrying Snowflake request"
            );
            tokio::time::sleep(wait).await;
            retrying = true;
        }
    }

    /// Submit a statement.
    pub(crate) async fn submit(
        &self,
        conn: &Connection,
        body: &Value,
        request_id: &str,
        resubmission: bool,
        deadline: &Deadline,
    ) -> Result<StatementStatus, AppError> {
        let path = |retrying: bool| {
            let retry = if resubmission || retrying {
                "&retry=true"
            } else {
                ""
            };
            format!("/api/v2/statements?requestId={request_id}{retry}")
        };
        let answer = self
            .send(conn, Method::POST, &path, Some(body), deadline, true)
            .await?;
        outcome(answer)
    }

    /// A statement's status (partition 0 and metadata once done).
    pub(crate) async fn status(
        &self,
        conn: &Connection,
        handle: &str,
        deadline: &Deadline,
    ) -> Result<StatementStatus, AppError> {
        let path = |_: bool| format!("/api/v2/statements/{}", encode_handle(handle));
        let answer = self.send(conn, Method::GET, &path, None, deadline, true).await?;
        outcome(answer)
    }

    /// Cancel a running statement (best effort).
    pub(crate) async fn cancel(
        &self,
        conn: &Connection,
        handle: &str,
        deadline: &Deadline,
    ) -> Result<(), AppError> {
        let answer = self
            .once(
                conn,
                Method::POST,
                &format!("/api/v2/statements/{}/cancel", encode_handle(handle)),
                Some(&Value::Object(Map::new())),
                deadline,
                true,
            )
            .await?;
        if answer.status.is_success() {
            Ok(())
        } else {
            Err(error_for(&answer))
        }
    }

    /// The body of partition `n` (≥ 1) as it came, gzip or not: the
    /// download only, so a download slot is free again as soon as its bytes
    /// are in; [`SnowflakeClient::rows_off_thread`] inflates and delimits it.
    pub(crate) async fn partition_body(
        &self,
        conn: &Connection,
        handle: &str,
        n: usize,
        deadline: &Deadline,
    ) -> Result<Vec<u8>, AppError> {
        let path = |_: bool| format!("/api/v2/statements/{}?partition={n}", encode_handle(handle));
        let answer = self.send(conn, Method::GET, &path, None, deadline, false).await?;
        if answer.status != StatusCode::OK {
            return Err(error_for(&answer));
        }
        Ok(answer.body)
    }

    /// The rows of partition `n`'s body (from [`SnowflakeClient::partition_body`]):
    /// gunzipped within the body cap and delimited, on the blocking pool
    /// when the body is large.
    pub(crate) async fn rows_off_thread(&self, n: usize, body: Vec<u8>) -> Result<Rows, AppError> {
        self.off_thread(body, move |body, max| partition_rows(n, body, max))
            .await
    }

    /// Partition `n`'s body gunzipped within the body cap, on the blocking
    /// pool when it is large: its rows are delimited as they are decoded
    /// (see `RowDecoder::decode_partition_text`).
    pub(crate) async fn text_off_thread(&self, body: Vec<u8>) -> Result<Vec<u8>, AppError> {
        self.off_thread(body, gunzip).await
    }

    /// `read` of a partition's body and the body cap: inline for a small
    /// body, on the blocking pool for a large one.
    async fn off_thread<T: Send + 'static>(
        &self,
        body: Vec<u8>,
        read: impl FnOnce(Vec<u8>, usize) -> Result<T, AppError> + Send + 'static,
    ) -> Result<T, AppError> {
        let max = self.max_body;
        if body.len() <= OFF_THREAD_BYTES {
            return read(body, max);
        }
        tokio::task::spawn_blocking(move || read(body, max))
            .await
            .map_err(|_| AppError::internal("reading a Snowflake partition failed"))?
    }
}

/// Partition `n`'s rows from its body as it came: gunzipped within `max`
/// bytes and delimited.
fn partition_rows(n: usize, body: Vec<u8>, max: usize) -> Result<Rows, AppError> {
    partition_text_rows(n, gunzip(body, max)?)
}

/// Partition `n`'s rows from its gunzipped body: delimited.
pub(crate) fn partition_text_rows(n: usize, text: Vec<u8>) -> Result<Rows, AppError> {
    Rows::parse(text).ok_or_else(|| {
        AppError::new(
            ErrorKind::UpstreamFailed,
            format!("Snowflake partition {n} is not the expected JSON"),
        )
    })
}

fn encode_handle(handle: &str) -> String {
    handle
        .chars()
        .filter(|c| c.is_ascii_alphanumeric() || *c == '-' || *c == '_')
        .collect()
}

fn is_retryable(status: StatusCode) -> bool {
    matches!(status.as_u16(), 429 | 500 | 502 | 503 | 504)
}

/// Exponential backoff with jitter: ~250 ms, 500 ms, 1 s, … capped at 4 s.
pub(crate) fn backoff(attempt: u32) -> Duration {
    let base = 250u64
        .saturating_mul(1 << attempt.saturating_sub(1).min(4))
        .min(4000);
    let jitter = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default()
        .subsec_nanos() as u64
        % (base / 4 + 1);
    Duration::from_millis(base + jitter)
}

/// Bodies larger than this are inflated and delimited on the blocking pool.
const OFF_THREAD_BYTES: usize = 64 * 1024;

/// Gunzip `raw` if it is gzip, streaming, and stop as soon as the output
/// passes `max` bytes (a gzip bomb costs at most `max`).
fn gunzip(raw: Vec<u8>, max: usize) -> Result<Vec<u8>, AppError> {
    if raw.len() < 2 || raw[0] != 0x1f || raw[1] != 0x8b {
        return Ok(raw);
    }
    // The trailer's ISIZE (the size mod 2^32 of the last member) sizes the
    // output at once for the usual single-member body.
    let isize = raw
        .last_chunk::<4>()
        .map_or(0, |t| u32::from_le_bytes(*t) as usize);
    let guess = if isize > raw.len() { isize } else { raw.len().saturating_mul(4) };
    let mut out = Vec::with_capacity(guess.min(max).saturating_add(1));
    flate2::read::MultiGzDecoder::new(&raw[..])
        .take(max as u64 + 1)
        .read_to_end(&mut out)
        .map_err(|_| {
            AppError::new(
                ErrorKind::UpstreamFailed,
                "Snowflake sent a corrupt gzip body",
            )
        })?;
    if out.len() > max {
        return Err(too_large_body(SERVICE, max));
    }
    Ok(out)
}

fn outcome(answer: Answer) -> Result<StatementStatus, AppError> {
    match answer.status.as_u16() {
        200 => {
            let rs = serde_json::from_slice::<ResultSet>(&answer.body).map_err(|_| {
                AppError::new(
                    ErrorKind::UpstreamFailed,
                    "Snowflake answered 200 with an unreadable result",
                )
            })?;
            if rs.code.as_deref() == Some(RESULT_INCOMPLETE_CODE) {
                return Err(AppError::new(
                    ErrorKind::TooLarge,
                    "Snowflake could not return the whole result (code 391908: the result set is too large); narrow the query or return fewer columns",
                )
                .with_upstream_code(snowflake_code(RESULT_INCOMPLETE_CODE, "")));
            }
            Ok(StatementStatus::Done(Box::new(rs)))
        }
        202 => {
            let body: Value = serde_json::from_slice(&answer.body).unwrap_or(Value::Null);
            match body.get("statementHandle").and_then(Value::as_str) {
                Some(handle) => Ok(StatementStatus::Running {
                    handle: handle.to_owned(),
                }),
                None => Err(AppError::new(
                    ErrorKind::UpstreamFailed,
                    "Snowflake answered 202 without a statement handle",
                )),
            }
        }
        _ => Err(error_for(&answer)),
    }
}

/// The typed error for a non-success answer.
fn error_for(answer: &Answer) -> AppError {
    let body: Value = serde_json::from_slice(&answer.body).unwrap_or(Value::Null);
    let code = body.get("code").and_then(Value::as_str).unwrap_or("");
    let sql_state = body.get("sqlState").and_then(Value::as_str).unwrap_or("");
    let message = body
        .get("message")
        .and_then(Value::as_str)
        .map(str::to_owned)
        .unwrap_or_else(|| {
            String::from_utf8_lossy(&answer.body[..answer.body.len().min(4096)]).into_owned()
        });
    // Codes and states are Snowflake's short identifiers; anything else in
    // those fields is not quoted.
    let ident = |s: &str| {
        if s.len() <= 16 && s.bytes().all(|b| b.is_ascii_alphanumeric()) {
            s.to_owned()
        } else {
            String::new()
        }
    };
    let (code, sql_state) = (ident(code), ident(sql_state));
    let status = answer.status.as_u16();
    let err = match status {
        401 => AppError::credential_rejected(format!(
            "Snowflake rejected the credential (code {code})"
        )),
        422 => AppError::new(
            ErrorKind::SqlError,
            format!("Snowflake rejected the statement (sqlState {sql_state}, code {code})"),
        ),
        408 => AppError::new(
            ErrorKind::DeadlineExceeded,
            "the Snowflake statement reached its timeout and was cancelled",
        ),
        429 => AppError::new(
            ErrorKind::UpstreamThrottled,
            "Snowflake throttled the request",
        ),
        403 => AppError::new(
            ErrorKind::UpstreamAuthFailed,
            format!("Snowflake refused the request (HTTP 403, code {code})"),
        ),
        _ => AppError::new(
            ErrorKind::UpstreamFailed,
            format!("Snowflake answered HTTP {status} (code {code})"),
        ),
    }
    .with_upstream_status(status)
    .with_upstream_text(&message);
    let err = if let Some(after) = answer.retry_after.filter(|_| status == 429) {
        err.with_retry_after(after)
    } else {
        err
    };
    if code.is_empty() {
        err
    } else {
        err.with_upstream_code(snowflake_code(&code, &sql_state))
    }
}

/// Snowflake's `code` and `sqlState` (empty: none), as error details.
fn snowflake_code(code: &str, sql_state: &str) -> UpstreamCode {
    UpstreamCode {
        field: "snowflake_code",
        code: code.to_owned(),
        sql_state: (!sql_state.is_empty()).then(|| sql_state.to_owned()),
    }
}

/// Whether `err` says the statement handle is unknown to Snowflake.
pub(crate) fn is_statement_gone(err: &AppError) -> bool {
    err.upstream_code()
        .is_some_and(|c| c.code == STATEMENT_NOT_FOUND_CODE)
        || err.upstream_status() == Some(404)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    fn answer(status: u16, body: &str, retry_after: Option<u64>) -> Answer {
        Answer {
            status: StatusCode::from_u16(status).unwrap(),
            retry_after: retry_after.map(Duration::from_secs),
            body: body.as_bytes().to_vec(),
        }
    }

    #[test]
    fn errors_by_status() {
        let e = error_for(&answer(
            422,
            r#"{"code":"002003","sqlState":"42S02","message":"SQL compilation error:\nTable 'X' does not exist."}"#,
            None,
        ));
        assert_eq!(e.kind(), ErrorKind::SqlError);
        let shown = e.clone().redacted(&crate::redact::Redactor::new());
        assert!(shown.message().contains("42S02") && shown.message().contains("does not exist"));
        assert_eq!(e.upstream_code().unwrap().sql_state.as_deref(), Some("42S02"));
        let e = error_for(&answer(
            401,
            r#"{"code":"390144","message":"JWT token is invalid. [x]"}"#,
            None,
        ));
        assert!(e.is_credential_rejected());
        let e = error_for(&answer(
            422,
            r#"{"code":"000709","sqlState":"02000","message":"Statement h not found"}"#,
            None,
        ));
        assert!(is_statement_gone(&e));
        assert!(is_statement_gone(&error_for(&answer(404, "", None))));
        assert!(!is_statement_gone(&error_for(&answer(500, "", None))));
        let e = error_for(&answer(
            429,
            r#"{"code":"390505","message":"Too many requests."}"#,
            Some(3),
        ));
        assert_eq!(
            (e.kind(), e.retry_after()),
            (ErrorKind::UpstreamThrottled, Some(Duration::from_secs(3)))
        );
        assert_eq!(
            error_for(&answer(408, "{}", None)).kind(),
            ErrorKind::DeadlineExceeded
        );
        assert_eq!(
            error_for(&answer(503, "<html>down</html>", None)).kind(),
            ErrorKind::UpstreamFailed
        );
    }

    #[test]
    fn outcomes() {
        assert!(
            matches!(outcome(answer(202, r#"{"statementHandle":"h-1"}"#, None)).unwrap(), StatementStatus::Running { handle } if handle == "h-1")
        );
        let done = outcome(answer(200, r#"{"resultSetMetaData":{"numRows":1,"partitionInfo":[{"rowCount":1}],"rowType":[{"name":"A","type":"fixed","scale":0}]},"data":[["1"]],"statementHandle":"h"}"#, None)).unwrap();
        match done {
            StatementStatus::Done(rs) => {
                assert_eq!(rs.result_set_meta_data.unwrap().partition_info.len(), 1)
            }
            other => panic!("{other:?}"),
        }
        assert_eq!(
            outcome(answer(202, "{}", None)).unwrap_err().kind(),
            ErrorKind::UpstreamFailed
        );
    }

    #[test]
    fn gzip_is_detected_by_magic() {
        let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        enc.write_all(br#"{"data":[["1"]]}"#).unwrap();
        let gz = enc.finish().unwrap();
        assert_eq!(gunzip(gz, 1024).unwrap(), br#"{"data":[["1"]]}"#);
        assert_eq!(gunzip(b"{}".to_vec(), 1024).unwrap(), b"{}");
        assert!(gunzip(vec![0x1f, 0x8b, 0, 1, 2], 1024).is_err());
    }

    #[test]
    fn a_gzip_bomb_stops_at_the_cap_and_is_not_transient() {
        let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
        let zeros = vec![b' '; 1024 * 1024];
        for _ in 0..64 {
            enc.write_all(&zeros).unwrap();
        }
        let bomb = enc.finish().unwrap();
        assert!(bomb.len() < 256 * 1024);
        let err = gunzip(bomb, 4 * 1024 * 1024).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::TooLarge);
        assert!(!err.is_transient());
    }

    #[test]
    fn backoff_grows_and_is_capped() {
        assert!(
            backoff(1) >= Duration::from_millis(250) && backoff(1) < Duration::from_millis(400)
        );
        assert!(backoff(10) <= Duration::from_millis(5000));
        assert_eq!(encode_handle("01b9-x/../y?z"), "01b9-xyz");
    }
}
