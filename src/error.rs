//! The one error type of the function: a stable, machine-readable
//! [`ErrorKind`] plus a human message.
//!
//! Messages are written where the error is made and never contain a secret
//! value: they may name a secret *reference* (an identifier), quote at most
//! [`PREVIEW_BYTES`] of an upstream body after redaction, and nothing else
//! from the outside world. `kind()` maps to the HTTP status for API Gateway
//! and Function URL callers and to the Lambda `errorType` for direct,
//! EventBridge and Scheduler invocations.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

/// Upstream text quoted in an error message is cut to this many bytes.
pub(crate) const PREVIEW_BYTES: usize = 256;

/// What went wrong, partitioned by what a caller would do about it.
///
/// The snake_case codes from [`ErrorKind::as_str`] are a stable API: they are
/// the Lambda `errorType`, the `error.kind` of HTTP error bodies and the
/// `errorKind` of metrics.
#[non_exhaustive]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ErrorKind {
    /// The task or request is invalid (bad JSON, missing or malformed parameter).
    BadRequest,
    /// The event is not one of the supported trigger shapes, or is ambiguous.
    UnrecognizedEvent,
    /// No HTTP route matches the path.
    NotFound,
    /// No named statement has this name.
    UnknownQuery,
    /// The route exists but not for this HTTP method.
    MethodNotAllowed,
    /// This caller may not run this named statement (see its `callers`).
    Forbidden,
    /// The result a cursor points into is no longer held by Snowflake.
    CursorExpired,
    /// The data service does not know the symbol (or returned no data for it).
    UnknownSymbol,
    /// The request needs a premium plan of the data service.
    PremiumRequired,
    /// The result does not fit in one response.
    TooLarge,
    /// Snowflake rejected the SQL (compilation or execution error).
    SqlError,
    /// The data service throttled us or a quota is used up.
    UpstreamThrottled,
    /// The data service rejected the credential, even after a refresh.
    UpstreamAuthFailed,
    /// The data service answered with an error we cannot attribute to the caller.
    UpstreamFailed,
    /// The Lambda deadline (or the API Gateway timeout) would pass first.
    DeadlineExceeded,
    /// Secrets Manager has no such secret, version or stage.
    SecretNotFound,
    /// The function's role may not read the secret (or its KMS key).
    SecretAccessDenied,
    /// KMS could not decrypt the secret.
    SecretDecryptionFailed,
    /// The secret is scheduled for deletion.
    SecretDeleted,
    /// Secrets Manager throttled the function.
    SecretThrottled,
    /// The secret exists but does not hold what the reference asks for.
    SecretMalformed,
    /// Secrets Manager could not be reached or failed.
    SecretUnavailable,
    /// S3 refused the function's role (or the bucket's KMS key) when writing
    /// a task's `output`.
    OutputAccessDenied,
    /// The `output` bucket does not exist.
    OutputBucketNotFound,
    /// S3 asked the function to slow down while writing `output`.
    OutputThrottled,
    /// Writing `output` failed otherwise (S3 error, a concurrent writer, a
    /// value the format cannot hold).
    OutputFailed,
    /// The deployment's configuration is invalid.
    ConfigurationError,
    /// A bug: should never happen.
    Internal,
}

