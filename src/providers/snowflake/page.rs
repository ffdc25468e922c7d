//! Assembling one page of rows from a stored result: partition 0 from the
//! statement's answer, later partitions fetched with bounded parallelism
//! (in order), until the end, `max_rows`, or the response byte budget — then
//! the position of the next row, for the cursor.

use std::ops::Range;
use std::time::{Duration, Instant};

use futures_util::stream::{self, Stream, StreamExt};

use super::client::{Connection, ResultMeta, Rows, SnowflakeClient, partition_text_rows};
use super::decode::{RowDecoder, unique_names};
use crate::deadline::Deadline;
use crate::error::{AppError, ErrorKind};
use crate::row_renderer::RowRenderer;
use crate::table::Table;

/// Where a page's rows go, partition by partition, as the page takes them:
/// a [`RowRenderer`] renders them while later partitions still decode; a
/// [`Table`] holds them.
pub(crate) trait RowSink {
    /// The first `rows` rows of `table`.
    fn take(&mut self, table: Table, rows: usize);
}

impl RowSink for Table {
    fn take(&mut self, table: Table, rows: usize) {
        self.append(table, rows);
    }
}

impl RowSink for RowRenderer {
    fn take(&mut self, table: Table, rows: usize) {
        self.push(table, rows);
    }
}

/// How many rows a page took and where the next page starts (`None` when
/// complete).
#[derive(Debug, PartialEq)]
pub(crate) struct Paged {
    /// Rows handed to the sink.
    pub(crate) rows: usize,
    /// (partition, row offset) of the first row not included.
    pub(crate) next: Option<(usize, usize)>,
    /// Partitions requested.
    pub(crate) fetched: u32,
    /// Time spent waiting for them (wall clock, not decoding).
    pub(crate) waited: Duration,
}

/// Partitions `range`, requested concurrently (at most `concurrency` at
/// once) and yielded in partition order as each arrives, so the first is
/// decoded while the others are still on the wire.
pub(crate) fn fetch_partitions<'a>(
    client: &'a SnowflakeClient,
    conn: &'a Connection,
    handle: &'a str,
    range: Range<usize>,
    concurrency: usize,
    deadline: &'a Deadline,
) -> impl Stream<Item = Result<Rows, AppError>> + 'a {
    downloads(client, conn, handle, range, concurrency, deadline)
        .map(move |(n, body)| async move { client.rows_off_thread(n, body?).await })
        .buffered(concurrency.max(1))
}

/// [`fetch_partitions`] for a page: each body only gunzipped, for
/// [`collect`] to delimit and decode in one pass.
pub(crate) fn fetch_partition_texts<'a>(
    client: &'a SnowflakeClient,
    conn: &'a Connection,
    handle: &'a str,
    range: Range<usize>,
    concurrency: usize,
    deadline: &'a Deadline,
) -> impl Stream<Item = Result<Vec<u8>, AppError>> + 'a {
    downloads(client, conn, handle, range, concurrency, deadline)
        .map(move |(_, body)| async move { client.text_off_thread(body?).await })
        .buffered(concurrency.max(1))
}

/// The first of two stages: at most `concurrency` downloads in flight, each
/// slot free again as soon as its bytes are in; the caller inflates (and
/// delimits) on the blocking pool behind them.
fn downloads<'a>(
    client: &'a SnowflakeClient,
    conn: &'a Connection,
    handle: &'a str,
    range: Range<usize>,
    concurrency: usize,
    deadline: &'a Deadline,
) -> impl Stream<Item = (usize, Result<Vec<u8>, AppError>)> + 'a {
    stream::iter(range)
        .map(move |n| async move { (n, client.partition_body(conn, handle, n, deadline).await) })
        .buffered(concurrency.max(1))
}

/// The encoded size of a row, estimated from its JSON text and the names
/// that will key it (close to the JSON the decoder produces).
fn estimate(names: &[String], raw: &str) -> usize {
    raw.len() + names.iter().map(|n| n.len() + 4).sum::<usize>()
}

/// One partition's rows from `start`, decoded apart from the page (on the
/// blocking pool, while the next partitions download and decode), with each
/// row's estimated size for the page's byte budget.
struct Decoded {
    table: Table,
    /// The estimate of each decoded row, and of the row that failed (last).
    sizes: Vec<usize>,
    /// The row that failed to decode: raised only if the page reaches it.
    error: Option<AppError>,
    /// Rows in the partition.
    total: usize,
}

