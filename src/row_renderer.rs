//! A page's body rendered to JSON on a blocking thread while the page is
//! still being decoded.
//!
//! A Snowflake page is decoded partition by partition on the blocking pool;
//! rendering its rows (about 5 MB of JSON for 50,000 rows) only after the
//! last partition arrived left the cores idle in turn. Instead each
//! partition's table is handed over as soon as the page has taken its rows,
//! and one blocking thread renders the body as they come, in order: its
//! `provider` and `columns`, the `rows`, then — once the page is cut and its
//! cursor sealed — the members after them. serde_json's own serializer
//! writes it all (`to_raw_value`), so the text needs no validating parse to
//! be the response, and no copy into an enclosing body. Each table is freed
//! once rendered: the page is never held whole as cells.

use std::cell::OnceCell;
use std::sync::mpsc;

use serde::ser::{Serialize, SerializeSeq, Serializer};
use serde_json::value::RawValue;
use serde_json::{Map, Value};

use crate::error::AppError;
use crate::response::{BodyTail, Column, serialize_body};
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
    rendering: tokio::task::JoinHandle<serde_json::Result<Box<RawValue>>>,
}

impl RowRenderer {
    /// Start rendering the body of `provider`'s result under `columns` (on
    /// tokio's blocking pool).
    pub(crate) fn start(provider: &'static str, columns: Vec<Column>) -> Self {
        let (tables, incoming) = mpsc::channel();
        let (tail, tail_in) = mpsc::channel();
        let rendering = tokio::task::spawn_blocking(move || {
            serde_json::value::to_raw_value(&Body {
                provider,
                columns,
                rows: Incoming(incoming),
                tail: tail_in,
                got: OnceCell::new(),
            })
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

/// The body as it is rendered: the tail is waited for after the rows.
struct Body {
    provider: &'static str,
    columns: Vec<Column>,
    rows: Incoming,
    tail: mpsc::Receiver<Tail>,
    got: OnceCell<Option<Tail>>,
}

impl Serialize for Body {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serialize_body(
            serializer,
            self.provider,
            &self.columns,
            Some(&self.rows),
            || {
                let tail = self
                    .got
                    .get_or_init(|| self.tail.recv().ok())
                    .as_ref()
                    .ok_or("the page ended without its tail")?;
                Ok(BodyTail {
                    row_count: tail.row_count,
                    meta: &tail.meta,
                    next_cursor: tail.next_cursor.as_deref(),
                    output: None,
                })
            },
        )
    }
}

/// The tables still to render, as one JSON array.
struct Incoming(mpsc::Receiver<(Table, usize)>);

impl Serialize for Incoming {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut seq = serializer.serialize_seq(None)?;
        for (table, rows) in self.0.iter() {
            for index in 0..rows {
                seq.serialize_element(&table.row_ref(index))?;
            }
        }
        seq.end()
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
        let mut r = RowRenderer::start("snowflake", columns());
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
        let raw = RowRenderer::start("snowflake", Vec::new())
            .finish(tail)
            .await
            .unwrap();
        let got: serde_json::Value = serde_json::from_str(raw.get()).unwrap();
        assert_eq!(got["rows"], json!([]));
        assert_eq!(got["next_cursor"], json!(null));
    }
}
