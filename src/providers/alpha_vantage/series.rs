//! The one-pass reader for a time series answer, the one large body Alpha
//! Vantage sends (up to ~25 years of daily bars, a month of 1-minute bars).
//!
//! The body is walked once: each bar whose date lies in the task's window
//! is decoded straight into the result's [`Table`] as it is read (bars
//! outside it are skipped unparsed), then the rows are put oldest first. No
//! `Value` tree and no per-bar allocation is made; memory is the body and
//! the table.
//!
//! It reads only the shape every real answer has — `Meta Data` (an object),
//! message strings, and one data object of bars that all carry the same
//! fields in the same order. Anything else (a repeated key, an array, bars
//! that differ) answers `None`, and the map path in `normalize` decides, so
//! both paths always agree (a property test holds them to it).

use std::borrow::Cow;
use std::fmt;

use chrono::NaiveDate;
use serde::de::{DeserializeSeed, Deserializer, IgnoredAny, MapAccess, Visitor};
use serde_json::{Map, Value};

use super::classify::{MESSAGE_KEYS, META_KEY};
use super::columns::infer_columns;
use super::normalize::{date_of, field_name, field_value, is_text_field, metadata, push_field, push_field_as};
use super::task::AlphaVantageTask;
use crate::borrowed::Text;
use crate::error::AppError;
use crate::response::FetchResult;
use crate::table::Table;

/// The rows of the series answer `text`, or `None` when the map path must
/// decide (no data, or a shape this reader leaves to it).
pub(crate) fn read(task: &AlphaVantageTask, text: &str) -> Result<Option<FetchResult>, AppError> {
    let (start, end) = task.window()?;
    let mut reader = Reader {
        task,
        start,
        end,
        windowed: start.is_some() || end.is_some(),
        key_name: if task.function.is_intraday() {
            "timestamp"
        } else {
            "date"
        },
        meta: None,
        series: None,
        bars: 0,
        raw_names: Vec::new(),
        names: Vec::new(),
        text_fields: Vec::new(),
        table: None,
        rows_hint: bars_hint(text),
        text_len: text.len(),
        fault: None,
        other: false,
    };
    let mut de = serde_json::Deserializer::from_str(text);
    if (&mut de).deserialize_map(&mut reader).is_err() || de.end().is_err() {
        // Not JSON, not an object, or a shape the map path reads.
        if let Some(fault) = reader.fault {
            return Err(fault);
        }
        return Ok(None);
    }
    if let Some(fault) = reader.fault {
        return Err(fault);
    }
    if reader.series.is_none() {
        return Ok(None);
    }
    let meta_has_data = reader.meta.as_ref().is_some_and(|m| !m.is_empty());
    if reader.other || (reader.bars == 0 && !meta_has_data) {
        return Ok(None);
    }
    let table = match reader.table.take() {
        Some(table) => oldest_first(table),
        None => Table::default(),
    };
    let columns = infer_columns(&table);
    Ok(Some(FetchResult::new(
        "alpha_vantage",
        columns,
        table,
        metadata(task, reader.meta.take()),
    )))
}

/// At most how many bars `text` holds: each is an object, so an opening
/// brace apiece (the document's and `Meta Data`'s are counted too, and any
/// in strings), and no bar is shorter than `"d":{}`.
fn bars_hint(text: &str) -> usize {
    memchr::memchr_iter(b'{', text.as_bytes())
        .count()
        .min(text.len() / 6)
}

/// Rows sorted by their date cell; of rows with the same date the last one
/// read stays, as a map keeps the last value of a repeated key.
fn oldest_first(table: Table) -> Table {
    let date = |i: usize| match table.row(i).first() {
        Some(crate::table::Cell::Text(s, e)) => table.text(*s, *e),
        _ => "",
    };
    let rows = table.rows();
    // Alpha Vantage sends bars newest first: strictly descending dates are
    // reversed in place, with no second copy of the cells.
    if (1..rows).all(|i| date(i - 1) > date(i)) {
        let mut table = table;
        table.reverse_rows();
        return table;
    }
    if (1..rows).all(|i| date(i - 1) < date(i)) {
        return table;
    }
    let mut order: Vec<usize> = (0..rows).collect();
    order.sort_by(|a, b| date(*a).cmp(date(*b)));
    order.dedup_by(|later, earlier| {
        let repeat = date(*later) == date(*earlier);
        if repeat {
            *earlier = *later;
        }
        repeat
    });
    table.select_rows(&order)
}