/// Decode rows `start..start + cap` of partition `p` from its gunzipped
/// body in one pass; a body that does not decode in that pass is delimited
/// and decoded by [`decode_partition`], which finds what is wrong with it
/// (and the row it is in) the same way for every partition.
fn decode_text(
    p: usize,
    text: Vec<u8>,
    expected: Option<usize>,
    start: usize,
    cap: usize,
    names: Vec<String>,
    decoder: &RowDecoder,
) -> Result<Decoded, AppError> {
    let overhead = names.iter().map(|n| n.len() + 4).sum::<usize>();
    // Room for the rows partitionInfo promises, but never more than the body
    // can hold (a row of n cells takes at least 3n + 1 bytes): a hostile
    // rowCount reserves nothing it does not send.
    let most = text.len() / (3 * names.len() + 1);
    let rows = expected.unwrap_or(0).saturating_sub(start).min(cap).min(most);
    let mut table = Table::new(names);
    table.reserve(rows, 0);
    let mut sizes = Vec::with_capacity(rows);
    let total = decoder.decode_partition_text(&text, start, cap, &mut table, &mut sizes);
    match total {
        Some(total) if expected.is_none_or(|e| e == total) && start <= total => {
            for size in &mut sizes {
                *size += overhead;
            }
            Ok(Decoded {
                table,
                sizes,
                error: None,
                total,
            })
        }
        _ => {
            let names = table.names().to_vec();
            drop(table);
            let rows = partition_text_rows(p, text)?;
            decode_partition(p, rows, expected, start, cap, names, decoder)
        }
    }
}

/// Decode rows `start..start + cap` of partition `p` (whose `partitionInfo`
/// promises `expected` rows).
fn decode_partition(
    p: usize,
    data: Rows,
    expected: Option<usize>,
    start: usize,
    cap: usize,
    names: Vec<String>,
    decoder: &RowDecoder,
) -> Result<Decoded, AppError> {
    check_count(p, &data, expected)?;
    if start > data.len() {
        return Err(AppError::bad_request(
            "invalid cursor: it points past the end of a partition",
        ));
    }
    let take = (data.len() - start).min(cap);
    let mut decoded = Decoded {
        table: Table::new(names),
        sizes: Vec::with_capacity(take),
        error: None,
        total: data.len(),
    };
    decoded.table.reserve(take, 0);
    for raw in data.iter().skip(start).take(take) {
        decoded.sizes.push(estimate(decoded.table.names(), raw));
        if let Err(err) = decoder.push_row(&mut decoded.table, raw) {
            decoded.error = Some(err);
            break;
        }
    }
    Ok(decoded)
}

/// A partition's body as the page gets it: partition 0 delimited from the
/// statement's answer, the others gunzipped downloads.
enum Body {
    Rows(Rows),
    Text(Vec<u8>),
}

