//! Decoding SQL API v2 result cells (`jsonv2`, no output-format parameters)
//! into natural JSON, by the column's `rowType`.
//!
//! | type | JSON |
//! |---|---|
//! | `fixed` scale 0 | integer; **a string of digits beyond ±(2^53 − 1)** |
//! | `fixed` scale > 0, `decfloat` | number when at most 15 significant digits (exact in a double); **otherwise the decimal as a string** |
//! | `real` | number; `"NaN"`, `"Infinity"`, `"-Infinity"` as strings |
//! | `text` | string |
//! | `boolean` | `true` / `false` |
//! | `date` | `"YYYY-MM-DD"` (days since 1970, negative before) |
//! | a date, time or timestamp outside chrono's range (±262,000 years) | the cell's raw string |
//! | `time` | `"HH:MM:SS[.f]"` with `scale` fractional digits |
//! | `timestamp_ntz` | `"YYYY-MM-DDTHH:MM:SS[.f]"` (wall clock, no zone) |
//! | `timestamp_ltz` | `"…Z"` (the instant in UTC) |
//! | `timestamp_tz` | `"…±HH:MM"` (local time at the stored offset) |
//! | `binary` | lower-case hex string |
//! | `variant`, `object`, `array`, `geography`, `geometry`, `vector` | the JSON value itself |
//! | SQL NULL | `null` |
//!
//! Numbers never pass through `f64` unless the result is exact; times never
//! pass through floating point at all (the fraction is split as text).
//!
//! Column names are made unique (the n-th repeat of `ID` becomes `ID_n`,
//! skipping names already taken), so `select o.id, c.id` keeps both values.
//! A row whose cell count differs from `rowType` is an upstream fault, never
//! a partial row.

use std::fmt::{self, Write as _};

use chrono::{
    DateTime, Datelike, Duration as ChronoDuration, FixedOffset, NaiveDate, NaiveTime, Timelike,
    Utc,
};
use serde::Deserialize;
use serde::de::{self, DeserializeSeed, IgnoredAny, MapAccess, SeqAccess, Visitor};
#[cfg(test)]
use serde_json::Map;
use serde_json::{Number, Value};

use crate::error::{AppError, ErrorKind};
use crate::response::{Column, ColumnType};
use crate::table::Table;

/// Largest integer a double (and JavaScript) represents exactly.
pub(crate) const MAX_SAFE_INTEGER: i128 = (1 << 53) - 1;

/// One entry of `resultSetMetaData.rowType`.
#[derive(Clone, Debug, Deserialize, PartialEq, Eq)]
pub(crate) struct RowType {
    /// Column name as Snowflake reports it.
    pub(crate) name: String,
    /// Type name (compared case-insensitively).
    #[serde(rename = "type")]
    pub(crate) kind: String,
    /// Fractional digits (NUMBER) or fractional-second digits (TIME, TIMESTAMP_*).
    #[serde(default)]
    pub(crate) scale: Option<i64>,
    /// Total digits (NUMBER).
    #[serde(default)]
    pub(crate) precision: Option<i64>,
    /// Whether NULL is allowed.
    #[serde(default)]
    pub(crate) nullable: Option<bool>,
}

/// How a column's cells decode: its type, read once per page.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum CellKind {
    /// NUMBER.
    Fixed,
    /// DECFLOAT.
    Decfloat,
    /// FLOAT / DOUBLE.
    Real,
    /// BOOLEAN.
    Boolean,
    /// DATE (days since 1970).
    Date,
    /// TIME (seconds since midnight).
    Time,
    /// TIMESTAMP_NTZ.
    TimestampNtz,
    /// TIMESTAMP_LTZ.
    TimestampLtz,
    /// TIMESTAMP_TZ (`epoch offset`).
    TimestampTz,
    /// BINARY (hex).
    Binary,
    /// VARIANT, OBJECT, ARRAY, GEOGRAPHY, GEOMETRY, VECTOR: JSON text.
    Json,
    /// TEXT and anything unknown: the cell as it is.
    Text,
}

impl RowType {
    fn kind(&self) -> String {
        self.kind.to_ascii_lowercase()
    }

    /// How its cells decode.
    pub(crate) fn cell_kind(&self) -> CellKind {
        match self.kind().as_str() {
            "fixed" => CellKind::Fixed,
            "decfloat" => CellKind::Decfloat,
            "real" => CellKind::Real,
            "boolean" => CellKind::Boolean,
            "date" => CellKind::Date,
            "time" => CellKind::Time,
            "timestamp_ntz" => CellKind::TimestampNtz,
            "timestamp_ltz" => CellKind::TimestampLtz,
            "timestamp_tz" => CellKind::TimestampTz,
            "binary" => CellKind::Binary,
            "variant" | "object" | "array" | "geography" | "geometry" | "vector" => CellKind::Json,
            _ => CellKind::Text,
        }
    }

    fn scale(&self) -> usize {
        self.scale.unwrap_or(0).clamp(0, 9) as usize
    }

