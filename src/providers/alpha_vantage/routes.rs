//! The HTTP route Alpha Vantage contributes:
//! `GET /v1/alpha-vantage/{function}?symbol=IBM&start=…&end=…` — every task
//! field is a query parameter, booleans as `true`/`false`.

use serde_json::{Map, Value};

use super::task::AlphaVantageTask;
use crate::error::{AppError, preview};

/// Query parameters that arrive as text but are booleans in a task.
const BOOLEAN_PARAMS: [&str; 3] = ["adjusted", "extended_hours", "cache"];

/// The task `GET /v1/alpha-vantage/{function}?{query}` asks for.
pub(crate) fn task_from_route(
    function: &str,
    query: &[(String, String)],
) -> Result<AlphaVantageTask, AppError> {
    let mut task = Map::new();
    task.insert("function".into(), Value::from(function));
    for (key, value) in query {
        if key == "provider" || key == "function" {
            return Err(AppError::bad_request(format!(
                "query parameter '{key}' is not allowed here: the path names it"
            )));
        }
        let value = if BOOLEAN_PARAMS.contains(&key.as_str()) {
            match value.to_ascii_lowercase().as_str() {
                "true" => Value::Bool(true),
                "false" => Value::Bool(false),
                _ => {
                    return Err(AppError::bad_request(format!(
                        "query parameter '{key}' must be true or false"
                    )));
                }
            }
        } else {
            Value::from(value.as_str())
        };
        task.insert(key.clone(), value);
    }
    serde_json::from_value(Value::Object(task)).map_err(|e| {
        AppError::bad_request(format!("invalid task: {}", preview(&e.to_string())))
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::providers::tests::query_pairs as q;
    use crate::providers::alpha_vantage::task::Function;

    #[test]
    fn builds_a_typed_task_from_path_and_query() {
        let t = task_from_route(
            "TIME_SERIES_INTRADAY",
            &q(&[
                ("symbol", "IBM"),
                ("interval", "5min"),
                ("extended_hours", "false"),
            ]),
        )
        .unwrap();
        assert_eq!(t.function, Function::TimeSeriesIntraday);
        assert_eq!(t.symbol.as_deref(), Some("IBM"));
        assert_eq!(t.extended_hours, Some(false));
        assert_eq!(t.cache, None);
    }

    #[test]
    fn cache_false_is_a_query_parameter() {
        let t = task_from_route(
            "TIME_SERIES_DAILY",
            &q(&[("symbol", "IBM"), ("cache", "FALSE")]),
        )
        .unwrap();
        assert_eq!(t.cache, Some(false));
        assert!(!t.allows_cache());
        let err = task_from_route("GLOBAL_QUOTE", &q(&[("symbol", "IBM"), ("cache", "0")]))
            .unwrap_err();
        assert!(err.message().contains("'cache'"), "{}", err.message());
    }

    #[test]
    fn refuses_what_the_path_names_and_bad_booleans() {
        for query in [
            q(&[("function", "X")]),
            q(&[("adjusted", "yes")]),
            q(&[("foo", "1")]),
        ] {
            let err = task_from_route("TIME_SERIES_INTRADAY", &query).unwrap_err();
            assert_eq!(err.kind(), crate::error::ErrorKind::BadRequest, "{query:?}");
        }
    }
}
