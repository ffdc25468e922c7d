//! Telling Alpha Vantage's errors from its data.
//!
//! Alpha Vantage answers almost every failure with HTTP 200 and a one-key
//! JSON object: `Error Message`, `Note` or `Information`. A body is data
//! only when it carries a non-empty data object; otherwise the text decides
//! the kind. Upstream text is attached raw to the error and redacted at the
//! invocation's one redaction point (the 2025+ daily-limit message echoes the
//! API key), before it is cut to a preview.

use std::time::Duration;

use serde_json::{Map, Value};

use super::task::AlphaVantageTask;
use crate::error::{AppError, ErrorKind};

/// Keys that carry messages rather than data.
pub(crate) const MESSAGE_KEYS: [&str; 3] = ["Error Message", "Note", "Information"];
/// The metadata key of time series.
pub(crate) const META_KEY: &str = "Meta Data";

/// How long the per-second burst limit asks us to wait.
pub(crate) const BURST_WAIT: Duration = Duration::from_secs(1);

/// Whether `body` holds data (a non-empty object or array besides the
/// message keys; `Meta Data` alone counts, as an empty series).
fn has_data(body: &Map<String, Value>) -> bool {
    body.iter().any(|(k, v)| {
        !MESSAGE_KEYS.contains(&k.as_str())
            && match v {
                Value::Object(m) => !m.is_empty(),
                Value::Array(a) => !a.is_empty(),
                _ => false,
            }
    })
}