impl ErrorKind {
    /// The stable snake_case code.
    pub fn as_str(self) -> &'static str {
        match self {
            ErrorKind::BadRequest => "bad_request",
            ErrorKind::UnrecognizedEvent => "unrecognized_event",
            ErrorKind::NotFound => "not_found",
            ErrorKind::UnknownQuery => "unknown_query",
            ErrorKind::MethodNotAllowed => "method_not_allowed",
            ErrorKind::Forbidden => "forbidden",
            ErrorKind::CursorExpired => "cursor_expired",
            ErrorKind::UnknownSymbol => "unknown_symbol",
            ErrorKind::PremiumRequired => "premium_required",
            ErrorKind::TooLarge => "too_large",
            ErrorKind::SqlError => "sql_error",
            ErrorKind::UpstreamThrottled => "upstream_throttled",
            ErrorKind::UpstreamAuthFailed => "upstream_auth_failed",
            ErrorKind::UpstreamFailed => "upstream_failed",
            ErrorKind::DeadlineExceeded => "deadline_exceeded",
            ErrorKind::SecretNotFound => "secret_not_found",
            ErrorKind::SecretAccessDenied => "secret_access_denied",
            ErrorKind::SecretDecryptionFailed => "secret_decryption_failed",
            ErrorKind::SecretDeleted => "secret_deleted",
            ErrorKind::SecretThrottled => "secret_throttled",
            ErrorKind::SecretMalformed => "secret_malformed",
            ErrorKind::SecretUnavailable => "secret_unavailable",
            ErrorKind::OutputAccessDenied => "output_access_denied",
            ErrorKind::OutputBucketNotFound => "output_bucket_not_found",
            ErrorKind::OutputThrottled => "output_throttled",
            ErrorKind::OutputFailed => "output_failed",
            ErrorKind::ConfigurationError => "configuration_error",
            ErrorKind::Internal => "internal",
        }
    }

    /// The HTTP status an API Gateway or Function URL caller receives.
    pub fn http_status(self) -> u16 {
        match self {
            ErrorKind::BadRequest
            | ErrorKind::UnrecognizedEvent
            | ErrorKind::UnknownSymbol
            | ErrorKind::CursorExpired => 400,
            ErrorKind::PremiumRequired | ErrorKind::Forbidden => 403,
            ErrorKind::NotFound | ErrorKind::UnknownQuery => 404,
            ErrorKind::MethodNotAllowed => 405,
            ErrorKind::TooLarge => 413,
            ErrorKind::SqlError => 422,
            ErrorKind::UpstreamThrottled
            | ErrorKind::SecretThrottled
            | ErrorKind::OutputThrottled => 429,
            ErrorKind::UpstreamAuthFailed
            | ErrorKind::UpstreamFailed
            | ErrorKind::SecretNotFound
            | ErrorKind::SecretAccessDenied
            | ErrorKind::SecretDecryptionFailed
            | ErrorKind::SecretDeleted
            | ErrorKind::SecretMalformed
            | ErrorKind::SecretUnavailable
            | ErrorKind::OutputAccessDenied
            | ErrorKind::OutputBucketNotFound
            | ErrorKind::OutputFailed => 502,
            ErrorKind::DeadlineExceeded => 504,
            ErrorKind::ConfigurationError | ErrorKind::Internal => 500,
        }
    }

    /// Whether the message may be shown to HTTP callers as it is. Messages of
    /// the other kinds name the function's own resources (secret names and
    /// ARNs, account ids, roles, settings).
    pub fn is_for_http_callers(self) -> bool {
        !matches!(
            self,
            ErrorKind::SecretNotFound
                | ErrorKind::SecretAccessDenied
                | ErrorKind::SecretDecryptionFailed
                | ErrorKind::SecretDeleted
                | ErrorKind::SecretMalformed
                | ErrorKind::SecretUnavailable
                | ErrorKind::SecretThrottled
                | ErrorKind::ConfigurationError
                | ErrorKind::Internal
        )
    }

    /// Every kind, for documentation and exhaustive tests.
    pub const ALL: [ErrorKind; 28] = [
        ErrorKind::BadRequest,
        ErrorKind::UnrecognizedEvent,
        ErrorKind::NotFound,
        ErrorKind::UnknownQuery,
        ErrorKind::MethodNotAllowed,
        ErrorKind::Forbidden,
        ErrorKind::CursorExpired,
        ErrorKind::UnknownSymbol,
        ErrorKind::PremiumRequired,
        ErrorKind::TooLarge,
        ErrorKind::SqlError,
        ErrorKind::UpstreamThrottled,
        ErrorKind::UpstreamAuthFailed,
        ErrorKind::UpstreamFailed,
        ErrorKind::DeadlineExceeded,
        ErrorKind::SecretNotFound,
        ErrorKind::SecretAccessDenied,
        ErrorKind::SecretDecryptionFailed,
        ErrorKind::SecretDeleted,
        ErrorKind::SecretThrottled,
        ErrorKind::SecretMalformed,
        ErrorKind::SecretUnavailable,
        ErrorKind::OutputAccessDenied,
        ErrorKind::OutputBucketNotFound,
        ErrorKind::OutputThrottled,
        ErrorKind::OutputFailed,
        ErrorKind::ConfigurationError,
        ErrorKind::Internal,
    ];
}

