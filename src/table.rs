//! Rows as every provider produces them and every writer consumes them: one
//! flat tape of typed cells, row-major, with the text of all cells in one
//! buffer.
//!
//! A provider decodes its upstream body straight into a [`Table`] — no
//! `serde_json::Value` tree per row, one allocation per column of text
//! rather than per cell — and the response writes the table in one pass
//! (`rows` of the success body, by `row_json`). A 5,000-row daily series is about 120 KB of
//! cells and 50 KB of text, against the ~2.8 KB per row a map per row costs.

#[cfg(test)]
use serde::ser::{Serialize, SerializeMap, SerializeSeq, Serializer};
use serde_json::{Map, Value};

/// One cell as the table stores it.
#[derive(Clone, Debug, PartialEq)]
pub(crate) enum Cell {
    /// The row has no such field (only rows built from maps, whose fields
    /// may differ): the row object leaves it out.
    Absent,
    /// JSON `null`.
    Null,
    /// `true` / `false`.
    Bool(bool),
    /// A whole number.
    Int(i64),
    /// A finite double.
    Float(f64),
    /// Text: `start..end` of the table's text buffer.
    Text(u32, u32),
    /// A nested JSON value (VARIANT, OBJECT, ARRAY, …): an index into the
    /// table's values.
    Json(u32),
}

/// Rows of cells under named columns.
#[derive(Clone, Debug, Default, PartialEq)]
pub(crate) struct Table {
    names: Vec<String>,
    cells: Vec<Cell>,
    text: String,
    values: Vec<Value>,
}

impl Table {
    /// An empty table with these field names, in row order.
    pub(crate) fn new(names: Vec<String>) -> Self {
        Table {
            names,
            ..Table::default()
        }
    }

    /// Room for `rows` more rows, and `text` more bytes of text.
    pub(crate) fn reserve(&mut self, rows: usize, text: usize) {
        self.cells
            .reserve(rows.saturating_mul(self.names.len().max(1)));
        self.text.reserve(text);
    }

    /// Bytes held for cells and text, used or not.
    #[cfg(test)]
    pub(crate) fn reserved_bytes(&self) -> usize {
        self.cells.capacity() * std::mem::size_of::<Cell>() + self.text.capacity()
    }

    /// Rows from maps (fields in first-seen order; a field a row lacks is
    /// left out of that row).
    pub(crate) fn from_maps(rows: Vec<Map<String, Value>>) -> Self {
        let mut names: Vec<String> = Vec::new();
        for row in &rows {
            for name in row.keys() {
                if !names.iter().any(|n| n == name) {
                    names.push(name.clone());
                }
            }
        }
        let mut table = Table::new(names);
        for mut row in rows {
            for i in 0..table.names.len() {
                match row.remove(&table.names[i]) {
                    Some(value) => table.push_value(value),
                    None => table.cells.push(Cell::Absent),
                }
            }
        }
        table
    }

    /// The field names, in row order.
    pub(crate) fn names(&self) -> &[String] {
        &self.names
    }

    /// How many rows it holds.
    pub(crate) fn rows(&self) -> usize {
        self.cells.len().checked_div(self.names.len()).unwrap_or(0)
    }

    /// The cells of row `i`.
    pub(crate) fn row(&self, i: usize) -> &[Cell] {
        let width = self.names.len();
        &self.cells[i * width..(i + 1) * width]
    }

    /// The text of a [`Cell::Text`].
    pub(crate) fn text(&self, start: u32, end: u32) -> &str {
        &self.text[start as usize..end as usize]
    }

    /// The value of a [`Cell::Json`].
    pub(crate) fn value(&self, index: u32) -> &Value {
        &self.values[index as usize]
    }

    /// Append `null`.
    pub(crate) fn push_null(&mut self) {
        self.cells.push(Cell::Null);
    }

    /// Append a boolean.
    pub(crate) fn push_bool(&mut self, b: bool) {
        self.cells.push(Cell::Bool(b));
    }

    /// Append a whole number.
    pub(crate) fn push_int(&mut self, n: i64) {
        self.cells.push(Cell::Int(n));
    }

