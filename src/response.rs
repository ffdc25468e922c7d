//! The success body every provider returns, and the proxy-response shapes
//! API Gateway and Function URLs expect.

use serde::Serialize;
use serde_json::{Map, Value, json};

use crate::error::AppError;

/// A result column.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Column {
    /// Field name in every row.
    pub name: String,
    /// `date`, `datetime`, `integer`, `number`, `string`, `boolean` or `null`.
    #[serde(rename = "type")]
    pub kind: String,
}

/// Rows with their columns: the body of a successful invocation.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct FetchResult {
    /// `alpha_vantage`, …
    pub provider: &'static str,
    /// Column names and types, in row order.
    pub columns: Vec<Column>,
    /// One object per row.
    pub rows: Vec<Map<String, Value>>,
    /// `rows.len()`.
    pub row_count: usize,
    /// Provider metadata.
    pub meta: Map<String, Value>,
    /// Continue here for the next page (`null` when complete).
    pub next_cursor: Option<String>,
}

impl FetchResult {
    /// A complete result.
    pub fn new(
        provider: &'static str,
        columns: Vec<Column>,
        rows: Vec<Map<String, Value>>,
        meta: Map<String, Value>,
    ) -> Self {
        FetchResult {
            provider,
            row_count: rows.len(),
            columns,
            rows,
            meta,
            next_cursor: None,
        }
    }
}

/// Columns in first-seen order with a type inferred from every row's values.
pub fn infer_columns(rows: &[Map<String, Value>]) -> Vec<Column> {
    let mut order: Vec<(String, Option<&'static str>)> = Vec::new();
    for row in rows {
        for (name, value) in row {
            let i = match order.iter().position(|(n, _)| n == name) {
                Some(i) => i,
                None => {
                    order.push((name.clone(), None));
                    order.len() - 1
                }
            };
            order[i].1 = merge(order[i].1, value_type(value));
        }
    }
    order
        .into_iter()
        .map(|(name, kind)| Column {
            name,
            kind: kind.unwrap_or("null").to_owned(),
        })
        .collect()
}

fn value_type(v: &Value) -> Option<&'static str> {
    match v {
        Value::Null => None,
        Value::Bool(_) => Some("boolean"),
        Value::Number(n) if n.is_i64() || n.is_u64() => Some("integer"),
        Value::Number(_) => Some("number"),
        Value::String(s) if is_date(s) => Some("date"),
        Value::String(s) if is_datetime(s) => Some("datetime"),
        Value::String(_) => Some("string"),
        Value::Array(_) => Some("array"),
        Value::Object(_) => Some("object"),
    }
}

fn merge(a: Option<&'static str>, b: Option<&'static str>) -> Option<&'static str> {
    match (a, b) {
        (None, x) | (x, None) => x,
        (Some(x), Some(y)) if x == y => Some(x),
        (Some("integer"), Some("number")) | (Some("number"), Some("integer")) => Some("number"),
        (Some("date"), Some("datetime")) | (Some("datetime"), Some("date")) => Some("datetime"),
        _ => Some("string"),
    }
}

/// `YYYY-MM-DD` (shape only; works on bytes, so any text is safe).
pub fn is_date(s: &str) -> bool {
    is_date_bytes(s.as_bytes())
}

fn is_date_bytes(b: &[u8]) -> bool {
    b.len() == 10
        && b[4] == b'-'
        && b[7] == b'-'
        && b.iter()
            .enumerate()
            .all(|(i, c)| i == 4 || i == 7 || c.is_ascii_digit())
}

/// `YYYY-MM-DD HH:MM:SS` (or with `T`).
pub fn is_datetime(s: &str) -> bool {
    let b = s.as_bytes();
    b.len() == 19
        && is_date_bytes(&b[..10])
        && (b[10] == b' ' || b[10] == b'T')
        && b[13] == b':'
        && b[16] == b':'
        && b[11..]
            .iter()
            .enumerate()
            .all(|(i, c)| i == 2 || i == 5 || c.is_ascii_digit())
}

