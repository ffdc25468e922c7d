//! One generic normaliser for every Alpha Vantage answer.
//!
//! - the data object is found by shape, not by name (`Time Series (5min)`,
//!   `Weekly Adjusted Time Series`, `Time Series FX (Daily)`, …);
//! - field names lose their `1. ` / `01. ` / `1a. ` prefixes and become
//!   snake_case (`adjusted close` → `adjusted_close`,
//!   `open (USD)` → `open_usd`);
//! - numeric strings become JSON numbers (`"1.8418%"` → `1.8418`, `"-"` →
//!   `null`), except fields that are text by nature (symbols, codes, names,
//!   dates);
//! - series rows come out oldest first (sorted by key, never trusting JSON
//!   order) and are filtered by `start`/`end` inclusively on the date part,
//!   so a date-only `end` keeps every bar of that day.
//!
//! A time series — the one large answer, up to ~25 years of bars — is read
//! in one pass straight into the result's [`Table`] by `series.rs`; every
//! other answer is a handful of fields and goes through a `Map`, which is
//! also the reference the one-pass reader is tested against.

use serde_json::{Map, Number, Value};

use super::classify::{MESSAGE_KEYS, META_KEY, check_body};
use super::series;
use super::columns::infer_columns;
use super::task::AlphaVantageTask;
use crate::dates::strict_date;
use crate::error::{AppError, ErrorKind};
use crate::response::FetchResult;
use crate::table::Table;

/// Fields that stay strings even when they look numeric.
const TEXT_FIELDS: [&str; 16] = [
    "symbol",
    "latest_trading_day",
    "from_currency_code",
    "from_currency_name",
    "to_currency_code",
    "to_currency_name",
    "last_refreshed",
    "time_zone",
    "name",
    "type",
    "region",
    "currency",
    "market_open",
    "market_close",
    "timezone",
    "information",
];

/// `"2. high"` → `high`; `"1a. open (CNY)"` → `open_cny`; `"From_Currency Code"` → `from_currency_code`.
pub(crate) fn field_name(raw: &str) -> String {
    let rest = match raw.split_once(". ") {
        Some((prefix, rest))
            if !prefix.is_empty()
                && prefix.len() <= 3
                && prefix.chars().next().is_some_and(|c| c.is_ascii_digit())
                && prefix.chars().all(|c| c.is_ascii_alphanumeric()) =>
        {
            rest
        }
        _ => raw,
    };
    let mut out = String::with_capacity(rest.len());
    for c in rest.chars() {
        if c.is_alphanumeric() {
            out.extend(c.to_lowercase());
        } else if !out.is_empty() && !out.ends_with('_') {
            out.push('_');
        }
    }
    while out.ends_with('_') {
        out.pop();
    }
    out
}

/// What a field's text stands for.
#[derive(Debug, PartialEq)]
pub(super) enum Field<'a> {
    /// Empty, `-` or `None`.
    Null,
    /// Text, as sent.
    Text(&'a str),
    /// A whole number.
    Int(i64),
    /// A finite number.
    Float(f64),
}

/// Read a field's text: numbers from numeric strings (`"1.8418%"` →
/// 1.8418) unless the field is `text_field`; `-`, `None` and empty are null.
pub(super) fn read_field(text_field: bool, s: &str) -> Field<'_> {
    let t = s.trim();
    if t.is_empty() || t == "-" || t.eq_ignore_ascii_case("none") {
        return Field::Null;
    }
    if text_field {
        return Field::Text(s);
    }
    let digits = t.strip_suffix('%').unwrap_or(t);
    let body = digits.strip_prefix(['-', '+']).unwrap_or(digits);
    // Digits with at most one '.', and at least one digit: one pass.
    let (mut dots, mut any_digit, mut numeric) = (0u32, false, !body.is_empty());
    for c in body.bytes() {
        match c {
            b'0'..=b'9' => any_digit = true,
            b'.' => dots += 1,
            _ => {
                numeric = false;
                break;
            }
        }
    }
    if !numeric || dots > 1 || !any_digit {
        return Field::Text(s);
    }
    if dots == 0
        && let Ok(i) = digits.parse::<i64>()
    {
        return Field::Int(i);
    }
    match digits.parse::<f64>() {
        Ok(f) if f.is_finite() => Field::Float(f),
        _ => Field::Text(s),
    }
}

/// Whether the field `name` stays text even when it looks numeric.
pub(super) fn is_text_field(name: &str) -> bool {
    TEXT_FIELDS.contains(&name)
}

/// A field's value as JSON: numbers from numeric strings unless `name` is a text field.
pub(crate) fn field_value(name: &str, v: &Value) -> Value {
    let Value::String(s) = v else {
        return v.clone();
    };
    match read_field(is_text_field(name), s) {
        Field::Null => Value::Null,
        Field::Text(t) => Value::String(t.to_owned()),
        Field::Int(i) => Value::Number(i.into()),
        Field::Float(f) => Number::from_f64(f).map_or_else(|| Value::String(s.clone()), Value::Number),
    }
}

