//! The handler: classify the event, run the task, shape the response for
//! the caller, report logs and metrics.

use std::panic::AssertUnwindSafe;
use std::sync::OnceLock;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Instant;

use futures_util::FutureExt;

use lambda_runtime::{Context, LambdaEvent};
use serde_json::value::RawValue;
use tracing::Instrument;

use crate::config::Config;
use crate::context::{Caller, Ctx};
use crate::deadline::{Deadline, DeadlineSource};
use crate::error::{AppError, ErrorKind};
use crate::providers::{Providers, Shared, Task};
use crate::redact::Redactor;
use crate::response::{Body, FetchResult, HttpStyle, error_body, http_response};
use crate::routes;
use crate::secrets::{SecretCache, SecretSource};
use crate::telemetry::{self, InvocationReport, InvocationStats};
use crate::trigger::{Invocation, TriggerKind, classify, parse_event};
use crate::upstream::body_cap;

/// Everything built once per cold start.
pub struct App<S> {
    config: Config,
    secrets: SecretCache<S>,
    providers: Providers,
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
    /// Wire the handler from its parts: the configuration, where secrets
    /// come from, and the one HTTP client. Fails if a provider's start-up
    /// check fails (say, an invalid statements file).
    pub fn new(config: Config, source: S, http: reqwest::Client) -> Result<Self, AppError> {
        let shared = Shared {
            http,
            body_cap: body_cap(config.memory_mb),
            memory_mb: config.memory_mb,
        };
        Ok(App {
            secrets: SecretCache::new(source, config.secret_cache_ttl)
                .with_stale_fallback(config.secret_cache_max_stale, config.secret_refresh_timeout),
            providers: Providers::new(&config.providers, &shared)?,
            config,
            cold: AtomicBool::new(true),
        })
    }

    /// The Lambda entry point. The payload is taken raw and parsed here with
    /// explicit limits, so an event the runtime could not turn into a
    /// `serde_json::Value` still gets a kind from the table.
    pub async fn handle(
        &self,
        event: LambdaEvent<Box<RawValue>>,
    ) -> Result<Box<RawValue>, AppError> {
        let (payload, context) = event.into_parts();
        self.handle_payload(payload.get(), &context).await
    }

    /// Handle the raw JSON `payload` as invocation `context`. A panic, which
    /// no input should reach, is caught here: it becomes an `internal` error
    /// (a 500 proxy response for HTTP callers) and the sandbox stays warm.
    pub async fn handle_payload(
        &self,
        payload: &str,
        context: &Context,
    ) -> Result<Box<RawValue>, AppError> {
        let span = tracing::info_span!(
            "invocation",
            requestId = %context.request_id,
            xrayTraceId = context.xray_trace_id.as_deref().unwrap_or(""),
            trigger = tracing::field::Empty,
            provider = tracing::field::Empty,
        );
        let style = OnceLock::new();
        let started = Instant::now();
        let outcome = AssertUnwindSafe(self.invoke(payload, context, &style))
            .catch_unwind()
            .instrument(span.clone())
            .await;
        match outcome {
            Ok(response) => response,
            Err(_) => {
                let _entered = span.enter();
                let err = AppError::internal("the handler panicked; this is a bug");
                let outcome = match style.get() {
                    Some(style) => Outcome {
                        trigger: TriggerKind::Unknown,
                        provider: "none",
                        rows: 0,
                        response: Ok(self.error_response(*style, &err, &context.request_id)),
                        error: Some(err),
                    },
                    None => Outcome {
                        trigger: TriggerKind::Unknown,
                        provider: "none",
                        rows: 0,
                        response: Err(err.clone()),
                        error: Some(err),
                    },
                };
                let stats = InvocationStats::default();
                self.report(&outcome, context, false, started, &stats);
                outcome.response
            }
        }
    }

