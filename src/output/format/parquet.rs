//! Apache Parquet: one column per result column, typed from it, every
//! column OPTIONAL (null where the cell is null or the row lacks the field),
//! Snappy-compressed.
//!
//! | column type | Parquet physical type | logical type | from the cell |
//! |---|---|---|---|
//! | `integer` | INT64 | — | a whole number; text of digits that fits 64 bits; a double with no fraction |
//! | `number` | DOUBLE | — | a number; `"NaN"`, `"Infinity"`, `"-Infinity"` and numeric text as the double |
//! | `decimal`, precision ≤ 9 | INT32 | DECIMAL(p, s) | the unscaled value, exact from the decimal's text |
//! | `decimal`, precision ≤ 18 | INT64 | DECIMAL(p, s) | 〃 |
//! | `decimal`, precision ≤ 38 | FIXED_LEN_BYTE_ARRAY (fewest bytes for p) | DECIMAL(p, s) | 〃, big-endian two's complement |
//! | `decimal`, precision or scale unknown, or precision > 38 | BYTE_ARRAY | STRING | the decimal as the JSON response writes it |
//! | `date` | INT32 | DATE | days since 1970-01-01 from `YYYY-MM-DD` |
//! | `datetime` | INT64 | TIMESTAMP(MICROS, isAdjustedToUTC = false) | the wall clock `YYYY-MM-DD[T or space]HH:MM:SS[.f]`, or a bare date (midnight) |
//! | `timestamp` | INT64 | TIMESTAMP(MICROS, isAdjustedToUTC = true) | the UTC instant of `…Z` or `…±HH:MM` |
//! | `time` | INT64 | TIME(MICROS, isAdjustedToUTC = false) | since midnight, from `HH:MM:SS[.f]` |
//! | `boolean` | BOOLEAN | — | `true` / `false` |
//! | `string`, `binary` (lower-case hex), `null` | BYTE_ARRAY | STRING | the text; any other value as its JSON text |
//! | `variant`, `object`, `array`, `geojson` | BYTE_ARRAY | STRING | the value's compact JSON text (a string value with its quotes) |
//!
//! Timestamps are always MICROS (±290,000 years; NANOS would reach only
//! 1677–2262, and Spark and Hive read them poorly): a value with a nonzero
//! digit past the microsecond fails the object rather than being rounded —
//! cast such a column to `TIMESTAMP_NTZ(6)` in the statement. Times of day are
//! NANOS when the column's scale (fractional-second digits) is above 6, else
//! MICROS. A timestamp keeps the instant,
//! not the offset it was written with (Parquet has nowhere to hold it):
//! `2024-01-02T03:04:05-08:00` is stored as `2024-01-02T11:04:05Z`.
//!
//! A value the column's type cannot hold — text that is not a date in a
//! date column, a decimal with more digits than DECIMAL(p, s) allows
//! (nonzero fractional digits past the scale included), an integer beyond
//! 64 bits, a fraction finer than the unit — fails the object with
//! [`ErrorKind::OutputFailed`], naming the column and the row (counted
//! from 1 across the object).
//!
//! Row groups: each `write` converts its table into per-column buffers of
//! Parquet values (text in one buffer per column, no allocation per cell);
//! when the buffers reach [`ROW_GROUP_ROWS`] rows or about
//! [`ROW_GROUP_BYTES`] of values, at the end of that `write`, they become
//! one row group, appended to `out` at once; `finish` writes what is left
//! as a last row group, then the footer. So memory stays bounded by a
//! row group plus the table in hand, small tables (an Alpha Vantage
//! series, a small Snowflake partition) share a row group, and the bytes
//! reach `out` one complete row group at a time.

use bytes::Bytes;
use parquet::basic::{Compression, LogicalType, Repetition, TimeUnit, Type as PhysicalType};
use parquet::data_type::{
    BoolType, ByteArray, ByteArrayType, DoubleType, FixedLenByteArray, FixedLenByteArrayType,
    Int32Type, Int64Type,
};
use parquet::errors::ParquetError;
use parquet::file::metadata::KeyValue;
use parquet::file::properties::WriterProperties;
use parquet::file::writer::SerializedFileWriter;
use parquet::schema::types::Type;
use serde_json::Value;
use std::sync::Arc;

use super::{Encoder, check_width};
use crate::error::{AppError, ErrorKind};
use crate::response::{Column, ColumnType};
use crate::table::{Cell, Table};

/// Rows buffered before they are written as a row group.
pub(super) const ROW_GROUP_ROWS: usize = 64 * 1024;
/// Bytes of buffered values (about) before they are written as a row group.
pub(super) const ROW_GROUP_BYTES: usize = 4 * 1024 * 1024;

/// The Parquet encoder.
pub(super) struct Parquet {
    /// Writes into its own `Vec`, which is emptied into `out` after every
    /// row group (the writer counts offsets itself, so taking the bytes it
    /// has flushed is safe).
    writer: SerializedFileWriter<Vec<u8>>,
    columns: Vec<Slot>,
    /// Rows in the buffers.
    buffered: usize,
    /// About how many bytes the buffers hold.
    bytes: usize,
    /// Rows of the object handed in before the current `write`.
    seen: usize,
    /// The row-group thresholds (rows, bytes).
    limits: (usize, usize),
    /// A double's text, while it is read as a decimal.
    scratch: Vec<u8>,
}

/// One column: how cells convert, and the values waiting for a row group.
struct Slot {
    name: String,
    kind: Kind,
    /// Definition levels: 1 for a value, 0 for null.
    def: Vec<i16>,
    values: Values,
}

/// How a column's cells become Parquet values.
#[derive(Clone, Copy, Debug, PartialEq)]
enum Kind {
    Integer,
    Number,
    Boolean,
    Decimal {
        precision: u8,
        scale: u8,
    },
    Date,
    /// `utc`: an instant (its offset applied), else a wall clock.
    Timestamp {
        utc: bool,
        unit: Unit,
    },
    Time {
        unit: Unit,
    },
    /// Text as is, any other value as its JSON text.
    Text,
    /// Every value as its JSON text (text as a JSON string).
    Json,
}

#[derive(Clone, Copy, Debug, PartialEq)]
enum Unit {
    Micros,
    Nanos,
}

impl Unit {
    fn of(scale: Option<u8>) -> Unit {
        if scale.is_some_and(|s| s > 6) {
            Unit::Nanos
        } else {
            Unit::Micros
        }
    }

    fn parquet(self) -> TimeUnit {
        match self {
            Unit::Micros => TimeUnit::MICROS,
            Unit::Nanos => TimeUnit::NANOS,
        }
    }

    fn word(self) -> &'static str {
        match self {
            Unit::Micros => "MICROS",
            Unit::Nanos => "NANOS",
        }
    }

    /// Seconds and nanoseconds in this unit, if the fraction is no finer
    /// than the unit and the result fits 64 bits.
    fn count(self, secs: i64, nanos: u32) -> Option<i64> {
        match self {
            Unit::Micros if nanos.is_multiple_of(1000) => secs
                .checked_mul(1_000_000)?
                .checked_add(i64::from(nanos / 1000)),
            Unit::Micros => None,
            Unit::Nanos => secs
                .checked_mul(1_000_000_000)?
                .checked_add(i64::from(nanos)),
        }
    }
}