    /// The column type reported to callers.
    pub(crate) fn column_type(&self) -> ColumnType {
        match self.kind().as_str() {
            "fixed" if self.scale.unwrap_or(0) == 0 => ColumnType::Integer,
            "fixed" | "decfloat" => ColumnType::Decimal,
            "real" => ColumnType::Number,
            "boolean" => ColumnType::Boolean,
            "date" => ColumnType::Date,
            "time" => ColumnType::Time,
            "timestamp_ntz" => ColumnType::Datetime,
            "timestamp_ltz" | "timestamp_tz" => ColumnType::Timestamp,
            "binary" => ColumnType::Binary,
            "variant" => ColumnType::Variant,
            "object" => ColumnType::Object,
            "array" | "vector" => ColumnType::Array,
            "geography" | "geometry" => ColumnType::Geojson,
            _ => ColumnType::String,
        }
    }
}

/// The names rows are keyed by: `rowType`'s names, with the n-th repeat of
/// a name renamed `NAME_n` (n = 2, 3, …, skipping names already taken).
pub(crate) fn unique_names(row_type: &[RowType]) -> Vec<String> {
    use std::collections::HashSet;
    let original: HashSet<&str> = row_type.iter().map(|c| c.name.as_str()).collect();
    let mut used: HashSet<String> = HashSet::with_capacity(row_type.len());
    let mut names = Vec::with_capacity(row_type.len());
    for column in row_type {
        // A repeat becomes the first NAME_n (n = 2, 3, …) that no column
        // has and none was given.
        let mut name = column.name.clone();
        let mut n = 1;
        while used.contains(&name) || (n > 1 && original.contains(name.as_str())) {
            n += 1;
            name = format!("{}_{n}", column.name);
        }
        used.insert(name.clone());
        names.push(name);
    }
    names
}

/// Columns for the response, from `rowType` and its [`unique_names`].
pub(crate) fn columns(row_type: &[RowType]) -> Vec<Column> {
    row_type
        .iter()
        .zip(unique_names(row_type))
        .map(|(c, name)| Column {
            precision: c.precision.and_then(|p| u8::try_from(p).ok()),
            scale: c.scale.and_then(|s| u8::try_from(s).ok()),
            ..Column::new(name, c.column_type())
        })
        .collect()
}

/// One row of cells to a JSON object keyed by `names` (from
/// [`unique_names`]); a cell count other than `rowType`'s is an error. The
/// reference [`RowDecoder::push_row`] is tested against.
#[cfg(test)]
pub(crate) fn decode_row(
    row_type: &[RowType],
    names: &[String],
    cells: Vec<Value>,
) -> Result<Map<String, Value>, AppError> {
    if cells.len() != row_type.len() || names.len() != row_type.len() {
        return Err(wrong_width(cells.len(), row_type.len()));
    }
    let mut row = Map::with_capacity(row_type.len());
    for ((column, name), cell) in row_type.iter().zip(names).zip(cells) {
        let value = match cell {
            Value::String(s) => decode_cell(column, &s),
            Value::Null => Value::Null,
            other => other,
        };
        row.insert(name.clone(), value);
    }
    Ok(row)
}

/// How every row of a result decodes: its columns' kinds and scales, read
/// once, and the names rows are keyed by.
#[derive(Clone, Debug)]
pub(crate) struct RowDecoder {
    kinds: Vec<(CellKind, usize)>,
}

impl RowDecoder {
    /// The decoder for `row_type`.
    pub(crate) fn new(row_type: &[RowType]) -> Self {
        RowDecoder {
            kinds: row_type.iter().map(|c| (c.cell_kind(), c.scale())).collect(),
        }
    }

    /// Decode one row's JSON text (an array of cells) into `table`, whose
    /// columns are this decoder's; a row of another length, or not an
    /// array, is an upstream fault and leaves the table as it was. One pass
    /// over the text: each cell is decoded as the parser reaches it, strings
    /// borrowed from the text unless they hold an escape.
    pub(crate) fn push_row(&self, table: &mut Table, raw: &str) -> Result<(), AppError> {
        let rows = table.rows();
        let mut fault = None;
        let mut size = 0;
        let mut de = serde_json::Deserializer::from_str(raw);
        let visitor = RowVisitor {
            kinds: &self.kinds,
            table: &mut *table,
            fault: &mut fault,
            size: &mut size,
        };
        match serde::Deserializer::deserialize_seq(&mut de, visitor) {
            Ok(()) => Ok(()),
            Err(_) => {
                table.truncate_rows(rows);
                Err(fault.unwrap_or_else(|| {
                    AppError::new(
                        ErrorKind::UpstreamFailed,
                        "Snowflake sent a row that is not an array of cells",
                    )
                }))
            }
        }
    }

