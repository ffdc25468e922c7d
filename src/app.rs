//! The handler: classify the event, run the task, shape the response for
//! the caller, report logs and metrics.

use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Instant;

use lambda_runtime::{Context, LambdaEvent};
use serde_json::Value;
use serde_json::value::RawValue;
use tracing::Instrument;

use crate::alpha_vantage::{AlphaVantage, AlphaVantageClient};
use crate::config::Config;
use crate::deadline::Deadline;
use crate::error::{AppError, ErrorKind};
use crate::response::{FetchResult, HttpStyle, error_body, http_response};
use crate::routes;
use crate::secrets::{SecretCache, SecretSource};
use crate::snowflake::Snowflake;
use crate::snowflake::client::SnowflakeClient;
use crate::snowflake::statements::Statements;
use crate::task::TaskRequest;
use crate::telemetry::{self, InvocationReport, InvocationStats};
use crate::trigger::{Invocation, TriggerKind, classify};

/// Everything built once per cold start.
pub struct App<S> {
    config: Config,
    secrets: SecretCache<S>,
    alpha_vantage: AlphaVantage,
    snowflake: Snowflake,
    cold: AtomicBool,
}

/// What one invocation produced, before it is reported.
struct Outcome {
    trigger: TriggerKind,
    provider: &'static str,
    rows: usize,
    error: Option<AppError>,
    response: Result<Box<RawValue>, AppError>,
}

impl<S: SecretSource> App<S> {
    /// Wire the handler from its parts; fails if the statements file is invalid.
    pub fn new(config: Config, source: S, http: reqwest::Client) -> Result<Self, AppError> {
        let client = AlphaVantageClient::new(
            http.clone(),
            config.alpha_vantage_url.clone(),
            config.alpha_vantage_timeout,
        );
        let statements = Statements::load(&config.statements_file)?;
        if config.snowflake.secret.is_some()
            && statements.is_empty()
            && !config.snowflake.allow_ad_hoc
        {
            tracing::warn!(
                file = %config.statements_file.display(),
                "SNOWFLAKE_SECRET is set but no named statements were found"
            );
        }
        let snowflake = Snowflake::new(
            SnowflakeClient::new(http, config.snowflake_request_timeout),
            config.snowflake.clone(),
            statements,
        );
        Ok(App {
            secrets: SecretCache::new(source, config.secret_cache_ttl),
            alpha_vantage: AlphaVantage::new(client, config.alpha_vantage_secret.clone()),
            snowflake,
            config,
            cold: AtomicBool::new(true),
        })
    }

    /// Bytes of rows a page may hold for a caller of kind `trigger`: the
    /// response limit less room for the envelope and, for HTTP callers, for
    /// the escaping of a JSON body inside a JSON string.
    fn page_budget(&self, trigger: TriggerKind) -> usize {
        let limit = self.config.max_response_bytes;
        let usable = if trigger.is_http() {
            limit / 10 * 7
        } else {
            limit / 10 * 9
        };
        usable.saturating_sub(16 * 1024).max(1024)
    }

    /// The Lambda entry point.
    pub async fn handle(&self, event: LambdaEvent<Value>) -> Result<Box<RawValue>, AppError> {
        let (payload, context) = event.into_parts();
        self.handle_payload(payload, &context).await
    }

    /// Handle `payload` as invocation `context`.
    pub async fn handle_payload(
        &self,
        payload: Value,
        context: &Context,
    ) -> Result<Box<RawValue>, AppError> {
        let span = tracing::info_span!(
            "invocation",
            requestId = %context.request_id,
            xrayTraceId = context.xray_trace_id.as_deref().unwrap_or(""),
            trigger = tracing::field::Empty,
            provider = tracing::field::Empty,
        );
        self.invoke(payload, context).instrument(span).await
    }

    async fn invoke(&self, payload: Value, context: &Context) -> Result<Box<RawValue>, AppError> {
        let started = Instant::now();
        let cold_start = self.cold.swap(false, Ordering::Relaxed);
        let stats = InvocationStats::default();
        let deadline = Deadline::from_epoch_ms(
            context.deadline,
            self.config.fallback_deadline,
            self.config.deadline_margin,
        );
        let outcome = match classify(payload, self.config.default_task.as_ref()) {
            Err(e) => Outcome {
                trigger: TriggerKind::Unknown,
                provider: "none",
                rows: 0,
                error: Some(e.clone()),
                response: Err(e),
            },
            Ok(Invocation::Task { trigger, task }) => {
                tracing::Span::current().record("trigger", trigger.as_str());
                let (provider, result) = self.run(task, trigger, &deadline, &stats).await;
                let rows = result.as_ref().map_or(0, |r| r.row_count);
                let response = result.and_then(|r| self.serialize(&r));
                Outcome {
                    trigger,
                    provider,
                    rows,
                    error: response.as_ref().err().cloned(),
                    response,
                }
            }
            Ok(Invocation::Http {
                trigger,
                style,
                request,
            }) => {
                tracing::Span::current().record("trigger", trigger.as_str());
                let deadline = deadline.capped(self.config.http_timeout);
                let (provider, result) = match routes::route(&request) {
                    Ok(task) => self.run(task, trigger, &deadline, &stats).await,
                    Err(e) => ("none", Err(e)),
                };
                let rows = result.as_ref().map_or(0, |r| r.row_count);
                let (response, error) = self.http(style, result, &context.request_id);
                Outcome {
                    trigger,
                    provider,
                    rows: if error.is_some() { 0 } else { rows },
                    error,
                    response: Ok(response),
                }
            }
        };
        self.report(&outcome, context, cold_start, started, &stats);
        outcome.response
    }

