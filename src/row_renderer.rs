//! A page's rows rendered to their JSON array on a blocking thread while
//! the page is still being decoded.
//!
//! A Snowflake page is decoded partition by partition on the blocking pool;
//! rendering its rows (about 5 MB of JSON for 50,000 rows) only after the
//! last partition arrived left the cores idle in turn. Instead each
//! partition's table is handed over as soon as the page has taken its rows,
//! and one blocking thread renders the `rows` array as they come, in order,
//! with serde_json's own serializer (so the text needs no second validating
//! parse to become a `RawValue`). Each table is freed once rendered: the
//! page is never held whole as cells.

use std::sync::mpsc;

use serde::ser::{Serialize, SerializeSeq, Serializer};
use serde_json::value::RawValue;

use crate::error::AppError;
use crate::table::Table;

/// The rendering of one `rows` array, fed table by table.
pub(crate) struct RowRenderer {
    tables: Option<mpsc::Sender<(Table, usize)>>,
    rendering: tokio::task::JoinHandle<serde_json::Result<Box<RawValue>>>,
}

impl RowRenderer {
    /// Start rendering (on tokio's blocking pool).
    pub(crate) fn start() -> Self {
        let (tables, incoming) = mpsc::channel();
        let rendering = tokio::task::spawn_blocking(move || {
            serde_json::value::to_raw_value(&Incoming(incoming))
        });
        RowRenderer {
            tables: Some(tables),
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

    /// The `rows` array, once every pushed row is rendered. (Dropped
    /// unfinished, the renderer stops as soon as its queue is empty.)
    pub(crate) async fn finish(mut self) -> Result<Box<RawValue>, AppError> {
        drop(self.tables.take());
        (&mut self.rendering)
            .await
            .map_err(|_| AppError::internal("rendering the rows failed"))?
            .map_err(|e| AppError::internal(format!("could not serialize the rows: {e}")))
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
    use serde_json::json;

    fn table(from: usize, to: usize) -> Table {
        let mut t = Table::new(vec!["n".into(), "s".into()]);
        for i in from..to {
            t.push_int(i as i64);
            t.push_text(&format!("row \"{i}\""));
        }
        t
    }

    #[tokio::test]
    async fn tables_render_in_order_as_one_array_of_the_rows_taken() {
        let mut r = RowRenderer::start();
        r.push(table(0, 3), 3);
        r.push(table(3, 6), 2);
        r.push(table(6, 7), 9);
        let raw = r.finish().await.unwrap();
        let got: serde_json::Value = serde_json::from_str(raw.get()).unwrap();
        let want: Vec<_> = [0, 1, 2, 3, 4, 6]
            .iter()
            .map(|i| json!({"n": i, "s": format!("row \"{i}\"")}))
            .collect();
        assert_eq!(got, json!(want));
        // The same text the table's own serialisation gives.
        let mut whole = table(0, 3);
        whole.append(table(3, 6), 2);
        whole.append(table(6, 7), 1);
        assert_eq!(raw.get(), serde_json::to_string(&whole).unwrap());
    }

    #[tokio::test]
    async fn nothing_pushed_is_an_empty_array() {
        assert_eq!(RowRenderer::start().finish().await.unwrap().get(), "[]");
    }
}
