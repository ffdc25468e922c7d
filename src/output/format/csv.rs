//! CSV (RFC 4180): a header row of the column names, then one record per
//! row, every line ended by CRLF.
//!
//! | cell | field |
//! |---|---|
//! | null, or a field the row lacks | empty, unquoted |
//! | text | as is; `""` when empty, so it differs from null |
//! | `true` / `false` | `true` / `false` |
//! | whole number | its digits |
//! | double | exactly the text of the JSON response's number (`1.5`, `1e+20`) |
//! | nested JSON (variant, object, array, …) | its compact JSON text |
//!
//! A field is quoted, its `"` doubled, when it holds `,`, `"`, CR or LF, or
//! begins or ends with a space or tab (which readers would otherwise trim).
//!
//! Written by hand rather than with the `csv` crate: the rules above are a
//! few lines, the crate would be a dependency in a binary with a size
//! budget, and its writer still needs every non-text cell formatted first.

use std::io::Write as _;

use super::{Encoder, check_width};
use crate::error::AppError;
use crate::response::Column;
use crate::table::{Cell, Table};

/// The CSV encoder.
pub(super) struct Csv {
    names: Vec<String>,
    header_written: bool,
    /// A number's or nested value's text, formatted before it is quoted.
    scratch: Vec<u8>,
}

impl Csv {
    pub(super) fn new(columns: &[Column]) -> Self {
        Csv {
            names: columns.iter().map(|c| c.name.clone()).collect(),
            header_written: false,
            scratch: Vec::new(),
        }
    }

    /// The header row, once per object (before the first record, or in
    /// [`Encoder::finish`] when no rows came).
    fn header(&mut self, out: &mut Vec<u8>) {
        if !self.header_written {
            for (i, name) in self.names.iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                push_field(out, name.as_bytes());
            }
            out.extend_from_slice(b"\r\n");
            self.header_written = true;
        }
    }
}

impl Encoder for Csv {
    fn write(&mut self, table: &Table, out: &mut Vec<u8>) -> Result<(), AppError> {
        check_width(table, self.names.len())?;
        self.header(out);
        for r in 0..table.rows() {
            for (i, cell) in table.row(r).iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                match cell {
                    Cell::Absent | Cell::Null => {}
                    Cell::Bool(b) => out.extend_from_slice(if *b { b"true" } else { b"false" }),
                    // Digits need no quoting: written straight out.
                    Cell::Int(n) => {
                        let _ = write!(out, "{n}");
                    }
                    // serde_json's own formatting, so the text is the JSON
                    // response's; a double's text never needs quoting.
                    Cell::Float(f) => serde_json::to_writer(&mut *out, f).map_err(encode_error)?,
                    Cell::Text(s, e) => push_field(out, table.text(*s, *e).as_bytes()),
                    Cell::Json(v) => {
                        self.scratch.clear();
                        serde_json::to_writer(&mut self.scratch, table.value(*v))
                            .map_err(encode_error)?;
                        push_field(out, &self.scratch);
                    }
                }
            }
            out.extend_from_slice(b"\r\n");
        }
        Ok(())
    }

    fn finish(mut self: Box<Self>, out: &mut Vec<u8>) -> Result<(), AppError> {
        self.header(out);
        Ok(())
    }
}

fn encode_error(e: serde_json::Error) -> AppError {
    AppError::internal(format!("could not encode a CSV field: {e}"))
}