/// Buffered values of one column (nulls have none).
enum Values {
    Bool(Vec<bool>),
    I32(Vec<i32>),
    I64(Vec<i64>),
    F64(Vec<f64>),
    /// Every value's bytes in one buffer, and where each ends.
    Bytes {
        data: Vec<u8>,
        ends: Vec<usize>,
    },
    /// Values of `len` bytes each, back to back.
    Fixed {
        len: usize,
        data: Vec<u8>,
    },
}

impl Values {
    fn len(&self) -> usize {
        match self {
            Values::Bool(v) => v.len(),
            Values::I32(v) => v.len(),
            Values::I64(v) => v.len(),
            Values::F64(v) => v.len(),
            Values::Bytes { ends, .. } => ends.len(),
            Values::Fixed { len, data } => data.len() / len,
        }
    }

    fn truncate(&mut self, n: usize) {
        match self {
            Values::Bool(v) => v.truncate(n),
            Values::I32(v) => v.truncate(n),
            Values::I64(v) => v.truncate(n),
            Values::F64(v) => v.truncate(n),
            Values::Bytes { data, ends } => {
                ends.truncate(n);
                data.truncate(ends.last().copied().unwrap_or(0));
            }
            Values::Fixed { len, data } => data.truncate(n * *len),
        }
    }

    fn push_int(&mut self, n: i64) {
        match self {
            Values::I64(v) => v.push(n),
            // Only DATE columns hold I32 through here; their days fit.
            Values::I32(v) => v.push(n as i32),
            _ => unreachable!("an integer pushed to a column of another type"),
        }
    }
}

/// The Parquet type of a column, how its cells convert, and its buffer.
fn column_type(column: &Column) -> Result<(Type, Kind, Values), AppError> {
    let name = column.name.as_str();
    let text = || Values::Bytes {
        data: Vec::new(),
        ends: Vec::new(),
    };
    let (builder, kind, values) = match column.kind {
        ColumnType::Integer => (
            Type::primitive_type_builder(name, PhysicalType::INT64),
            Kind::Integer,
            Values::I64(Vec::new()),
        ),
        ColumnType::Number => (
            Type::primitive_type_builder(name, PhysicalType::DOUBLE),
            Kind::Number,
            Values::F64(Vec::new()),
        ),
        ColumnType::Boolean => (
            Type::primitive_type_builder(name, PhysicalType::BOOLEAN),
            Kind::Boolean,
            Values::Bool(Vec::new()),
        ),
        ColumnType::Decimal => match (column.precision, column.scale) {
            (Some(p), Some(s)) if (1..=38).contains(&p) && s <= p => {
                let (physical, values) = if p <= 9 {
                    (PhysicalType::INT32, Values::I32(Vec::new()))
                } else if p <= 18 {
                    (PhysicalType::INT64, Values::I64(Vec::new()))
                } else {
                    let len = decimal_bytes(p);
                    (
                        PhysicalType::FIXED_LEN_BYTE_ARRAY,
                        Values::Fixed {
                            len,
                            data: Vec::new(),
                        },
                    )
                };
                let length = match values {
                    Values::Fixed { len, .. } => len as i32,
                    _ => -1,
                };
                (
                    Type::primitive_type_builder(name, physical)
                        .with_logical_type(Some(LogicalType::decimal(s.into(), p.into())))
                        .with_precision(p.into())
                        .with_scale(s.into())
                        .with_length(length),
                    Kind::Decimal {
                        precision: p,
                        scale: s,
                    },
                    values,
                )
            }
            _ => (string_builder(name), Kind::Text, text()),
        },
        ColumnType::Date => (
            Type::primitive_type_builder(name, PhysicalType::INT32)
                .with_logical_type(Some(LogicalType::Date)),
            Kind::Date,
            Values::I32(Vec::new()),
        ),
        ColumnType::Datetime | ColumnType::Timestamp => {
            let utc = column.kind == ColumnType::Timestamp;
            // Always MICROS: NANOS reach only 1677–2262 (a `9999-12-31`
            // end-of-time would fail the object) and Spark and Hive read
            // them poorly; a nonzero digit past the microsecond is refused.
            let unit = Unit::Micros;
            (
                Type::primitive_type_builder(name, PhysicalType::INT64)
                    .with_logical_type(Some(LogicalType::timestamp(utc, unit.parquet()))),
                Kind::Timestamp { utc, unit },
                Values::I64(Vec::new()),
            )
        }
        ColumnType::Time => {
            let unit = Unit::of(column.scale);
            (
                Type::primitive_type_builder(name, PhysicalType::INT64)
                    .with_logical_type(Some(LogicalType::time(false, unit.parquet()))),
                Kind::Time { unit },
                Values::I64(Vec::new()),
            )
        }
        ColumnType::String | ColumnType::Binary | ColumnType::Null => {
            (string_builder(name), Kind::Text, text())
        }
        ColumnType::Variant | ColumnType::Object | ColumnType::Array | ColumnType::Geojson => {
            (string_builder(name), Kind::Json, text())
        }
    };
    let built = builder
        .with_repetition(Repetition::OPTIONAL)
        .build()
        .map_err(|e| {
            AppError::internal(format!(
                "no Parquet type for column '{}': {e}",
                preview(name)
            ))
        })?;
    Ok((built, kind, values))
}

fn string_builder(name: &str) -> parquet::schema::types::PrimitiveTypeBuilder<'_> {
    Type::primitive_type_builder(name, PhysicalType::BYTE_ARRAY)
        .with_logical_type(Some(LogicalType::String))
}

/// The fewest bytes whose two's complement holds every DECIMAL(p) value
/// (the length Parquet's own check asks for).
fn decimal_bytes(precision: u8) -> usize {
    let max = 10u128.pow(u32::from(precision));
    (1..=16usize)
        .find(|n| (1u128 << (8 * n - 1)) > max)
        .unwrap_or(16)
}

fn parquet_error(e: ParquetError) -> AppError {
    AppError::internal(format!("could not write Parquet: {e}"))
}

impl Parquet {
    pub(super) fn new(columns: &[Column]) -> Result<Self, AppError> {
        Self::with_limits(columns, (ROW_GROUP_ROWS, ROW_GROUP_BYTES))
    }

    fn with_limits(columns: &[Column], limits: (usize, usize)) -> Result<Self, AppError> {
        if columns.is_empty() {
            return Err(AppError::new(
                ErrorKind::OutputFailed,
                "a Parquet object needs at least one column; the result has none",
            ));
        }
        let mut fields = Vec::with_capacity(columns.len());
        let mut slots = Vec::with_capacity(columns.len());
        for column in columns {
            let (field, kind, values) = column_type(column)?;
            fields.push(Arc::new(field));
            slots.push(Slot {
                name: column.name.clone(),
                kind,
                def: Vec::new(),
                values,
            });
        }
        let schema = Type::group_type_builder("schema")
            .with_fields(fields)
            .build()
            .map_err(parquet_error)?;
        let properties = WriterProperties::builder()
            .set_compression(Compression::SNAPPY)
            .set_key_value_metadata(Some(vec![KeyValue::new(
                "writer".to_owned(),
                format!("secret-fetch {}", env!("CARGO_PKG_VERSION")),
            )]))
            .build();
        let writer = SerializedFileWriter::new(Vec::new(), Arc::new(schema), Arc::new(properties))
            .map_err(parquet_error)?;
        Ok(Parquet {
            writer,
            columns: slots,
            buffered: 0,
            bytes: 0,
            seen: 0,
            limits,
            scratch: Vec::new(),
        })
    }

