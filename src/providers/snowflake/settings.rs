//! Snowflake's settings, from the environment (the secret may override the
//! connection fields).

use std::path::PathBuf;
use std::time::Duration;

use super::auth::Session;
use crate::config::Env;
use crate::error::AppError;
use crate::secrets::SecretRef;

/// `SNOWFLAKE_*`.
#[derive(Clone, Debug, Default)]
pub(crate) struct SnowflakeSettings {
    /// `SNOWFLAKE_SECRET`.
    pub(crate) secret: Option<SecretRef>,
    /// `SNOWFLAKE_ACCOUNT`, `_USER`, `_ROLE`, `_WAREHOUSE`, `_DATABASE`, `_SCHEMA`.
    pub(crate) session: Session,
    /// `SNOWFLAKE_BASE_URL`: instead of `https://<account>.snowflakecomputing.com`.
    pub(crate) base_url: Option<String>,
    /// `SNOWFLAKE_ALLOW_AD_HOC`.
    pub(crate) allow_ad_hoc: bool,
    /// `SNOWFLAKE_PARTITION_CONCURRENCY`.
    pub(crate) partition_concurrency: usize,
    /// `SNOWFLAKE_STATEMENT_TIMEOUT_SECS`.
    pub(crate) statement_timeout: Duration,
    /// `SNOWFLAKE_REQUEST_TIMEOUT_MS`: cap on one SQL API request.
    pub(crate) request_timeout: Duration,
    /// `SNOWFLAKE_STATEMENTS_FILE` (default `$LAMBDA_TASK_ROOT/statements.toml`).
    pub(crate) statements_file: PathBuf,
}

impl SnowflakeSettings {
    /// Read them.
    pub(crate) fn from_env(env: &Env<'_>) -> Result<Self, AppError> {
        Ok(SnowflakeSettings {
            secret: env.secret("SNOWFLAKE_SECRET")?,
            session: Session {
                account: env.get("SNOWFLAKE_ACCOUNT"),
                user: env.get("SNOWFLAKE_USER"),
                role: env.get("SNOWFLAKE_ROLE"),
                warehouse: env.get("SNOWFLAKE_WAREHOUSE"),
                database: env.get("SNOWFLAKE_DATABASE"),
                schema: env.get("SNOWFLAKE_SCHEMA"),
            },
            base_url: env.url("SNOWFLAKE_BASE_URL")?,
            allow_ad_hoc: env.flag("SNOWFLAKE_ALLOW_AD_HOC")?,
            partition_concurrency: env.number("SNOWFLAKE_PARTITION_CONCURRENCY", 4, 1, 32)?
                as usize,
            statement_timeout: env.secs("SNOWFLAKE_STATEMENT_TIMEOUT_SECS", 600, 1, 604_800)?,
            request_timeout: env.millis("SNOWFLAKE_REQUEST_TIMEOUT_MS", 30_000, 100, 900_000)?,
            statements_file: env
                .get("SNOWFLAKE_STATEMENTS_FILE")
                .map(PathBuf::from)
                .unwrap_or_else(|| {
                    PathBuf::from(env.get("LAMBDA_TASK_ROOT").unwrap_or_else(|| ".".to_owned()))
                        .join("statements.toml")
                }),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_and_the_task_root() {
        let none = |_: &str| None;
        let s = SnowflakeSettings::from_env(&Env::new(&none)).unwrap();
        assert!(!s.allow_ad_hoc);
        assert_eq!(s.partition_concurrency, 4);
        assert_eq!(s.statements_file, PathBuf::from("./statements.toml"));
        let set = |k: &str| match k {
            "LAMBDA_TASK_ROOT" => Some("/var/task".to_owned()),
            "SNOWFLAKE_ALLOW_AD_HOC" => Some("TRUE".to_owned()),
            _ => None,
        };
        let s = SnowflakeSettings::from_env(&Env::new(&set)).unwrap();
        assert_eq!(s.statements_file, PathBuf::from("/var/task/statements.toml"));
        assert!(s.allow_ad_hoc);
    }
}
