//! Running an upstream call with a cached credential: the one place that
//! implements "a credential the upstream rejects triggers one forced refresh
//! and one retry", so rotation needs no redeploy. Every provider uses it.

use crate::deadline::Deadline;
use crate::error::AppError;
use crate::secrets::{SecretCache, SecretRef, SecretSource, SecretValue};
use crate::telemetry::InvocationStats;

/// When to retry after the refresh that follows a rejected credential.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RetryPolicy {
    /// Only if the refreshed value differs (the same static key would be
    /// rejected again).
    IfChanged,
    /// Always: the call derives short-lived tokens (a Snowflake JWT) that may
    /// have been the problem even if the key is unchanged.
    Always,
}

/// Read the credential `reference` names and run `call` with it. If `call`
/// fails with a credential rejection, refresh the secret (bypassing the
/// cache) and run `call` once more, as `policy` allows.
pub async fn with_credential<S, T>(
    secrets: &SecretCache<S>,
    reference: &SecretRef,
    default_keys: &[&str],
    deadline: &Deadline,
    stats: &InvocationStats,
    policy: RetryPolicy,
    call: impl AsyncFn(&SecretValue) -> Result<T, AppError>,
) -> Result<T, AppError>
where
    S: SecretSource,
{
    let (credential, status) = deadline
        .run(
            "reading the secret",
            secrets.get(reference, default_keys, false),
        )
        .await?;
    stats.record_secret(status);
    match call(&credential).await {
        Err(rejected) if rejected.is_credential_rejected() => {
            tracing::warn!(
                secret = %reference,
                "upstream rejected the credential; refreshing the secret once"
            );
            let (fresh, status) = deadline
                .run(
                    "refreshing the secret",
                    secrets.get(reference, default_keys, true),
                )
                .await?;
            stats.record_secret(status);
            if policy == RetryPolicy::IfChanged && fresh == credential {
                tracing::warn!(secret = %reference, "the secret has not changed; not retrying");
                return Err(rejected);
            }
            call(&fresh).await
        }
        other => other,
    }
}