    /// Decode rows `start..start + cap` of a partition's whole body (`{"data":
    /// [...]}` or the bare array of rows) in one pass: rows outside the
    /// range are skipped unparsed, each row in it is decoded into `table` as
    /// the parser reaches it, with its JSON size (as sent, white space
    /// aside) in `sizes`. The number of rows the body holds, or `None` when
    /// anything is amiss (not JSON, a row that does not decode, anything
    /// after the rows): the caller then delimits and decodes the body the
    /// slow way, which says exactly what.
    pub(crate) fn decode_partition_text(
        &self,
        text: &[u8],
        start: usize,
        cap: usize,
        table: &mut Table,
        sizes: &mut Vec<usize>,
    ) -> Option<usize> {
        let mut total = 0;
        // One UTF-8 check of the whole body (vectorised) rather than one per
        // string as a byte parser makes.
        let text = std::str::from_utf8(text).ok()?;
        let mut de = serde_json::Deserializer::from_str(text);
        let visitor = PartitionVisitor(RowsSeed {
            decoder: self,
            start,
            end: start.saturating_add(cap),
            table,
            sizes,
            total: &mut total,
        });
        serde::Deserializer::deserialize_any(&mut de, visitor).ok()?;
        de.end().ok()?;
        Some(total)
    }
}

/// A partition body: the bare array of rows, or an object whose `data`
/// holds it (other members skipped, as the documented shape allows).
struct PartitionVisitor<'r, 't>(RowsSeed<'r, 't>);

impl<'de> Visitor<'de> for PartitionVisitor<'_, '_> {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a partition of rows")
    }

    fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> Result<(), A::Error> {
        self.0.rows(seq)
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        let mut rows = Some(self.0);
        while let Some(key) = map.next_key::<std::borrow::Cow<'de, str>>()? {
            if key == "data" {
                // A second `data` is no shape to guess at.
                let seed = rows.take().ok_or_else(|| de::Error::custom("duplicate data"))?;
                map.next_value_seed(seed)?;
            } else {
                map.next_value::<IgnoredAny>()?;
            }
        }
        match rows {
            None => Ok(()),
            Some(_) => Err(de::Error::custom("no data")),
        }
    }
}

/// The array of rows.
struct RowsSeed<'r, 't> {
    decoder: &'r RowDecoder,
    start: usize,
    end: usize,
    table: &'t mut Table,
    sizes: &'t mut Vec<usize>,
    total: &'t mut usize,
}

impl RowsSeed<'_, '_> {
    fn rows<'de, A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        // A fault ends this pass; the delimited one reports it.
        let mut fault = None;
        let mut i = 0;
        loop {
            let more = if (self.start..self.end).contains(&i) {
                let mut size = 0;
                let row = RowVisitor {
                    kinds: &self.decoder.kinds,
                    table: &mut *self.table,
                    fault: &mut fault,
                    size: &mut size,
                };
                let more = seq.next_element_seed(RowSeed(row))?.is_some();
                if more {
                    self.sizes.push(size);
                }
                more
            } else {
                seq.next_element::<IgnoredAny>()?.is_some()
            };
            if !more {
                break;
            }
            i += 1;
        }
        *self.total = i;
        Ok(())
    }
}

impl<'de> DeserializeSeed<'de> for RowsSeed<'_, '_> {
    type Value = ();

    fn deserialize<D: serde::Deserializer<'de>>(self, deserializer: D) -> Result<(), D::Error> {
        struct Array<'r, 't>(RowsSeed<'r, 't>);
        impl<'de> Visitor<'de> for Array<'_, '_> {
            type Value = ();
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("an array of rows")
            }
            fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> Result<(), A::Error> {
                self.0.rows(seq)
            }
        }
        deserializer.deserialize_seq(Array(self))
    }
}

/// One row, as an element of the rows array.
struct RowSeed<'t>(RowVisitor<'t>);

impl<'de> DeserializeSeed<'de> for RowSeed<'_> {
    type Value = ();

    fn deserialize<D: serde::Deserializer<'de>>(self, deserializer: D) -> Result<(), D::Error> {
        deserializer.deserialize_seq(self.0)
    }
}

/// A row's cells, decoded into the table by their columns' kinds as the
/// parser visits them; `size` adds up the row's JSON text as sent (the
/// byte budget's estimate).
struct RowVisitor<'t> {
    kinds: &'t [(CellKind, usize)],
    table: &'t mut Table,
    fault: &'t mut Option<AppError>,
    size: &'t mut usize,
}

impl<'de> Visitor<'de> for RowVisitor<'_> {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("an array of cells")
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        let mut n = 0;
        loop {
            // A comma after each cell but the last, and the brackets.
            *self.size += 1;
            let more = match self.kinds.get(n) {
                Some(&(kind, scale)) => seq
                    .next_element_seed(CellSeed {
                        kind,
                        scale,
                        table: &mut *self.table,
                        fault: &mut *self.fault,
                        size: &mut *self.size,
                    })?
                    .is_some(),
                // Past the columns: only counted, for the error.
                None => seq.next_element::<IgnoredAny>()?.is_some(),
            };
            if !more {
                break;
            }
            n += 1;
        }
        if n != self.kinds.len() {
            *self.fault = Some(wrong_width(n, self.kinds.len()));
            return Err(de::Error::custom("row width"));
        }
        Ok(())
    }
}

/// One cell of a known kind.
struct CellSeed<'t> {
    kind: CellKind,
    scale: usize,
    table: &'t mut Table,
    fault: &'t mut Option<AppError>,
    size: &'t mut usize,
}

