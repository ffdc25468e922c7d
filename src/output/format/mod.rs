//! The object formats a task's `output` may ask for, and their encoders:
//! each turns [`Table`]s of rows (one or many, in order) into the bytes of
//! one object.
//!
//! An encoder is built for the result's columns before the first row, is
//! handed the rows table by table (a Snowflake result partition by
//! partition, so memory stays bounded by a partition), appends the encoded
//! bytes to the caller's buffer, and finishes the object (a Parquet footer).
//! The writer above it ships the buffer to S3 in parts, so an encoder
//! keeps no more than a chunk of rows: CSV and JSONL write each table's
//! rows at once; Parquet gathers tables into row groups of a bounded size
//! and writes each whole (its module has the type mapping).

mod csv;
mod jsonl;
mod parquet;

use serde::{Deserialize, Serialize};

use crate::error::AppError;
use crate::response::Column;
use crate::table::Table;

/// An `output.format`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub(crate) enum Format {
    /// One row object per line, exactly the objects the JSON response holds.
    Jsonl,
    /// RFC 4180, a header row of column names.
    Csv,
    /// Apache Parquet, one column per result column, typed from it.
    Parquet,
}

impl Format {
    /// The object's `Content-Type`.
    pub(crate) fn content_type(self) -> &'static str {
        match self {
            Format::Jsonl => "application/x-ndjson",
            Format::Csv => "text/csv; charset=utf-8; header=present",
            Format::Parquet => "application/vnd.apache.parquet",
        }
    }
}

/// Encodes rows into one object of a [`Format`].
pub(crate) trait Encoder: Send {
    /// Append `table`'s rows (its names are the encoder's columns, in order).
    fn write(&mut self, table: &Table, out: &mut Vec<u8>) -> Result<(), AppError>;

    /// Append whatever ends the object.
    fn finish(self: Box<Self>, out: &mut Vec<u8>) -> Result<(), AppError>;
}

/// The encoder of `format` for rows under `columns`.
pub(crate) fn encoder(format: Format, columns: &[Column]) -> Result<Box<dyn Encoder>, AppError> {
    match format {
        Format::Jsonl => Ok(Box::new(jsonl::Jsonl::new(columns))),
        Format::Csv => Ok(Box::new(csv::Csv::new(columns))),
        Format::Parquet => Ok(Box::new(parquet::Parquet::new(columns)?)),
    }
}

/// An internal error for a table whose shape is not the encoder's.
pub(super) fn check_width(table: &Table, columns: usize) -> Result<(), AppError> {
    if table.names().len() == columns {
        Ok(())
    } else {
        Err(AppError::internal(format!(
            "rows of {} fields handed to an encoder of {columns} columns",
            table.names().len()
        )))
    }
}
