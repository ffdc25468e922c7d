//! Logs and metrics.
//!
//! Logs are JSON lines through `tracing-subscriber`: a timestamp, `level`
//! (which Lambda's log filtering reads), the message and fields flattened,
//! and the invocation span (`requestId`, `xrayTraceId`, `trigger`,
//! `provider`). The level comes from `AWS_LAMBDA_LOG_LEVEL` (set by the
//! function's logging config), else `RUST_LOG`, else INFO. Wire-level crates
//! are capped at INFO whatever the level, because at DEBUG/TRACE they can
//! print request URLs, headers or bodies — and the Alpha Vantage key travels
//! in the query string. Event bodies and headers are never logged.
//!
//! Metrics are one CloudWatch Embedded Metric Format line per invocation,
//! written straight to stdout.

use std::io::Write;
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde::Serialize;
#[cfg(test)]
use serde_json::Value;
use tracing_subscriber::filter::Targets;
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;

use crate::secrets::CacheStatus;

/// Crates whose DEBUG/TRACE output can carry URLs, headers or bodies.
const WIRE_CRATES: [&str; 10] = [
    "hyper",
    "hyper_util",
    "reqwest",
    "rustls",
    "aws_smithy_runtime",
    "aws_smithy_http_client",
    "aws_smithy_http",
    "aws_sigv4",
    "aws_config",
    "lambda_runtime_api_client",
];

/// The filter directives for a level setting (`AWS_LAMBDA_LOG_LEVEL` or
/// `RUST_LOG` syntax).
pub(crate) fn filter_directives(setting: Option<&str>) -> String {
    let setting = setting
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .unwrap_or("info");
    let base = match setting.to_ascii_lowercase().as_str() {
        "fatal" | "critical" => "error".to_owned(),
        "warning" => "warn".to_owned(),
        other => other.to_owned(),
    };
    let mut directives = base;
    for krate in WIRE_CRATES {
        directives.push_str(&format!(",{krate}=info"));
    }
    // The runtime logs raw events at TRACE.
    directives.push_str(",lambda_runtime=debug");
    directives
}

/// Install the JSON subscriber on stdout. Call once, first thing in `main`.
pub fn init() {
    let setting = std::env::var("AWS_LAMBDA_LOG_LEVEL")
        .ok()
        .or_else(|| std::env::var("RUST_LOG").ok());
    let filter = directives(setting.as_deref());
    tracing_subscriber::fmt()
        .json()
        .flatten_event(true)
        .with_current_span(true)
        .with_span_list(false)
        .with_target(true)
        .with_ansi(false)
        .with_max_level(tracing::Level::TRACE)
        .with_writer(std::io::stdout)
        .finish()
        .with(filter)
        .init();
}

/// The filter for a level setting; an invalid one falls back to `info`.
/// `Targets` takes `RUST_LOG`'s `target=level` directives without the
/// regular-expression engine `EnvFilter` brings (about 1 MB of binary).
fn directives(setting: Option<&str>) -> Targets {
    filter_directives(setting)
        .parse()
        .unwrap_or_else(|_| filter_directives(None).parse().unwrap_or_default())
}

/// Replace the default panic hook, which prints the panic message — and a
/// message can quote the input that caused it, upstream text included — with
/// one that logs only where the panic happened. The handler turns the panic
/// itself into an `internal` error.
pub fn install_panic_hook() {
    std::panic::set_hook(Box::new(|info| {
        let location = info
            .location()
            .map(|l| format!("{}:{}", l.file(), l.line()))
            .unwrap_or_default();
        tracing::error!(
            location = %location,
            "panic in the handler (its message is withheld: it may quote input)"
        );
    }));
}

/// Counters for one invocation.
#[derive(Debug, Default)]
pub(crate) struct InvocationStats {
    secret_hits: AtomicU32,
    secret_stale: AtomicU32,
    secret_fetches: AtomicU32,
    upstream_calls: AtomicU32,
    upstream_micros: AtomicU64,
    upstream_cache_hits: AtomicU32,
    outputs_written: AtomicU32,
    outputs_skipped: AtomicU32,
}

impl InvocationStats {
    /// Count a secret lookup.
    pub(crate) fn record_secret(&self, status: CacheStatus) {
        match status {
            CacheStatus::Hit => self.secret_hits.fetch_add(1, Ordering::Relaxed),
            CacheStatus::Stale => {
                self.secret_hits.fetch_add(1, Ordering::Relaxed);
                self.secret_stale.fetch_add(1, Ordering::Relaxed)
            }
            CacheStatus::Miss | CacheStatus::Refreshed => {
                self.secret_fetches.fetch_add(1, Ordering::Relaxed)
            }
        };
    }

    /// Count an upstream call and its latency.
    pub(crate) fn record_upstream(&self, took: Duration) {
        self.upstream_calls.fetch_add(1, Ordering::Relaxed);
        self.upstream_micros.fetch_add(
            took.as_micros().min(u64::MAX as u128) as u64,
            Ordering::Relaxed,
        );
    }