impl<'de> DeserializeSeed<'de> for CellSeed<'_> {
    type Value = ();

    fn deserialize<D: serde::Deserializer<'de>>(self, deserializer: D) -> Result<(), D::Error> {
        let fault = self.fault;
        let visitor = CellVisitor {
            kind: self.kind,
            scale: self.scale,
            table: self.table,
            size: self.size,
        };
        deserializer.deserialize_any(visitor).inspect_err(|_| {
            if fault.is_none() {
                *fault = Some(AppError::new(
                    ErrorKind::UpstreamFailed,
                    "Snowflake sent a cell that is not valid JSON text",
                ));
            }
        })
    }
}

struct CellVisitor<'t> {
    kind: CellKind,
    scale: usize,
    table: &'t mut Table,
    size: &'t mut usize,
}

impl<'de> Visitor<'de> for CellVisitor<'_> {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a cell")
    }

    fn visit_borrowed_str<E: de::Error>(self, v: &'de str) -> Result<(), E> {
        // Borrowed: sent without an escape, so its text is as long as sent.
        *self.size += v.len() + 2;
        push_cell(self.table, self.kind, self.scale, v);
        Ok(())
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<(), E> {
        *self.size += escaped_len(v);
        push_cell(self.table, self.kind, self.scale, v);
        Ok(())
    }

    fn visit_unit<E: de::Error>(self) -> Result<(), E> {
        *self.size += 4;
        self.table.push_null();
        Ok(())
    }

    fn visit_none<E: de::Error>(self) -> Result<(), E> {
        *self.size += 4;
        self.table.push_null();
        Ok(())
    }

    fn visit_bool<E: de::Error>(self, v: bool) -> Result<(), E> {
        *self.size += if v { 4 } else { 5 };
        self.table.push_bool(v);
        Ok(())
    }

    fn visit_i64<E: de::Error>(self, v: i64) -> Result<(), E> {
        self.push_value(Value::from(v));
        Ok(())
    }

    fn visit_u64<E: de::Error>(self, v: u64) -> Result<(), E> {
        self.push_value(Value::from(v));
        Ok(())
    }

    fn visit_f64<E: de::Error>(self, v: f64) -> Result<(), E> {
        self.push_value(Number::from_f64(v).map_or(Value::Null, Value::Number));
        Ok(())
    }

    fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> Result<(), A::Error> {
        let value = Value::deserialize(de::value::SeqAccessDeserializer::new(seq))?;
        self.push_value(value);
        Ok(())
    }

    fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<(), A::Error> {
        let value = Value::deserialize(de::value::MapAccessDeserializer::new(map))?;
        self.push_value(value);
        Ok(())
    }
}

impl CellVisitor<'_> {
    /// A cell that is JSON of its own (not Snowflake's text form): sized as
    /// its compact text.
    fn push_value(self, value: Value) {
        *self.size += json_len(&value);
        self.table.push_value(value);
    }
}

/// The length of `text` as a JSON string, quotes and escapes included.
fn escaped_len(text: &str) -> usize {
    text.bytes()
        .map(|b| match b {
            b'"' | b'\\' | b'\n' | b'\r' | b'\t' | 0x08 | 0x0c => 2,
            0..=0x1f => 6,
            _ => 1,
        })
        .sum::<usize>()
        + 2
}

/// The length of `value`'s compact JSON text.
fn json_len(value: &Value) -> usize {
    struct Count(usize);
    impl std::io::Write for Count {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.0 += buf.len();
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }
    let mut count = Count(0);
    let _ = serde_json::to_writer(&mut count, value);
    count.0
}

fn wrong_width(cells: usize, columns: usize) -> AppError {
    AppError::new(
        ErrorKind::UpstreamFailed,
        format!("Snowflake sent a row of {cells} cells for {columns} columns"),
    )
}

/// [`decode_cell`] straight into `table`: the same value, built only where
/// the type needs it (text, integers, dates and wall-clock timestamps are
/// written without a `Value`).
fn push_cell(table: &mut Table, kind: CellKind, scale: usize, cell: &str) {
    match kind {
        CellKind::Text => table.push_text(cell),
        CellKind::Fixed | CellKind::Decfloat => push_number(table, kind, scale, cell),
        CellKind::Date if let Some(text) = cell.parse::<i64>().ok().and_then(iso_date) => {
            table.push_text(std::str::from_utf8(&text).unwrap_or_default())
        }
        CellKind::Date => match days(cell).filter(|d| (0..=9999).contains(&d.year())) {
            Some(d) => table.push_text_with(|s| {
                let _ = write!(s, "{:04}-{:02}-{:02}", d.year(), d.month(), d.day());
            }),
            None => table.push_value(decode_kind(kind, scale, cell)),
        },
        CellKind::TimestampNtz | CellKind::TimestampLtz => {
            match instant(cell).filter(|(dt, _)| (0..=9999).contains(&dt.year())) {
                Some((dt, nanos)) => table.push_text_with(|s| {
                    let _ = write!(
                        s,
                        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}",
                        dt.year(),
                        dt.month(),
                        dt.day(),
                        dt.hour(),
                        dt.minute(),
                        dt.second()
                    );
                    push_fraction(s, nanos, scale);
                    if kind == CellKind::TimestampLtz {
                        s.push('Z');
                    }
                }),
                None => table.push_value(decode_kind(kind, scale, cell)),
            }
        }
        _ => table.push_value(decode_kind(kind, scale, cell)),
    }
}

