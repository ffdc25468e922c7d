//! HTTP routing: API Gateway and Function URL requests to typed tasks.
//!
//! - `GET /v1/{provider-route}/{name}?…` — each provider contributes one
//!   (`/v1/alpha-vantage/{function}`, `/v1/snowflake/{query}`) and builds its
//!   typed task from the name and the query string;
//! - `POST /v1/fetch` — the body is a task document (JSON) for any provider.
//!
//! Routes are matched from the first `/v1/` segment on, so stage names and
//! custom-domain base paths in front of it do not matter.

use base64::Engine;

use crate::error::{AppError, ErrorKind, Method, preview};
use crate::job::Job;
use crate::providers::Providers;
use crate::trigger::HttpRequest;

/// The task `req` asks for.
pub(crate) fn route(req: &HttpRequest) -> Result<Job, AppError> {
    let Some(at) = req.path.find("/v1/") else {
        return Err(not_found(req));
    };
    let segments: Vec<&str> = req.path[at + 4..]
        .split('/')
        .filter(|s| !s.is_empty())
        .collect();
    match segments.as_slice() {
        ["fetch"] => {
            allow(req, Method::Post)?;
            body_task(req)
        }
        [segment, name] if Providers::routes().iter().any(|r| r.segment == *segment) => {
            allow(req, Method::Get)?;
            Providers::route(segment, name, &req.query)
                .unwrap_or_else(|| Err(not_found(req)))
                .map(Job::of)
        }
        _ => Err(not_found(req)),
    }
}

fn not_found(req: &HttpRequest) -> AppError {
    let mut routes: Vec<String> = Providers::routes()
        .iter()
        .map(|r| format!("GET /v1/{}/{{{}}}", r.segment, r.param))
        .collect();
    let last = routes.pop().unwrap_or_default();
    let listed = if routes.is_empty() {
        last
    } else {
        format!("{}, {last}", routes.join(", "))
    };
    AppError::new(
        ErrorKind::NotFound,
        format!(
            "no route for {} {}; routes are {listed} and POST /v1/fetch",
            req.method,
            preview(&req.path)
        ),
    )
}

fn allow(req: &HttpRequest, method: Method) -> Result<(), AppError> {
    if req.method == method.as_str() {
        Ok(())
    } else {
        Err(AppError::method_not_allowed(
            format!(
                "{} is not allowed on {}; use {}",
                req.method,
                preview(&req.path),
                method.as_str()
            ),
            method,
        ))
    }
}

fn body_task(req: &HttpRequest) -> Result<Job, AppError> {
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
    let value: serde_json::Value = serde_json::from_str(&text)
        .map_err(|e| AppError::bad_request(format!("the request body is not JSON: {e}")))?;
    if !value.is_object() {
        return Err(AppError::bad_request(
            "the request body must be a JSON object (a task)",
        ));
    }
    Job::parse(value)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::providers::Task;

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
    fn get_routes_go_to_the_provider_that_owns_the_segment() {
        let t = route(&req(
            "GET",
            "/prod/v1/alpha-vantage/TIME_SERIES_INTRADAY",
            &[("symbol", "IBM"), ("interval", "5min")],
            None,
            false,
        ))
        .unwrap()
        .task;
        assert!(matches!(&t, Task::AlphaVantage(av) if av.symbol.as_deref() == Some("IBM")));
        let t = route(&req(
            "GET",
            "/v1/snowflake/customers_by_city",
            &[("city", "Berlin"), ("max_rows", "50")],
            None,
            false,
        ))
        .unwrap()
        .task;
        assert!(matches!(&t, Task::Snowflake(sf) if sf.max_rows == Some(50)));
    }

    #[test]
    fn post_takes_plain_or_base64_bodies() {
        let body = r#"{"provider":"alpha_vantage","function":"GLOBAL_QUOTE","symbol":"IBM"}"#;
        let plain = route(&req("POST", "/v1/fetch", &[], Some(body), false))
            .unwrap()
            .task;
        let encoded = base64::engine::general_purpose::STANDARD.encode(body);
        let b64 = route(&req("POST", "/v1/fetch", &[], Some(&encoded), true))
            .unwrap()
            .task;
        assert_eq!(format!("{plain:?}"), format!("{b64:?}"));
        assert!(matches!(&plain, Task::AlphaVantage(av) if av.symbol.as_deref() == Some("IBM")));
    }

    #[test]
    fn not_found_lists_every_route() {
        let err = route(&req("GET", "/v2/other", &[], None, false)).unwrap_err();
        assert!(
            err.message().ends_with(
                "routes are GET /v1/alpha-vantage/{function}, GET /v1/snowflake/{query} and POST /v1/fetch"
            ),
            "{}",
            err.message()
        );
        let err = route(&req(
            "POST",
            "/v1/alpha-vantage/X",
            &[("adjusted", "yes")],
            None,
            false,
        ))
        .unwrap_err();
        assert_eq!(
            err.kind(),
            ErrorKind::MethodNotAllowed,
            "the method is checked first"
        );
        assert_eq!(err.allowed_method(), Some(Method::Get));
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