impl fmt::Display for ErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// An HTTP method a route allows (sent back as `Allow` on a 405).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Method {
    /// `GET`.
    Get,
    /// `POST`.
    Post,
}

impl Method {
    /// The method's name.
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Method::Get => "GET",
            Method::Post => "POST",
        }
    }
}

/// An upstream's own error codes (Snowflake's `code` and `sqlState`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct UpstreamCode {
    /// The detail's name in HTTP error bodies (`snowflake_code`).
    pub(crate) field: &'static str,
    /// The code.
    pub(crate) code: String,
    /// The SQL state, when there is one.
    pub(crate) sql_state: Option<String>,
}

/// An error with a kind and a message that is safe to show to the caller,
/// plus typed facts about it: when to retry, which method a route allows,
/// the upstream's codes and HTTP status, whether it is worth a retry, and
/// its `source()`.
#[derive(Clone, Debug)]
pub struct AppError {
    kind: ErrorKind,
    message: String,
    retry_after: Option<Duration>,
    /// The upstream asked to slow down for a moment (Alpha Vantage's
    /// per-second burst limit): worth one retry after a short wait.
    burst: bool,
    allow: Option<Method>,
    upstream_code: Option<Box<UpstreamCode>>,
    upstream_status: Option<u16>,
    /// The upstream credential was rejected: the caller may refresh the
    /// secret and retry once.
    credential_rejected: bool,
    /// A transport failure (connect, timeout, broken body) worth retrying;
    /// an oversized or corrupt body is not.
    transient: bool,
    /// Raw upstream text the message should quote. It is folded into the
    /// message only by [`AppError::redacted`], which runs it through the
    /// invocation's redactor *before* cutting it to [`PREVIEW_BYTES`].
    upstream_text: Option<Box<str>>,
    source: Option<Arc<dyn std::error::Error + Send + Sync + 'static>>,
}

impl PartialEq for AppError {
    fn eq(&self, other: &Self) -> bool {
        self.kind == other.kind
            && self.message == other.message
            && self.retry_after == other.retry_after
    }
}

impl Eq for AppError {}

impl fmt::Display for AppError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for AppError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        self.source
            .as_deref()
            .map(|e| e as &(dyn std::error::Error + 'static))
    }
}

/// Upstream text kept for quoting is cut to this many bytes before redaction.
const UPSTREAM_TEXT_BYTES: usize = 4096;

impl AppError {
    /// An error of `kind` with `message`.
    pub fn new(kind: ErrorKind, message: impl Into<String>) -> Self {
        AppError {
            kind,
            message: message.into(),
            retry_after: None,
            burst: false,
            allow: None,
            upstream_code: None,
            upstream_status: None,
            credential_rejected: false,
            transient: false,
            upstream_text: None,
            source: None,
        }
    }