    /// Count `calls` upstream calls that ran together in `took` (wall time).
    pub(crate) fn record_upstream_batch(&self, calls: u32, took: Duration) {
        self.upstream_calls.fetch_add(calls, Ordering::Relaxed);
        self.upstream_micros.fetch_add(
            took.as_micros().min(u64::MAX as u128) as u64,
            Ordering::Relaxed,
        );
    }

    /// Count an answer served from an upstream cache (no upstream call).
    pub(crate) fn record_upstream_cache_hit(&self) {
        self.upstream_cache_hits.fetch_add(1, Ordering::Relaxed);
    }

    /// Answers served from an upstream cache.
    pub(crate) fn upstream_cache_hits(&self) -> u32 {
        self.upstream_cache_hits.load(Ordering::Relaxed)
    }

    /// Count an `output` object: written, or found there already.
    pub(crate) fn record_output(&self, written: bool) {
        let counter = if written {
            &self.outputs_written
        } else {
            &self.outputs_skipped
        };
        counter.fetch_add(1, Ordering::Relaxed);
    }

    /// `output` objects written.
    pub(crate) fn outputs_written(&self) -> u32 {
        self.outputs_written.load(Ordering::Relaxed)
    }

    /// `output` objects that were there already (nothing written).
    pub(crate) fn outputs_skipped(&self) -> u32 {
        self.outputs_skipped.load(Ordering::Relaxed)
    }

    /// Secret lookups served from the cache.
    pub(crate) fn secret_hits(&self) -> u32 {
        self.secret_hits.load(Ordering::Relaxed)
    }

    /// Secret lookups that called Secrets Manager.
    pub(crate) fn secret_stale(&self) -> u32 {
        self.secret_stale.load(Ordering::Relaxed)
    }

    /// Secret lookups fetched from Secrets Manager.
    pub(crate) fn secret_fetches(&self) -> u32 {
        self.secret_fetches.load(Ordering::Relaxed)
    }

    /// Upstream calls made.
    pub(crate) fn upstream_calls(&self) -> u32 {
        self.upstream_calls.load(Ordering::Relaxed)
    }

    /// Total upstream latency.
    pub(crate) fn upstream_latency(&self) -> Duration {
        Duration::from_micros(self.upstream_micros.load(Ordering::Relaxed))
    }
}

/// What one invocation reports as metrics.
#[derive(Debug)]
pub(crate) struct InvocationReport<'a> {
    pub(crate) namespace: &'a str,
    pub(crate) service: &'a str,
    pub(crate) provider: &'a str,
    pub(crate) trigger: &'a str,
    pub(crate) request_id: &'a str,
    pub(crate) cold_start: bool,
    pub(crate) rows: usize,
    pub(crate) duration: Duration,
    pub(crate) error_kind: Option<&'a str>,
    pub(crate) stats: &'a InvocationStats,
}

fn millis(d: Duration) -> f64 {
    (d.as_secs_f64() * 1000.0 * 1000.0).round() / 1000.0
}

/// One metric of the EMF directive.
#[derive(Serialize)]
struct Metric {
    #[serde(rename = "Name")]
    name: &'static str,
    #[serde(rename = "Unit")]
    unit: &'static str,
}

const fn metric(name: &'static str, unit: &'static str) -> Metric {
    Metric { name, unit }
}