/// Collect rows from `start` into `sink`; `fetch` streams a range of
/// partitions ≥ 1 in order. Each partition is decoded on the blocking pool as
/// it arrives, so decoding runs beside the downloads and beside the sink.
pub(crate) async fn collect<F, S>(
    meta: &ResultMeta,
    first: Rows,
    start: (usize, usize),
    max_rows: usize,
    budget: usize,
    fetch: F,
    sink: &mut impl RowSink,
) -> Result<Paged, AppError>
where
    F: Fn(Range<usize>) -> S,
    S: Stream<Item = Result<Vec<u8>, AppError>>,
{
    let parts = meta.partition_info.len().max(1);
    let (mut p, mut offset) = start;
    if p >= parts {
        return Err(AppError::bad_request(
            "invalid cursor: it points past the end of the result",
        ));
    }
    let size = |n: usize| {
        meta.partition_info
            .get(n)
            .and_then(|i| i.uncompressed_size)
            .unwrap_or(0) as usize
    };
    let count = |n: usize| meta.partition_info.get(n).map(|i| i.row_count);
    check_row_type(meta, &first)?;
    let names = unique_names(&meta.row_type);
    let decoder = std::sync::Arc::new(RowDecoder::new(&meta.row_type));
    let mut paged = Paged {
        rows: 0,
        next: None,
        fetched: 0,
        waited: Duration::ZERO,
    };
    let mut first = Some(first);
    let mut batch = None;
    let mut bytes = 0usize;
    while p < parts {
        let rows = paged.rows;
        if rows >= max_rows || (bytes >= budget && rows > 0) {
            paged.next = Some((p, offset));
            return Ok(paged);
        }
        let decoded = {
            if batch.as_ref().is_none_or(|(end, _)| p >= *end) {
                // Every partition the page can use: while they fit the byte
                // budget and `max_rows` wants more rows. One stream, so the
                // next download starts as soon as one is done (at most
                // `concurrency` in flight, and as many decoded ahead), and
                // partition 0 (inline in the answer) decodes beside them.
                let room = budget.saturating_sub(bytes);
                let mut end = p + 1;
                let mut planned = size(p);
                let mut wanted = count(p).unwrap_or(0).saturating_sub(offset);
                while end < parts
                    && rows + wanted < max_rows
                    && planned.saturating_add(size(end)) <= room
                {
                    planned = planned.saturating_add(size(end));
                    wanted += count(end).unwrap_or(0);
                    end += 1;
                }
                let inline = if p == 0 { first.take() } else { None };
                let from = if p == 0 { 1 } else { p };
                paged.fetched += end.saturating_sub(from) as u32;
                // Each partition of the batch: its first row, the rows the
                // page can still take, and the rows partitionInfo promises.
                let mut plan = Vec::with_capacity(end - p);
                let mut before = rows;
                for n in p..end {
                    let start = if n == p { offset } else { 0 };
                    plan.push((n, start, max_rows.saturating_sub(before), count(n)));
                    before += count(n).unwrap_or(0).saturating_sub(start);
                }
                let downloads = stream::iter((from < end).then(|| fetch(from..end)))
                    .flatten()
                    .map(|got| got.map(Body::Text));
                let bodies = stream::iter(inline.map(|rows| Ok(Body::Rows(rows)))).chain(downloads);
                let names = names.clone();
                let decoder = decoder.clone();
                let decoding = bodies
                    .zip(stream::iter(plan))
                    .map(move |(got, (n, start, cap, expected))| {
                        let names = names.clone();
                        let decoder = decoder.clone();
                        async move {
                            let body = got?;
                            tokio::task::spawn_blocking(move || match body {
                                Body::Rows(rows) => {
                                    decode_partition(n, rows, expected, start, cap, names, &decoder)
                                }
                                Body::Text(text) => {
                                    decode_text(n, text, expected, start, cap, names, &decoder)
                                }
                            })
                            .await
                            .map_err(|_| {
                                AppError::internal("decoding a Snowflake partition failed")
                            })?
                        }
                    })
                    // Decoded ahead without a bound of its own: the plan
                    // is already bounded by the byte budget, and a full
                    // decode queue would stall the downloads behind it.
                    .buffered(end - p);
                batch = Some((end, Box::pin(decoding)));
            }
            let waiting = Instant::now();
            let next = match batch.as_mut() {
                Some((_, stream)) => stream.next().await,
                None => None,
            };
            paged.waited += waiting.elapsed();
            match next {
                Some(decoded) => decoded?,
                // A stream that ends early leaves the partition empty,
                // which its partitionInfo then refuses.
                None => decode_partition(
                    p,
                    Rows::default(),
                    count(p),
                    offset,
                    0,
                    Vec::new(),
                    &decoder,
                )?,
            }
        };
        let Decoded {
            table,
            sizes,
            mut error,
            total,
        } = decoded;
        let mut take = 0;
        for (k, &est) in sizes.iter().enumerate() {
            let rows = paged.rows + take;
            if rows >= max_rows || (bytes + est > budget && rows > 0) {
                sink.take(table, take);
                paged.rows += take;
                paged.next = Some((p, offset + k));
                return Ok(paged);
            }
            bytes += est;
            // The last size is the failed row's, when one failed.
            if k + 1 == sizes.len()
                && let Some(err) = error.take()
            {
                return Err(err);
            }
            take += 1;
        }
        sink.take(table, take);
        paged.rows += take;
        if offset + take < total {
            // `max_rows` ended the page inside this partition.
            paged.next = Some((p, offset + take));
            return Ok(paged);
        }
        offset = 0;
        p += 1;
    }
    Ok(paged)
}

