//! The Alpha Vantage provider: its settings, tasks and their validation,
//! its HTTP route, the client, error classification, the generic
//! normaliser and column inference.
//!
//! It owns an upstream cache (`crate::upstream_cache`) of raw answer bodies
//! keyed by [`AlphaVantageTask::cache_key`] (the query without the key and
//! without `start`/`end`): only bodies that normalised into rows are stored
//! — never an error document, a throttling message or a non-200 answer —
//! and every hit is normalised again for its own task, so a different
//! window of a cached series is a hit too. The lookup comes after the
//! deployment check (`ALPHA_VANTAGE_SECRET` must be set: the deployment
//! authorises the caller) and before the secret is read, so a hit costs
//! neither an Alpha Vantage request nor a `GetSecretValue`. The result's
//! `meta.cache` says what happened (see [`CacheUse`]).

pub(crate) mod classify;
pub(crate) mod client;
pub(crate) mod columns;
pub(crate) mod normalize;
pub(crate) mod routes;
pub(crate) mod series;
pub(crate) mod settings;
pub(crate) mod task;

#[cfg(test)]
mod properties;

use std::sync::Arc;
use std::time::Instant;

use serde_json::Value;

use self::client::AlphaVantageClient;
pub(crate) use self::settings::AlphaVantageSettings;
pub(crate) use self::task::AlphaVantageTask;
use super::{Provider, Shared};
use crate::config::Env;
use crate::context::{CallerClass, Ctx};
use crate::error::{AppError, ErrorKind};
use crate::output::key::Placeholder;
use crate::response::FetchResult;
use crate::secrets::refresh::{RetryPolicy, with_credential};
use crate::secrets::{SecretRef, SecretSource, SecretValue};
use crate::upstream_cache::{ByteCache, default_max_bytes};

/// JSON keys tried, in order, when the secret is a JSON object and the
/// reference names no key.
pub(crate) const DEFAULT_SECRET_KEYS: [&str; 3] = ["apikey", "api_key", "ALPHAVANTAGE_API_KEY"];

/// The provider: its client, where its key lives and its upstream cache.
#[derive(Clone, Debug)]
pub(crate) struct AlphaVantage {
    client: AlphaVantageClient,
    secret: Option<SecretRef>,
    cache: Arc<ByteCache>,
}

/// How a fetch used the upstream cache: `meta.cache` in the result.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum CacheUse {
    /// Answered from the cache: no Alpha Vantage request, no secret read.
    Hit,
    /// Fetched; the answer is stored if it normalised and fits.
    Miss,
    /// The task said `"cache": false`: fetched without looking; the fresh
    /// answer replaces any stored one.
    Bypass,
    /// The deployment disabled the cache (`UPSTREAM_CACHE_TTL_SECS=0` or
    /// `UPSTREAM_CACHE_MAX_BYTES=0`).
    Off,
}

impl CacheUse {
    /// The word in `meta.cache`.
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            CacheUse::Hit => "hit",
            CacheUse::Miss => "miss",
            CacheUse::Bypass => "bypass",
            CacheUse::Off => "off",
        }
    }
}

/// `result` with `meta.cache` set to what happened.
fn with_cache_use(
    result: Result<FetchResult, AppError>,
    used: CacheUse,
) -> Result<FetchResult, AppError> {
    result.map(|mut r| {
        r.meta.insert("cache".into(), Value::from(used.as_str()));
        r
    })
}

impl Provider for AlphaVantage {
    const NAME: &'static str = "alpha_vantage";
    const ROUTE: &'static str = "alpha-vantage";
    const ROUTE_PARAM: &'static str = "function";
    type Settings = AlphaVantageSettings;
    type Task = AlphaVantageTask;

    fn settings(env: &Env<'_>) -> Result<Self::Settings, AppError> {
        AlphaVantageSettings::from_env(env)
    }

    fn new(settings: &Self::Settings, shared: &Shared) -> Result<Self, AppError> {
        Ok(AlphaVantage {
            client: AlphaVantageClient::new(
                shared.http.clone(),
                settings.base_url.clone(),
                settings.timeout,
                shared.body_cap,
            ),
            secret: settings.secret.clone(),
            cache: Arc::new(ByteCache::new(
                settings.cache_ttl,
                settings.cache_max_bytes.map_or_else(
                    || default_max_bytes(shared.memory_mb),
                    |b| usize::try_from(b).unwrap_or(usize::MAX),
                ),
            )),
        })
    }