    async fn invoke(
        &self,
        payload: &str,
        context: &Context,
        http_style: &OnceLock<HttpStyle>,
    ) -> Result<Box<RawValue>, AppError> {
        let started = Instant::now();
        let cold_start = self.cold.swap(false, Ordering::Relaxed);
        let stats = InvocationStats::default();
        let redactor = Redactor::new();
        let deadline = Deadline::from_epoch_ms(
            context.deadline,
            self.config.fallback_deadline,
            self.config.deadline_margin,
        );
        if deadline.source() == DeadlineSource::Fallback {
            tracing::debug!(
                fallback_secs = self.config.fallback_deadline.as_secs(),
                "the runtime's deadline is not a plausible time; using FALLBACK_DEADLINE_SECS"
            );
        }
        let classified = parse_event(payload)
            .and_then(|event| classify(event, self.config.default_task.as_ref()));
        let outcome = match classified {
            Err(e) => Outcome {
                trigger: TriggerKind::Unknown,
                provider: "none",
                rows: 0,
                error: Some(e.clone()),
                response: Err(e),
            },
            Ok(Invocation::Task { trigger, task }) => {
                tracing::Span::current().record("trigger", trigger.as_str());
                let (provider, result) = self
                    .fetch(Task::parse(task), trigger, &deadline, &stats, &redactor)
                    .await;
                let rows = result.as_ref().map_or(0, |r| r.row_count);
                let response = result
                    .and_then(|r| self.serialize(&r, &redactor))
                    .map_err(|e| e.redacted(&redactor));
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
                let _ = http_style.set(style);
                tracing::Span::current().record("trigger", trigger.as_str());
                let deadline = deadline.capped(self.config.http_timeout);
                let (provider, result) = self
                    .fetch(
                        routes::route(&request),
                        trigger,
                        &deadline,
                        &stats,
                        &redactor,
                    )
                    .await;
                let rows = result.as_ref().map_or(0, |r| r.row_count);
                let (response, error) = self.http(style, result, &context.request_id, &redactor);
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

    /// Run `task` (already parsed or routed) for a caller of kind `trigger`.
    async fn fetch(
        &self,
        task: Result<Task, AppError>,
        trigger: TriggerKind,
        deadline: &Deadline,
        stats: &InvocationStats,
        redactor: &Redactor,
    ) -> (&'static str, Result<FetchResult, AppError>) {
        let task = match task {
            Ok(t) => t,
            Err(e) => return ("none", Err(e)),
        };
        let provider = task.provider();
        tracing::Span::current().record("provider", provider);
        let ctx = Ctx {
            deadline,
            stats,
            redactor,
            secrets: &self.secrets,
            caller: Caller {
                trigger,
                response_limit: self.config.max_response_bytes,
            },
        };
        (provider, self.providers.fetch(&task, &ctx).await)
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

    /// A result's JSON body, with any secret an upstream echoed into it masked.
    fn render(result: &FetchResult, redactor: &Redactor) -> Result<String, AppError> {
        serde_json::to_string(result)
            .map(|text| redactor.clean_json(text))
            .map_err(|e| AppError::internal(format!("could not serialize the result: {e}")))
    }

    /// Serialize a result for a direct or scheduled caller.
    fn serialize(
        &self,
        result: &FetchResult,
        redactor: &Redactor,
    ) -> Result<Box<RawValue>, AppError> {
        let failed = |e: serde_json::Error| {
            AppError::internal(format!("could not serialize the result: {e}"))
        };
        // Serialised once, straight into the response (the serializer's own
        // output needs no second parse to become a raw value); re-checked
        // only in the rare body that echoes a credential.
        let mut raw = serde_json::value::to_raw_value(result).map_err(failed)?;
        if redactor.echoes_sent(raw.get()) {
            let text: Box<str> = raw.into();
            raw = RawValue::from_string(redactor.clean_json(text.into_string())).map_err(failed)?;
        }
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
        redactor: &Redactor,
    ) -> (Box<RawValue>, Option<AppError>) {
        let rendered = result.and_then(|r| {
            // The result is escaped straight into the proxy response; only a
            // body that echoes a credential is rendered apart and masked
            // (credentials are JSON-safe text, so they read the same escaped).
            let mut response = proxy(style, 200, Body::Result(&r), &[])?;
            if redactor.echoes_sent(response.get()) {
                response = proxy(style, 200, Body::Text(&Self::render(&r, redactor)?), &[])?;
            }
            match response.get().len() {
                n if n > self.config.max_response_bytes => Err(self.too_large(n)),
                _ => Ok(response),
            }
        });
        match rendered {
            Ok(response) => (response, None),
            Err(err) => {
                let err = err.redacted(redactor);
                (self.error_response(style, &err, request_id), Some(err))
            }
        }
    }

    /// The proxy response for `err`: its kind's status, `Retry-After` and
    /// `Allow` headers where they apply, and a body that shows HTTP callers
    /// only what is theirs to see.
    fn error_response(&self, style: HttpStyle, err: &AppError, request_id: &str) -> Box<RawValue> {
        let mut headers = Vec::new();
        if let Some(after) = err.retry_after() {
            headers.push(("retry-after", after.as_secs().max(1).to_string()));
        }
        if let Some(allow) = err.allowed_method() {
            headers.push(("allow", allow.as_str().to_owned()));
        }
        let body = error_body(err, request_id).to_string();
        proxy(style, err.kind().http_status(), Body::Text(&body), &headers).unwrap_or_else(|_| {
            RawValue::from_string(r#"{"statusCode":500,"body":""}"#.to_owned())
                .unwrap_or_else(|_| RawValue::NULL.to_owned())
        })
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
                upstream_cache_hits = stats.upstream_cache_hits(),
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
    body: Body<'_>,
    headers: &[(&str, String)],
) -> Result<Box<RawValue>, AppError> {
    serde_json::value::to_raw_value(&http_response(style, status, body, headers))
        .map_err(|e| AppError::internal(format!("could not serialize the response: {e}")))
}
