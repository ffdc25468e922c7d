//! A page's body rendered to JSON on a blocking thread while the page is
//! still being decoded.
//!
//! A Snowflake page is decoded partition by partition on the blocking pool;
//! rendering its rows (about 5 MB of JSON for 50,000 rows) only after the
//! last partition arrived left the cores idle in turn. Instead each
//! partition's table is handed over as soon as the page has taken its rows,
//! and one blocking thread renders the body as they come, in order: its
//! `provider` and `columns`, the `rows`, then — once the page is cut and its
//! cursor sealed — the members after them. The body is written as
//! `response::write_body` writes every body (rows by `row_json`, as
//! serde_json would write them), into one buffer sized for the page, so the
//! text needs no validating parse to be the response, and no copy into an
//! enclosing body. Each table is freed once rendered: the page is never held
//! whole as cells.

use std::sync::mpsc;

use serde_json::value::RawValue;
use serde_json::{Map, Value};

use crate::error::AppError;
use crate::response::{BodyTail, Column, raw_body, write_body};
use crate::row_json::append_rows;
use crate::table::Table;

/// The members after `rows`, known once the page is complete.
pub(crate) struct Tail {
    pub(crate) row_count: usize,
    pub(crate) meta: Map<String, Value>,
    pub(crate) next_cursor: Option<String>,
}

/// The rendering of one result body, fed table by table.
pub(crate) struct RowRenderer {
    tables: Option<mpsc::Sender<(Table, usize)>>,
    tail: mpsc::Sender<Tail>,
    rendering: tokio::task::JoinHandle<Result<Box<RawValue>, String>>,
}

impl RowRenderer {
    /// Start rendering the body of `provider`'s result under `columns` (on
    /// tokio's blocking pool), in a buffer of `capacity` bytes to begin
    /// with (the page's budget: a page's body is written without copies).
    pub(crate) fn start(provider: &'static str, columns: Vec<Column>, capacity: usize) -> Self {
        let (tables, incoming) = mpsc::channel::<(Table, usize)>();
        let (tail, tail_in) = mpsc::channel();
        let rendering = tokio::task::spawn_blocking(move || {
            let mut out = String::with_capacity(capacity);
            let rows = |out: &mut String| {
                out.push('[');
                let mut first = true;
                for (table, rows) in incoming.iter() {
                    append_rows(&table, rows, out, &mut first);
                }
                out.push(']');
                Ok(())
            };
            let mut got = None;
            let got = &mut got;
            write_body(&mut out, provider, &columns, Some(rows), move || {
                let tail: &Tail = got.insert(
                    tail_in
                        .recv()
                        .map_err(|_| "the page ended without its tail".to_owned())?,
                );
                Ok(BodyTail {
                    row_count: tail.row_count,
                    meta: &tail.meta,
                    next_cursor: tail.next_cursor.as_deref(),
                    output: None,
                })
            })?;
            Ok(raw_body(out))
        });
        RowRenderer {
            tables: Some(tables),
            tail,
            rendering,
        }
    }

    /// Append the first `rows` rows of `table`.
    pub(crate) fn push(&mut self, table: Table, rows: usize) {
        let rows = rows.min(table.rows());
        if let Some(tables) = &self.tables {
            // A renderer that stopped has failed; `finish` reports why.
            let _ = tables.send((table, rows));
        }
    }

    /// The whole body, once every pushed row and `tail` are rendered.
    /// (Dropped unfinished, the renderer stops as soon as its queue is
    /// empty.)
    pub(crate) async fn finish(mut self, tail: Tail) -> Result<Box<RawValue>, AppError> {
        drop(self.tables.take());
        let _ = self.tail.send(tail);
        (&mut self.rendering)
            .await
            .map_err(|_| AppError::internal("rendering the result failed"))?
            .map_err(|e| AppError::internal(format!("could not serialize the result: {e}")))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::response::{ColumnType, FetchResult};
    use serde_json::json;

    fn table(from: usize, to: usize) -> Table {
        let mut t = Table::new(vec!["n".into(), "s".into()]);
        for i in from..to {
            t.push_int(i as i64);
            t.push_text(&format!("row \"{i}\""));
        }
        t
    }

    fn columns() -> Vec<Column> {
        vec![
            Column::new("n", ColumnType::Integer),
            Column::new("s", ColumnType::String),
        ]
    }

    #[tokio::test]
    async fn the_body_is_the_results_own_serialisation_of_the_rows_taken() {
        let mut r = RowRenderer::start("snowflake", columns(), 64);
        r.push(table(0, 3), 3);
        r.push(table(3, 6), 2);
        r.push(table(6, 7), 9);
        let mut meta = Map::new();
        meta.insert("page".into(), json!({"partition": 0}));
        let tail = Tail {
            row_count: 6,
            meta: meta.clone(),
            next_cursor: Some("c".into()),
        };
        let raw = r.finish(tail).await.unwrap();
        // Byte for byte what the result itself serialises to.
        let mut whole = table(0, 3);
        whole.append(table(3, 6), 2);
        whole.append(table(6, 7), 1);
        let mut result = FetchResult::new("snowflake", columns(), whole, meta);
        result.next_cursor = Some("c".into());
        assert_eq!(raw.get(), serde_json::to_string(&result).unwrap());
        let got: serde_json::Value = serde_json::from_str(raw.get()).unwrap();
        assert_eq!(got["rows"][5], json!({"n": 6, "s": "row \"6\""}));
    }

    #[tokio::test]
    async fn nothing_pushed_is_an_empty_array() {
        let tail = Tail {
            row_count: 0,
            meta: Map::new(),
            next_cursor: None,
        };
        let raw = RowRenderer::start("snowflake", Vec::new(), 0)
            .finish(tail)
            .await
            .unwrap();
        let got: serde_json::Value = serde_json::from_str(raw.get()).unwrap();
        assert_eq!(got["rows"], json!([]));
        assert_eq!(got["next_cursor"], json!(null));
    }
}
