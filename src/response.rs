//! The success body every provider returns, and the proxy-response shapes
//! API Gateway and Function URLs expect.

use serde::Serialize;
use serde_json::value::RawValue;
use serde_json::{Map, Value, json};

use crate::error::AppError;
use crate::output::Manifest;
use crate::row_json;
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
    /// Total digits of an exact decimal (Snowflake's NUMBER precision), when
    /// the provider knows it; typed writers (Parquet) use it, the JSON
    /// response does not carry it.
    #[serde(skip)]
    pub(crate) precision: Option<u8>,
    /// Fractional digits: of a decimal, or of the seconds of a time or
    /// timestamp (0–9), when the provider knows it.
    #[serde(skip)]
    pub(crate) scale: Option<u8>,
}

impl Column {
    /// A column with no precision or scale recorded.
    pub(crate) fn new(name: impl Into<String>, kind: ColumnType) -> Self {
        Column {
            name: name.into(),
            kind,
            precision: None,
            scale: None,
        }
    }
}

/// Rows with their columns: the body of a successful invocation. With an
/// `output`, the rows went to S3: the body leaves `rows` out and carries the
/// object's manifest as `output` instead.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct FetchResult {
    /// `alpha_vantage`, …
    pub(crate) provider: &'static str,
    /// Column names and types, in row order.
    pub(crate) columns: Vec<Column>,
    /// One object per row.
    pub(crate) rows: Table,
    /// The whole body already rendered (a Snowflake page, rendered while
    /// it was decoded); `rows` is then empty.
    pub(crate) rendered: Option<RenderedBody>,
    /// `rows.len()`.
    pub(crate) row_count: usize,
    /// Provider metadata.
    pub(crate) meta: Map<String, Value>,
    /// Continue here for the next page (`null` when complete).
    pub(crate) next_cursor: Option<String>,
    /// Where the rows were written, for a task with `output`.
    pub(crate) output: Option<Manifest>,
}

impl Serialize for FetchResult {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        use serde::ser::Error;
        self.render()
            .map_err(|e| S::Error::custom(e.message()))?
            .serialize(serializer)
    }
}

/// The members of a result body after its rows.
pub(crate) struct BodyTail<'a> {
    pub(crate) row_count: usize,
    pub(crate) meta: &'a Map<String, Value>,
    pub(crate) next_cursor: Option<&'a str>,
    pub(crate) output: Option<&'a Manifest>,
}

/// Write a result body into `out`, member by member, as compact JSON (what
/// serde_json writes for the same members): `rows` (left out when `None`:
/// the rows went to S3) is written before `tail` is asked for, so a body
/// can be rendered while its rows still arrive and its page is still being
/// cut (see `crate::row_renderer`). The one definition of the body's shape.
pub(crate) fn write_body<'a>(
    out: &mut String,
    provider: &str,
    columns: &[Column],
    rows: Option<impl FnOnce(&mut String) -> Result<(), String>>,
    tail: impl FnOnce() -> Result<BodyTail<'a>, String>,
) -> Result<(), String> {
    out.push_str("{\"provider\":");
    row_json::push_str(out, provider);
    out.push_str(",\"columns\":");
    row_json::push_value(out, &columns)?;
    if let Some(rows) = rows {
        out.push_str(",\"rows\":");
        rows(out)?;
    }
    let tail = tail()?;
    out.push_str(",\"row_count\":");
    out.push_str(itoa::Buffer::new().format(tail.row_count));
    out.push_str(",\"meta\":");
    row_json::push_value(out, tail.meta)?;
    out.push_str(",\"next_cursor\":");
    match tail.next_cursor {
        Some(cursor) => row_json::push_str(out, cursor),
        None => out.push_str("null"),
    }
    if let Some(manifest) = tail.output {
        out.push_str(",\"output\":");
        row_json::push_value(out, manifest)?;
    }
    out.push('}');
    Ok(())
}

/// `text`, written by [`write_body`], as the raw JSON the runtime sends.
pub(crate) fn raw_body(text: String) -> Box<RawValue> {
    #[cfg(test)]
    assert!(
        serde_json::from_str::<&RawValue>(&text).is_ok_and(|v| v.get().len() == text.len()),
        "a written body is one JSON value: {text}"
    );
    // SAFETY: `write_body` writes one JSON object with no surrounding white
    // space: its members are serde_json's own text, or strings and rows
    // escaped and written as serde_json writes them (row_json, whose
    // property test compares them byte for byte); tests re-parse every
    // body (above).
    unsafe { RawValue::from_string_unchecked(text) }
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
            rendered: None,
            meta,
            next_cursor: None,
            output: None,
        }
    }

    /// The body as JSON text: the rendered one, or the rows and members
    /// written now.
    pub(crate) fn render(&self) -> Result<Box<RawValue>, AppError> {
        if let (None, Some(body)) = (&self.output, &self.rendered) {
            return Ok(body.0.clone());
        }
        let mut out = String::new();
        let rows = self.output.is_none().then_some(|out: &mut String| {
            row_json::write_rows(&self.rows, self.rows.rows(), out);
            Ok(())
        });
        write_body(&mut out, self.provider, &self.columns, rows, || {
            Ok(BodyTail {
                row_count: self.row_count,
                meta: &self.meta,
                next_cursor: self.next_cursor.as_deref(),
                output: self.output.as_ref(),
            })
        })
        .map_err(|e| AppError::internal(format!("could not serialize the result: {e}")))?;
        Ok(raw_body(out))
    }

    /// The rendered body, taken out (the rest of the result describes it).
    pub(crate) fn take_rendered(&mut self) -> Option<Box<RawValue>> {
        self.rendered.take().map(|body| body.0)
    }
}

/// A result body rendered whole (see `crate::row_renderer`).
#[derive(Clone, Debug)]
pub(crate) struct RenderedBody(pub(crate) Box<RawValue>);

impl PartialEq for RenderedBody {
    fn eq(&self, other: &Self) -> bool {
        self.0.get() == other.0.get()
    }
}

/// What the handler answers: JSON text, rendered once by the handler (its
/// size checked and echoed credentials masked there) and copied out by the
/// runtime as it sends it.
#[derive(Debug)]
pub struct Reply(Box<serde_json::value::RawValue>);

impl Reply {
    /// JSON text.
    pub(crate) fn raw(json: Box<serde_json::value::RawValue>) -> Self {
        Reply(json)
    }

    /// The JSON the runtime sends.
    pub fn to_json(&self) -> String {
        self.0.get().to_owned()
    }
}

impl Serialize for Reply {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        self.0.serialize(serializer)
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

/// A proxy response around a JSON body (carried as an escaped string).
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

    #[test]
    fn a_result_body_is_the_result_json_escaped_in_place() {
        let mut rows = crate::table::Table::new(vec!["t".into(), "n".into()]);
        rows.push_text("quote \" backslash \\ newline \n tab \t é ✓ \u{1}");
        rows.push_float(1.5);
        let mut meta = Map::new();
        meta.insert("k".into(), json!({"nested": ["a\"b"]}));
        let result = FetchResult::new("test", vec![], rows, meta);
        let text = result.render().unwrap();
        let response =
            serde_json::to_value(http_response(HttpStyle::V2, 200, text.get(), &[])).unwrap();
        let body = response["body"].as_str().unwrap();
        assert_eq!(body, serde_json::to_string(&result).unwrap());
        assert_eq!(
            serde_json::from_str::<Value>(body).unwrap()["rows"][0]["n"],
            1.5
        );
    }
}