/// Rows need a `rowType` to decode them.
fn check_row_type(meta: &ResultMeta, first: &Rows) -> Result<(), AppError> {
    if meta.row_type.is_empty() && (!first.is_empty() || meta.num_rows > 0) {
        return Err(AppError::new(
            ErrorKind::UpstreamFailed,
            "Snowflake sent rows without a rowType to decode them",
        ));
    }
    Ok(())
}

/// Partition `p` must hold the rows its `partitionInfo` promises.
fn check_partition(meta: &ResultMeta, p: usize, data: &Rows) -> Result<(), AppError> {
    check_count(p, data, meta.partition_info.get(p).map(|i| i.row_count))
}

/// Partition `p` must hold the `expected` rows (when known).
fn check_count(p: usize, data: &Rows, expected: Option<usize>) -> Result<(), AppError> {
    match expected {
        Some(row_count) if row_count != data.len() => Err(AppError::new(
            ErrorKind::UpstreamFailed,
            format!(
                "Snowflake partition {p} holds {} rows where its partitionInfo says {}",
                data.len(),
                row_count
            ),
        )),
        _ => Ok(()),
    }
}

/// What streaming a whole result did.
#[derive(Debug, PartialEq)]
pub(crate) struct Streamed {
    /// Rows handed to the sink.
    pub(crate) rows: usize,
    /// Partitions requested.
    pub(crate) fetched: u32,
    /// Time spent waiting for them.
    pub(crate) waited: Duration,
}

/// Every row of a result from the start, up to `max_rows`, handed to `sink`
/// one decoded partition at a time, in order; `fetch` streams partitions
/// ≥ 1 (requested ahead with bounded parallelism while the sink works).
pub(crate) async fn stream<F, S>(
    meta: &ResultMeta,
    first: Rows,
    max_rows: usize,
    fetch: F,
    mut sink: impl AsyncFnMut(&Table) -> Result<(), AppError>,
) -> Result<Streamed, AppError>
where
    F: FnOnce(Range<usize>) -> S,
    S: Stream<Item = Result<Rows, AppError>>,
{
    check_row_type(meta, &first)?;
    let parts = meta.partition_info.len().max(1);
    let names = unique_names(&meta.row_type);
    let decoder = RowDecoder::new(&meta.row_type);
    let mut done = Streamed {
        rows: 0,
        fetched: 0,
        waited: Duration::ZERO,
    };
    let mut rest = None;
    let mut fetch = Some(fetch);
    let mut first = Some(first);
    for p in 0..parts {
        if done.rows >= max_rows {
            break;
        }
        let data = if p == 0 {
            first.take().unwrap_or_default()
        } else {
            if rest.is_none() {
                let n = if max_rows == usize::MAX { parts - 1 } else {
                    // Only the partitions `max_rows` can reach.
                    let mut need = 0;
                    let mut rows = done.rows;
                    while p + need < parts && rows < max_rows {
                        rows += meta.partition_info.get(p + need).map_or(0, |i| i.row_count);
                        need += 1;
                    }
                    need
                };
                done.fetched = n as u32;
                rest = fetch.take().map(|f| Box::pin(f(p..p + n)));
            }
            let waiting = Instant::now();
            let next = match rest.as_mut() {
                Some(stream) => stream.next().await,
                None => None,
            };
            done.waited += waiting.elapsed();
            next.transpose()?.unwrap_or_default()
        };
        check_partition(meta, p, &data)?;
        let take = data.len().min(max_rows - done.rows);
        let mut table = Table::new(names.clone());
        table.reserve(take, 0);
        for raw in data.iter().take(take) {
            decoder.push_row(&mut table, raw)?;
        }
        drop(data);
        done.rows += table.rows();
        sink(&table).await?;
    }
    Ok(done)
}