    /// Append a double; a non-finite one (which JSON cannot hold) is `null`,
    /// as `serde_json::Number::from_f64` makes it.
    pub(crate) fn push_float(&mut self, f: f64) {
        self.cells.push(if f.is_finite() {
            Cell::Float(f)
        } else {
            Cell::Null
        });
    }

    /// Append text.
    pub(crate) fn push_text(&mut self, s: &str) {
        let start = self.text.len();
        crate::row_json::push_short(&mut self.text, s);
        self.seal_text(start);
    }

    /// Append text written by `write` into the table's buffer (formatting
    /// straight into it, with no temporary string).
    pub(crate) fn push_text_with(&mut self, write: impl FnOnce(&mut String)) {
        let start = self.text.len();
        write(&mut self.text);
        self.seal_text(start);
    }

    fn seal_text(&mut self, start: usize) {
        // The buffer is bounded by the body cap, far below 4 GiB; past it a
        // cell would be unaddressable, so the text is dropped to null
        // rather than mis-addressed.
        match (u32::try_from(start), u32::try_from(self.text.len())) {
            (Ok(s), Ok(e)) => self.cells.push(Cell::Text(s, e)),
            _ => {
                self.text.truncate(start);
                self.cells.push(Cell::Null);
            }
        }
    }

    /// Append any JSON value, as the most specific cell.
    pub(crate) fn push_value(&mut self, value: Value) {
        match value {
            Value::Null => self.push_null(),
            Value::Bool(b) => self.push_bool(b),
            Value::Number(n) => match (n.as_i64(), n.as_f64()) {
                (Some(i), _) if n.is_i64() => self.push_int(i),
                (_, Some(f)) if n.is_f64() => self.push_float(f),
                // A u64 beyond i64: keep it exact as a nested value.
                _ => self.push_json(Value::Number(n)),
            },
            Value::String(s) => self.push_text(&s),
            other => self.push_json(other),
        }
    }

    /// Append a nested JSON value.
    pub(crate) fn push_json(&mut self, value: Value) {
        match u32::try_from(self.values.len()) {
            Ok(i) => {
                self.values.push(value);
                self.cells.push(Cell::Json(i));
            }
            Err(_) => self.cells.push(Cell::Null),
        }
    }

    /// The rows `order` names, in that order (text and nested values are
    /// kept as they are; only the cells move).
    pub(crate) fn select_rows(self, order: &[usize]) -> Table {
        let mut cells = Vec::with_capacity(order.len() * self.names.len());
        for &i in order {
            cells.extend_from_slice(self.row(i));
        }
        Table { cells, ..self }
    }

    /// Whether `found` holds for any text of the table: names, text cells
    /// or nested values (as JSON text).
    pub(crate) fn any_text(&self, found: impl Fn(&str) -> bool) -> bool {
        self.names.iter().any(|n| found(n))
            || found(&self.text)
            || self.values.iter().any(|v| found(&v.to_string()))
    }

    /// The table with every name, text cell and nested value passed through
    /// `clean` (which keeps JSON text JSON: it masks a credential an upstream
    /// echoed into the rows).
    pub(crate) fn cleaned(&self, clean: impl Fn(String) -> String) -> Table {
        let mut out = Table::new(self.names.iter().map(|n| clean(n.clone())).collect());
        out.reserve(self.rows(), self.text.len());
        for cell in &self.cells {
            match cell {
                Cell::Text(s, e) => out.push_text(&clean(self.text(*s, *e).to_owned())),
                Cell::Json(i) => {
                    let text = clean(self.value(*i).to_string());
                    out.push_json(serde_json::from_str(&text).unwrap_or(Value::Null));
                }
                other => out.cells.push(other.clone()),
            }
        }
        out
    }

    /// Reverse the order of the rows, in place.
    pub(crate) fn reverse_rows(&mut self) {
        let (width, rows) = (self.names.len(), self.rows());
        for i in 0..rows / 2 {
            let (front, back) = self.cells.split_at_mut((rows - 1 - i) * width);
            front[i * width..(i + 1) * width].swap_with_slice(&mut back[..width]);
        }
    }

