//! The handler: classify the event, run the task, shape the response for
//! the caller, report logs and metrics.

use std::panic::AssertUnwindSafe;
use std::sync::OnceLock;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Instant;

use futures_util::FutureExt;

use aws_config::environment::EnvironmentVariableCredentialsProvider;
use aws_credential_types::provider::SharedCredentialsProvider;
use chrono::{DateTime, Utc};
use lambda_runtime::{Context, LambdaEvent};
use serde_json::value::RawValue;
use tracing::Instrument;

use crate::config::Config;
use crate::context::{Caller, Ctx};
use crate::deadline::{Deadline, DeadlineSource};
use crate::error::{AppError, ErrorKind};
use crate::job::Job;
use crate::output::key::{Placeholder, date_and_time};
use crate::output::{Output, OutputSpec};
use crate::providers::{Providers, Shared};
use crate::redact::Redactor;
use crate::response::{FetchResult, HttpStyle, Reply, error_body, http_response};
use crate::routes;
use crate::secrets::{SecretCache, SecretSource};
use crate::table::Table;
use crate::telemetry::{self, InvocationReport, InvocationStats};
use crate::trigger::{Invocation, TriggerKind, classify, parse_event};
use crate::upstream::body_cap;

/// Everything built once per cold start.
pub struct App<S> {
    config: Config,
    secrets: SecretCache<S>,
    providers: Providers,
    output: Output,
    cold: AtomicBool,
}