/// What one pass over the document finds.
struct Reader<'t> {
    task: &'t AlphaVantageTask,
    start: Option<NaiveDate>,
    end: Option<NaiveDate>,
    windowed: bool,
    key_name: &'static str,
    meta: Option<Map<String, Value>>,
    /// The data object's key.
    series: Option<String>,
    /// Bars seen, in the window or not.
    bars: usize,
    /// The first kept bar's field names, as sent.
    raw_names: Vec<String>,
    /// The same, normalised: the columns after the date.
    names: Vec<String>,
    /// Which of them stay text even when they look numeric.
    text_fields: Vec<bool>,
    table: Option<Table>,
    /// How many bars the body can hold at most, to size the table once.
    rows_hint: usize,
    /// The body's length, which bounds how many bars of a width it holds.
    text_len: usize,
    fault: Option<AppError>,
    /// Something this reader leaves to the map path.
    other: bool,
}

impl Reader<'_> {
    fn leave<E: serde::de::Error>(&mut self) -> E {
        self.other = true;
        E::custom("left to the map path")
    }
}

impl<'de> Visitor<'de> for &mut Reader<'_> {
    type Value = ();
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a time series answer")
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        let mut seen: Vec<String> = Vec::new();
        while let Some(Text(key)) = map.next_key::<Text<'de>>()? {
            if seen.iter().any(|k| *k == key) {
                return Err(self.leave());
            }
            seen.push(key.to_string());
            if key == META_KEY {
                match map.next_value::<Value>()? {
                    Value::Object(m) => self.meta = Some(m),
                    _ => return Err(self.leave()),
                }
            } else if MESSAGE_KEYS.contains(&key.as_ref()) {
                if !matches!(map.next_value::<Value>()?, Value::String(_)) {
                    return Err(self.leave());
                }
            } else if self.series.is_none() {
                self.series = Some(key.to_string());
                map.next_value_seed(Bars(self))?;
            } else {
                return Err(self.leave());
            }
        }
        Ok(())
    }
}

/// The visitor methods for every JSON value but an object: each leaves the
/// answer to the map path (which reports a bar that is not an object as an
/// upstream fault, unless a repeated date replaces it there).
macro_rules! anything_but_a_map {
    ($this:ident => $reader:expr) => {
        fn visit_str<E: serde::de::Error>(self, _: &str) -> Result<(), E> {
            let $this = self;
            Err($reader.leave())
        }
        fn visit_seq<A: serde::de::SeqAccess<'de>>(self, _: A) -> Result<(), A::Error> {
            let $this = self;
            Err($reader.leave())
        }
        fn visit_i64<E: serde::de::Error>(self, _: i64) -> Result<(), E> {
            let $this = self;
            Err($reader.leave())
        }
        fn visit_u64<E: serde::de::Error>(self, _: u64) -> Result<(), E> {
            let $this = self;
            Err($reader.leave())
        }
        fn visit_f64<E: serde::de::Error>(self, _: f64) -> Result<(), E> {
            let $this = self;
            Err($reader.leave())
        }
        fn visit_bool<E: serde::de::Error>(self, _: bool) -> Result<(), E> {
            let $this = self;
            Err($reader.leave())
        }
        fn visit_unit<E: serde::de::Error>(self) -> Result<(), E> {
            let $this = self;
            Err($reader.leave())
        }
    };
}

/// The data object: date → bar.
struct Bars<'r, 't>(&'r mut Reader<'t>);

impl<'de> DeserializeSeed<'de> for Bars<'_, '_> {
    type Value = ();
    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<(), D::Error> {
        deserializer.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for Bars<'_, '_> {
    type Value = ();
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("an object of bars")
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        let r = self.0;
        while let Some(Text(date)) = map.next_key::<Text<'de>>()? {
            r.bars += 1;
            let keep = !r.windowed
                || match date_of(r.task, &date) {
                    Ok(day) => r.start.is_none_or(|s| day >= s) && r.end.is_none_or(|e| day <= e),
                    Err(e) => {
                        r.fault.get_or_insert(e);
                        false
                    }
                };
            if keep {
                map.next_value_seed(Bar { reader: r, date })?;
            } else {
                // Skipped unparsed, but still a bar (an object).
                map.next_value_seed(Skip(r))?;
            }
        }
        Ok(())
    }
    anything_but_a_map!(this => this.0);
}