    /// Append the first `rows` rows of `other` (a table with the same
    /// columns, decoded apart): its cells rebased onto this table's text and
    /// values. Only the text those rows use is copied.
    pub(crate) fn append(&mut self, other: Table, rows: usize) {
        let width = self.names.len();
        let cells = &other.cells[..(rows * width).min(other.cells.len())];
        if self.cells.is_empty() && cells.len() == other.cells.len() {
            // The whole of it, first: nothing to rebase.
            let names = std::mem::take(&mut self.names);
            *self = Table { names, ..other };
            return;
        }
        let whole = cells.len() == other.cells.len();
        let text_base = self.text.len();
        if whole {
            self.text.push_str(&other.text);
        }
        self.cells.reserve(cells.len());
        let mut values = other.values.into_iter().map(Some).collect::<Vec<_>>();
        for cell in cells {
            match *cell {
                Cell::Text(s, e) if whole => {
                    let moved = (
                        u32::try_from(s as usize + text_base),
                        u32::try_from(e as usize + text_base),
                    );
                    self.cells.push(match moved {
                        (Ok(s), Ok(e)) => Cell::Text(s, e),
                        _ => Cell::Null,
                    });
                }
                Cell::Text(s, e) => self.push_text(&other.text[s as usize..e as usize]),
                Cell::Json(i) => match values.get_mut(i as usize).and_then(Option::take) {
                    Some(value) => self.push_json(value),
                    None => self.cells.push(Cell::Null),
                },
                ref other => self.cells.push(other.clone()),
            }
        }
    }

    /// Drop the cells of a row begun but not finished (after an error
    /// part-way through it).
    pub(crate) fn truncate_rows(&mut self, rows: usize) {
        self.cells.truncate(rows * self.names.len());
    }

    /// Row `i` as a map, as the JSON response holds it.
    #[cfg(test)]
    pub(crate) fn row_map(&self, i: usize) -> Map<String, Value> {
        self.names
            .iter()
            .zip(self.row(i))
            .filter_map(|(name, cell)| Some((name.clone(), self.cell_value(cell)?)))
            .collect()
    }

    /// Every row as a map (tests compare rows this way).
    #[cfg(test)]
    pub(crate) fn to_maps(&self) -> Vec<Map<String, Value>> {
        (0..self.rows()).map(|i| self.row_map(i)).collect()
    }

    /// A cell as a JSON value (`None` for [`Cell::Absent`]).
    #[cfg(test)]
    pub(crate) fn cell_value(&self, cell: &Cell) -> Option<Value> {
        Some(match cell {
            Cell::Absent => return None,
            Cell::Null => Value::Null,
            Cell::Bool(b) => Value::Bool(*b),
            Cell::Int(n) => Value::from(*n),
            Cell::Float(f) => Value::from(*f),
            Cell::Text(s, e) => Value::String(self.text(*s, *e).to_owned()),
            Cell::Json(i) => self.value(*i).clone(),
        })
    }
}

/// One row, serialised through serde as the object the response holds: the
/// reference `row_json` is tested against (and how tests read tables).
#[cfg(test)]
pub(crate) struct RowRef<'t> {
    table: &'t Table,
    index: usize,
}

#[cfg(test)]
impl Serialize for RowRef<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let cells = self.table.row(self.index);
        let present = cells.iter().filter(|c| **c != Cell::Absent).count();
        let mut map = serializer.serialize_map(Some(present))?;
        for (name, cell) in self.table.names.iter().zip(cells) {
            match cell {
                Cell::Absent => continue,
                Cell::Null => map.serialize_entry(name, &())?,
                Cell::Bool(b) => map.serialize_entry(name, b)?,
                Cell::Int(n) => map.serialize_entry(name, n)?,
                Cell::Float(f) => map.serialize_entry(name, f)?,
                Cell::Text(s, e) => map.serialize_entry(name, self.table.text(*s, *e))?,
                Cell::Json(i) => map.serialize_entry(name, self.table.value(*i))?,
            }
        }
        map.end()
    }
}