/// [`field_value`] of a string, straight into `table`: the same value,
/// without building it.
pub(super) fn push_field(table: &mut Table, name: &str, s: &str) {
    push_field_as(table, is_text_field(name), s)
}

/// [`push_field`] for a column already known to be text or not.
pub(super) fn push_field_as(table: &mut Table, text_field: bool, s: &str) {
    match read_field(text_field, s) {
        Field::Null => table.push_null(),
        Field::Text(t) => table.push_text(t),
        Field::Int(i) => table.push_int(i),
        Field::Float(f) => table.push_float(f),
    }
}

/// The answer `body` (HTTP 200) as rows, or the error it stands for.
pub(crate) fn normalize(task: &AlphaVantageTask, body: &[u8]) -> Result<FetchResult, AppError> {
    let shown = || String::from_utf8_lossy(&body[..body.len().min(4096)]).into_owned();
    let not_json = || {
        AppError::new(
            ErrorKind::UpstreamFailed,
            "Alpha Vantage answered with something that is not JSON",
        )
        .with_upstream_text(&shown())
    };
    let text = std::str::from_utf8(body).map_err(|_| not_json())?;
    // A series is read in one pass, straight into its table; anything else
    // — messages, small answers, unusual shapes — through a map.
    if task.function.is_series()
        && let Some(result) = series::read(task, text)?
    {
        return Ok(result);
    }
    let map: Map<String, Value> = match serde_json::from_str::<Value>(text) {
        Ok(Value::Object(map)) => map,
        Ok(_) => {
            return Err(AppError::new(
                ErrorKind::UpstreamFailed,
                "Alpha Vantage answered with JSON that is not an object",
            ));
        }
        Err(_) => return Err(not_json()),
    };
    check_body(task, &map)?;
    normalize_map(task, map)
}

/// The date a series key starts with; a key that does not start with one
/// cannot be placed in the window, and is an upstream fault.
pub(super) fn date_of(task: &AlphaVantageTask, key: &str) -> Result<chrono::NaiveDate, AppError> {
    key.get(..10).and_then(strict_date).ok_or_else(|| {
        AppError::new(
            ErrorKind::UpstreamFailed,
            format!(
                "Alpha Vantage answered {} with a series key that is not a date",
                task.function
            ),
        )
        .with_upstream_text(key)
    })
}

/// The response's `meta`: the answer's `Meta Data` with normalised names,
/// and the function.
pub(super) fn metadata(task: &AlphaVantageTask, raw: Option<Map<String, Value>>) -> Map<String, Value> {
    let mut meta: Map<String, Value> = raw
        .map(|m| m.into_iter().map(|(k, v)| (field_name(&k), v)).collect())
        .unwrap_or_default();
    meta.insert("function".into(), Value::from(task.function.as_str()));
    meta
}

fn normalize_object(obj: &Map<String, Value>) -> Map<String, Value> {
    obj.iter()
        .map(|(k, v)| {
            let name = field_name(k);
            let value = field_value(&name, v);
            (name, value)
        })
        .collect()
}

/// Turn a classified data body into rows, through maps: the small answers,
/// and the reference for the borrowed series path.
pub(crate) fn normalize_map(
    task: &AlphaVantageTask,
    body: Map<String, Value>,
) -> Result<FetchResult, AppError> {
    let meta_raw = body.get(META_KEY).and_then(Value::as_object);
    let mut meta: Map<String, Value> = meta_raw
        .map(|m| m.iter().map(|(k, v)| (field_name(k), v.clone())).collect())
        .unwrap_or_default();
    meta.insert("function".into(), Value::from(task.function.as_str()));
    let data = body.iter().find(|(k, v)| {
        k.as_str() != META_KEY
            && !MESSAGE_KEYS.contains(&k.as_str())
            && (v.is_object() || v.is_array())
    });
    let rows = match data {
        None => Vec::new(),
        Some((_, Value::Array(items))) => items
            .iter()
            .filter_map(Value::as_object)
            .map(normalize_object)
            .collect(),
        // A series: an object of bars (an empty one is an empty series).
        Some((name, Value::Object(obj))) if task.function.is_series() => {
            if !obj.values().all(Value::is_object) {
                return Err(unexpected(task, name));
            }
            series_rows(task, obj)?
        }
        Some((name, Value::Object(obj))) => {
            if !obj.is_empty() && obj.values().all(Value::is_object) {
                return Err(unexpected(task, name));
            }
            vec![normalize_object(obj)]
        }
        Some(_) => Vec::new(),
    };
    let rows = Table::from_maps(rows);
    let columns = infer_columns(&rows);
    Ok(FetchResult::new("alpha_vantage", columns, rows, meta))
}