/// Every metric the EMF line carries, in order.
const METRICS: [Metric; 12] = [
    metric("Rows", "Count"),
    metric("UpstreamLatency", "Milliseconds"),
    metric("UpstreamCalls", "Count"),
    metric("UpstreamCacheHits", "Count"),
    metric("OutputsWritten", "Count"),
    metric("OutputsSkipped", "Count"),
    metric("SecretCacheHit", "Count"),
    metric("SecretCacheMiss", "Count"),
    metric("SecretStaleServed", "Count"),
    metric("Errors", "Count"),
    metric("Duration", "Milliseconds"),
    metric("ColdStart", "Count"),
];

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
struct Directive<'a> {
    namespace: &'a str,
    dimensions: [[&'static str; 2]; 1],
    metrics: &'static [Metric],
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
struct Metadata<'a> {
    timestamp: u64,
    cloud_watch_metrics: [Directive<'a>; 1],
}

/// The EMF line: written field by field (no JSON tree per invocation).
#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
struct Emf<'a> {
    #[serde(rename = "_aws")]
    aws: Metadata<'a>,
    #[serde(rename = "service")]
    service: &'a str,
    #[serde(rename = "provider")]
    provider: &'a str,
    #[serde(rename = "trigger")]
    trigger: &'a str,
    #[serde(rename = "requestId")]
    request_id: &'a str,
    #[serde(rename = "errorKind")]
    error_kind: Option<&'a str>,
    rows: usize,
    upstream_latency: f64,
    upstream_calls: u32,
    upstream_cache_hits: u32,
    outputs_written: u32,
    outputs_skipped: u32,
    secret_cache_hit: u32,
    secret_cache_miss: u32,
    secret_stale_served: u32,
    errors: u32,
    duration: f64,
    cold_start: u32,
}

fn emf<'a>(report: &'a InvocationReport<'a>, timestamp_ms: u64) -> Emf<'a> {
    let s = report.stats;
    Emf {
        aws: Metadata {
            timestamp: timestamp_ms,
            cloud_watch_metrics: [Directive {
                namespace: report.namespace,
                dimensions: [["service", "provider"]],
                metrics: &METRICS,
            }],
        },
        service: report.service,
        provider: report.provider,
        trigger: report.trigger,
        request_id: report.request_id,
        error_kind: report.error_kind,
        rows: report.rows,
        upstream_latency: millis(s.upstream_latency()),
        upstream_calls: s.upstream_calls(),
        upstream_cache_hits: s.upstream_cache_hits(),
        outputs_written: s.outputs_written(),
        outputs_skipped: s.outputs_skipped(),
        secret_cache_hit: s.secret_hits(),
        secret_cache_miss: s.secret_fetches(),
        secret_stale_served: s.secret_stale(),
        errors: u32::from(report.error_kind.is_some()),
        duration: millis(report.duration),
        cold_start: u32::from(report.cold_start),
    }
}

/// The EMF document for `report`, stamped `timestamp_ms`, as a value.
#[cfg(test)]
pub(crate) fn emf_document(report: &InvocationReport<'_>, timestamp_ms: u64) -> Value {
    serde_json::to_value(emf(report, timestamp_ms)).unwrap_or(Value::Null)
}

/// Write the EMF line for `report` to stdout.
pub(crate) fn emit(report: &InvocationReport<'_>) {
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default()
        .as_millis() as u64;
    let mut line = Vec::with_capacity(1024);
    if serde_json::to_writer(&mut line, &emf(report, now)).is_err() {
        return;
    }
    line.push(b'\n');
    let mut out = std::io::stdout().lock();
    // Metrics are best effort: a closed stdout must not fail the invocation.
    let _ = out.write_all(&line);
    let _ = out.flush();
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn directives_cap_wire_crates_and_map_lambda_levels() {
        let d = filter_directives(Some("TRACE"));
        assert!(d.starts_with("trace,"));
        assert!(d.contains("reqwest=info") && d.contains("aws_smithy_runtime=info"));
        assert!(d.contains("lambda_runtime=debug"));
        assert!(filter_directives(Some("FATAL")).starts_with("error,"));
        assert!(filter_directives(None).starts_with("info,"));
        for setting in ["TRACE", "debug", "WARN", "secret_fetch=debug,info"] {
            filter_directives(Some(setting)).parse::<Targets>().unwrap();
        }
        let t = directives(Some("warn"));
        assert!(t.would_enable("secret_fetch", &tracing::Level::WARN));
        assert!(!t.would_enable("secret_fetch", &tracing::Level::INFO));
        assert!(!t.would_enable("reqwest", &tracing::Level::DEBUG));
        let t = directives(Some("secret_fetch=debug,warn"));
        assert!(t.would_enable("secret_fetch::app", &tracing::Level::DEBUG));
        assert!(!t.would_enable("tokio", &tracing::Level::INFO));
        // Not a setting: the default, info.
        let t = directives(Some("=="));
        assert!(t.would_enable("secret_fetch", &tracing::Level::INFO));
        assert!(!t.would_enable("secret_fetch", &tracing::Level::DEBUG));
        {}
    }

    #[test]
    fn emf_document_references_every_metric() {
        let stats = InvocationStats::default();
        stats.record_secret(CacheStatus::Hit);
        stats.record_secret(CacheStatus::Miss);
        stats.record_upstream(Duration::from_millis(12));
        stats.record_upstream_cache_hit();
        let report = InvocationReport {
            namespace: "SecretFetch",
            service: "fn",
            provider: "alpha_vantage",
            trigger: "direct",
            request_id: "r-1",
            cold_start: true,
            rows: 100,
            duration: Duration::from_millis(40),
            error_kind: None,
            stats: &stats,
        };
        let doc = emf_document(&report, 1_795_420_750_871);
        let directive = &doc["_aws"]["CloudWatchMetrics"][0];
        for m in directive["Metrics"].as_array().unwrap() {
            let name = m["Name"].as_str().unwrap();
            assert!(doc[name].is_number(), "metric {name} has no value");
        }
        for d in directive["Dimensions"][0].as_array().unwrap() {
            assert!(doc[d.as_str().unwrap()].is_string());
        }
        assert_eq!(doc["Rows"], 100);
        assert_eq!(doc["SecretCacheHit"], 1);
        assert_eq!(doc["SecretCacheMiss"], 1);
        assert_eq!(doc["UpstreamLatency"], 12.0);
        assert_eq!(doc["UpstreamCalls"], 1);
        assert_eq!(doc["UpstreamCacheHits"], 1);
        assert_eq!(doc["ColdStart"], 1);
        assert_eq!(doc["Errors"], 0);
    }
}