    /// Parse and run a task document.
    async fn run(
        &self,
        task: Value,
        trigger: TriggerKind,
        deadline: &Deadline,
        stats: &InvocationStats,
    ) -> (&'static str, Result<FetchResult, AppError>) {
        let task = match TaskRequest::parse(task) {
            Ok(t) => t,
            Err(e) => return ("none", Err(e)),
        };
        let provider = task.provider();
        tracing::Span::current().record("provider", provider);
        let result = match &task {
            TaskRequest::AlphaVantage(t) => {
                self.alpha_vantage
                    .fetch(t, &self.secrets, deadline, stats)
                    .await
            }
            TaskRequest::Snowflake(t) => {
                let budget = self.page_budget(trigger);
                self.snowflake
                    .fetch(t, trigger, &self.secrets, deadline, stats, budget)
                    .await
            }
        };
        (provider, result)
    }

    fn too_large(&self, size: usize) -> AppError {
        AppError::new(
            ErrorKind::TooLarge,
            format!(
                "the result is {size} bytes, over the {} byte response limit; narrow it with start/end",
                self.config.max_response_bytes
            ),
        )
    }

    /// Serialize a result for a direct or scheduled caller.
    fn serialize(&self, result: &FetchResult) -> Result<Box<RawValue>, AppError> {
        let raw = serde_json::value::to_raw_value(result)
            .map_err(|e| AppError::internal(format!("could not serialize the result: {e}")))?;
        if raw.get().len() > self.config.max_response_bytes {
            return Err(self.too_large(raw.get().len()));
        }
        Ok(raw)
    }

    /// Shape a result as a proxy response; errors become error statuses.
    fn http(
        &self,
        style: HttpStyle,
        result: Result<FetchResult, AppError>,
        request_id: &str,
    ) -> (Box<RawValue>, Option<AppError>) {
        let rendered = result.and_then(|r| {
            let body = serde_json::to_string(&r)
                .map_err(|e| AppError::internal(format!("could not serialize the result: {e}")))?;
            let response = proxy(style, 200, &body, &[])?;
            match response.get().len() {
                n if n > self.config.max_response_bytes => Err(self.too_large(n)),
                _ => Ok(response),
            }
        });
        match rendered {
            Ok(response) => (response, None),
            Err(err) => {
                let mut headers = Vec::new();
                if let Some(after) = err.retry_after() {
                    headers.push(("retry-after", after.as_secs().max(1).to_string()));
                }
                if let Some(allow) = err
                    .details()
                    .and_then(|d| d.get("allow"))
                    .and_then(Value::as_str)
                {
                    headers.push(("allow", allow.to_owned()));
                }
                let body = error_body(&err, request_id).to_string();
                let response = proxy(style, err.kind().http_status(), &body, &headers)
                    .unwrap_or_else(|_| {
                        RawValue::from_string("{\"statusCode\":500}".into()).expect("static JSON")
                    });
                (response, Some(err))
            }
        }
    }

    fn report(
        &self,
        o: &Outcome,
        context: &Context,
        cold_start: bool,
        started: Instant,
        stats: &InvocationStats,
    ) {
        let duration = started.elapsed();
        let kind = o.error.as_ref().map(|e| e.kind().as_str());
        match &o.error {
            None => tracing::info!(
                rows = o.rows,
                duration_ms = duration.as_millis() as u64,
                secret_cache_hits = stats.secret_hits(),
                secret_fetches = stats.secret_fetches(),
                upstream_calls = stats.upstream_calls(),
                "invocation succeeded"
            ),
            Some(e) if e.kind().http_status() < 500 => tracing::warn!(
                error_kind = e.kind().as_str(),
                error = e.message(),
                duration_ms = duration.as_millis() as u64,
                "invocation rejected"
            ),
            Some(e) => tracing::error!(
                error_kind = e.kind().as_str(),
                error = e.message(),
                duration_ms = duration.as_millis() as u64,
                "invocation failed"
            ),
        }
        telemetry::emit(&InvocationReport {
            namespace: &self.config.metrics_namespace,
            service: &self.config.service_name,
            provider: o.provider,
            trigger: o.trigger.as_str(),
            request_id: &context.request_id,
            cold_start,
            rows: o.rows,
            duration,
            error_kind: kind,
            stats,
        });
    }
}

fn proxy(
    style: HttpStyle,
    status: u16,
    body: &str,
    headers: &[(&str, String)],
) -> Result<Box<RawValue>, AppError> {
    serde_json::value::to_raw_value(&http_response(style, status, body, headers))
        .map_err(|e| AppError::internal(format!("could not serialize the response: {e}")))
}