/// A NUMBER or DECFLOAT cell: what [`decimal`] makes of it, with the
/// shapes Snowflake sends (digits, or digits with a fraction) decoded
/// without its temporary strings.
fn push_number(table: &mut Table, kind: CellKind, scale: usize, cell: &str) {
    let digits = cell.strip_prefix('-').unwrap_or(cell);
    // At most 15 digits: exactly an i64 within ±(2^53 − 1).
    if kind == CellKind::Fixed
        && (1..16).contains(&digits.len())
        && digits.bytes().all(|b| b.is_ascii_digit())
        && let Ok(n) = cell.parse::<i64>()
    {
        return table.push_int(n);
    }
    if let Some(f) = short_decimal(cell) {
        return table.push_float(f);
    }
    match plain_decimal(cell) {
        Some(true) => match cell.parse::<f64>() {
            Ok(f) if f.is_finite() => table.push_float(f),
            _ => table.push_value(decode_kind(kind, scale, cell)),
        },
        Some(false) => table.push_text(cell),
        None => table.push_value(decode_kind(kind, scale, cell)),
    }
}

/// A plain decimal with a fraction (`-?digits.digits`) of at most 15
/// digits in all, as a double, without a general float parser: its digits
/// make an integer below 2^53 and its scale a power of ten up to 10^14, both
/// exact doubles, so one IEEE division rounds the quotient exactly as parsing
/// the text would.
pub(crate) fn short_decimal(cell: &str) -> Option<f64> {
    /// 10^0 ..= 10^14, exact as doubles.
    const POW10: [f64; 15] = [
        1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11, 1e12, 1e13, 1e14,
    ];
    let (negative, unsigned) = match cell.strip_prefix('-') {
        Some(rest) => (true, rest.as_bytes()),
        None => (false, cell.as_bytes()),
    };
    if unsigned.len() > 16 {
        return None;
    }
    let mut n: u64 = 0;
    let mut dot = None;
    for (i, &b) in unsigned.iter().enumerate() {
        match b {
            b'0'..=b'9' => n = n * 10 + u64::from(b - b'0'),
            b'.' if dot.is_none() => dot = Some(i),
            _ => return None,
        }
    }
    let dot = dot?;
    let scale = unsigned.len() - dot - 1;
    if dot == 0 || scale == 0 || unsigned.len() - 1 > 15 {
        return None;
    }
    let f = n as f64 / POW10[scale];
    Some(if negative { -f } else { f })
}

/// For a plain decimal with a fraction (`-?digits.digits`, as Snowflake
/// sends a NUMBER with a scale): whether it has at most 15 significant
/// digits (exact as a double, so a number) or more (kept as its text);
/// `None` for any other shape, which [`decimal`] judges.
fn plain_decimal(cell: &str) -> Option<bool> {
    let unsigned = cell.strip_prefix('-').unwrap_or(cell).as_bytes();
    let dot = unsigned.iter().position(|&b| b == b'.')?;
    let (whole, frac) = (&unsigned[..dot], &unsigned[dot + 1..]);
    if whole.is_empty()
        || frac.is_empty()
        || !whole.iter().all(u8::is_ascii_digit)
        || !frac.iter().all(u8::is_ascii_digit)
    {
        return None;
    }
    let digits = || whole.iter().chain(frac);
    let significant = match digits().position(|&b| b != b'0') {
        // All zeros: no significant digit.
        None => 0,
        Some(first) => {
            let last = digits().rev().position(|&b| b != b'0').unwrap_or(0);
            whole.len() + frac.len() - first - last
        }
    };
    Some(significant <= 15)
}

/// Days since 1970-01-01 as `YYYY-MM-DD`, for years 0–9999 (what chrono
/// and [`days`] give, without their arithmetic and formatter): the civil
/// calendar from days, after Howard Hinnant's `civil_from_days`.
fn iso_date(days: i64) -> Option<[u8; 10]> {
    // 0000-01-01 and 9999-12-31.
    if !(-719_528..=2_932_896).contains(&days) {
        return None;
    }
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    let digit = |n: i64| b'0' + (n % 10) as u8;
    Some([
        digit(year / 1000),
        digit(year / 100),
        digit(year / 10),
        digit(year),
        b'-',
        digit(month / 10),
        digit(month),
        b'-',
        digit(day / 10),
        digit(day),
    ])
}

/// A DATE cell (days since 1970) as a date.
fn days(cell: &str) -> Option<NaiveDate> {
    cell.parse::<i64>().ok().and_then(|days| {
        NaiveDate::from_ymd_opt(1970, 1, 1)?.checked_add_signed(ChronoDuration::try_days(days)?)
    })
}

/// One cell, by its column's type. Unparseable cells stay strings. The
/// reference the row decoder is tested against.
#[cfg(test)]
pub(crate) fn decode_cell(column: &RowType, cell: &str) -> Value {
    decode_kind(column.cell_kind(), column.scale(), cell)
}