/// The table serialises as the response's `rows`: an array of objects.
#[cfg(test)]
impl Serialize for Table {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let rows = self.rows();
        let mut seq = serializer.serialize_seq(Some(rows))?;
        for index in 0..rows {
            seq.serialize_element(&RowRef { table: self, index })?;
        }
        seq.end()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    /// Rows `from..to` of a two-column table: text, and a nested value on odd rows.
    fn part(from: usize, to: usize) -> Table {
        let mut t = Table::new(vec!["s".into(), "v".into()]);
        for i in from..to {
            t.push_text(&format!("row {i}"));
            if i % 2 == 1 {
                t.push_json(json!({"i": i}));
            } else {
                t.push_int(i as i64);
            }
        }
        t
    }

    #[test]
    fn appending_whole_and_cut_tables_keeps_every_cell() {
        let mut t = Table::new(vec!["s".into(), "v".into()]);
        t.append(part(0, 3), 3); // moved in whole
        t.append(part(3, 7), 4); // rebased
        t.append(part(7, 12), 2); // only its first two rows
        t.append(part(12, 13), 0); // nothing
        assert_eq!(t.to_maps(), part(0, 9).to_maps());
        // Only the text of the rows kept was copied.
        assert_eq!(t.text, part(0, 9).text);
    }

    #[test]
    fn serialises_as_row_objects() {
        let mut t = Table::new(vec!["date".into(), "close".into(), "n".into(), "v".into()]);
        t.push_text("2024-01-02");
        t.push_float(187.15);
        t.push_int(7);
        t.push_json(json!({"a": [1, 2]}));
        t.push_text_with(|s| s.push_str("2024-01-03"));
        t.push_float(f64::NAN);
        t.push_null();
        t.push_bool(true);
        assert_eq!(t.rows(), 2);
        assert_eq!(
            serde_json::to_value(&t).unwrap(),
            json!([
                {"date": "2024-01-02", "close": 187.15, "n": 7, "v": {"a": [1, 2]}},
                {"date": "2024-01-03", "close": null, "n": null, "v": true}
            ])
        );
        assert_eq!(t.row_map(1)["v"], json!(true));
    }

    #[test]
    fn maps_keep_their_fields_and_leave_out_missing_ones() {
        let rows = vec![
            json!({"a": 1, "b": "x"}).as_object().unwrap().clone(),
            json!({"c": 2.5, "a": u64::MAX})
                .as_object()
                .unwrap()
                .clone(),
        ];
        let t = Table::from_maps(rows);
        assert_eq!(t.names(), ["a", "b", "c"]);
        assert_eq!(
            serde_json::to_value(&t).unwrap(),
            json!([{"a": 1, "b": "x"}, {"a": u64::MAX, "c": 2.5}])
        );
    }

    #[test]
    fn cleaning_masks_every_text_and_keeps_the_shape() {
        let mut t = Table::new(vec!["a".into(), "KEY-x".into()]);
        t.push_text("has KEY-1 inside");
        t.push_json(json!({"k": "KEY-2"}));
        t.push_int(3);
        t.push_null();
        assert!(t.any_text(|s| s.contains("KEY-2")));
        assert!(!t.any_text(|s| s.contains("nowhere")));
        let c = t.cleaned(|s| s.replace("KEY-", "****"));
        assert_eq!(c.names(), ["a", "****x"]);
        assert_eq!(
            serde_json::to_value(&c).unwrap(),
            json!([{"a": "has ****1 inside", "****x": {"k": "****2"}}, {"a": 3, "****x": null}])
        );
    }

    #[test]
    fn rows_reverse_in_place() {
        for n in 0..6 {
            let mut t = Table::new(vec!["a".into(), "b".into()]);
            for i in 0..n {
                t.push_int(i);
                t.push_text(&i.to_string());
            }
            let want: Vec<_> = t.to_maps().into_iter().rev().collect();
            t.reverse_rows();
            assert_eq!(t.to_maps(), want, "{n} rows");
        }
    }

    #[test]
    fn an_empty_table_is_an_empty_array() {
        assert_eq!(serde_json::to_string(&Table::new(vec![])).unwrap(), "[]");
        assert_eq!(
            serde_json::to_string(&Table::new(vec!["a".into()])).unwrap(),
            "[]"
        );
    }
}