/// `numRowsInserted` → `num_rows_inserted`.
pub(crate) fn snake(name: &str) -> String {
    let mut out = String::with_capacity(name.len() + 4);
    for c in name.chars() {
        if c.is_ascii_uppercase() {
            if !out.is_empty() {
                out.push('_');
            }
            out.push(c.to_ascii_lowercase());
        } else {
            out.push(c);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::super::decode::RowType;
    use super::*;
    use proptest::prelude::*;
    use serde_json::{Value, json};
    use std::cell::RefCell;

    /// A cell as a partition may hold it: text (escapes and control
    /// characters included), null, or JSON that is not Snowflake's text form.
    fn any_cell() -> impl Strategy<Value = Value> {
        prop_oneof![
            4 => ".{0,10}".prop_map(Value::from),
            1 => "[a\\\"\n\t\u{1}é]{0,6}".prop_map(Value::from),
            1 => Just(Value::Null),
            1 => any::<i32>().prop_map(Value::from),
            1 => Just(json!([1, {"a": "b"}])),
        ]
    }

    #[test]
    fn a_hostile_row_count_reserves_nothing_the_body_does_not_hold() {
        let row_type: Vec<RowType> = serde_json::from_value(json!([{"name": "V", "type": "text"}])).unwrap();
        let decoder = RowDecoder::new(&row_type);
        let names = vec!["V".to_owned()];
        let text = br#"[["a"],["b"]]"#.to_vec();
        let err = decode_text(3, text, Some(usize::MAX / 2), 0, usize::MAX, names, &decoder)
            .err()
            .expect("the count disagrees");
        assert_eq!(err.kind(), ErrorKind::UpstreamFailed);
        assert!(err.message().contains("partitionInfo"), "{}", err.message());
    }

    #[test]
    fn a_partition_is_decoded_in_one_pass_when_it_is_well_formed() {
        let row_type: Vec<RowType> = serde_json::from_value(json!([{"name": "V", "type": "text"}])).unwrap();
        let decoder = RowDecoder::new(&row_type);
        let text = br#"{"data": [["a"],["b\"c"],[null],["d"]], "other": {}}"#;
        let (mut table, mut sizes) = (Table::new(vec!["V".into()]), Vec::new());
        let total = decoder.decode_partition_text(text, 1, 2, &mut table, &mut sizes);
        assert_eq!(total, Some(4));
        assert_eq!(serde_json::to_value(&table).unwrap(), json!([{"V": "b\"c"}, {"V": null}]));
        assert_eq!(sizes, [r#"["b\"c"]"#.len(), "[null]".len()]);
        // A row of the wrong width, a second `data`, or anything after the
        // rows leaves it to the delimited path.
        for bad in [&br#"[["a"],["b","c"]]"#[..], br#"{"data": [], "data": []}"#, br#"[["a"]] x"#] {
            let (mut table, mut sizes) = (Table::new(vec!["V".into()]), Vec::new());
            assert_eq!(decoder.decode_partition_text(bad, 0, 9, &mut table, &mut sizes), None);
        }
    }

    proptest! {
        #![proptest_config(crate::properties::config(400))]

        /// The one-pass decoder gives what delimiting and decoding row by
        /// row gives, for any body (rows of the wrong width, bodies that do
        /// not parse, counts that disagree and starts past the end too), and
        /// the same size for each row of compact JSON.
        #[test]
        fn one_pass_decoding_agrees_with_delimited_decoding(
            rows in prop::collection::vec(prop::collection::vec(any_cell(), 2), 0..10),
            odd_row in proptest::option::of((0usize..10, prop::collection::vec(any_cell(), 0..4))),
            shape in 0u8..4,
            start in 0usize..12,
            cap in 0usize..12,
            count_off in -1i64..=1,
            cut in proptest::option::of(0usize..400),
        ) {
            let mut rows = rows;
            if let Some((at, cells)) = odd_row && at < rows.len() {
                rows[at] = cells;
            }
            let data = Value::from(rows.iter().map(|r| Value::from(r.clone())).collect::<Vec<_>>());
            let mut text = match shape {
                0 => serde_json::to_vec(&data).unwrap(),
                1 => serde_json::to_vec(&json!({"data": data})).unwrap(),
                2 => serde_json::to_vec_pretty(&json!({"data": data, "x": [1]})).unwrap(),
                _ => serde_json::to_vec(&json!({"x": {"data": 1}, "data": data})).unwrap(),
            };
            if let Some(cut) = cut {
                text.truncate(cut);
            }
            let expected = usize::try_from(rows.len() as i64 + count_off).ok();
            let column = |name: &str, kind: &str| RowType {
                name: name.into(),
                kind: kind.into(),
                scale: None,
                precision: None,
                nullable: None,
            };
            let row_type = [column("A", "text"), column("B", "variant")];
            let names = unique_names(&row_type);
            let decoder = RowDecoder::new(&row_type);
            let fast = decode_text(1, text.clone(), expected, start, cap, names.clone(), &decoder);
            let slow = partition_text_rows(1, text)
                .and_then(|rows| decode_partition(1, rows, expected, start, cap, names, &decoder));
            match (fast, slow) {
                (Ok(f), Ok(s)) => {
                    prop_assert_eq!(&f.table, &s.table);
                    prop_assert_eq!(f.total, s.total);
                    prop_assert_eq!(f.error.map(|e| e.message().to_owned()), s.error.map(|e| e.message().to_owned()));
                    if shape != 2 {
                        prop_assert_eq!(f.sizes, s.sizes);
                    }
                }
                (Err(f), Err(s)) => prop_assert_eq!(f.message(), s.message()),
                (f, s) => prop_assert!(false, "one pass {:?}, delimited {:?}", f.map(|d| d.total), s.map(|d| d.total)),
            }
        }
    }

    /// 3 partitions of 4 rows: values "p.r".
    fn meta() -> ResultMeta {
        serde_json::from_value(json!({
            "numRows": 12,
            "partitionInfo": [{"rowCount": 4, "uncompressedSize": 100}, {"rowCount": 4, "uncompressedSize": 100}, {"rowCount": 4, "uncompressedSize": 100}],
            "rowType": [{"name": "V", "type": "text"}]
        }))
        .unwrap()
    }

    /// `collect` into a table.
    async fn collect_table<F, S>(
        meta: &ResultMeta,
        first: Rows,
        start: (usize, usize),
        max_rows: usize,
        budget: usize,
        fetch: F,
    ) -> (Table, Result<Paged, AppError>)
    where
        F: Fn(Range<usize>) -> S,
        S: Stream<Item = Result<Vec<u8>, AppError>>,
    {
        let mut rows = Table::new(unique_names(&meta.row_type));
        let paged = collect(meta, first, start, max_rows, budget, fetch, &mut rows).await;
        (rows, paged)
    }

    /// Partition `p`'s body as Snowflake sends it (after gunzip).
    fn partition_text(p: usize) -> Vec<u8> {
        let rows: Vec<String> = (0..4).map(|r| format!(r#"["{p}.{r}"]"#)).collect();
        format!(r#"{{"data": [{}]}}"#, rows.join(", ")).into_bytes()
    }

    fn partition(p: usize) -> Rows {
        let rows: Vec<String> = (0..4).map(|r| format!(r#"["{p}.{r}"]"#)).collect();
        Rows::from_texts(rows.iter().map(String::as_str))
    }

    async fn run(
        start: (usize, usize),
        max_rows: usize,
        budget: usize,
    ) -> (Vec<String>, Option<(usize, usize)>, Vec<Range<usize>>) {
        let calls = RefCell::new(Vec::new());
        let fetch = |r: Range<usize>| {
            calls.borrow_mut().push(r.clone());
            stream::iter(r.map(|p| Ok(partition_text(p))))
        };
        let (rows, paged) = collect_table(&meta(), partition(0), start, max_rows, budget, fetch).await;
        let paged = paged.unwrap();
        let values = rows
            .to_maps()
            .iter()
            .map(|r| r["V"].as_str().unwrap().to_owned())
            .collect();
        (values, paged.next, calls.into_inner())
    }

    /// `parts` partitions of 4 rows.
    fn meta_of(parts: usize) -> ResultMeta {
        let info: Vec<_> = (0..parts)
            .map(|_| json!({"rowCount": 4, "uncompressedSize": 100}))
            .collect();
        serde_json::from_value(json!({
            "numRows": parts * 4,
            "partitionInfo": info,
            "rowType": [{"name": "V", "type": "text"}]
        }))
        .unwrap()
    }

    #[tokio::test]
    async fn every_page_size_reads_every_row_once_in_order() {
        let parts = 25;
        let meta = meta_of(parts);
        let want: Vec<String> = (0..parts)
            .flat_map(|p| (0..4).map(move |r| format!("{p}.{r}")))
            .collect();
        for max_rows in [1, 3, 4, 5, 10, 11, 16, 40, 99] {
            let mut got = Vec::new();
            let mut start = (0, 0);
            for _ in 0..200 {
                let fetch = |r: Range<usize>| stream::iter(r.map(|p| Ok(partition_text(p))));
                let first = if start.0 == 0 { partition(0) } else { Rows::default() };
                let (rows, paged) =
                    collect_table(&meta, first, start, max_rows, usize::MAX, fetch).await;
                let paged = paged.unwrap();
                assert!(rows.rows() <= max_rows);
                assert_eq!(rows.rows(), paged.rows);
                got.extend(rows.to_maps().iter().map(|r| r["V"].as_str().unwrap().to_owned()));
                match paged.next {
                    Some(next) => start = next,
                    None => break,
                }
            }
            assert_eq!(got, want, "max_rows {max_rows}");
        }
    }

    #[tokio::test]
    async fn whole_result_in_order() {
        let (values, next, calls) = run((0, 0), usize::MAX, usize::MAX).await;
        assert_eq!(values.len(), 12);
        assert_eq!(values[0], "0.0");
        assert_eq!(values[11], "2.3");
        assert_eq!(next, None);
        assert_eq!(calls, vec![1..3], "partitions 1 and 2 fetched together");
    }

    #[tokio::test]
    async fn a_page_requests_its_partitions_as_one_stream() {
        let calls = RefCell::new(Vec::new());
        let fetch = |r: Range<usize>| {
            calls.borrow_mut().push(r.clone());
            stream::iter(r.map(|p| Ok(partition_text(p))))
        };
        let (rows, paged) =
            collect_table(&meta(), partition(0), (0, 0), usize::MAX, usize::MAX, fetch).await;
        let paged = paged.unwrap();
        assert_eq!((rows.rows(), paged.rows), (12, 12));
        assert_eq!(paged.next, None);
        assert_eq!(paged.fetched, 2);
        // The stream bounds the downloads in flight; the page asks once.
        assert_eq!(calls.into_inner(), vec![1..3]);
    }

    #[tokio::test]
    async fn a_partition_stream_that_ends_early_is_an_upstream_fault() {
        let fetch = |_r: Range<usize>| stream::iter(vec![Ok(partition_text(1))]);
        let (_, paged) =
            collect_table(&meta(), partition(0), (0, 0), usize::MAX, usize::MAX, fetch).await;
        let err = paged.unwrap_err();
        assert_eq!(err.kind(), ErrorKind::UpstreamFailed);
    }

    #[tokio::test]
    async fn max_rows_pages_and_resumes_exactly() {
        let (first, next, _) = run((0, 0), 5, usize::MAX).await;
        assert_eq!(first, ["0.0", "0.1", "0.2", "0.3", "1.0"]);
        assert_eq!(next, Some((1, 1)));
        let (second, next, calls) = run((1, 1), 5, usize::MAX).await;
        assert_eq!(second, ["1.1", "1.2", "1.3", "2.0", "2.1"]);
        assert_eq!(next, Some((2, 2)));
        assert_eq!(calls, vec![1..3]);
        let (third, next, _) = run((2, 2), 5, usize::MAX).await;
        assert_eq!(third, ["2.2", "2.3"]);
        assert_eq!(next, None);
    }

    #[tokio::test]
    async fn stopping_at_a_partition_boundary_fetches_nothing_more() {
        let (values, next, calls) = run((0, 0), 4, usize::MAX).await;
        assert_eq!(values.len(), 4);
        assert_eq!(next, Some((1, 0)));
        assert!(calls.is_empty());
    }

    #[tokio::test]
    async fn byte_budget_pages_and_always_makes_progress() {
        let (values, next, _) = run((0, 0), usize::MAX, 30).await;
        assert_eq!(values.len(), 2, "each row is ~13 bytes");
        assert_eq!(next, Some((0, 2)));
        let (values, next, _) = run((0, 0), usize::MAX, 1).await;
        assert_eq!(
            values.len(),
            1,
            "a row larger than the budget still goes out alone"
        );
        assert_eq!(next, Some((0, 1)));
    }

    #[tokio::test]
    async fn cursor_past_the_end_is_rejected() {
        let fetch = |_r: Range<usize>| stream::iter(Vec::<Result<Vec<u8>, AppError>>::new());
        assert!(collect_table(&meta(), partition(0), (3, 0), 1, 1, fetch).await.1.is_err());
        let fetch = |r: Range<usize>| stream::iter(r.map(|p| Ok(partition_text(p))));
        assert!(collect_table(&meta(), partition(0), (1, 9), 1, 1, fetch).await.1.is_err());
    }

    #[test]
    fn snake_case() {
        assert_eq!(snake("numRowsInserted"), "num_rows_inserted");
        assert_eq!(
            snake("numDuplicateRowsUpdated"),
            "num_duplicate_rows_updated"
        );
    }
}