fn decode_kind(kind: CellKind, scale: usize, cell: &str) -> Value {
    let decoded = match kind {
        CellKind::Fixed | CellKind::Decfloat => decimal(cell),
        CellKind::Real => real(cell),
        CellKind::Boolean => match cell {
            "true" | "TRUE" | "1" => Some(Value::Bool(true)),
            "false" | "FALSE" | "0" => Some(Value::Bool(false)),
            _ => None,
        },
        CellKind::Date => days(cell).map(|d| Value::String(d.format("%Y-%m-%d").to_string())),
        CellKind::Time => split_seconds(cell).and_then(|(secs, nanos)| {
            let t =
                NaiveTime::from_num_seconds_from_midnight_opt(u32::try_from(secs).ok()?, nanos)?;
            Some(Value::String(format!(
                "{}{}",
                t.format("%H:%M:%S"),
                fraction(nanos, scale)
            )))
        }),
        CellKind::TimestampNtz => instant(cell).map(|(dt, nanos)| {
            Value::String(format!(
                "{}{}",
                dt.format("%Y-%m-%dT%H:%M:%S"),
                fraction(nanos, scale)
            ))
        }),
        CellKind::TimestampLtz => instant(cell).map(|(dt, nanos)| {
            Value::String(format!(
                "{}{}Z",
                dt.format("%Y-%m-%dT%H:%M:%S"),
                fraction(nanos, scale)
            ))
        }),
        CellKind::TimestampTz => timestamp_tz(cell, scale),
        CellKind::Binary => {
            if cell.len().is_multiple_of(2) && cell.bytes().all(|b| b.is_ascii_hexdigit()) {
                Some(Value::String(cell.to_ascii_lowercase()))
            } else {
                None
            }
        }
        CellKind::Json => serde_json::from_str(cell).ok(),
        CellKind::Text => None,
    };
    decoded.unwrap_or_else(|| Value::String(cell.to_owned()))
}

/// NUMBER / DECFLOAT: exact integers within ±(2^53−1) and decimals of at most
/// 15 significant digits as numbers; anything else as the decimal string.
fn decimal(cell: &str) -> Option<Value> {
    let t = cell.trim();
    let unsigned = t.strip_prefix('-').unwrap_or(t);
    if unsigned.is_empty() {
        return None;
    }
    if unsigned.bytes().all(|b| b.is_ascii_digit()) {
        return Some(match t.parse::<i128>() {
            Ok(n) if n.unsigned_abs() <= MAX_SAFE_INTEGER as u128 => match i64::try_from(n) {
                Ok(n) => Value::Number(Number::from(n)),
                Err(_) => Value::String(t.to_owned()),
            },
            _ => Value::String(t.to_owned()),
        });
    }
    let mantissa: String = unsigned
        .split(['e', 'E'])
        .next()
        .unwrap_or("")
        .chars()
        .filter(char::is_ascii_digit)
        .collect();
    let valid = unsigned
        .chars()
        .all(|c| c.is_ascii_digit() || ".eE+-".contains(c))
        && !mantissa.is_empty();
    if !valid {
        return None;
    }
    let significant = mantissa.trim_start_matches('0').trim_end_matches('0').len();
    if significant <= 15
        && let Ok(f) = t.parse::<f64>()
        && let Some(n) = Number::from_f64(f)
    {
        return Some(Value::Number(n));
    }
    Some(Value::String(t.to_owned()))
}

fn real(cell: &str) -> Option<Value> {
    let t = cell.trim();
    match t.to_ascii_lowercase().as_str() {
        "nan" => return Some(Value::String("NaN".into())),
        "inf" | "infinity" | "+inf" => return Some(Value::String("Infinity".into())),
        "-inf" | "-infinity" => return Some(Value::String("-Infinity".into())),
        _ => {}
    }
    t.parse::<f64>()
        .ok()
        .and_then(Number::from_f64)
        .map(Value::Number)
}

/// `"<secs>[.<fraction>]"` (sign allowed) as whole seconds (floored) and
/// nanoseconds in `0..1e9`, without floating point.
fn split_seconds(cell: &str) -> Option<(i64, u32)> {
    let t = cell.trim();
    let (negative, body) = match t.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, t),
    };
    let (whole, frac) = body.split_once('.').unwrap_or((body, ""));
    if whole.is_empty()
        || !whole.bytes().all(|b| b.is_ascii_digit())
        || !frac.bytes().all(|b| b.is_ascii_digit())
    {
        return None;
    }
    let whole: i64 = whole.parse().ok()?;
    let whole = i128::from(whole);
    let mut digits: String = frac.chars().take(9).collect();
    while digits.len() < 9 {
        digits.push('0');
    }
    let nanos: i64 = digits.parse().ok()?;
    let total = whole * 1_000_000_000 + i128::from(nanos);
    let total = if negative { -total } else { total };
    let secs = total.div_euclid(1_000_000_000);
    let nanos = total.rem_euclid(1_000_000_000);
    Some((i64::try_from(secs).ok()?, nanos as u32))
}

fn instant(cell: &str) -> Option<(DateTime<Utc>, u32)> {
    let (secs, nanos) = split_seconds(cell)?;
    DateTime::from_timestamp(secs, nanos).map(|dt| (dt, nanos))
}