    /// Buffer every row of `table` (nothing of it when a value fails).
    fn buffer(&mut self, table: &Table) -> Result<(), AppError> {
        let marks: Vec<(usize, usize)> = self
            .columns
            .iter()
            .map(|s| (s.def.len(), s.values.len()))
            .collect();
        let bytes = self.bytes;
        for j in 0..self.columns.len() {
            if let Err(e) = self.buffer_column(table, j) {
                for (slot, &(def, values)) in self.columns.iter_mut().zip(&marks) {
                    slot.def.truncate(def);
                    slot.values.truncate(values);
                }
                self.bytes = bytes;
                return Err(e);
            }
        }
        self.buffered += table.rows();
        Ok(())
    }

    fn buffer_column(&mut self, table: &Table, j: usize) -> Result<(), AppError> {
        let slot = &mut self.columns[j];
        let before = slot.values.len();
        for i in 0..table.rows() {
            let cell = &table.row(i)[j];
            if matches!(cell, Cell::Absent | Cell::Null) {
                slot.def.push(0);
                continue;
            }
            push(slot, table, cell, &mut self.scratch).map_err(|expected| {
                AppError::new(
                    ErrorKind::OutputFailed,
                    format!(
                        "column '{}', row {}: expected {expected}, found {}",
                        preview(&slot.name),
                        self.seen + i + 1,
                        shown(table, cell)
                    ),
                )
            })?;
            slot.def.push(1);
        }
        let added = slot.values.len() - before;
        self.bytes += 2 * table.rows()
            + match &slot.values {
                Values::Bool(_) => added,
                Values::I32(_) => 4 * added,
                Values::I64(_) | Values::F64(_) => 8 * added,
                Values::Bytes { ends, .. } => {
                    // Each value's bytes, plus the ByteArray it becomes.
                    let end = ends.last().copied().unwrap_or(0);
                    let start = if before == 0 { 0 } else { ends[before - 1] };
                    end - start + 32 * added
                }
                Values::Fixed { len, .. } => len * added,
            };
        Ok(())
    }

    /// Write the buffered rows as one row group and move its bytes to `out`.
    fn flush(&mut self, out: &mut Vec<u8>) -> Result<(), AppError> {
        if self.buffered == 0 {
            return Ok(());
        }
        let mut group = self.writer.next_row_group().map_err(parquet_error)?;
        for slot in &mut self.columns {
            let Some(mut column) = group.next_column().map_err(parquet_error)? else {
                return Err(AppError::internal("the Parquet schema has fewer columns"));
            };
            let def = Some(slot.def.as_slice());
            match &mut slot.values {
                Values::Bool(v) => column.typed::<BoolType>().write_batch(v, def, None),
                Values::I32(v) => column.typed::<Int32Type>().write_batch(v, def, None),
                Values::I64(v) => column.typed::<Int64Type>().write_batch(v, def, None),
                Values::F64(v) => column.typed::<DoubleType>().write_batch(v, def, None),
                Values::Bytes { data, ends } => {
                    let bytes = Bytes::from(std::mem::take(data));
                    let mut start = 0;
                    let values: Vec<ByteArray> = ends
                        .iter()
                        .map(|&end| {
                            let value = ByteArray::from(bytes.slice(start..end));
                            start = end;
                            value
                        })
                        .collect();
                    column
                        .typed::<ByteArrayType>()
                        .write_batch(&values, def, None)
                }
                Values::Fixed { len, data } => {
                    let bytes = Bytes::from(std::mem::take(data));
                    let values: Vec<FixedLenByteArray> = (0..bytes.len() / *len)
                        .map(|k| ByteArray::from(bytes.slice(k * *len..(k + 1) * *len)).into())
                        .collect();
                    column
                        .typed::<FixedLenByteArrayType>()
                        .write_batch(&values, def, None)
                }
            }
            .map_err(parquet_error)?;
            column.close().map_err(parquet_error)?;
            slot.def.clear();
            slot.values.truncate(0);
        }
        group.close().map_err(parquet_error)?;
        self.writer
            .flush()
            .map_err(|e| AppError::internal(format!("could not write Parquet: {e}")))?;
        out.append(self.writer.inner_mut());
        self.buffered = 0;
        self.bytes = 0;
        Ok(())
    }
}

impl Encoder for Parquet {
    fn write(&mut self, table: &Table, out: &mut Vec<u8>) -> Result<(), AppError> {
        check_width(table, self.columns.len())?;
        self.buffer(table)?;
        self.seen += table.rows();
        if self.buffered >= self.limits.0 || self.bytes >= self.limits.1 {
            self.flush(out)?;
        }
        Ok(())
    }

    fn finish(mut self: Box<Self>, out: &mut Vec<u8>) -> Result<(), AppError> {
        self.flush(out)?;
        self.writer.finish().map_err(parquet_error)?;
        out.append(self.writer.inner_mut());
        Ok(())
    }
}

/// Convert one non-null cell onto the slot's values; `Err` says what the
/// column expected.
fn push(slot: &mut Slot, table: &Table, cell: &Cell, scratch: &mut Vec<u8>) -> Result<(), String> {
    match slot.kind {
        Kind::Integer => {
            let n = integer(table, cell).ok_or("a whole number within 64 bits")?;
            slot.values.push_int(n);
        }
        Kind::Number => {
            let f = number(table, cell).ok_or("a number")?;
            let Values::F64(v) = &mut slot.values else {
                unreachable!("a number column buffers doubles")
            };
            v.push(f);
        }
        Kind::Boolean => {
            let Cell::Bool(b) = cell else {
                return Err("true or false".into());
            };
            let Values::Bool(v) = &mut slot.values else {
                unreachable!("a boolean column buffers booleans")
            };
            v.push(*b);
        }
        Kind::Decimal { precision, scale } => {
            let unscaled = decimal(table, cell, precision, scale, scratch)
                .ok_or_else(|| format!("a decimal that fits DECIMAL({precision},{scale})"))?;
            match &mut slot.values {
                Values::I32(v) => v.push(unscaled as i32),
                Values::I64(v) => v.push(unscaled as i64),
                Values::Fixed { len, data } => {
                    data.extend_from_slice(&unscaled.to_be_bytes()[16 - *len..]);
                }
                _ => unreachable!("a decimal column buffers integers"),
            }
        }
        Kind::Date => {
            let days = text(table, cell)
                .and_then(date)
                .ok_or("a date YYYY-MM-DD")?;
            slot.values.push_int(days.into());
        }
        Kind::Timestamp { utc, unit } => {
            let expected = || {
                if utc {
                    format!(
                        "a timestamp YYYY-MM-DDTHH:MM:SS[.f] with Z or ±HH:MM that TIMESTAMP({}) holds",
                        unit.word()
                    )
                } else {
                    format!(
                        "a date-time YYYY-MM-DD HH:MM:SS[.f] without offset that TIMESTAMP({}) holds",
                        unit.word()
                    )
                }
            };
            let (secs, nanos, offset) =
                text(table, cell).and_then(datetime).ok_or_else(expected)?;
            let secs = match (utc, offset) {
                (true, Some(offset)) => secs - i64::from(offset),
                (false, None) => secs,
                _ => return Err(expected()),
            };
            slot.values
                .push_int(unit.count(secs, nanos).ok_or_else(expected)?);
        }
        Kind::Time { unit } => {
            let expected = || format!("a time HH:MM:SS[.f] that TIME({}) holds", unit.word());
            let (secs, nanos, rest) = text(table, cell)
                .map(str::as_bytes)
                .and_then(time)
                .ok_or_else(expected)?;
            if !rest.is_empty() {
                return Err(expected());
            }
            slot.values
                .push_int(unit.count(secs.into(), nanos).ok_or_else(expected)?);
        }
        Kind::Text | Kind::Json => {
            let Values::Bytes { data, ends } = &mut slot.values else {
                unreachable!("a text column buffers bytes")
            };
            match cell {
                Cell::Text(s, e) if slot.kind == Kind::Text => {
                    data.extend_from_slice(table.text(*s, *e).as_bytes())
                }
                _ => json_text(data, table, cell),
            }
            ends.push(data.len());
        }
    }
    Ok(())
}