fn unexpected(task: &AlphaVantageTask, key: &str) -> AppError {
    AppError::new(
        ErrorKind::UpstreamFailed,
        format!(
            "Alpha Vantage answered {} with an unexpected object",
            task.function
        ),
    )
    .with_upstream_text(key)
}

fn series_rows(
    task: &AlphaVantageTask,
    series: &Map<String, Value>,
) -> Result<Vec<Map<String, Value>>, AppError> {
    let key_name = if task.function.is_intraday() {
        "timestamp"
    } else {
        "date"
    };
    let (start, end) = task.window()?;
    let mut entries: Vec<(&String, &Value)> = Vec::with_capacity(series.len());
    for (k, bar) in series {
        if start.is_none() && end.is_none() {
            entries.push((k, bar));
            continue;
        }
        let day = date_of(task, k)?;
        if start.is_none_or(|s| day >= s) && end.is_none_or(|e| day <= e) {
            entries.push((k, bar));
        }
    }
    entries.sort_unstable_by(|a, b| a.0.cmp(b.0));
    // Every bar has the same few fields: normalise each raw name once.
    let mut names: Vec<(&str, String)> = Vec::new();
    Ok(entries
        .into_iter()
        .map(|(k, bar)| {
            let mut row = Map::with_capacity(8);
            row.insert(key_name.to_owned(), Value::String(k.clone()));
            if let Some(fields) = bar.as_object() {
                for (raw, v) in fields {
                    let name = match names.iter().find(|(r, _)| *r == raw.as_str()) {
                        Some((_, n)) => n.clone(),
                        None => {
                            let n = field_name(raw);
                            names.push((raw.as_str(), n.clone()));
                            n
                        }
                    };
                    let value = field_value(&name, v);
                    row.insert(name, value);
                }
            }
            row
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::response::ColumnType;
    use serde_json::json;

    fn task(v: Value) -> AlphaVantageTask {
        serde_json::from_value(v).unwrap()
    }

    /// The body's rows through the borrowed path, checked against the map
    /// path (the reference) whenever both succeed.
    fn norm(t: &AlphaVantageTask, body: Value) -> Result<FetchResult, AppError> {
        let fast = normalize(t, &serde_json::to_vec(&body).unwrap());
        if let (Ok(fast), Ok(slow)) = (&fast, normalize_map(t, body.as_object().unwrap().clone())) {
            assert_eq!(
                serde_json::to_value(fast).unwrap(),
                serde_json::to_value(&slow).unwrap()
            );
        }
        fast
    }

    #[test]
    fn field_names() {
        assert_eq!(field_name("1. open"), "open");
        assert_eq!(field_name("10. change percent"), "change_percent");
        assert_eq!(field_name("07. latest trading day"), "latest_trading_day");
        assert_eq!(field_name("1a. open (CNY)"), "open_cny");
        assert_eq!(field_name("6. market cap (USD)"), "market_cap_usd");
        assert_eq!(field_name("1. From_Currency Code"), "from_currency_code");
        assert_eq!(field_name("5. adjusted close"), "adjusted_close");
        assert_eq!(field_name("Meta Data"), "meta_data");
    }

    #[test]
    fn field_values() {
        assert_eq!(field_value("open", &json!("135.1200")), json!(135.12));
        assert_eq!(field_value("volume", &json!("2170832")), json!(2170832));
        assert_eq!(
            field_value("volume", &json!("9.35943544")),
            json!(9.35943544)
        );
        assert_eq!(field_value("volume", &json!(123)), json!(123));
        assert_eq!(
            field_value("change_percent", &json!("-1.8418%")),
            json!(-1.8418)
        );
        assert_eq!(field_value("bid_price", &json!("-")), Value::Null);
        assert_eq!(field_value("symbol", &json!("1234")), json!("1234"));
        assert_eq!(
            field_value("latest_trading_day", &json!("2025-11-06")),
            json!("2025-11-06")
        );
        assert_eq!(field_value("open", &json!("1.2.3")), json!("1.2.3"));
        assert_eq!(
            field_value("open", &json!("99999999999999999999")),
            json!(1e20)
        );
    }

    #[test]
    fn daily_series_sorted_filtered_and_typed() {
        let t = task(
            json!({"function": "TIME_SERIES_DAILY", "symbol": "IBM", "start": "2024-01-03", "end": "2024-01-04"}),
        );
        let body = json!({
            "Meta Data": {"1. Information": "Daily Prices (open, high, low, close) and Volumes", "2. Symbol": "IBM", "3. Last Refreshed": "2024-01-05", "4. Output Size": "Compact", "5. Time Zone": "US/Eastern"},
            "Time Series (Daily)": {
                "2024-01-05": {"1. open": "5.0000", "2. high": "5.5", "3. low": "4.5", "4. close": "5.1", "5. volume": "500"},
                "2024-01-04": {"1. open": "4.0000", "2. high": "4.5", "3. low": "3.5", "4. close": "4.1", "5. volume": "400"},
                "2024-01-02": {"1. open": "2.0000", "2. high": "2.5", "3. low": "1.5", "4. close": "2.1", "5. volume": "200"},
                "2024-01-03": {"1. open": "3.0000", "2. high": "3.5", "3. low": "2.5", "4. close": "3.1", "5. volume": "300"}
            }
        });
        let r = norm(&t, body).unwrap();
        assert_eq!(r.row_count, 2);
        assert_eq!(
            serde_json::to_value(&r.rows).unwrap(),
            json!([
                {"date": "2024-01-03", "open": 3.0, "high": 3.5, "low": 2.5, "close": 3.1, "volume": 300},
                {"date": "2024-01-04", "open": 4.0, "high": 4.5, "low": 3.5, "close": 4.1, "volume": 400}
            ])
        );
        let cols: Vec<(String, ColumnType)> = r
            .columns
            .iter()
            .map(|c| (c.name.clone(), c.kind))
            .collect();
        assert_eq!(cols[0], ("date".into(), ColumnType::Date));
        assert_eq!(cols[5], ("volume".into(), ColumnType::Integer));
        assert_eq!(r.meta["symbol"], "IBM");
        assert_eq!(r.meta["time_zone"], "US/Eastern");
        assert_eq!(r.meta["function"], "TIME_SERIES_DAILY");
        assert!(r.next_cursor.is_none());
    }

    #[test]
    fn intraday_end_date_keeps_the_whole_day() {
        let t = task(
            json!({"function": "TIME_SERIES_INTRADAY", "symbol": "IBM", "interval": "60min", "start": "2024-01-03", "end": "2024-01-03"}),
        );
        let body = json!({"Meta Data": {}, "Time Series (60min)": {
            "2024-01-03 19:00:00": {"1. open": "1"}, "2024-01-03 04:00:00": {"1. open": "2"},
            "2024-01-02 19:00:00": {"1. open": "3"}, "2024-01-04 04:00:00": {"1. open": "4"}}});
        let r = norm(&t, body).unwrap();
        let rows = r.rows.to_maps();
        let ts: Vec<&str> = rows
            .iter()
            .map(|row| row["timestamp"].as_str().unwrap())
            .collect();
        assert_eq!(ts, ["2024-01-03 04:00:00", "2024-01-03 19:00:00"]);
        assert_eq!(r.columns[0].kind, ColumnType::Datetime);
    }

    #[test]
    fn global_quote_and_exchange_rate_are_one_row() {
        let t = task(json!({"function": "GLOBAL_QUOTE", "symbol": "IBM"}));
        let body = json!({"Global Quote": {"01. symbol": "IBM", "02. open": "306.7500", "06. volume": "5687955", "07. latest trading day": "2025-11-06", "10. change percent": "1.8418%"}});
        let r = norm(&t, body).unwrap();
        assert_eq!(
            serde_json::Value::Object(r.rows.row_map(0)),
            json!({"symbol": "IBM", "open": 306.75, "volume": 5687955, "latest_trading_day": "2025-11-06", "change_percent": 1.8418})
        );
        let t = task(
            json!({"function": "CURRENCY_EXCHANGE_RATE", "from_currency": "USD", "to_currency": "JPY"}),
        );
        let body = json!({"Realtime Currency Exchange Rate": {"1. From_Currency Code": "USD", "5. Exchange Rate": "155.77700000", "6. Last Refreshed": "2026-01-15 21:55:01", "8. Bid Price": "-"}});
        let r = norm(&t, body).unwrap();
        assert_eq!(
            serde_json::Value::Object(r.rows.row_map(0)),
            json!({"from_currency_code": "USD", "exchange_rate": 155.777, "last_refreshed": "2026-01-15 21:55:01", "bid_price": null})
        );
    }

    #[test]
    fn meta_only_is_an_empty_series() {
        let t = task(json!({"function": "TIME_SERIES_WEEKLY", "symbol": "IBM"}));
        let r = norm(&t, json!({"Meta Data": {"2. Symbol": "IBM"}}))
        .unwrap();
        assert_eq!(r.row_count, 0);
        assert!(r.columns.is_empty());
    }

    #[test]
    fn shape_mismatch_is_upstream_failed() {
        let t = task(json!({"function": "TIME_SERIES_DAILY", "symbol": "IBM"}));
        let err = norm(&t, json!({"Global Quote": {"01. symbol": "IBM"}}))
        .unwrap_err();
        assert_eq!(err.kind(), ErrorKind::UpstreamFailed);
    }
}
