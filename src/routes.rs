//! HTTP routes: turn an API Gateway / Function URL request into a task
//! document.
//!
//! - `GET  /v1/alpha-vantage/{function}?symbol=IBM&start=…&end=…` — the task
//!   is built from the path and query string;
//! - `POST /v1/fetch` — the body is a task document (JSON).
//!
//! Routes are matched from the first `/v1/` segment on, so stage names and
//! custom-domain base paths in front of it do not matter.

use base64::Engine;
use serde_json::{Map, Value};

use crate::error::{AppError, ErrorKind, preview};
use crate::trigger::HttpRequest;

/// Query parameters that arrive as text but are booleans in a task.
const BOOLEAN_PARAMS: [&str; 2] = ["adjusted", "extended_hours"];

/// The task document `req` asks for.
pub fn route(req: &HttpRequest) -> Result<Value, AppError> {
    let Some(at) = req.path.find("/v1/") else {
        return Err(not_found(req));
    };
    let segments: Vec<&str> = req.path[at + 4..]
        .split('/')
        .filter(|s| !s.is_empty())
        .collect();
    match segments.as_slice() {
        ["alpha-vantage", function] => {
            allow(req, "GET")?;
            alpha_vantage_task(function, &req.query)
        }
        ["snowflake", query] => {
            allow(req, "GET")?;
            snowflake_task(query, &req.query)
        }
        ["fetch"] => {
            allow(req, "POST")?;
            body_task(req)
        }
        _ => Err(not_found(req)),
    }
}

fn not_found(req: &HttpRequest) -> AppError {
    AppError::new(
        ErrorKind::NotFound,
        format!(
            "no route for {} {}; routes are GET /v1/alpha-vantage/{{function}}, GET /v1/snowflake/{{query}} and POST /v1/fetch",
            req.method,
            preview(&req.path)
        ),
    )
}

fn allow(req: &HttpRequest, method: &str) -> Result<(), AppError> {
    if req.method == method {
        Ok(())
    } else {
        Err(AppError::new(
            ErrorKind::MethodNotAllowed,
            format!(
                "{} is not allowed on {}; use {method}",
                req.method,
                preview(&req.path)
            ),
        )
        .with_detail("allow", method))
    }
}

fn alpha_vantage_task(function: &str, query: &[(String, String)]) -> Result<Value, AppError> {
    let mut task = Map::new();
    task.insert("provider".into(), "alpha_vantage".into());
    task.insert("function".into(), Value::from(function.to_string()));
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
    Ok(Value::Object(task))
}