/// A cell's JSON text (text as a JSON string).
fn json_text(out: &mut Vec<u8>, table: &Table, cell: &Cell) {
    // Writing into a Vec cannot fail, and these values always serialise.
    let _ = match cell {
        Cell::Absent | Cell::Null => {
            out.extend_from_slice(b"null");
            Ok(())
        }
        Cell::Bool(b) => serde_json::to_writer(&mut *out, b),
        Cell::Int(n) => serde_json::to_writer(&mut *out, n),
        Cell::Float(f) => serde_json::to_writer(&mut *out, f),
        Cell::Text(s, e) => serde_json::to_writer(&mut *out, table.text(*s, *e)),
        Cell::Json(i) => serde_json::to_writer(&mut *out, table.value(*i)),
    };
}

fn text<'t>(table: &'t Table, cell: &Cell) -> Option<&'t str> {
    match cell {
        Cell::Text(s, e) => Some(table.text(*s, *e)),
        _ => None,
    }
}

fn integer(table: &Table, cell: &Cell) -> Option<i64> {
    // 2^63 exactly as a double: the first value past i64's range.
    const LIMIT: f64 = 9_223_372_036_854_775_808.0;
    match cell {
        Cell::Int(n) => Some(*n),
        Cell::Float(f) if f.fract() == 0.0 && (-LIMIT..LIMIT).contains(f) => Some(*f as i64),
        Cell::Text(s, e) => {
            let t = table.text(*s, *e);
            let digits = t.strip_prefix('-').unwrap_or(t);
            if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
                return None;
            }
            t.parse().ok()
        }
        Cell::Json(i) => table.value(*i).as_i64(),
        _ => None,
    }
}

fn number(table: &Table, cell: &Cell) -> Option<f64> {
    match cell {
        Cell::Int(n) => Some(*n as f64),
        Cell::Float(f) => Some(*f),
        Cell::Text(s, e) => match table.text(*s, *e) {
            "NaN" => Some(f64::NAN),
            "Infinity" => Some(f64::INFINITY),
            "-Infinity" => Some(f64::NEG_INFINITY),
            t => t.trim().parse().ok(),
        },
        Cell::Json(i) => table.value(*i).as_f64(),
        _ => None,
    }
}

/// The unscaled value of a decimal cell under DECIMAL(`precision`,
/// `scale`): exact from its text (a double through its shortest
/// round-trip text, as the JSON response writes it).
fn decimal(
    table: &Table,
    cell: &Cell,
    precision: u8,
    scale: u8,
    scratch: &mut Vec<u8>,
) -> Option<i128> {
    match cell {
        Cell::Int(n) => {
            scratch.clear();
            serde_json::to_writer(&mut *scratch, n).ok()?;
            unscaled(scratch, precision, scale)
        }
        Cell::Float(f) => {
            scratch.clear();
            serde_json::to_writer(&mut *scratch, f).ok()?;
            unscaled(scratch, precision, scale)
        }
        Cell::Text(s, e) => unscaled(table.text(*s, *e).trim().as_bytes(), precision, scale),
        Cell::Json(i) => match table.value(*i) {
            Value::Number(n) => unscaled(n.to_string().as_bytes(), precision, scale),
            _ => None,
        },
        _ => None,
    }
}

/// `[+-]digits[.digits][e[+-]digits]` as the integer `value × 10^scale`,
/// if that is whole and has at most `precision` digits.
fn unscaled(text: &[u8], precision: u8, scale: u8) -> Option<i128> {
    let (negative, text) = match text.split_first() {
        Some((b'-', rest)) => (true, rest),
        Some((b'+', rest)) => (false, rest),
        _ => (false, text),
    };
    let (mantissa, exponent) = match text.iter().position(|&b| b == b'e' || b == b'E') {
        Some(at) => {
            let exponent = std::str::from_utf8(&text[at + 1..]).ok()?;
            (&text[..at], exponent.parse::<i32>().ok()?)
        }
        None => (text, 0),
    };
    let (whole, fraction) = match mantissa.iter().position(|&b| b == b'.') {
        Some(at) => (&mantissa[..at], &mantissa[at + 1..]),
        None => (mantissa, &mantissa[..0]),
    };
    if whole.is_empty() && fraction.is_empty()
        || !whole.iter().chain(fraction).all(u8::is_ascii_digit)
    {
        return None;
    }
    // value = digits × 10^(exponent − fraction digits); unscaled shifts
    // that by the scale.
    let shift = i64::from(exponent) - fraction.len() as i64 + i64::from(scale);
    let digits: Vec<u8> = whole
        .iter()
        .chain(fraction)
        .copied()
        .skip_while(|&b| b == b'0')
        .collect();
    let kept = if shift < 0 {
        let dropped = usize::try_from(-shift)
            .unwrap_or(usize::MAX)
            .min(digits.len());
        let (kept, dropped) = digits.split_at(digits.len() - dropped);
        // Past the scale: only zeros may be dropped.
        if dropped.iter().any(|&b| b != b'0') {
            return None;
        }
        kept
    } else {
        &digits[..]
    };
    // Without leading zeros, more digits than the precision never fit
    // (and could overflow).
    if kept.len() > usize::from(precision) {
        return None;
    }
    let mut value: i128 = 0;
    for &b in kept {
        value = value * 10 + i128::from(b - b'0');
    }
    if value != 0 && shift > 0 {
        // Significant digits after the shift must fit the precision.
        if kept.len() as i64 + shift > i64::from(precision) {
            return None;
        }
        value *= 10i128.pow(shift as u32);
    }
    if value >= 10i128.pow(u32::from(precision)) {
        return None;
    }
    Some(if negative { -value } else { value })
}