fn timestamp_tz(cell: &str, scale: usize) -> Option<Value> {
    let (epoch, offset) = cell.trim().split_once(' ')?;
    let minutes = offset.trim().parse::<i32>().ok()?.checked_sub(1440)?;
    let zone = FixedOffset::east_opt(minutes.checked_mul(60)?)?;
    let (utc, nanos) = instant(epoch)?;
    let local = utc.with_timezone(&zone);
    let sign = if minutes < 0 { '-' } else { '+' };
    let abs = minutes.abs();
    Some(Value::String(format!(
        "{}{}{sign}{:02}:{:02}",
        local.format("%Y-%m-%dT%H:%M:%S"),
        fraction(nanos, scale),
        abs / 60,
        abs % 60
    )))
}

/// [`fraction`], written onto `out`.
fn push_fraction(out: &mut String, nanos: u32, scale: usize) {
    if scale > 0 {
        let scale = scale.min(9);
        let _ = write!(
            out,
            ".{:0width$}",
            nanos / 10u32.pow((9 - scale) as u32),
            width = scale
        );
    }
}

/// `.` and the first `scale` digits of `nanos` (nothing for scale 0).
fn fraction(nanos: u32, scale: usize) -> String {
    let mut out = String::new();
    push_fraction(&mut out, nanos, scale);
    out
}

#[cfg(test)]
mod tests {
    #[test]
    fn iso_dates_agree_with_chrono_over_every_year() {
        use super::{days, iso_date};
        let check = |d: i64| {
            let want = days(&d.to_string()).map(|n| n.format("%Y-%m-%d").to_string());
            let got = iso_date(d).map(|t| String::from_utf8(t.to_vec()).unwrap());
            assert_eq!(got, want.filter(|s| s.len() == 10), "day {d}");
        };
        // Every day of the first and last centuries, leap rules included,
        // and a stride through everything between.
        for d in (-719_528..-682_000).chain(2_896_000..2_932_897).step_by(1) {
            check(d);
        }
        for d in (-719_528..2_932_897).step_by(97) {
            check(d);
        }
        assert_eq!(iso_date(-719_529), None);
        assert_eq!(iso_date(2_932_897), None);
        assert_eq!(iso_date(0).unwrap(), *b"1970-01-01");
    }

    use super::*;
    use serde_json::json;

    fn col(kind: &str, scale: i64) -> RowType {
        RowType {
            name: "C".into(),
            kind: kind.into(),
            scale: Some(scale),
            precision: None,
            nullable: Some(true),
        }
    }

    fn d(kind: &str, scale: i64, cell: &str) -> Value {
        decode_cell(&col(kind, scale), cell)
    }

    #[test]
    fn numbers_keep_their_precision() {
        assert_eq!(d("fixed", 0, "42"), json!(42));
        assert_eq!(d("FIXED", 0, "-17"), json!(-17));
        assert_eq!(
            d("fixed", 0, "9007199254740991"),
            json!(9007199254740991i64)
        );
        assert_eq!(d("fixed", 0, "9007199254740992"), json!("9007199254740992"));
        assert_eq!(
            d("fixed", 0, "-9007199254740992"),
            json!("-9007199254740992")
        );
        assert_eq!(
            d("fixed", 0, "12345678901234567890123456789012345678"),
            json!("12345678901234567890123456789012345678")
        );
        assert_eq!(d("fixed", 2, "1042.50"), json!(1042.5));
        assert_eq!(d("fixed", 2, "-0.01"), json!(-0.01));
        assert_eq!(
            d("fixed", 10, "12345678.1234567891"),
            json!("12345678.1234567891")
        );
        assert_eq!(d("decfloat", 0, "1.23e-40"), json!(1.23e-40));
        assert_eq!(
            d("decfloat", 0, "1.2345678901234567890e-40"),
            json!("1.2345678901234567890e-40")
        );
        assert_eq!(d("real", 0, "2.71"), json!(2.71));
        assert_eq!(d("real", 0, "1e+21"), json!(1e21));
        assert_eq!(d("real", 0, "NaN"), json!("NaN"));
        assert_eq!(d("real", 0, "-inf"), json!("-Infinity"));
        assert_eq!(d("fixed", 0, "abc"), json!("abc"));
    }

    #[test]
    fn dates_and_times() {
        assert_eq!(d("date", 0, "19782"), json!("2024-02-29"));
        assert_eq!(d("date", 0, "0"), json!("1970-01-01"));
        assert_eq!(d("date", 0, "-1"), json!("1969-12-31"));
        assert_eq!(d("date", 0, "-719162"), json!("0001-01-01"));
        assert_eq!(d("time", 9, "49530.123456789"), json!("13:45:30.123456789"));
        assert_eq!(d("time", 3, "49530.123000000"), json!("13:45:30.123"));
        assert_eq!(d("time", 0, "0"), json!("00:00:00"));
        assert_eq!(
            d("timestamp_ntz", 9, "1704164645.123456789"),
            json!("2024-01-02T03:04:05.123456789")
        );
        assert_eq!(
            d("timestamp_ntz", 0, "1704164645"),
            json!("2024-01-02T03:04:05")
        );
        assert_eq!(
            d("timestamp_ntz", 3, "1704164645.5"),
            json!("2024-01-02T03:04:05.500")
        );
        assert_eq!(
            d("timestamp_ntz", 9, "-0.500000000"),
            json!("1969-12-31T23:59:59.500000000")
        );
        assert_eq!(
            d("timestamp_ntz", 0, "-86400.000000000"),
            json!("1969-12-31T00:00:00")
        );
        assert_eq!(
            d("timestamp_ltz", 3, "1704164645.000000000"),
            json!("2024-01-02T03:04:05.000Z")
        );
    }