fn snowflake_task(query: &str, params: &[(String, String)]) -> Result<Value, AppError> {
    let mut named = Map::new();
    let mut task = Map::new();
    task.insert("provider".into(), "snowflake".into());
    task.insert("query".into(), Value::from(query.to_owned()));
    for (key, value) in params {
        match key.as_str() {
            "max_rows" => {
                let n: u64 = value.parse().map_err(|_| {
                    AppError::bad_request("query parameter 'max_rows' must be a whole number")
                })?;
                task.insert("max_rows".into(), Value::from(n));
            }
            "cursor" => {
                task.insert("cursor".into(), Value::from(value.as_str()));
            }
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
    task.insert("params".into(), Value::Object(named));
    Ok(Value::Object(task))
}

fn body_task(req: &HttpRequest) -> Result<Value, AppError> {
    let raw = req.body.as_deref().unwrap_or("");
    let text = if req.base64 {
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(raw.trim())
            .map_err(|_| {
                AppError::bad_request("the request body is marked base64 but is not valid base64")
            })?;
        String::from_utf8(bytes)
            .map_err(|_| AppError::bad_request("the request body is not UTF-8 text"))?
    } else {
        raw.to_owned()
    };
    if text.trim().is_empty() {
        return Err(AppError::bad_request(
            "POST /v1/fetch needs a task as its JSON body",
        ));
    }
    let value: Value = serde_json::from_str(&text)
        .map_err(|e| AppError::bad_request(format!("the request body is not JSON: {e}")))?;
    if !value.is_object() {
        return Err(AppError::bad_request(
            "the request body must be a JSON object (a task)",
        ));
    }
    Ok(value)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn req(
        method: &str,
        path: &str,
        query: &[(&str, &str)],
        body: Option<&str>,
        base64: bool,
    ) -> HttpRequest {
        HttpRequest {
            method: method.into(),
            path: path.into(),
            query: query
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
            body: body.map(str::to_owned),
            base64,
        }
    }

    #[test]
    fn get_builds_a_task_from_path_and_query() {
        let t = route(&req(
            "GET",
            "/prod/v1/alpha-vantage/TIME_SERIES_INTRADAY",
            &[
                ("symbol", "IBM"),
                ("interval", "5min"),
                ("extended_hours", "false"),
            ],
            None,
            false,
        ))
        .unwrap();
        assert_eq!(
            t,
            json!({"provider": "alpha_vantage", "function": "TIME_SERIES_INTRADAY", "symbol": "IBM", "interval": "5min", "extended_hours": false})
        );
    }

    #[test]
    fn snowflake_get_splits_params_from_paging() {
        let t = route(&req(
            "GET",
            "/v1/snowflake/customers_by_city",
            &[
                ("city", "Berlin"),
                ("max_rows", "50"),
                ("cursor", "abc.def"),
            ],
            None,
            false,
        ))
        .unwrap();
        assert_eq!(
            t,
            json!({"provider": "snowflake", "query": "customers_by_city", "max_rows": 50, "cursor": "abc.def", "params": {"city": "Berlin"}})
        );
        for bad in [("max_rows", "many"), ("statement", "drop table x")] {
            let err = route(&req("GET", "/v1/snowflake/q", &[bad], None, false)).unwrap_err();
            assert_eq!(err.kind(), ErrorKind::BadRequest, "{bad:?}");
        }
    }

    #[test]
    fn post_takes_plain_or_base64_bodies() {
        let body = r#"{"provider":"alpha_vantage","function":"GLOBAL_QUOTE","symbol":"IBM"}"#;
        let plain = route(&req("POST", "/v1/fetch", &[], Some(body), false)).unwrap();
        let encoded = base64::engine::general_purpose::STANDARD.encode(body);
        let b64 = route(&req("POST", "/v1/fetch", &[], Some(&encoded), true)).unwrap();
        assert_eq!(plain, b64);
        assert_eq!(plain["symbol"], "IBM");
    }

    #[test]
    fn errors_map_to_http_kinds() {
        let kind = |r: HttpRequest| route(&r).unwrap_err().kind();
        assert_eq!(
            kind(req("GET", "/v2/other", &[], None, false)),
            ErrorKind::NotFound
        );
        assert_eq!(
            kind(req("GET", "/v1/nothing/here", &[], None, false)),
            ErrorKind::NotFound
        );
        assert_eq!(
            kind(req("DELETE", "/v1/fetch", &[], None, false)),
            ErrorKind::MethodNotAllowed
        );
        assert_eq!(
            kind(req(
                "POST",
                "/v1/alpha-vantage/GLOBAL_QUOTE",
                &[],
                None,
                false
            )),
            ErrorKind::MethodNotAllowed
        );
        assert_eq!(
            kind(req("POST", "/v1/fetch", &[], None, false)),
            ErrorKind::BadRequest
        );
        assert_eq!(
            kind(req("POST", "/v1/fetch", &[], Some("{not json"), false)),
            ErrorKind::BadRequest
        );
        assert_eq!(
            kind(req("POST", "/v1/fetch", &[], Some("%%%"), true)),
            ErrorKind::BadRequest
        );
        assert_eq!(
            kind(req("POST", "/v1/fetch", &[], Some("[1]"), false)),
            ErrorKind::BadRequest
        );
        assert_eq!(
            kind(req(
                "GET",
                "/v1/alpha-vantage/GLOBAL_QUOTE",
                &[("function", "X")],
                None,
                false
            )),
            ErrorKind::BadRequest
        );
        assert_eq!(
            kind(req(
                "GET",
                "/v1/alpha-vantage/TIME_SERIES_INTRADAY",
                &[("adjusted", "yes")],
                None,
                false
            )),
            ErrorKind::BadRequest
        );
    }
}