/// A bar outside the window: it must be an object, and is not read.
struct Skip<'r, 't>(&'r mut Reader<'t>);

impl<'de> DeserializeSeed<'de> for Skip<'_, '_> {
    type Value = ();
    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<(), D::Error> {
        deserializer.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for Skip<'_, '_> {
    type Value = ();
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a bar")
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        while map.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
        Ok(())
    }
    anything_but_a_map!(this => this.0);
}


/// A bar in the window, decoded into the table.
struct Bar<'r, 't, 'de> {
    reader: &'r mut Reader<'t>,
    date: Cow<'de, str>,
}

impl<'de> DeserializeSeed<'de> for Bar<'_, '_, 'de> {
    type Value = ();
    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<(), D::Error> {
        deserializer.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for Bar<'_, '_, 'de> {
    type Value = ();
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a bar")
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        let r = self.reader;
        let first = r.table.is_none();
        if first {
            // The first bar read names the columns.
            let mut fields: Vec<(String, Value)> = Vec::new();
            while let Some((Text(name), value)) = map.next_entry::<Text<'de>, Value>()? {
                fields.push((name.into_owned(), value));
            }
            let names: Vec<String> = fields.iter().map(|(n, _)| field_name(n)).collect();
            let mut all = vec![r.key_name.to_owned()];
            all.extend(names.iter().cloned());
            let mut unique = std::collections::HashSet::new();
            if !all.iter().all(|n| unique.insert(n.clone())) {
                return Err(r.leave());
            }
            let mut table = Table::new(all);
            // Sized once for every bar (a windowed task keeps only some):
            // no doubling leaves a freed copy of the cells behind. A bar of
            // n fields takes at least 5n + 1 bytes (`"k":1,` each) and the
            // dates are text of the body, so braces in strings or a long key
            // cannot make the table reserve more than a few times the body.
            if !r.windowed {
                let rows = r.rows_hint.min(r.text_len / (1 + 5 * table.names().len()));
                table.reserve(rows, rows.saturating_mul(self.date.len()).min(r.text_len));
            }
            table.push_text(&self.date);
            for ((_, value), name) in fields.iter().zip(&names) {
                push_value(&mut table, name, value);
            }
            r.text_fields = names.iter().map(|n| is_text_field(n)).collect();
            r.names = names;
            r.raw_names = fields.into_iter().map(|(n, _)| n).collect();
            r.table = Some(table);
            return Ok(());
        }
        let Reader {
            table: Some(table),
            raw_names,
            names,
            text_fields,
            ..
        } = &mut *r
        else {
            return Err(r.leave());
        };
        let rows = table.rows();
        table.push_text(&self.date);
        let mut at = 0;
        let mut regular = true;
        while let Some(Text(name)) = map.next_key::<Text<'de>>()? {
            let (Some(raw), Some(column)) = (raw_names.get(at), names.get(at)) else {
                regular = false;
                map.next_value::<IgnoredAny>()?;
                continue;
            };
            if *raw != name {
                regular = false;
                map.next_value::<IgnoredAny>()?;
                continue;
            }
            match map.next_value::<Cell<'de>>()? {
                Cell::Text(s) => push_field_as(table, text_fields[at], &s),
                Cell::Other(v) => table.push_value(field_value(column, &v)),
            }
            at += 1;
        }
        if !regular || at != raw_names.len() {
            table.truncate_rows(rows);
            return Err(r.leave());
        }
        Ok(())
    }
    anything_but_a_map!(this => this.reader);
}

/// A first bar's field value into the table, as [`push_field`] or
/// [`field_value`] decide.
fn push_value(table: &mut Table, column: &str, value: &Value) {
    match value {
        Value::String(s) => push_field(table, column, s),
        other => table.push_value(field_value(column, other)),
    }
}

/// A field's value: a string, borrowed unless escaped, or anything else.
enum Cell<'a> {
    Text(Cow<'a, str>),
    Other(Value),
}