    fn task_from_route(name: &str, query: &[(String, String)]) -> Result<Self::Task, AppError> {
        routes::task_from_route(name, query)
    }

    fn check(&self, task: &AlphaVantageTask, _caller: CallerClass) -> Result<(), AppError> {
        task.validate()
    }

    fn placeholder(task: &AlphaVantageTask, placeholder: Placeholder) -> Option<String> {
        match placeholder {
            Placeholder::Function => Some(task.function.as_str().to_owned()),
            Placeholder::Symbol => task.symbol.clone(),
            _ => None,
        }
    }

    /// Validate `task`, then fetch and normalise it.
    async fn fetch<S: SecretSource>(
        &self,
        task: &AlphaVantageTask,
        ctx: &Ctx<'_, S>,
    ) -> Result<FetchResult, AppError> {
        task.validate()?;
        let reference = self.secret.as_ref().ok_or_else(|| {
            AppError::config(
                "ALPHA_VANTAGE_SECRET is not set: this deployment cannot run Alpha Vantage tasks",
            )
        })?;
        let used = if !self.cache.enabled() {
            CacheUse::Off
        } else if task.allows_cache() {
            CacheUse::Miss
        } else {
            CacheUse::Bypass
        };
        let cache_key = (used != CacheUse::Off).then(|| task.cache_key());
        if used == CacheUse::Miss
            && let Some(body) = cache_key.as_deref().and_then(|k| self.cache.get(k))
        {
            ctx.stats.record_upstream_cache_hit();
            return with_cache_use(normalize::normalize(task, &body), CacheUse::Hit);
        }
        let deadline = ctx.deadline;
        let result = with_credential(
            ctx,
            reference,
            &DEFAULT_SECRET_KEYS,
            RetryPolicy::IfChanged,
            async |key, _attempt| {
                check_key(key, reference)?;
                ctx.redactor.add_sent(key.expose());
                let attempt = async || {
                    let started = Instant::now();
                    let body = self.client.query(task, key, deadline).await;
                    ctx.stats.record_upstream(started.elapsed());
                    let mut body = body?;
                    let result = normalize::normalize(task, &body)?;
                    // Only an answer that normalised is stored: error
                    // documents and throttling messages never are. The body
                    // moves into the cache (no copy; its spare capacity,
                    // after a body of unknown length, is given back).
                    if let Some(k) = &cache_key {
                        body.shrink_to_fit();
                        self.cache.insert(k.clone(), Arc::new(body));
                    }
                    Ok::<FetchResult, AppError>(result)
                };
                match attempt().await {
                    Err(e)
                        if e.is_burst_limit()
                            && deadline.remaining() > classify::BURST_WAIT * 2 =>
                    {
                        tracing::info!(
                            "Alpha Vantage burst limit; retrying once after {:?}",
                            classify::BURST_WAIT
                        );
                        tokio::time::sleep(classify::BURST_WAIT).await;
                        attempt().await
                    }
                    other => other,
                }
            },
        )
        .await;
        with_cache_use(result, used)
    }
}

/// Longest API key accepted (Alpha Vantage issues 16 characters).
pub(crate) const MAX_KEY_LEN: usize = 128;

/// The value must look like an Alpha Vantage API key before it is sent:
/// 1 to [`MAX_KEY_LEN`] characters of `A-Z a-z 0-9 . _ ~ -`. Anything else
/// (white space, quotes, a JSON document) is a `secret_malformed` naming the
/// reference, and is never sent or retried.
pub(crate) fn check_key(key: &SecretValue, reference: &SecretRef) -> Result<(), AppError> {
    let k = key.expose();
    let shaped = (1..=MAX_KEY_LEN).contains(&k.len())
        && k.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"._~-".contains(&b));
    if shaped {
        Ok(())
    } else {
        Err(AppError::new(
            ErrorKind::SecretMalformed,
            format!(
                "secret '{reference}' does not hold an Alpha Vantage API key: expected 1 to {MAX_KEY_LEN} letters, digits or . _ ~ -; store the key alone, or as {{\"apikey\": \"KEY\"}}"
            ),
        ))
    }
}