/// `YYYY-MM-DD` as days since 1970-01-01.
fn date(text: &str) -> Option<i32> {
    let (days, rest) = date_prefix(text.as_bytes())?;
    rest.is_empty().then_some(days)
}

fn date_prefix(b: &[u8]) -> Option<(i32, &[u8])> {
    if b.len() < 10 || b[4] != b'-' || b[7] != b'-' {
        return None;
    }
    let year = digits(&b[..4])?;
    let month = digits(&b[5..7])?;
    let day = digits(&b[8..10])?;
    let date = chrono::NaiveDate::from_ymd_opt(year as i32, month, day)?;
    // 719,163: days from 0001-01-01 (day 1) to 1970-01-01.
    Some((
        chrono::Datelike::num_days_from_ce(&date) - 719_163,
        &b[10..],
    ))
}

fn digits(b: &[u8]) -> Option<u32> {
    b.iter().try_fold(0u32, |n, &c| {
        c.is_ascii_digit().then(|| n * 10 + u32::from(c - b'0'))
    })
}

/// `YYYY-MM-DD[T ]HH:MM:SS[.f]` with an optional `Z` or `±HH:MM` (or a bare
/// date, midnight): seconds since 1970 of the wall clock, nanoseconds, and
/// the offset east of UTC in seconds when one is written.
fn datetime(text: &str) -> Option<(i64, u32, Option<i32>)> {
    let (days, rest) = date_prefix(text.as_bytes())?;
    let (time_secs, nanos, rest) = match rest.split_first() {
        None => (0, 0, rest),
        Some((b'T' | b' ', rest)) => time(rest)?,
        Some(_) => return None,
    };
    let offset = match rest {
        [] => None,
        [b'Z'] => Some(0),
        [sign @ (b'+' | b'-'), h1, h2, b':', m1, m2] | [sign @ (b'+' | b'-'), h1, h2, m1, m2] => {
            let h = digits(&[*h1, *h2])?;
            let m = digits(&[*m1, *m2])?;
            if h > 23 || m > 59 {
                return None;
            }
            let secs = (h * 3600 + m * 60) as i32;
            Some(if *sign == b'-' { -secs } else { secs })
        }
        _ => return None,
    };
    Some((
        i64::from(days) * 86_400 + i64::from(time_secs),
        nanos,
        offset,
    ))
}

/// `HH:MM:SS[.f]` (1–9 fractional digits) at the start of `b`: seconds
/// since midnight, nanoseconds, and what follows.
fn time(b: &[u8]) -> Option<(u32, u32, &[u8])> {
    if b.len() < 8 || b[2] != b':' || b[5] != b':' {
        return None;
    }
    let (h, m, s) = (digits(&b[..2])?, digits(&b[3..5])?, digits(&b[6..8])?);
    if h > 23 || m > 59 || s > 59 {
        return None;
    }
    let mut rest = &b[8..];
    let mut nanos = 0;
    if let Some((b'.', after)) = rest.split_first() {
        let n = after.iter().take_while(|b| b.is_ascii_digit()).count();
        if !(1..=9).contains(&n) {
            return None;
        }
        nanos = digits(&after[..n])? * 10u32.pow(9 - n as u32);
        rest = &after[n..];
    }
    Some((h * 3600 + m * 60 + s, nanos, rest))
}

/// At most 64 characters of `text`, with an ellipsis when cut.
fn preview(text: &str) -> String {
    match text.char_indices().nth(64) {
        Some((at, _)) => format!("{}…", &text[..at]),
        None => text.to_owned(),
    }
}

