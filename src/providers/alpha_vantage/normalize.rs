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

use serde_json::{Map, Number, Value};

use super::classify::{MESSAGE_KEYS, META_KEY};
use super::task::AlphaVantageTask;
use crate::dates::strict_date;
use crate::error::{AppError, ErrorKind};
use super::columns::infer_columns;
use crate::response::FetchResult;

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

/// A field's value as JSON: numbers from numeric strings unless `name` is a text field.
pub(crate) fn field_value(name: &str, v: &Value) -> Value {
    let Value::String(s) = v else {
        return v.clone();
    };
    let t = s.trim();
    if t.is_empty() || t == "-" || t.eq_ignore_ascii_case("none") {
        return Value::Null;
    }
    if TEXT_FIELDS.contains(&name) {
        return Value::String(s.clone());
    }
    let (digits, _percent) = match t.strip_suffix('%') {
        Some(d) => (d, true),
        None => (t, false),
    };
    let body = digits.strip_prefix(['-', '+']).unwrap_or(digits);
    let numeric = !body.is_empty()
        && body.chars().all(|c| c.is_ascii_digit() || c == '.')
        && body.chars().filter(|&c| c == '.').count() <= 1
        && body.chars().any(|c| c.is_ascii_digit());
    if !numeric {
        return Value::String(s.clone());
    }
    if !digits.contains('.')
        && let Ok(i) = digits.parse::<i64>()
    {
        return Value::Number(i.into());
    }
    match digits.parse::<f64>().ok().and_then(Number::from_f64) {
        Some(n) => Value::Number(n),
        None => Value::String(s.clone()),
    }
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

/// Turn a classified data body into rows.
pub(crate) fn normalize(
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
        // Dates are compared as dates: a key that does not start with one
        // cannot be placed in the window, and is an upstream fault.
        let day = k.get(..10).and_then(strict_date).ok_or_else(|| {
            AppError::new(
                ErrorKind::UpstreamFailed,
                format!(
                    "Alpha Vantage answered {} with a series key that is not a date",
                    task.function
                ),
            )
            .with_upstream_text(k)
        })?;
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
        let r = normalize(&t, body.as_object().unwrap().clone()).unwrap();
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
        let r = normalize(&t, body.as_object().unwrap().clone()).unwrap();
        let ts: Vec<&str> = r
            .rows
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
        let r = normalize(&t, body.as_object().unwrap().clone()).unwrap();
        assert_eq!(
            serde_json::Value::Object(r.rows[0].clone()),
            json!({"symbol": "IBM", "open": 306.75, "volume": 5687955, "latest_trading_day": "2025-11-06", "change_percent": 1.8418})
        );
        let t = task(
            json!({"function": "CURRENCY_EXCHANGE_RATE", "from_currency": "USD", "to_currency": "JPY"}),
        );
        let body = json!({"Realtime Currency Exchange Rate": {"1. From_Currency Code": "USD", "5. Exchange Rate": "155.77700000", "6. Last Refreshed": "2026-01-15 21:55:01", "8. Bid Price": "-"}});
        let r = normalize(&t, body.as_object().unwrap().clone()).unwrap();
        assert_eq!(
            serde_json::Value::Object(r.rows[0].clone()),
            json!({"from_currency_code": "USD", "exchange_rate": 155.777, "last_refreshed": "2026-01-15 21:55:01", "bid_price": null})
        );
    }

    #[test]
    fn meta_only_is_an_empty_series() {
        let t = task(json!({"function": "TIME_SERIES_WEEKLY", "symbol": "IBM"}));
        let r = normalize(
            &t,
            json!({"Meta Data": {"2. Symbol": "IBM"}})
                .as_object()
                .unwrap()
                .clone(),
        )
        .unwrap();
        assert_eq!(r.row_count, 0);
        assert!(r.columns.is_empty());
    }

    #[test]
    fn shape_mismatch_is_upstream_failed() {
        let t = task(json!({"function": "TIME_SERIES_DAILY", "symbol": "IBM"}));
        let err = normalize(
            &t,
            json!({"Global Quote": {"01. symbol": "IBM"}})
                .as_object()
                .unwrap()
                .clone(),
        )
        .unwrap_err();
        assert_eq!(err.kind(), ErrorKind::UpstreamFailed);
    }
}