/// How an HTTP caller wants its response.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum HttpStyle {
    /// API Gateway REST API, payload 1.0.
    Rest,
    /// HTTP API payload 2.0 or a Function URL.
    V2,
}

/// A proxy response around a JSON body that is already serialized. It
/// borrows the body, so a large result is written out once, escaped, without
/// being copied into a `Value` first.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ProxyResponse<'a> {
    status_code: u16,
    headers: Map<String, Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    multi_value_headers: Option<Map<String, Value>>,
    body: &'a str,
    is_base64_encoded: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    cookies: Option<[&'a str; 0]>,
}

/// The proxy response for `style` with `status`, `body` and `extra` headers
/// besides `content-type` and `cache-control`.
pub fn http_response<'a>(
    style: HttpStyle,
    status: u16,
    body: &'a str,
    extra: &[(&str, String)],
) -> ProxyResponse<'a> {
    let mut headers = Map::new();
    headers.insert("content-type".into(), Value::from("application/json"));
    headers.insert("cache-control".into(), Value::from("no-store"));
    for (k, v) in extra {
        headers.insert((*k).to_owned(), Value::from(v.clone()));
    }
    let rest = style == HttpStyle::Rest;
    let multi_value_headers = rest.then(|| {
        headers
            .iter()
            .map(|(k, v)| (k.clone(), Value::Array(vec![v.clone()])))
            .collect()
    });
    ProxyResponse {
        status_code: status,
        headers,
        multi_value_headers,
        body,
        is_base64_encoded: false,
        cookies: (!rest).then_some([]),
    }
}

/// The JSON body of an HTTP error response: the kind, the message an HTTP
/// caller may see (see [`AppError::public_message`]) and the request id.
pub fn error_body(err: &AppError, request_id: &str) -> Value {
    let mut body = json!({
        "kind": err.kind().as_str(),
        "message": err.public_message(),
        "request_id": request_id,
    });
    if let Some(details) = err.public_details() {
        body["details"] = Value::Object(details.clone());
    }
    json!({ "error": body })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn columns_in_order_with_merged_types() {
        let rows: Vec<Map<String, Value>> = vec![
            json!({"date": "2024-01-02", "open": 1, "note": null}),
            json!({"date": "2024-01-03", "open": 1.5, "note": null, "flag": true}),
        ]
        .into_iter()
        .map(|v| v.as_object().unwrap().clone())
        .collect();
        let cols = infer_columns(&rows);
        let got: Vec<(&str, &str)> = cols
            .iter()
            .map(|c| (c.name.as_str(), c.kind.as_str()))
            .collect();
        assert_eq!(
            got,
            [
                ("date", "date"),
                ("open", "number"),
                ("note", "null"),
                ("flag", "boolean")
            ]
        );
    }

    #[test]
    fn date_shapes() {
        assert!(is_date("2024-01-02"));
        assert!(!is_date("2024-1-02x"));
        assert!(is_datetime("2025-11-06 19:55:00"));
        assert!(!is_datetime("2025-11-06"));
        assert!(
            !is_datetime("ABCDEFGHIé12345678"),
            "multi-byte text never panics"
        );
        assert!(!is_date("ABCDEFGHé"));
    }

    #[test]
    fn proxy_shapes() {
        let rest = serde_json::to_value(http_response(
            HttpStyle::Rest,
            429,
            "{}",
            &[("retry-after", "1".into())],
        ))
        .unwrap();
        assert_eq!(rest["statusCode"], 429);
        assert_eq!(rest["multiValueHeaders"]["retry-after"], json!(["1"]));
        assert_eq!(rest["body"], "{}");
        let v2 = serde_json::to_value(http_response(HttpStyle::V2, 200, "{}", &[])).unwrap();
        assert_eq!(v2["statusCode"], 200);
        assert_eq!(v2["isBase64Encoded"], false);
        assert_eq!(v2["headers"]["content-type"], "application/json");
        assert!(v2.get("multiValueHeaders").is_none());
        assert_eq!(v2["cookies"], json!([]));
    }
}