/// A cell as an error message shows it (text quoted, at most 64
/// characters of it).
fn shown(table: &Table, cell: &Cell) -> String {
    match cell {
        Cell::Absent | Cell::Null => "null".into(),
        Cell::Text(s, e) => serde_json::to_string(&preview(table.text(*s, *e))).unwrap_or_default(),
        _ => {
            let mut out = Vec::new();
            json_text(&mut out, table, cell);
            preview(&String::from_utf8_lossy(&out))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use parquet::column::reader::ColumnReader;
    use parquet::file::reader::{FileReader, SerializedFileReader};
    use parquet::schema::types::ColumnDescPtr;
    use serde_json::json;

    /// A value read back.
    #[derive(Clone, Debug, PartialEq)]
    enum Got {
        B(bool),
        I32(i32),
        I64(i64),
        F64(f64),
        S(String),
        Fixed(Vec<u8>),
    }
    use Got::{B, F64, I32, I64, S};

    fn s(text: &str) -> Option<Got> {
        Some(S(text.into()))
    }

    fn col(name: &str, kind: ColumnType, precision: Option<u8>, scale: Option<u8>) -> Column {
        Column {
            precision,
            scale,
            ..Column::new(name, kind)
        }
    }

    fn encode_with(columns: &[Column], tables: &[Table], limits: (usize, usize)) -> Vec<u8> {
        let mut enc: Box<dyn Encoder> = Box::new(Parquet::with_limits(columns, limits).unwrap());
        let mut out = Vec::new();
        for t in tables {
            enc.write(t, &mut out).unwrap();
        }
        enc.finish(&mut out).unwrap();
        out
    }

    fn encode(columns: &[Column], tables: &[Table]) -> Vec<u8> {
        encode_with(columns, tables, (ROW_GROUP_ROWS, ROW_GROUP_BYTES))
    }

    fn reader(bytes: Vec<u8>) -> SerializedFileReader<Bytes> {
        SerializedFileReader::new(Bytes::from(bytes)).unwrap()
    }

    fn descr(r: &SerializedFileReader<Bytes>, j: usize) -> ColumnDescPtr {
        r.metadata().file_metadata().schema_descr().column(j)
    }

    /// Every value of column `j`, across the row groups (`None` for null).
    fn values(r: &SerializedFileReader<Bytes>, j: usize) -> Vec<Option<Got>> {
        fn drain<T: parquet::data_type::DataType>(
            mut reader: parquet::column::reader::ColumnReaderImpl<T>,
            got: impl Fn(T::T) -> Got,
        ) -> Vec<Option<Got>> {
            let (mut def, mut vals) = (Vec::new(), Vec::new());
            loop {
                let (records, _, _) = reader
                    .read_records(1024, Some(&mut def), None, &mut vals)
                    .unwrap();
                if records == 0 {
                    break;
                }
            }
            let mut vals = vals.into_iter();
            def.iter()
                .map(|&d| (d == 1).then(|| got(vals.next().unwrap())))
                .collect()
        }
        let mut all = Vec::new();
        for g in 0..r.num_row_groups() {
            let column = r.get_row_group(g).unwrap().get_column_reader(j).unwrap();
            all.extend(match column {
                ColumnReader::BoolColumnReader(c) => drain(c, B),
                ColumnReader::Int32ColumnReader(c) => drain(c, I32),
                ColumnReader::Int64ColumnReader(c) => drain(c, I64),
                ColumnReader::DoubleColumnReader(c) => drain(c, F64),
                ColumnReader::ByteArrayColumnReader(c) => {
                    drain(c, |b| S(String::from_utf8(b.data().to_vec()).unwrap()))
                }
                ColumnReader::FixedLenByteArrayColumnReader(c) => {
                    drain(c, |b| Got::Fixed(b.data().to_vec()))
                }
                other => panic!("unexpected reader {}", std::any::type_name_of_val(&other)),
            });
        }
        all
    }

    fn table(names: &[&str], rows: &[Vec<Value>]) -> Table {
        let mut t = Table::new(names.iter().map(|n| n.to_string()).collect());
        for row in rows {
            for v in row {
                t.push_value(v.clone());
            }
        }
        t
    }

    fn failure(columns: &[Column], t: &Table) -> AppError {
        let mut enc = Parquet::new(columns).unwrap();
        enc.write(t, &mut Vec::new()).unwrap_err()
    }

    #[test]
    fn every_column_type_maps_to_its_parquet_type() {
        use ColumnType as C;
        let columns = vec![
            col("i", C::Integer, None, None),
            col("f", C::Number, None, None),
            col("d9", C::Decimal, Some(9), Some(2)),
            col("d18", C::Decimal, Some(18), Some(4)),
            col("d38", C::Decimal, Some(38), Some(2)),
            col("dx", C::Decimal, None, None),
            col("date", C::Date, None, None),
            col("dt", C::Datetime, Some(0), Some(3)),
            col("ts9", C::Timestamp, None, Some(9)),
            col("t", C::Time, None, Some(6)),
            col("b", C::Boolean, None, None),
            col("s", C::String, None, None),
            col("bin", C::Binary, None, None),
            col("v", C::Variant, None, None),
            col("n", C::Null, None, None),
        ];
        let names: Vec<&str> = columns.iter().map(|c| c.name.as_str()).collect();
        let t = table(
            &names,
            &[
                vec![
                    json!(42),
                    json!(1.5),
                    json!(12.34),
                    json!("12345678901234.5678"),
                    json!("-123456789012345678901234567890123456.78"),
                    json!("1e+400"),
                    json!("2024-01-02"),
                    json!("2024-01-02T03:04:05.123"),
                    json!("2024-01-02T03:04:05.123456000-08:00"),
                    json!("13:14:15.000001"),
                    json!(true),
                    json!("text"),
                    json!("00ff"),
                    json!({"a": [1, "x"]}),
                    json!(null),
                ],
                vec![Value::Null; 15],
                vec![
                    json!("-9223372036854775808"),
                    json!("NaN"),
                    json!(-0.1),
                    json!(-1),
                    json!(0.5),
                    json!(0.1),
                    json!("1969-12-31"),
                    json!("2024-01-02 16:00:00"),
                    json!("1970-01-01T00:00:00Z"),
                    json!("00:00:00"),
                    json!(false),
                    json!(7),
                    json!(""),
                    json!("a string"),
                    json!(null),
                ],
            ],
        );
        let r = reader(encode(&columns, &[t]));
        let types: Vec<(PhysicalType, Option<LogicalType>, i32)> = (0..columns.len())
            .map(|j| {
                let d = descr(&r, j);
                (
                    d.physical_type(),
                    d.logical_type_ref().cloned(),
                    d.type_length(),
                )
            })
            .collect();
        let string = || (PhysicalType::BYTE_ARRAY, Some(LogicalType::String), -1);
        assert_eq!(
            types,
            [
                (PhysicalType::INT64, None, -1),
                (PhysicalType::DOUBLE, None, -1),
                (PhysicalType::INT32, Some(LogicalType::decimal(2, 9)), -1),
                (PhysicalType::INT64, Some(LogicalType::decimal(4, 18)), -1),
                (
                    PhysicalType::FIXED_LEN_BYTE_ARRAY,
                    Some(LogicalType::decimal(2, 38)),
                    16
                ),
                string(),
                (PhysicalType::INT32, Some(LogicalType::Date), -1),
                (
                    PhysicalType::INT64,
                    Some(LogicalType::timestamp(false, TimeUnit::MICROS)),
                    -1
                ),
                (
                    PhysicalType::INT64,
                    Some(LogicalType::timestamp(true, TimeUnit::MICROS)),
                    -1
                ),
                (
                    PhysicalType::INT64,
                    Some(LogicalType::time(false, TimeUnit::MICROS)),
                    -1
                ),
                (PhysicalType::BOOLEAN, None, -1),
                string(),
                string(),
                string(),
                string(),
            ]
        );
        for j in 0..columns.len() {
            assert_eq!(
                descr(&r, j).self_type().get_basic_info().repetition(),
                Repetition::OPTIONAL
            );
        }
        let jan2 = 19_724; // 2024-01-02, days since 1970
        let jan2_secs = jan2 as i64 * 86_400;
        let d38 = -12_345_678_901_234_567_890_123_456_789_012_345_678i128;
        let mut got: Vec<Vec<Option<Got>>> = (0..columns.len()).map(|j| values(&r, j)).collect();
        // NaN is not equal to itself: checked apart.
        let nan = got[1][2].take();
        assert!(matches!(nan, Some(F64(f)) if f.is_nan()), "{nan:?}");
        let expected: Vec<Vec<Option<Got>>> = vec![
            vec![Some(I64(42)), None, Some(I64(i64::MIN))],
            vec![Some(F64(1.5)), None, None],
            vec![Some(I32(1234)), None, Some(I32(-10))],
            vec![Some(I64(123_456_789_012_345_678)), None, Some(I64(-10_000))],
            vec![
                Some(Got::Fixed(d38.to_be_bytes().to_vec())),
                None,
                Some(Got::Fixed(50i128.to_be_bytes().to_vec())),
            ],
            vec![s("1e+400"), None, s("0.1")],
            vec![Some(I32(jan2)), None, Some(I32(-1))],
            vec![
                Some(I64(
                    (jan2_secs + 3 * 3600 + 4 * 60 + 5) * 1_000_000 + 123_000
                )),
                None,
                Some(I64((jan2_secs + 16 * 3600) * 1_000_000)),
            ],
            vec![
                Some(I64(
                    (jan2_secs + 11 * 3600 + 4 * 60 + 5) * 1_000_000 + 123_456
                )),
                None,
                Some(I64(0)),
            ],
            vec![
                Some(I64((13 * 3600 + 14 * 60 + 15) * 1_000_000 + 1)),
                None,
                Some(I64(0)),
            ],
            vec![Some(B(true)), None, Some(B(false))],
            vec![s("text"), None, s("7")],
            vec![s("00ff"), None, s("")],
            vec![s(r#"{"a":[1,"x"]}"#), None, s(r#""a string""#)],
            vec![None, None, None],
        ];
        assert_eq!(got, expected);
    }

    #[test]
    fn rows_gather_into_row_groups_by_the_limits() {
        let columns = [col("n", ColumnType::Integer, None, None)];
        let t1 = table(&["n"], &[vec![json!(1)], vec![json!(null)]]);
        let t2 = table(&["n"], &[vec![json!(3)]]);
        let all = vec![Some(I64(1)), None, Some(I64(3))];

        let r = reader(encode_with(
            &columns,
            &[t1.clone(), t2.clone()],
            (1, usize::MAX),
        ));
        assert_eq!(
            r.num_row_groups(),
            2,
            "one row group per write past the limit"
        );
        assert_eq!(r.metadata().row_group(0).num_rows(), 2);
        assert_eq!(values(&r, 0), all);

        let r = reader(encode(&columns, &[t1.clone(), t2.clone()]));
        assert_eq!(r.num_row_groups(), 1, "small tables share a row group");
        assert_eq!(values(&r, 0), all);

        let r = reader(encode_with(&columns, &[t1, t2], (usize::MAX, 1)));
        assert_eq!(r.num_row_groups(), 2, "the byte limit flushes too");
        assert_eq!(
            r.metadata().file_metadata().key_value_metadata().unwrap()[0].key,
            "writer"
        );
    }

    #[test]
    fn complete_row_groups_reach_out_at_each_write() {
        let columns = [col("s", ColumnType::String, None, None)];
        let mut enc = Parquet::with_limits(&columns, (1, usize::MAX)).unwrap();
        let mut out = Vec::new();
        enc.write(&table(&["s"], &[vec![json!("x")]]), &mut out)
            .unwrap();
        let first = out.len();
        assert!(first > 4 && out.starts_with(b"PAR1"));
        enc.write(&table(&["s"], &[vec![json!("y")]]), &mut out)
            .unwrap();
        assert!(out.len() > first);
        let before_footer = out.len();
        Box::new(enc).finish(&mut out).unwrap();
        assert!(out.len() > before_footer && out.ends_with(b"PAR1"));
    }

    #[test]
    fn a_failed_write_leaves_the_earlier_rows_and_nothing_of_itself() {
        let columns = [
            col("s", ColumnType::String, None, None),
            col("d", ColumnType::Date, None, None),
        ];
        let mut enc: Box<dyn Encoder> = Box::new(Parquet::new(&columns).unwrap());
        let mut out = Vec::new();
        enc.write(
            &table(&["s", "d"], &[vec![json!("ok"), json!("2024-01-02")]]),
            &mut out,
        )
        .unwrap();
        let bad = table(
            &["s", "d"],
            &[
                vec![json!("fine"), json!("2024-01-03")],
                vec![json!("no"), json!("soon")],
            ],
        );
        let err = enc.write(&bad, &mut out).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::OutputFailed);
        assert_eq!(
            err.message(),
            "column 'd', row 3: expected a date YYYY-MM-DD, found \"soon\""
        );
        enc.finish(&mut out).unwrap();
        let r = reader(out);
        assert_eq!(values(&r, 0), [s("ok")]);
        assert_eq!(values(&r, 1), [Some(I32(19_724))]);
    }

    #[test]
    fn decimals_are_exact_from_their_text() {
        assert_eq!(unscaled(b"-1.5", 5, 2), Some(-150));
        assert_eq!(
            unscaled(b"1.230", 5, 2),
            Some(123),
            "trailing zeros past the scale"
        );
        assert_eq!(
            unscaled(b"1.234", 5, 2),
            None,
            "a nonzero digit past the scale"
        );
        assert_eq!(unscaled(b"1.5e3", 6, 1), Some(15_000));
        assert_eq!(unscaled(b"1.5E-1", 6, 2), Some(15));
        assert_eq!(unscaled(b"15e-3", 6, 2), None);
        assert_eq!(unscaled(b"+0007", 1, 0), Some(7));
        assert_eq!(
            unscaled(b"1000", 3, 0),
            None,
            "four digits under precision 3"
        );
        assert_eq!(unscaled(b"999", 3, 0), Some(999));
        assert_eq!(unscaled(b"0.000", 1, 0), Some(0));
        assert_eq!(unscaled(b"0e-999999", 1, 0), Some(0));
        assert_eq!(unscaled(b"1e-999999", 1, 0), None);
        assert_eq!(unscaled(b"1e999999", 38, 0), None);
        assert_eq!(unscaled(b".5", 2, 1), Some(5));
        assert_eq!(unscaled(b"5.", 2, 1), Some(50));
        assert_eq!(
            unscaled(b"99999999999999999999999999999999999999", 38, 0),
            Some(10i128.pow(38) - 1)
        );
        assert_eq!(
            unscaled(b"999999999999999999999999999999999999999", 38, 0),
            None
        );
        for bad in [
            &b""[..],
            b"-",
            b".",
            b"1.2.3",
            b"1e",
            b"e5",
            b"1x",
            b"NaN",
            b" 1",
        ] {
            assert_eq!(unscaled(bad, 10, 2), None, "{:?}", std::str::from_utf8(bad));
        }
    }

    #[test]
    fn decimal_cells_of_every_shape() {
        let columns = [
            col("p5", ColumnType::Decimal, Some(5), Some(3)),
            col("p20", ColumnType::Decimal, Some(20), Some(2)),
        ];
        let t = table(
            &["p5", "p20"],
            &[
                vec![json!(0.1), json!("123456789012345678.12")],
                vec![json!(-12), json!("-123456789012345678.1")],
                vec![json!(2e-3), json!(0.07)],
            ],
        );
        let r = reader(encode(&columns, &[t]));
        assert_eq!(
            descr(&r, 1).type_length(),
            9,
            "the fewest bytes for 20 digits"
        );
        assert_eq!(
            values(&r, 0),
            [Some(I32(100)), Some(I32(-12_000)), Some(I32(2))]
        );
        let be = |n: i128| Some(Got::Fixed(n.to_be_bytes()[7..].to_vec()));
        assert_eq!(
            values(&r, 1),
            [
                be(12_345_678_901_234_567_812),
                be(-12_345_678_901_234_567_810),
                be(7)
            ]
        );
    }
    #[test]
    fn decimals_that_do_not_fit_fail_the_object() {
        let columns = [col("AMOUNT", ColumnType::Decimal, Some(4), Some(2))];
        for (cell, shown) in [
            (json!(123.4), "123.4"),
            (json!("1.234"), "\"1.234\""),
            (json!(true), "true"),
        ] {
            let err = failure(
                &columns,
                &table(
                    &["AMOUNT"],
                    &[vec![json!(1), json!(null)][..1].to_vec(), vec![cell]],
                ),
            );
            assert_eq!(err.kind(), ErrorKind::OutputFailed);
            assert_eq!(
                err.message(),
                format!(
                    "column 'AMOUNT', row 2: expected a decimal that fits DECIMAL(4,2), found {shown}"
                )
            );
        }
    }

    #[test]
    fn the_fewest_bytes_for_a_precision_are_what_parquet_accepts() {
        assert_eq!(decimal_bytes(19), 9);
        assert_eq!(decimal_bytes(38), 16);
        for p in 19..=38u8 {
            let ok = |len: usize| {
                Type::primitive_type_builder("d", PhysicalType::FIXED_LEN_BYTE_ARRAY)
                    .with_logical_type(Some(LogicalType::decimal(0, p.into())))
                    .with_precision(p.into())
                    .with_scale(0)
                    .with_length(len as i32)
                    .build()
                    .is_ok()
            };
            assert!(
                ok(decimal_bytes(p)) && !ok(decimal_bytes(p) - 1),
                "precision {p}"
            );
        }
    }

    #[test]
    fn timestamps_store_the_utc_instant_and_wall_clocks_as_written() {
        let columns = [
            col("ts", ColumnType::Timestamp, None, Some(3)),
            col("dt", ColumnType::Datetime, None, None),
        ];
        let t = table(
            &["ts", "dt"],
            &[
                vec![json!("2024-01-02T08:34:05+05:30"), json!("2024-01-02")],
                vec![
                    json!("2024-01-02T03:04:05.5-0800"),
                    json!("1969-12-31T23:59:59.999999"),
                ],
                vec![json!("0001-01-01T00:00:00Z"), json!("9999-12-31 23:59:59")],
            ],
        );
        let r = reader(encode(&columns, &[t]));
        let utc = |s: &str| {
            chrono::DateTime::parse_from_rfc3339(s)
                .unwrap()
                .timestamp_micros()
        };
        assert_eq!(
            values(&r, 0),
            [
                Some(I64(utc("2024-01-02T03:04:05Z"))),
                Some(I64(utc("2024-01-02T11:04:05.5Z"))),
                Some(I64(utc("0001-01-01T00:00:00Z"))),
            ]
        );
        assert_eq!(
            values(&r, 1),
            [
                Some(I64(utc("2024-01-02T00:00:00Z"))),
                Some(I64(-1)),
                Some(I64(utc("9999-12-31T23:59:59Z"))),
            ]
        );
    }

    #[test]
    fn timestamps_are_micros_and_times_of_scale_9_are_nanos() {
        use ColumnType as C;
        let columns = vec![
            col("ts", C::Timestamp, None, Some(9)),
            col("t", C::Time, None, Some(9)),
        ];
        let t = table(
            &["ts", "t"],
            &[vec![
                json!("9999-12-31T23:59:59.999999000Z"),
                json!("23:59:59.123456789"),
            ]],
        );
        let r = reader(encode(&columns, &[t]));
        assert_eq!(
            descr(&r, 0).logical_type_ref().cloned(),
            Some(LogicalType::timestamp(true, TimeUnit::MICROS))
        );
        assert_eq!(
            descr(&r, 1).logical_type_ref().cloned(),
            Some(LogicalType::time(false, TimeUnit::NANOS))
        );
        assert_eq!(
            values(&r, 1),
            vec![Some(I64(86_399 * 1_000_000_000 + 123_456_789))]
        );
        let Some(Some(I64(micros))) = values(&r, 0).pop() else {
            panic!("no timestamp")
        };
        assert_eq!(micros % 1_000_000, 999_999);
    }

    #[test]
    fn times_and_timestamps_that_do_not_fit_fail() {
        use ColumnType as C;
        let cases = [
            (
                col("ts", C::Timestamp, None, None),
                json!("2024-01-02T03:04:05"),
                "a timestamp",
            ),
            (
                col("dt", C::Datetime, None, None),
                json!("2024-01-02T03:04:05Z"),
                "a date-time",
            ),
            (
                col("dt", C::Datetime, None, Some(6)),
                json!("2024-01-02T03:04:05.0000001"),
                "a date-time",
            ),
            (
                col("ns", C::Timestamp, None, Some(9)),
                json!("2024-01-02T03:04:05.123456789Z"),
                "a timestamp",
            ),
            (col("t", C::Time, None, None), json!("24:00:00"), "a time"),
            (
                col("t", C::Time, None, None),
                json!("12:00:00+01:00"),
                "a time",
            ),
            (col("d", C::Date, None, None), json!("2024-02-30"), "a date"),
            (col("d", C::Date, None, None), json!(20240102), "a date"),
            (
                col("i", C::Integer, None, None),
                json!("9223372036854775808"),
                "a whole number",
            ),
            (
                col("i", C::Integer, None, None),
                json!(1.5),
                "a whole number",
            ),
            (col("x", C::Number, None, None), json!("abc"), "a number"),
            (
                col("b", C::Boolean, None, None),
                json!("true"),
                "true or false",
            ),
        ];
        for (column, cell, expected) in cases {
            let name = column.name.clone();
            let err = failure(&[column], &table(&[&name], &[vec![cell.clone()]]));
            assert_eq!(err.kind(), ErrorKind::OutputFailed, "{cell}");
            let prefix = format!("column '{name}', row 1: expected {expected}");
            assert!(
                err.message().starts_with(&prefix),
                "{cell}: {}",
                err.message()
            );
        }
    }

    #[test]
    fn integers_and_numbers_from_every_cell_shape() {
        let columns = [
            col("i", ColumnType::Integer, None, None),
            col("f", ColumnType::Number, None, None),
        ];
        let mut t = Table::new(vec!["i".into(), "f".into()]);
        t.push_text("9007199254740993");
        t.push_text("Infinity");
        t.push_float(-3.0);
        t.push_text("-Infinity");
        t.push_json(json!(5u64));
        t.push_int(7);
        let r = reader(encode(&columns, &[t]));
        assert_eq!(
            values(&r, 0),
            [
                Some(I64(9_007_199_254_740_993)),
                Some(I64(-3)),
                Some(I64(5))
            ]
        );
        assert_eq!(
            values(&r, 1),
            [
                Some(F64(f64::INFINITY)),
                Some(F64(f64::NEG_INFINITY)),
                Some(F64(7.0))
            ]
        );
    }

    #[test]
    fn any_utf8_column_name_and_absent_fields() {
        let names = ["a.b", "with space", "ünï \"q\"", "x,y"];
        let columns: Vec<Column> = names
            .iter()
            .map(|n| col(n, ColumnType::String, None, None))
            .collect();
        let t = Table::from_maps(vec![
            json!({"a.b": "1", "with space": "2", "ünï \"q\"": "3", "x,y": "4"})
                .as_object()
                .unwrap()
                .clone(),
            json!({"x,y": "5"}).as_object().unwrap().clone(),
        ]);
        let r = reader(encode(&columns, &[t]));
        for (j, name) in names.iter().enumerate() {
            assert_eq!(descr(&r, j).name(), *name);
        }
        assert_eq!(values(&r, 0), [s("1"), None]);
        assert_eq!(values(&r, 3), [s("4"), s("5")]);
    }

    #[test]
    fn no_rows_is_a_file_with_the_schema_and_no_columns_is_refused() {
        let columns = [col("n", ColumnType::Integer, None, None)];
        let r = reader(encode(&columns, &[]));
        assert_eq!(r.num_row_groups(), 0);
        assert_eq!(descr(&r, 0).name(), "n");
        let err = encoder_error(&[]);
        assert_eq!(err.kind(), ErrorKind::OutputFailed);
        let long = "x".repeat(100);
        let err = failure(
            &[col("b", ColumnType::Boolean, None, None)],
            &table(&["b"], &[vec![json!(long)]]),
        );
        assert!(err.message().len() < 140, "{}", err.message());
        assert!(err.message().ends_with("…\""), "{}", err.message());
    }

    fn encoder_error(columns: &[Column]) -> AppError {
        match super::super::encoder(super::super::Format::Parquet, columns) {
            Err(e) => e,
            Ok(_) => panic!("an encoder for {columns:?}"),
        }
    }

    #[test]
    fn a_table_of_another_width_is_refused() {
        let t = Table::new(vec!["a".into(), "b".into()]);
        let mut enc = Parquet::new(&[col("a", ColumnType::String, None, None)]).unwrap();
        assert_eq!(
            enc.write(&t, &mut Vec::new()).unwrap_err().kind(),
            ErrorKind::Internal
        );
    }
}