    /// A [`ErrorKind::BadRequest`].
    pub fn bad_request(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::BadRequest, message)
    }

    /// An [`ErrorKind::Internal`].
    pub fn internal(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::Internal, message)
    }

    /// A [`ErrorKind::ConfigurationError`].
    pub fn config(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::ConfigurationError, message)
    }

    /// A [`ErrorKind::DeadlineExceeded`] for the step `what`.
    pub(crate) fn deadline(what: &str) -> Self {
        Self::new(
            ErrorKind::DeadlineExceeded,
            format!("{what} did not finish before the invocation deadline"),
        )
    }

    /// A [`ErrorKind::MethodNotAllowed`]: the route allows only `allowed`.
    pub(crate) fn method_not_allowed(message: impl Into<String>, allowed: Method) -> Self {
        AppError {
            allow: Some(allowed),
            ..Self::new(ErrorKind::MethodNotAllowed, message)
        }
    }

    /// An upstream rejection of the credential: [`ErrorKind::UpstreamAuthFailed`]
    /// marked so that the secret is refreshed and the call retried once.
    pub(crate) fn credential_rejected(message: impl Into<String>) -> Self {
        AppError {
            credential_rejected: true,
            ..Self::new(ErrorKind::UpstreamAuthFailed, message)
        }
    }

    /// Mark as a transient transport failure (retried by clients that retry).
    pub fn transient(mut self) -> Self {
        self.transient = true;
        self
    }

    /// Whether this is a transient transport failure.
    pub fn is_transient(&self) -> bool {
        self.transient
    }

    /// Mark as a burst limit: worth one retry after `wait` (also the
    /// `Retry-After` an HTTP caller gets).
    pub(crate) fn burst_limit(mut self, wait: Duration) -> Self {
        self.burst = true;
        self.retry_after = Some(wait);
        self
    }

    /// Whether the upstream asked to slow down for a moment.
    pub(crate) fn is_burst_limit(&self) -> bool {
        self.burst
    }

    /// Attach the upstream's own codes.
    pub(crate) fn with_upstream_code(mut self, code: UpstreamCode) -> Self {
        self.upstream_code = Some(Box::new(code));
        self
    }

    /// The upstream's own codes, if any.
    pub(crate) fn upstream_code(&self) -> Option<&UpstreamCode> {
        self.upstream_code.as_deref()
    }

    /// Record the upstream's HTTP status.
    pub(crate) fn with_upstream_status(mut self, status: u16) -> Self {
        self.upstream_status = Some(status);
        self
    }

    /// The upstream's HTTP status, if the error is an upstream answer.
    pub(crate) fn upstream_status(&self) -> Option<u16> {
        self.upstream_status
    }

    /// The error this one was caused by.
    pub(crate) fn with_source(
        mut self,
        source: impl std::error::Error + Send + Sync + 'static,
    ) -> Self {
        self.source = Some(Arc::new(source));
        self
    }

    /// Quote `text` from an upstream after the message, once redacted (see
    /// [`AppError::redacted`]).
    pub(crate) fn with_upstream_text(mut self, text: &str) -> Self {
        let mut end = text.len().min(UPSTREAM_TEXT_BYTES);
        while !text.is_char_boundary(end) {
            end -= 1;
        }
        self.upstream_text = Some(text[..end].into());
        self
    }

    /// This error as it may leave the invocation: the message, the
    /// upstream's codes and any upstream text run through `redactor`, the
    /// upstream text cut to a preview and appended to the message.
    pub(crate) fn redacted(mut self, redactor: &crate::redact::Redactor) -> Self {
        let mut message = redactor.clean(&self.message);
        if let Some(text) = self.upstream_text.take() {
            let shown = preview(&redactor.clean(&text));
            if !shown.is_empty() {
                message = format!("{message}: {shown}");
            }
        }
        self.message = message;
        if let Some(code) = self.upstream_code.as_mut() {
            code.code = redactor.clean(&code.code);
            code.sql_state = code.sql_state.as_deref().map(|s| redactor.clean(s));
        }
        self
    }

    /// The message an HTTP caller may see: errors about the function's own
    /// credential, configuration or bugs name AWS resources (secret names and
    /// ARNs, account ids, roles, file paths), so those callers get a generic
    /// sentence and the log has the rest.
    pub fn public_message(&self) -> &str {
        match self.kind {
            ErrorKind::ConfigurationError => {
                "the function is not configured for this request; the function's log has the details under this request id"
            }
            ErrorKind::Internal => {
                "internal error; the function's log has the details under this request id"
            }
            kind if !kind.is_for_http_callers() => {
                "the function could not read its credential from Secrets Manager; the function's log has the details under this request id"
            }
            _ => &self.message,
        }
    }

    /// Machine-readable extras for an HTTP error body (the upstream's codes),
    /// when the kind's details may be shown.
    pub fn public_details(&self) -> Option<serde_json::Map<String, serde_json::Value>> {
        let code = self.upstream_code.as_deref()?;
        if !self.kind.is_for_http_callers() {
            return None;
        }
        let mut details = serde_json::Map::new();
        details.insert(code.field.to_owned(), code.code.clone().into());
        if let Some(state) = &code.sql_state {
            details.insert("sql_state".to_owned(), state.clone().into());
        }
        Some(details)
    }

    /// Suggest when the caller may retry (sent as `Retry-After` over HTTP).
    pub(crate) fn with_retry_after(mut self, after: Duration) -> Self {
        self.retry_after = Some(after);
        self
    }

    /// The kind.
    pub fn kind(&self) -> ErrorKind {
        self.kind
    }

    /// The message, safe to show.
    pub fn message(&self) -> &str {
        &self.message
    }

    /// When the caller may retry, if known.
    pub fn retry_after(&self) -> Option<Duration> {
        self.retry_after
    }

    /// The one method the route allows, for a 405.
    pub(crate) fn allowed_method(&self) -> Option<Method> {
        self.allow
    }

    /// Whether the upstream rejected the credential (refresh and retry once).
    pub(crate) fn is_credential_rejected(&self) -> bool {
        self.credential_rejected
    }
}

