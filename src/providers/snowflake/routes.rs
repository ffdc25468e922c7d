//! The HTTP route Snowflake contributes:
//! `GET /v1/snowflake/{query}?{param}=…&max_rows=…&cursor=…` — a named
//! statement; every other query parameter is one of its parameters.

use serde_json::{Map, Value};

use super::task::SnowflakeTask;
use crate::error::AppError;

/// The task `GET /v1/snowflake/{query}?{params}` asks for.
pub(crate) fn task_from_route(
    query: &str,
    params: &[(String, String)],
) -> Result<SnowflakeTask, AppError> {
    let mut task = SnowflakeTask {
        query: Some(query.to_owned()),
        ..SnowflakeTask::default()
    };
    let mut named = Map::new();
    for (key, value) in params {
        match key.as_str() {
            "max_rows" => {
                let n: u64 = value.parse().map_err(|_| {
                    AppError::bad_request("query parameter 'max_rows' must be a whole number")
                })?;
                task.max_rows = Some(n);
            }
            "cursor" => task.cursor = Some(value.clone()),
            "provider" | "query" | "statement" | "bindings" | "params" => {
                return Err(AppError::bad_request(format!(
                    "query parameter '{key}' is not allowed here"
                )));
            }
            _ => {
                named.insert(key.clone(), Value::from(value.as_str()));
            }
        }
    }
    task.params = named;
    Ok(task)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::providers::tests::query_pairs as q;
    use serde_json::json;

    #[test]
    fn splits_params_from_paging() {
        let t = task_from_route(
            "customers_by_city",
            &q(&[("city", "Berlin"), ("max_rows", "50"), ("cursor", "abc.def")]),
        )
        .unwrap();
        assert_eq!(t.query.as_deref(), Some("customers_by_city"));
        assert_eq!(t.max_rows, Some(50));
        assert_eq!(t.cursor.as_deref(), Some("abc.def"));
        assert_eq!(Value::Object(t.params), json!({"city": "Berlin"}));
        for bad in [("max_rows", "many"), ("statement", "drop table x")] {
            let err = task_from_route("q", &q(&[bad])).unwrap_err();
            assert_eq!(err.kind(), crate::error::ErrorKind::BadRequest, "{bad:?}");
        }
    }
}