/// One field: quoted (with `"` doubled) when RFC 4180 needs it, when its
/// edges are blank, or when it is empty (an empty unquoted field is null).
fn push_field(out: &mut Vec<u8>, field: &[u8]) {
    let blank = |b: Option<&u8>| matches!(b, Some(b' ' | b'\t'));
    let quote = field.is_empty()
        || blank(field.first())
        || blank(field.last())
        || field
            .iter()
            .any(|b| matches!(b, b',' | b'"' | b'\r' | b'\n'));
    if !quote {
        out.extend_from_slice(field);
        return;
    }
    out.push(b'"');
    for part in field.split_inclusive(|&b| b == b'"') {
        out.extend_from_slice(part);
        if part.last() == Some(&b'"') {
            out.push(b'"');
        }
    }
    out.push(b'"');
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::response::ColumnType;
    use serde_json::json;

    fn columns(names: &[&str]) -> Vec<Column> {
        names
            .iter()
            .map(|n| Column::new(*n, ColumnType::String))
            .collect()
    }

    fn encode(columns: &[Column], tables: &[Table]) -> String {
        let mut enc: Box<dyn Encoder> = Box::new(Csv::new(columns));
        let mut out = Vec::new();
        for t in tables {
            enc.write(t, &mut out).unwrap();
        }
        enc.finish(&mut out).unwrap();
        String::from_utf8(out).unwrap()
    }

    fn field(text: &str) -> String {
        let mut out = Vec::new();
        push_field(&mut out, text.as_bytes());
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn quotes_only_what_needs_it() {
        assert_eq!(field("plain"), "plain");
        assert_eq!(field("a,b"), "\"a,b\"");
        assert_eq!(field("say \"hi\""), "\"say \"\"hi\"\"\"");
        assert_eq!(field("\""), "\"\"\"\"");
        assert_eq!(field("line\nbreak"), "\"line\nbreak\"");
        assert_eq!(field("cr\rhere"), "\"cr\rhere\"");
        assert_eq!(field(" lead"), "\" lead\"");
        assert_eq!(field("trail "), "\"trail \"");
        assert_eq!(field("\ttab"), "\"\ttab\"");
        assert_eq!(field("in side"), "in side");
        assert_eq!(field("é ünïcode"), "é ünïcode");
        assert_eq!(field(""), "\"\"");
    }

    #[test]
    fn header_then_crlf_records_with_null_apart_from_empty() {
        let mut t = Table::new(vec!["a".into(), "b, c".into(), "d".into()]);
        t.push_text("x");
        t.push_null();
        t.push_text("");
        t.push_bool(true);
        t.push_int(-42);
        t.push_bool(false);
        let csv = encode(&columns(&["a", "b, c", "d"]), &[t]);
        assert_eq!(csv, "a,\"b, c\",d\r\nx,,\"\"\r\ntrue,-42,false\r\n");
    }

    #[test]
    fn doubles_are_the_json_responses_text() {
        let floats = [
            0.1,
            1.5,
            -2.25,
            1e20,
            1.5e-7,
            187.15,
            1e300,
            0.30000000000000004,
        ];
        let mut t = Table::new(vec!["f".into()]);
        for f in floats {
            t.push_float(f);
        }
        let csv = encode(&columns(&["f"]), &[t]);
        let fields: Vec<&str> = csv
            .split("\r\n")
            .skip(1)
            .filter(|l| !l.is_empty())
            .collect();
        let json: Vec<String> = floats
            .iter()
            .map(|f| serde_json::to_string(f).unwrap())
            .collect();
        assert_eq!(fields, json);
        assert_eq!(fields[0], "0.1");
        assert_eq!(fields[3], "1e+20");
    }

    #[test]
    fn nested_values_are_compact_json_quoted_as_needed() {
        let mut t = Table::new(vec!["v".into()]);
        t.push_json(json!({"a": [1, 2], "b": "x"}));
        t.push_json(json!([1]));
        t.push_json(json!(u64::MAX));
        let csv = encode(&columns(&["v"]), &[t]);
        assert_eq!(
            csv,
            "v\r\n\"{\"\"a\"\":[1,2],\"\"b\"\":\"\"x\"\"}\"\r\n[1]\r\n18446744073709551615\r\n"
        );
    }

    #[test]
    fn absent_fields_are_empty_like_null() {
        let t = Table::from_maps(vec![
            json!({"a": 1, "b": "x"}).as_object().unwrap().clone(),
            json!({"b": "y"}).as_object().unwrap().clone(),
        ]);
        let csv = encode(&columns(&["a", "b"]), &[t]);
        assert_eq!(csv, "a,b\r\n1,x\r\n,y\r\n");
    }

    #[test]
    fn many_writes_make_one_header_and_no_rows_still_make_it() {
        let mut t1 = Table::new(vec!["n".into()]);
        t1.push_int(1);
        let mut t2 = Table::new(vec!["n".into()]);
        t2.push_int(2);
        t2.push_int(3);
        let cols = columns(&["n"]);
        assert_eq!(
            encode(&cols, &[t1, Table::new(vec!["n".into()]), t2]),
            "n\r\n1\r\n2\r\n3\r\n"
        );
        assert_eq!(encode(&cols, &[]), "n\r\n");
    }

    #[test]
    fn a_table_of_another_width_is_refused() {
        let t = Table::new(vec!["a".into(), "b".into()]);
        let mut enc = Csv::new(&columns(&["a"]));
        assert!(enc.write(&t, &mut Vec::new()).is_err());
    }
}