/// `Ok` when `body` is data; otherwise the typed error it stands for.
pub(crate) fn check_body(task: &AlphaVantageTask, body: &Map<String, Value>) -> Result<(), AppError> {
    if has_data(body) {
        return Ok(());
    }
    let message = MESSAGE_KEYS
        .iter()
        .find_map(|k| body.get(*k).and_then(Value::as_str).map(|m| (*k, m)));
    let subject = task.subject();
    let function = task.function;
    let Some((field, text)) = message else {
        // `{}` or `{"Global Quote": {}}`: the symbol has no data.
        if body.is_empty()
            || body
                .values()
                .all(|v| v.as_object().is_some_and(Map::is_empty))
        {
            return Err(AppError::new(
                ErrorKind::UnknownSymbol,
                format!("Alpha Vantage has no {function} data for '{subject}'"),
            ));
        }
        let keys: Vec<&str> = body.keys().map(String::as_str).take(5).collect();
        return Err(AppError::new(
            ErrorKind::UpstreamFailed,
            format!("Alpha Vantage answered {function} with an unexpected shape; keys"),
        )
        .with_upstream_text(&keys.join(", ")));
    };
    let lower = text.to_ascii_lowercase();
    let err = if lower.contains("apikey")
        || (lower.contains("api key") && (lower.contains("invalid") || lower.contains("missing")))
    {
        AppError::credential_rejected("Alpha Vantage rejected the API key")
    } else if lower.contains("demo") && lower.contains("key") {
        AppError::credential_rejected(
            "Alpha Vantage refused the key as a demo key; store a real key in the secret",
        )
    } else if lower.contains("per second")
        || lower.contains("spreading out")
        || lower.contains("burst")
    {
        AppError::new(ErrorKind::UpstreamThrottled, "Alpha Vantage burst limit")
            .burst_limit(BURST_WAIT)
    } else if lower.contains("per minute") {
        AppError::new(ErrorKind::UpstreamThrottled, "Alpha Vantage rate limit")
            .with_retry_after(Duration::from_secs(60))
    } else if lower.contains("rate limit")
        || lower.contains("per day")
        || lower.contains("call frequency")
    {
        AppError::new(ErrorKind::UpstreamThrottled, "Alpha Vantage rate limit")
    } else if lower.contains("premium") {
        AppError::new(
            ErrorKind::PremiumRequired,
            format!("{function} with these parameters needs an Alpha Vantage premium plan"),
        )
    } else if field == "Error Message" && lower.contains("invalid api call") {
        AppError::new(
            ErrorKind::UnknownSymbol,
            format!(
                "Alpha Vantage does not know '{subject}' for {function} (or rejected a parameter)"
            ),
        )
    } else {
        AppError::new(ErrorKind::UpstreamFailed, format!("Alpha Vantage {field}"))
    };
    Err(err.with_upstream_text(text))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const KEY: &str = "SENTINELKEY123";

    fn daily() -> AlphaVantageTask {
        serde_json::from_value(json!({"function": "TIME_SERIES_DAILY", "symbol": "IBM"})).unwrap()
    }

    fn kind_of(body: Value) -> (ErrorKind, String, bool) {
        let err = check_body(&daily(), body.as_object().unwrap()).unwrap_err();
        let redactor = crate::redact::Redactor::new();
        redactor.add(KEY);
        let rejected = err.is_credential_rejected();
        let err = err.redacted(&redactor);
        (err.kind(), err.message().to_owned(), rejected)
    }

    #[test]
    fn data_is_data_even_with_a_note() {
        let body = json!({"Meta Data": {"2. Symbol": "IBM"}, "Time Series (Daily)": {"2024-01-02": {"1. open": "1"}}, "Note": "hello"});
        assert!(check_body(&daily(), body.as_object().unwrap()).is_ok());
        let meta_only = json!({"Meta Data": {"2. Symbol": "IBM"}});
        assert!(check_body(&daily(), meta_only.as_object().unwrap()).is_ok());
    }

    #[test]
    fn every_documented_error_body() {
        let cases = [
            (
                json!({"Error Message": "Invalid API call. Please retry or visit the documentation (https://www.alphavantage.co/documentation/) for TIME_SERIES_DAILY."}),
                ErrorKind::UnknownSymbol,
                false,
            ),
            (
                json!({"Error Message": "the parameter apikey is invalid or missing. Please claim your free API key on (https://www.alphavantage.co/support/#api-key). It should take less than 20 seconds."}),
                ErrorKind::UpstreamAuthFailed,
                true,
            ),
            (
                json!({"Error Message": "This API function (FOO) does not exist."}),
                ErrorKind::UpstreamFailed,
                false,
            ),
            (
                json!({"Note": "Thank you for using Alpha Vantage! Our standard API call frequency is 5 calls per minute and 500 calls per day. Please visit https://www.alphavantage.co/premium/ if you would like to target a higher API call frequency."}),
                ErrorKind::UpstreamThrottled,
                false,
            ),
            (
                json!({"Information": "Thank you for using Alpha Vantage! Our standard API rate limit is 25 requests per day. Please subscribe to any of the premium plans at https://www.alphavantage.co/premium/ to instantly remove all daily rate limits."}),
                ErrorKind::UpstreamThrottled,
                false,
            ),
            (
                json!({"Information": format!("We have detected your API key as {KEY} and our standard API rate limit is 25 requests per day. Please subscribe to any of the premium plans at https://www.alphavantage.co/premium/ to instantly remove all daily rate limits.")}),
                ErrorKind::UpstreamThrottled,
                false,
            ),
            (
                json!({"Information": "Thank you for using Alpha Vantage! Please consider spreading out your free API requests more sparingly (1 request per second). You may subscribe to any of the premium plans at https://www.alphavantage.co/premium/ to lift the free key rate limit (25 requests per day), raise the per-second burst limit, and instantly unlock all premium endpoints"}),
                ErrorKind::UpstreamThrottled,
                false,
            ),
            (
                json!({"Information": "Thank you for using Alpha Vantage! This is a premium endpoint. You may subscribe to any of the premium plans at https://www.alphavantage.co/premium/ to instantly unlock all premium endpoints"}),
                ErrorKind::PremiumRequired,
                false,
            ),
            (
                json!({"Information": "Thank you for using Alpha Vantage! The outputsize=full parameter value is a premium feature for the TIME_SERIES_DAILY endpoint. You may subscribe to any of the premium plans at https://www.alphavantage.co/premium/ to instantly unlock all premium features"}),
                ErrorKind::PremiumRequired,
                false,
            ),
            (
                json!({"Information": "The **demo** API key is for demo purposes only. Please claim your free API key at (https://www.alphavantage.co/support/#api-key) to explore our full API offerings. It takes fewer than 20 seconds."}),
                ErrorKind::UpstreamAuthFailed,
                true,
            ),
            (
                json!({"Information": "Please consider optimizing your API call frequency"}),
                ErrorKind::UpstreamThrottled,
                false,
            ),
            (json!({}), ErrorKind::UnknownSymbol, false),
            (json!({"Global Quote": {}}), ErrorKind::UnknownSymbol, false),
            (json!({"weird": 1}), ErrorKind::UpstreamFailed, false),
        ];
        for (body, kind, rejected) in cases {
            let (k, msg, r) = kind_of(body.clone());
            assert_eq!((k, r), (kind, rejected), "{body}");
            assert!(!msg.contains(KEY), "key leaked: {msg}");
        }
    }

    #[test]
    fn burst_limit_is_retryable_and_daily_is_not() {
        let burst = check_body(&daily(), json!({"Information": "Please consider spreading out your free API requests more sparingly (1 request per second)."}).as_object().unwrap()).unwrap_err();
        assert!(burst.is_burst_limit());
        let daily_limit = check_body(
            &daily(),
            json!({"Information": "Our standard API rate limit is 25 requests per day."})
                .as_object()
                .unwrap(),
        )
        .unwrap_err();
        assert!(!daily_limit.is_burst_limit());
    }
}
