//! The benchmark's Snowflake floor (`scripts/bench`): one process that
//! downloads every partition of a stored result from the Snowflake stand-in
//! in parallel (reqwest, the same gzip bytes the function gets), then
//! repeatedly gunzips, parses (serde_json, borrowing strings where it can)
//! and re-serialises them (serde_json). Nothing else: no types, no column
//! names, no response envelope — the cost any implementation must pay.
//!
//! `sf_floor BASE_URL HANDLE PARTITIONS TOKEN [ITERATIONS] [SECONDS]`
//! (TOKEN: a programmatic access token the stand-in accepts). Prints one
//! JSON line: rows, bytes, `download_ms` (all partitions, in parallel) and
//! `decode_ms` per iteration (gunzip + parse + serialise of all partitions).

use std::borrow::Cow;
use std::io::Read;
use std::time::{Duration, Instant};

use flate2::read::GzDecoder;
use serde::{Deserialize, Serialize};

#[derive(Deserialize, Serialize)]
struct Cell<'a>(#[serde(borrow)] Cow<'a, str>);

#[derive(Deserialize)]
struct Partition<'a> {
    #[serde(borrow)]
    data: Vec<Vec<Option<Cell<'a>>>>,
}

type Failure = Box<dyn std::error::Error + Send + Sync>;

async fn download(
    http: &reqwest::Client,
    url: String,
    token: &str,
) -> Result<(bool, Vec<u8>), Failure> {
    let resp = http
        .get(url)
        .bearer_auth(token)
        .header(
            "X-Snowflake-Authorization-Token-Type",
            "PROGRAMMATIC_ACCESS_TOKEN",
        )
        .header("Accept", "application/json")
        .header("Accept-Encoding", "gzip")
        .header("User-Agent", "sf-floor/1")
        .send()
        .await?
        .error_for_status()?;
    let gzip = resp
        .headers()
        .get("content-encoding")
        .is_some_and(|v| v.as_bytes().eq_ignore_ascii_case(b"gzip"));
    Ok((gzip, resp.bytes().await?.to_vec()))
}

/// Gunzip, parse and re-serialise every partition: (rows, JSON bytes in, bytes out).
fn decode(parts: &[(bool, Vec<u8>)]) -> Result<(usize, usize, usize), Failure> {
    let (mut rows, mut json_in, mut out_len) = (0, 0, 0);
    let mut plain = Vec::new();
    let mut out = Vec::new();
    for (gzip, body) in parts {
        let text: &[u8] = if *gzip {
            plain.clear();
            GzDecoder::new(body.as_slice()).read_to_end(&mut plain)?;
            &plain
        } else {
            body
        };
        let part: Partition = serde_json::from_slice(text)?;
        rows += part.data.len();
        json_in += text.len();
        out.clear();
        serde_json::to_writer(&mut out, &part.data)?;
        out_len += out.len();
    }
    Ok((rows, json_in, out_len))
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Failure> {
    let args: Vec<String> = std::env::args().collect();
    if args.len() < 5 {
        return Err(
            "usage: sf_floor BASE_URL HANDLE PARTITIONS TOKEN [ITERATIONS] [SECONDS]".into(),
        );
    }
    let (base, handle, token) = (&args[1], &args[2], &args[4]);
    let partitions: usize = args[3].parse()?;
    let iterations: usize = args.get(5).map_or(Ok(5), |s| s.parse())?;
    let seconds: f64 = args.get(6).map_or(Ok(10.0), |s| s.parse())?;
    let http = reqwest::Client::builder()
        .timeout(Duration::from_secs(60))
        .build()?;

    let started = Instant::now();
    let downloads = (0..partitions).map(|i| {
        let url = format!("{base}/api/v2/statements/{handle}?partition={i}");
        download(&http, url, token)
    });
    let parts = futures_util::future::join_all(downloads)
        .await
        .into_iter()
        .collect::<Result<Vec<_>, _>>()?;
    let download_ms = started.elapsed().as_secs_f64() * 1000.0;

    let deadline = Instant::now() + Duration::from_secs_f64(seconds);
    let mut decode_ms = Vec::new();
    let mut counts = (0, 0, 0);
    for i in 0..iterations.max(1) {
        if i > 0 && Instant::now() > deadline {
            break;
        }
        let t = Instant::now();
        counts = decode(&parts)?;
        decode_ms.push(t.elapsed().as_secs_f64() * 1000.0);
    }
    let hwm_kib = std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("VmHWM:"))
                .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
        });
    let gzip_bytes: usize = parts.iter().map(|(_, b)| b.len()).sum();
    let report = serde_json::json!({
        "rows": counts.0,
        "partitions": partitions,
        "gzip_bytes": gzip_bytes,
        "json_bytes": counts.1,
        "serialised_bytes": counts.2,
        "download_ms": download_ms,
        "decode_ms": decode_ms,
        "hwm_kib": hwm_kib,
    });
    println!("{report}");
    Ok(())
}
