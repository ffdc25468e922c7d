//! The Alpha Vantage provider: its settings, tasks and their validation,
//! its HTTP route, the client, error classification, the generic
//! normaliser and column inference.

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

use std::time::Instant;

use self::client::AlphaVantageClient;
pub(crate) use self::settings::AlphaVantageSettings;
pub(crate) use self::task::AlphaVantageTask;
use super::{Provider, Shared};
use crate::config::Env;
use crate::context::Ctx;
use crate::error::{AppError, ErrorKind};
use crate::response::FetchResult;
use crate::secrets::refresh::{RetryPolicy, with_credential};
use crate::secrets::{SecretRef, SecretSource, SecretValue};

/// JSON keys tried, in order, when the secret is a JSON object and the
/// reference names no key.
pub(crate) const DEFAULT_SECRET_KEYS: [&str; 3] = ["apikey", "api_key", "ALPHAVANTAGE_API_KEY"];

/// The provider: its client and where its key lives.
#[derive(Clone, Debug)]
pub(crate) struct AlphaVantage {
    client: AlphaVantageClient,
    secret: Option<SecretRef>,
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
        })
    }

    fn task_from_route(name: &str, query: &[(String, String)]) -> Result<Self::Task, AppError> {
        routes::task_from_route(name, query)
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
        let deadline = ctx.deadline;
        with_credential(
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
                    normalize::normalize(task, &body?)
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
        .await
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
