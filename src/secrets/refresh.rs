//! Refreshing a credential the upstream rejected: the one place that
//! implements "a credential the upstream rejects triggers one forced refresh
//! and one retry", so rotation needs no redeploy. Every provider uses it.

use crate::context::Ctx;
use crate::error::AppError;
use crate::secrets::{SecretRef, SecretSource, SecretValue};

/// When to retry after the refresh that follows a rejected credential.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum RetryPolicy {
    /// Only if the refreshed value differs (the same static key would be
    /// rejected again).
    IfChanged,
    /// Always: the call derives short-lived tokens (a Snowflake JWT) that may
    /// have been the problem even if the key is unchanged.
    Always,
}

/// Which call of [`with_credential`] this is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Attempt {
    /// With the credential as read (or cached).
    First,
    /// Again, after the upstream rejected the first and the secret was
    /// re-read: anything derived from the old credential is stale.
    AfterRefresh,
}

/// Read the credential `reference` names and run `call` with it. If `call`
/// fails with a credential rejection, refresh the secret (bypassing the
/// cache) and run `call` once more, as `policy` allows. Every value read is
/// registered with the invocation's redactor before `call` sees it; `call`
/// must check that the value is shaped like its upstream's credential before
/// sending it (a `secret_malformed` error is never retried).
pub(crate) async fn with_credential<S, T>(
    ctx: &Ctx<'_, S>,
    reference: &SecretRef,
    default_keys: &[&str],
    policy: RetryPolicy,
    call: impl AsyncFn(&SecretValue, Attempt) -> Result<T, AppError>,
) -> Result<T, AppError>
where
    S: SecretSource,
{
    let Ctx {
        deadline,
        stats,
        secrets,
        ..
    } = ctx;
    let (credential, status) = deadline
        .run(
            "reading the secret",
            secrets.get(reference, default_keys, false),
        )
        .await?;
    stats.record_secret(status);
    ctx.redactor.add(credential.expose());
    match call(&credential, Attempt::First).await {
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
            ctx.redactor.add(fresh.expose());
            if policy == RetryPolicy::IfChanged && fresh == credential {
                tracing::warn!(secret = %reference, "the secret has not changed; not retrying");
                return Err(rejected);
            }
            call(&fresh, Attempt::AfterRefresh).await
        }
        other => other,
    }
}