impl<'de> serde::Deserialize<'de> for Cell<'de> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Cell<'de>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a field value")
            }
            fn visit_borrowed_str<E>(self, v: &'de str) -> Result<Self::Value, E> {
                Ok(Cell::Text(Cow::Borrowed(v)))
            }
            fn visit_str<E>(self, v: &str) -> Result<Self::Value, E> {
                Ok(Cell::Text(Cow::Owned(v.to_owned())))
            }
            fn visit_string<E>(self, v: String) -> Result<Self::Value, E> {
                Ok(Cell::Text(Cow::Owned(v)))
            }
            fn visit_bool<E>(self, v: bool) -> Result<Self::Value, E> {
                Ok(Cell::Other(Value::Bool(v)))
            }
            fn visit_i64<E>(self, v: i64) -> Result<Self::Value, E> {
                Ok(Cell::Other(Value::from(v)))
            }
            fn visit_u64<E>(self, v: u64) -> Result<Self::Value, E> {
                Ok(Cell::Other(Value::from(v)))
            }
            fn visit_f64<E>(self, v: f64) -> Result<Self::Value, E> {
                Ok(Cell::Other(Value::from(v)))
            }
            fn visit_unit<E>(self) -> Result<Self::Value, E> {
                Ok(Cell::Other(Value::Null))
            }
            fn visit_seq<A: serde::de::SeqAccess<'de>>(self, seq: A) -> Result<Self::Value, A::Error> {
                serde::Deserialize::deserialize(serde::de::value::SeqAccessDeserializer::new(seq))
                    .map(Cell::Other)
            }
            fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Self::Value, A::Error> {
                serde::Deserialize::deserialize(serde::de::value::MapAccessDeserializer::new(map))
                    .map(Cell::Other)
            }
        }
        deserializer.deserialize_any(V)
    }
}

#[cfg(test)]
mod tests {
    use super::{bars_hint, read};
    use crate::providers::alpha_vantage::task::AlphaVantageTask;

    fn daily() -> AlphaVantageTask {
        serde_json::from_value(serde_json::json!({"function": "TIME_SERIES_DAILY", "symbol": "IBM"}))
            .unwrap()
    }

    #[test]
    fn a_series_is_sized_once_and_braces_in_strings_cannot_inflate_it() {
        let bar = r#""2024-01-02": {"1. open": "187.15", "5. volume": "82488674"}"#;
        let bars: Vec<String> = (0..500)
            .map(|i| bar.replace("2024-01-02", &format!("{}-01-02", 1500 + i)))
            .collect();
        let body = format!(r#"{{"Time Series (Daily)": {{{}}}}}"#, bars.join(","));
        let table = read(&daily(), &body).unwrap().unwrap().rows;
        assert_eq!(table.rows(), 500);
        // Room for the 500 rows and the few extra braces, not more.
        let cell = std::mem::size_of::<crate::table::Cell>();
        assert!(table.reserved_bytes() <= 510 * 3 * cell + 510 * 10, "{}", table.reserved_bytes());
        // A wide first bar, and a megabyte of braces in a string.
        let fields: Vec<String> = (0..200).map(|i| format!(r#""f{i}": "1""#)).collect();
        let body = format!(
            r#"{{"Meta Data": {{"1. Information": "{}"}}, "Time Series (Daily)": {{"2024-01-02": {{{}}}}}}}"#,
            "{".repeat(1 << 20),
            fields.join(",")
        );
        let table = read(&daily(), &body).unwrap().unwrap().rows;
        assert_eq!(table.rows(), 1);
        assert!(table.reserved_bytes() <= 4 * body.len(), "{} for {}", table.reserved_bytes(), body.len());
    }

    #[test]
    fn the_bar_hint_is_never_below_the_bars() {
        let bar = r#""2024-01-02": {"1. open": "187.15", "5. volume": "82488674"}"#;
        for n in [0usize, 1, 2, 5229] {
            let bars: Vec<String> = (0..n).map(|_| bar.to_owned()).collect();
            let body = format!(
                r#"{{"Meta Data": {{"2. Symbol": "I{{BM"}}, "Time Series (Daily)": {{{}}}}}"#,
                bars.join(",")
            );
            let hint = bars_hint(&body);
            // One brace per bar, plus the document's, Meta Data's, the
            // series object's and one inside a string.
            assert_eq!(hint, n + 4, "{n} bars");
        }
        // Braces alone cannot claim more bars than the text could hold.
        assert_eq!(bars_hint(&"{".repeat(600)), 100);
    }
}
