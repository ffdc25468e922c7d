//! JSON Lines: one row object per line, each exactly the object the JSON
//! response's `rows` would hold (a field a row lacks is left out), `\n`
//! after every row.

use super::{Encoder, check_width};
use crate::error::AppError;
use crate::response::Column;
use crate::row_json::RowWriter;
use crate::table::Table;

/// The JSONL encoder.
pub(super) struct Jsonl {
    columns: usize,
}

impl Jsonl {
    pub(super) fn new(columns: &[Column]) -> Self {
        Jsonl {
            columns: columns.len(),
        }
    }
}

impl Encoder for Jsonl {
    fn write(&mut self, table: &Table, out: &mut Vec<u8>) -> Result<(), AppError> {
        check_width(table, self.columns)?;
        let writer = RowWriter::new(table.names());
        let mut line = String::new();
        for i in 0..table.rows() {
            line.clear();
            writer.write(table, i, &mut line);
            out.extend_from_slice(line.as_bytes());
            out.push(b'\n');
        }
        Ok(())
    }

    fn finish(self: Box<Self>, _out: &mut Vec<u8>) -> Result<(), AppError> {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::response::ColumnType;
    use serde_json::{Value, json};

    #[test]
    fn each_line_is_the_row_object_of_the_json_response() {
        let mut t = Table::from_maps(vec![
            json!({"date": "2024-01-02", "close": 1.5, "n": 3})
                .as_object()
                .unwrap()
                .clone(),
            json!({"date": "2024-01-03", "v": {"a": [1]}, "s": "line\nbreak"})
                .as_object()
                .unwrap()
                .clone(),
        ]);
        t.push_text("2024-01-04");
        t.push_null();
        t.push_int(-1);
        t.push_bool(true);
        t.push_text("");
        let columns: Vec<Column> = t
            .names()
            .iter()
            .map(|n| Column::new(n.clone(), ColumnType::String))
            .collect();
        let mut enc: Box<dyn Encoder> = Box::new(Jsonl::new(&columns));
        let mut out = Vec::new();
        enc.write(&t, &mut out).unwrap();
        enc.finish(&mut out).unwrap();
        let text = String::from_utf8(out).unwrap();
        assert!(text.ends_with('\n'));
        let lines: Vec<Value> = text
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect();
        let whole = serde_json::to_value(&t).unwrap();
        assert_eq!(Value::Array(lines), whole);
        assert_eq!(
            text.lines().count(),
            3,
            "an escaped newline stays inside its line"
        );
    }

    #[test]
    fn a_table_of_another_width_is_refused() {
        let t = Table::new(vec!["a".into(), "b".into()]);
        let mut enc = Jsonl::new(&[Column::new("a", ColumnType::String)]);
        assert!(enc.write(&t, &mut Vec::new()).is_err());
    }
}