    #[test]
    fn timestamp_tz_offsets() {
        assert_eq!(
            d("timestamp_tz", 9, "1704193445.123456789 960"),
            json!("2024-01-02T03:04:05.123456789-08:00")
        );
        assert_eq!(
            d("timestamp_tz", 0, "1704164645.000000000 1440"),
            json!("2024-01-02T03:04:05+00:00")
        );
        assert_eq!(
            d("timestamp_tz", 0, "1704164645.000000000 1770"),
            json!("2024-01-02T08:34:05+05:30")
        );
        assert_eq!(
            d("timestamp_tz", 0, "-1.000000000 1500"),
            json!("1970-01-01T00:59:59+01:00")
        );
        assert_eq!(d("timestamp_tz", 0, "garbage"), json!("garbage"));
    }

    #[test]
    fn semi_structured_binary_boolean_text() {
        assert_eq!(
            d("variant", 0, "{\n  \"a\": [1, {\"b\": null}]\n}"),
            json!({"a": [1, {"b": null}]})
        );
        assert_eq!(d("variant", 0, "\"abc\""), json!("abc"));
        assert_eq!(d("variant", 0, "42"), json!(42));
        assert_eq!(d("variant", 0, "null"), Value::Null);
        assert_eq!(d("object", 0, "{\n  \"k\": \"v\"\n}"), json!({"k": "v"}));
        assert_eq!(d("array", 0, "[\n  1,\n  \"two\"\n]"), json!([1, "two"]));
        assert_eq!(d("binary", 0, "DEADBEEF"), json!("deadbeef"));
        assert_eq!(d("binary", 0, "XYZ"), json!("XYZ"));
        assert_eq!(d("boolean", 0, "true"), json!(true));
        assert_eq!(d("boolean", 0, "false"), json!(false));
        assert_eq!(d("text", 0, "Zoë \"Q\" 東京"), json!("Zoë \"Q\" 東京"));
        assert_eq!(d("text", 0, "42"), json!("42"), "text stays text");
    }

    #[test]
    fn out_of_range_values_pass_through_raw() {
        for (kind, cell) in [
            ("date", "1000000000000000"),
            ("date", "-9223372036854775808"),
            ("time", "99999999999999999999"),
            ("timestamp_ntz", "9223372036854775807.999999999"),
            ("timestamp_ltz", "-9223372036854775808"),
            ("timestamp_tz", "1704164645.000000000 -2147483648"),
            ("timestamp_tz", "1704164645.000000000 2147483647"),
            ("fixed", "-170141183460469231731687303715884105728"),
            ("fixed", "1e400"),
        ] {
            assert_eq!(d(kind, 9, cell), json!(cell), "{kind} {cell}");
        }
    }

    #[test]
    fn duplicate_names_are_made_unique() {
        let rt: Vec<RowType> = ["ID", "NAME", "ID", "ID_2", "ID"]
            .iter()
            .map(|n| RowType {
                name: (*n).into(),
                kind: "text".into(),
                scale: None,
                precision: None,
                nullable: None,
            })
            .collect();
        assert_eq!(unique_names(&rt), ["ID", "NAME", "ID_3", "ID_2", "ID_4"]);
        let cells = ["a", "b", "c", "d", "e"].map(|c| json!(c)).to_vec();
        let row = decode_row(&rt, &unique_names(&rt), cells).unwrap();
        assert_eq!(row.len(), 5, "no value lost");
        assert_eq!(columns(&rt)[2].name, "ID_3");
    }

    #[test]
    fn rows_and_nulls() {
        let rt: Vec<RowType> = serde_json::from_value(json!([
            {"name": "ID", "type": "fixed", "scale": 0, "nullable": false},
            {"name": "NAME", "type": "text", "scale": null, "nullable": true},
            {"name": "TS", "type": "timestamp_ntz", "scale": 9}
        ]))
        .unwrap();
        let names = unique_names(&rt);
        let row = decode_row(
            &rt,
            &names,
            vec![json!("1"), Value::Null, json!("0.000000000")],
        )
        .unwrap();
        assert_eq!(
            Value::Object(row),
            json!({"ID": 1, "NAME": null, "TS": "1970-01-01T00:00:00.000000000"})
        );
        for cells in [
            vec![json!("1")],
            vec![json!("1"), json!("2"), json!("3"), json!("4")],
        ] {
            let err = decode_row(&rt, &names, cells).unwrap_err();
            assert_eq!(err.kind(), ErrorKind::UpstreamFailed);
        }
        assert!(decode_row(&[], &[], vec![json!("1")]).is_err());
        let cols = columns(&rt);
        assert_eq!(cols[0].kind, ColumnType::Integer);
        assert_eq!(cols[2].kind, ColumnType::Datetime);
    }
}
