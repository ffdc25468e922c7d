//! The success body every provider returns, and the proxy-response shapes
//! API Gateway and Function URLs expect.

use serde::Serialize;
use serde_json::{Map, Value, json};

use crate::error::AppError;
use crate::table::Table;

/// A column's type, one vocabulary for every provider.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub(crate) enum ColumnType {
    /// `YYYY-MM-DD`.
    Date,
    /// A wall-clock date and time without a zone.
    Datetime,
    /// A time of day.
    Time,
    /// An instant, with a zone or offset.
    Timestamp,
    /// A whole number (a string of digits beyond ±(2^53 − 1)).
    Integer,
    /// A floating-point number.
    Number,
    /// An exact decimal (a string when a double would round it).
    Decimal,
    /// Text.
    String,
    /// `true` / `false`.
    Boolean,
    /// Lower-case hex.
    Binary,
    /// Any JSON value.
    Variant,
    /// A JSON object.
    Object,
    /// A JSON array.
    Array,
    /// A GeoJSON value.
    Geojson,
    /// Every value is null.
    Null,
}

/// A result column.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub(crate) struct Column {
    /// Field name in every row.
    pub(crate) name: String,
    /// Its type.
    #[serde(rename = "type")]
    pub(crate) kind: ColumnType,
}

/// Rows with their columns: the body of a successful invocation.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub(crate) struct FetchResult {
    /// `alpha_vantage`, …
    pub(crate) provider: &'static str,
    /// Column names and types, in row order.
    pub(crate) columns: Vec<Column>,
    /// One object per row.
    pub(crate) rows: Table,
    /// `rows.len()`.
    pub(crate) row_count: usize,
    /// Provider metadata.
    pub(crate) meta: Map<String, Value>,
    /// Continue here for the next page (`null` when complete).
    pub(crate) next_cursor: Option<String>,
}

impl FetchResult {
    /// A complete result.
    pub(crate) fn new(
        provider: &'static str,
        columns: Vec<Column>,
        rows: Table,
        meta: Map<String, Value>,
    ) -> Self {
        FetchResult {
            provider,
            row_count: rows.rows(),
            columns,
            rows,
            meta,
            next_cursor: None,
        }
    }
}

/// How an HTTP caller wants its response.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum HttpStyle {
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
pub(crate) struct ProxyResponse<'a> {
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
pub(crate) fn http_response<'a>(
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
pub(crate) fn error_body(err: &AppError, request_id: &str) -> Value {
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
