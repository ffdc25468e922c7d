//! Column inference for Alpha Vantage rows: Alpha Vantage sends no schema, so
//! each column's type is inferred from every row's values.

use serde_json::Value;

use crate::response::{Column, ColumnType};
use crate::table::{Cell, Table};

/// Columns in the table's order with a type inferred from every row's
/// values (integer + number → number, date + datetime → datetime, otherwise
/// mixed types → string; all null → null).
pub(crate) fn infer_columns(table: &Table) -> Vec<Column> {
    let mut kinds: Vec<Option<ColumnType>> = vec![None; table.names().len()];
    for i in 0..table.rows() {
        for (kind, cell) in kinds.iter_mut().zip(table.row(i)) {
            *kind = merge(*kind, cell_type(table, cell));
        }
    }
    table
        .names()
        .iter()
        .zip(kinds)
        .map(|(name, kind)| Column::new(name.clone(), kind.unwrap_or(ColumnType::Null)))
        .collect()
}

fn cell_type(table: &Table, cell: &Cell) -> Option<ColumnType> {
    match cell {
        Cell::Absent | Cell::Null => None,
        Cell::Bool(_) => Some(ColumnType::Boolean),
        Cell::Int(_) => Some(ColumnType::Integer),
        Cell::Float(_) => Some(ColumnType::Number),
        Cell::Text(s, e) => {
            let s = table.text(*s, *e);
            Some(if is_date(s) {
                ColumnType::Date
            } else if is_datetime(s) {
                ColumnType::Datetime
            } else {
                ColumnType::String
            })
        }
        Cell::Json(i) => value_type(table.value(*i)),
    }
}

fn value_type(v: &Value) -> Option<ColumnType> {
    match v {
        Value::Null => None,
        Value::Bool(_) => Some(ColumnType::Boolean),
        Value::Number(n) if n.is_i64() || n.is_u64() => Some(ColumnType::Integer),
        Value::Number(_) => Some(ColumnType::Number),
        Value::String(s) if is_date(s) => Some(ColumnType::Date),
        Value::String(s) if is_datetime(s) => Some(ColumnType::Datetime),
        Value::String(_) => Some(ColumnType::String),
        Value::Array(_) => Some(ColumnType::Array),
        Value::Object(_) => Some(ColumnType::Object),
    }
}

fn merge(a: Option<ColumnType>, b: Option<ColumnType>) -> Option<ColumnType> {
    use ColumnType::{Date, Datetime, Integer, Number};
    match (a, b) {
        (None, x) | (x, None) => x,
        (Some(x), Some(y)) if x == y => Some(x),
        (Some(Integer), Some(Number)) | (Some(Number), Some(Integer)) => Some(Number),
        (Some(Date), Some(Datetime)) | (Some(Datetime), Some(Date)) => Some(Datetime),
        _ => Some(ColumnType::String),
    }
}

/// `YYYY-MM-DD` (shape only; works on bytes, so any text is safe).
pub(crate) fn is_date(s: &str) -> bool {
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
pub(crate) fn is_datetime(s: &str) -> bool {
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

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn columns_in_order_with_merged_types() {
        let rows: Vec<serde_json::Map<String, Value>> = vec![
            json!({"date": "2024-01-02", "open": 1, "note": null}),
            json!({"date": "2024-01-03", "open": 1.5, "note": null, "flag": true}),
        ]
        .into_iter()
        .map(|v| v.as_object().unwrap().clone())
        .collect();
        let cols = infer_columns(&Table::from_maps(rows));
        let got: Vec<(&str, ColumnType)> = cols.iter().map(|c| (c.name.as_str(), c.kind)).collect();
        assert_eq!(
            got,
            [
                ("date", ColumnType::Date),
                ("open", ColumnType::Number),
                ("note", ColumnType::Null),
                ("flag", ColumnType::Boolean)
            ]
        );
    }

    #[test]
    fn date_shapes() {
        assert!(is_date("2024-01-02"));
        assert!(!is_date("2024-1-02x"));
        assert!(is_datetime("2025-11-06 19:55:00"));
        assert!(!is_datetime("2025-11-06"));
        assert!(!is_datetime("ABCDEFGHIé12345678"), "multi-byte text never panics");
        assert!(!is_date("ABCDEFGHé"));
    }
}