impl From<AppError> for lambda_runtime::Diagnostic {
    fn from(err: AppError) -> Self {
        lambda_runtime::Diagnostic {
            error_type: err.kind.as_str().to_owned(),
            error_message: err.message,
        }
    }
}

/// Cut `text` to at most [`PREVIEW_BYTES`] on a character boundary, with an
/// ellipsis when something was cut. Redact before calling this.
pub(crate) fn preview(text: &str) -> String {
    let text = text.trim();
    if text.len() <= PREVIEW_BYTES {
        return text.to_owned();
    }
    let mut end = PREVIEW_BYTES;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}…", &text[..end])
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    #[test]
    fn codes_are_unique_snake_case_and_statuses_are_http_errors() {
        let mut seen = HashSet::new();
        for kind in ErrorKind::ALL {
            let code = kind.as_str();
            assert!(seen.insert(code), "duplicate code {code}");
            assert!(
                code.chars().all(|c| c.is_ascii_lowercase() || c == '_'),
                "{code}"
            );
            assert!((400..600).contains(&kind.http_status()), "{code}");
        }
    }

    #[test]
    fn statuses_follow_the_spec() {
        assert_eq!(ErrorKind::BadRequest.http_status(), 400);
        assert_eq!(ErrorKind::NotFound.http_status(), 404);
        assert_eq!(ErrorKind::TooLarge.http_status(), 413);
        assert_eq!(ErrorKind::UpstreamThrottled.http_status(), 429);
        assert_eq!(ErrorKind::UpstreamFailed.http_status(), 502);
        assert_eq!(ErrorKind::DeadlineExceeded.http_status(), 504);
    }

    #[test]
    fn diagnostic_uses_the_kind_as_error_type() {
        let diag: lambda_runtime::Diagnostic = AppError::bad_request("symbol is required").into();
        assert_eq!(diag.error_type, "bad_request");
        assert_eq!(diag.error_message, "symbol is required");
    }

    #[test]
    fn preview_cuts_on_a_char_boundary() {
        let long = "é".repeat(300);
        let cut = preview(&long);
        assert!(cut.len() <= PREVIEW_BYTES + "…".len());
        assert!(cut.ends_with('…'));
        assert_eq!(preview("  short  "), "short");
    }
}
