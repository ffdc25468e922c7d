//! The Alpha Vantage provider: task validation, the HTTP client, error
//! classification and the generic normaliser.

pub mod classify;
pub mod client;
pub mod normalize;
pub mod task;

use std::time::Instant;

pub use client::AlphaVantageClient;
pub use task::{AlphaVantageTask, Function};

use crate::credentials::{RetryPolicy, with_credential};
use crate::error::{AppError, ErrorKind};
use crate::invocation::InvocationCtx;
use crate::response::FetchResult;
use crate::secrets::{SecretCache, SecretRef, SecretSource, SecretValue};

/// JSON keys tried, in order, when the secret is a JSON object and the
/// reference names no key.
pub const DEFAULT_SECRET_KEYS: [&str; 3] = ["apikey", "api_key", "ALPHAVANTAGE_API_KEY"];

/// The provider: its client and where its key lives.
#[derive(Clone, Debug)]
pub struct AlphaVantage {
    client: AlphaVantageClient,
    secret: Option<SecretRef>,
}

impl AlphaVantage {
    /// A provider reading its key from `secret`.
    pub fn new(client: AlphaVantageClient, secret: Option<SecretRef>) -> Self {
        AlphaVantage { client, secret }
    }

    /// Validate `task`, then fetch and normalise it.
    pub async fn fetch<S: SecretSource>(
        &self,
        task: &AlphaVantageTask,
        secrets: &SecretCache<S>,
        ctx: InvocationCtx<'_>,
    ) -> Result<FetchResult, AppError> {
        let InvocationCtx {
            deadline, stats, ..
        } = ctx;
        task.validate()?;
        let reference = self.secret.as_ref().ok_or_else(|| {
            AppError::config(
                "ALPHA_VANTAGE_SECRET is not set: this deployment cannot run Alpha Vantage tasks",
            )
        })?;
        let body = with_credential(
            secrets,
            reference,
            &DEFAULT_SECRET_KEYS,
            ctx,
            RetryPolicy::IfChanged,
            async |key| {
                check_key(key, reference)?;
                let attempt = async || {
                    let started = Instant::now();
                    let result = self.client.query(task, key, deadline).await;
                    stats.record_upstream(started.elapsed());
                    result
                };
                match attempt().await {
                    Err(e)
                        if classify::is_burst_limit(&e)
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
        .await?;
        normalize::normalize(task, body)
    }
}

/// Longest API key accepted (Alpha Vantage issues 16 characters).
pub const MAX_KEY_LEN: usize = 128;

/// The value must look like an Alpha Vantage API key before it is sent:
/// 1 to [`MAX_KEY_LEN`] characters of `A-Z a-z 0-9 . _ ~ -`. Anything else
/// (white space, quotes, a JSON document) is a `secret_malformed` naming the
/// reference, and is never sent or retried.
pub fn check_key(key: &SecretValue, reference: &SecretRef) -> Result<(), AppError> {
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