/// What one invocation produced, before it is reported.
struct Outcome {
    trigger: TriggerKind,
    provider: &'static str,
    rows: usize,
    error: Option<AppError>,
    response: Result<Reply, AppError>,
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
            output: Output::new(
                config.output.clone(),
                shared.http.clone(),
                Some(SharedCredentialsProvider::new(
                    EnvironmentVariableCredentialsProvider::new(),
                )),
            ),
            config,
            cold: AtomicBool::new(true),
        })
    }

    /// Sign the output stage's S3 requests with `credentials` (the AWS SDK's
    /// chain; by default, the credentials in the environment, as Lambda
    /// sets them).
    pub fn with_aws_credentials(mut self, credentials: Option<SharedCredentialsProvider>) -> Self {
        if credentials.is_some() {
            self.output.sign_with(credentials);
        }
        self
    }

    /// The Lambda entry point. The payload is taken raw and parsed here with
    /// explicit limits, so an event the runtime could not turn into a
    /// `serde_json::Value` still gets a kind from the table.
    pub async fn handle(&self, event: LambdaEvent<Box<RawValue>>) -> Result<Reply, AppError> {
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
    ) -> Result<Reply, AppError> {
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
                        response: Ok(Reply::raw(self.error_response(
                            *style,
                            &err,
                            &context.request_id,
                        ))),
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
    ) -> Result<Reply, AppError> {
        let started = Instant::now();
        let invoked = Utc::now();
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
            Ok(Invocation::Task {
                trigger,
                task,
                occurred,
            }) => {
                tracing::Span::current().record("trigger", trigger.as_str());
                let ctx = self.context(
                    trigger,
                    &deadline,
                    &stats,
                    &redactor,
                    context,
                    occurred.unwrap_or(invoked),
                );
                let (provider, result) = self.run(Job::parse(task), &ctx).await;
                let rows = result.as_ref().map_or(0, |r| r.row_count);
                let response = result
                    .and_then(|r| self.serialize(r, &redactor))
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
                let ctx = self.context(trigger, &deadline, &stats, &redactor, context, invoked);
                let (provider, result) = self.run(routes::route(&request), &ctx).await;
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

    /// The context of one invocation by `trigger`.
    fn context<'a>(
        &'a self,
        trigger: TriggerKind,
        deadline: &'a Deadline,
        stats: &'a InvocationStats,
        redactor: &'a Redactor,
        context: &'a Context,
        occurred: DateTime<Utc>,
    ) -> Ctx<'a, S> {
        Ctx {
            deadline,
            stats,
            redactor,
            secrets: &self.secrets,
            caller: Caller {
                trigger,
                response_limit: self.config.max_response_bytes,
            },
            request_id: &context.request_id,
            occurred,
        }
    }

    /// Run `job` (already parsed or routed): its rows returned, or written
    /// to its `output`.
    async fn run(
        &self,
        job: Result<Job, AppError>,
        ctx: &Ctx<'_, S>,
    ) -> (&'static str, Result<FetchResult, AppError>) {
        let job = match job {
            Ok(job) => job,
            Err(e) => return ("none", Err(e)),
        };
        let provider = job.task.provider();
        tracing::Span::current().record("provider", provider);
        let result = match &job.output {
            None => self.providers.fetch(&job.task, ctx).await,
            Some(spec) => self.deliver(&job, spec, ctx).await,
        };
        (provider, result)
    }

    /// Write `job`'s rows to the object `spec` names, once: nothing is
    /// fetched when the object is there already (see [`crate::output`]).
    async fn deliver(
        &self,
        job: &Job,
        spec: &OutputSpec,
        ctx: &Ctx<'_, S>,
    ) -> Result<FetchResult, AppError> {
        self.providers.check(&job.task, ctx.caller.class())?;
        let (date, time) = date_and_time(job.as_of.unwrap_or(ctx.occurred));
        let target = self.output.target(spec, ctx.caller.class(), |p| match p {
            Placeholder::Date => Some(date.clone()),
            Placeholder::Time => Some(time.clone()),
            Placeholder::RequestId => Some(ctx.request_id.to_owned()),
            other => job.task.placeholder(other),
        })?;
        let provider = job.task.provider();
        let skipped = |found| {
            ctx.stats.record_output(false);
            let mut meta = serde_json::Map::new();
            meta.insert("output".into(), "exists".into());
            let mut result = FetchResult::new(provider, Vec::new(), Table::new(Vec::new()), meta);
            let manifest = target.existing(found);
            result.row_count = manifest.rows.unwrap_or(0) as usize;
            result.output = Some(manifest);
            result
        };
        if let Some(found) = self.output.existing(&target, ctx.deadline).await? {
            tracing::info!(output = %target.uri, "the output object is there already; nothing fetched or written");
            return Ok(skipped(found));
        }
        let mut user = vec![("x-amz-meta-provider", provider.to_owned())];
        for (placeholder, header) in [
            (Placeholder::Function, "x-amz-meta-function"),
            (Placeholder::Symbol, "x-amz-meta-symbol"),
            (Placeholder::Query, "x-amz-meta-query"),
        ] {
            if let Some(v) = job.task.placeholder(placeholder)
                && v.len() <= 256
                && v.bytes().all(|b| b.is_ascii_graphic())
            {
                user.push((header, v));
            }
        }
        let mut writer = self
            .output
            .writer(&target, user, ctx.deadline, ctx.redactor);
        let written = match self.providers.write(&job.task, ctx, &mut writer).await {
            Ok(result) => writer.finish().await.map(|done| (result, done)),
            Err(e) => Err(e),
        };
        let (result, done) = match written {
            Ok(ok) => ok,
            Err(e) => {
                writer.abort().await;
                return Err(e);
            }
        };
        if !done.written {
            // Another delivery created it while this one fetched: S3 kept
            // that object; answer with its manifest.
            tracing::info!(output = %target.uri, "another writer created the output object first; S3 kept it");
            if let Ok(Some(found)) = self.output.existing(&target, ctx.deadline).await {
                return Ok(skipped(found));
            }
        }
        ctx.stats.record_output(done.written);
        Ok(FetchResult {
            output: Some(target.finished(&done)),
            ..result
        })
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

    /// A result for a direct or scheduled caller, rendered once: its size
    /// checked against the limit, searched (SIMD substring search) for a
    /// credential an upstream echoed, and masked in the rare body that does.
    /// The rows are freed before the runtime copies the text out.
    fn serialize(&self, mut result: FetchResult, redactor: &Redactor) -> Result<Reply, AppError> {
        let text = match result.take_rendered() {
            // Rendered by the provider as it fetched (a Snowflake page).
            Some(text) => text,
            None => result.render()?,
        };
        drop(result);
        self.checked(text, redactor)
    }

    /// Rendered JSON within the response limit, with echoed credentials
    /// masked (masking shortens a body, never lengthens it).
    fn checked(&self, text: Box<RawValue>, redactor: &Redactor) -> Result<Reply, AppError> {
        let len = text.get().len();
        if len > self.config.max_response_bytes {
            return Err(self.too_large(len));
        }
        if !redactor.echoes_sent(text.get()) {
            return Ok(Reply::raw(text));
        }
        let masked = redactor.clean_json(Box::<str>::from(text).into_string());
        RawValue::from_string(masked)
            .map(Reply::raw)
            .map_err(|e| AppError::internal(format!("could not serialize the result: {e}")))
    }

    /// Shape a result as a proxy response; errors become error statuses.
    fn http(
        &self,
        style: HttpStyle,
        result: Result<FetchResult, AppError>,
        request_id: &str,
        redactor: &Redactor,
    ) -> (Reply, Option<AppError>) {
        let rendered = result.and_then(|mut r| {
            // The result's text is escaped into the proxy response once
            // (its rows freed first); credentials are JSON-safe text, so
            // they read the same escaped.
            let body = match r.take_rendered() {
                Some(text) => text,
                None => r.render()?,
            };
            drop(r);
            let text = serde_json::value::to_raw_value(&http_response(style, 200, body.get(), &[]))
                .map_err(|e| {
                    AppError::internal(format!("could not serialize the response: {e}"))
                })?;
            drop(body);
            self.checked(text, redactor)
        });
        match rendered {
            Ok(response) => (response, None),
            Err(err) => {
                let err = err.redacted(redactor);
                (
                    Reply::raw(self.error_response(style, &err, request_id)),
                    Some(err),
                )
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
        proxy(style, err.kind().http_status(), &body, &headers).unwrap_or_else(|_| {
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
    body: &str,
    headers: &[(&str, String)],
) -> Result<Box<RawValue>, AppError> {
    serde_json::value::to_raw_value(&http_response(style, status, body, headers))
        .map_err(|e| AppError::internal(format!("could not serialize the response: {e}")))
}
