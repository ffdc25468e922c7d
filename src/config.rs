//! Settings from the environment, read and validated once at start-up.
//!
//! Every variable is documented in the README's configuration reference.
//! Nothing sensitive lives here: secrets are named by reference only.

use std::path::PathBuf;
use std::time::Duration;

use serde_json::Value;

use crate::error::AppError;
use crate::secrets::SecretRef;
use crate::snowflake::SnowflakeSettings;
use crate::snowflake::auth::Session;

/// Default Alpha Vantage endpoint.
pub const ALPHA_VANTAGE_DEFAULT_URL: &str = "https://www.alphavantage.co/query";

/// Validated settings.
#[derive(Clone, Debug)]
pub struct Config {
    /// `ALPHA_VANTAGE_SECRET`: where the Alpha Vantage key lives.
    pub alpha_vantage_secret: Option<SecretRef>,
    /// `ALPHA_VANTAGE_BASE_URL`.
    pub alpha_vantage_url: String,
    /// `ALPHA_VANTAGE_TIMEOUT_MS`: cap on one Alpha Vantage request.
    pub alpha_vantage_timeout: Duration,
    /// `SECRET_CACHE_TTL_SECS`.
    pub secret_cache_ttl: Duration,
    /// `SECRET_CACHE_MAX_STALE_SECS`: how long past its TTL a cached secret
    /// may be served while Secrets Manager fails transiently (0 disables).
    pub secret_cache_max_stale: Duration,
    /// `SECRET_REFRESH_TIMEOUT_MS`: a refresh with a cached fallback gets
    /// this long before the fallback is served.
    pub secret_refresh_timeout: Duration,
    /// `AWS_LAMBDA_FUNCTION_MEMORY_SIZE` (MB; set by Lambda): upstream body
    /// caps derive from it.
    pub memory_mb: u64,
    /// `DEFAULT_TASK`: run when a schedule delivers no task.
    pub default_task: Option<Value>,
    /// `MAX_RESPONSE_BYTES`: the largest serialized response.
    pub max_response_bytes: usize,
    /// `DEADLINE_MARGIN_MS`: kept free before the Lambda deadline.
    pub deadline_margin: Duration,
    /// `FALLBACK_DEADLINE_SECS`: budget when the runtime's deadline is implausible.
    pub fallback_deadline: Duration,
    /// `HTTP_TIMEOUT_MS`: budget cap for API Gateway / Function URL requests.
    pub http_timeout: Duration,
    /// `METRICS_NAMESPACE`.
    pub metrics_namespace: String,
    /// `SERVICE_NAME` (default: the function name).
    pub service_name: String,
    /// `SNOWFLAKE_*` settings.
    pub snowflake: SnowflakeSettings,
    /// `SNOWFLAKE_STATEMENTS_FILE` (default `$LAMBDA_TASK_ROOT/statements.toml`).
    pub statements_file: PathBuf,
    /// `SNOWFLAKE_REQUEST_TIMEOUT_MS`: cap on one SQL API request.
    pub snowflake_request_timeout: Duration,
}

impl Config {
    /// Read the process environment.
    pub fn from_env() -> Result<Self, AppError> {
        Self::from_lookup(|name| std::env::var(name).ok())
    }

    /// Read settings through `lookup` (tests pass a map).
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Self, AppError> {
        let get = |name: &str| {
            lookup(name)
                .map(|v| v.trim().to_owned())
                .filter(|v| !v.is_empty())
        };
        let number = |name: &str, default: u64, min: u64, max: u64| -> Result<u64, AppError> {
            match get(name) {
                None => Ok(default),
                Some(text) => match text.parse::<u64>() {
                    Ok(n) if (min..=max).contains(&n) => Ok(n),
                    _ => Err(AppError::config(format!(
                        "{name} must be a whole number from {min} to {max}, not '{text}'"
                    ))),
                },
            }
        };
        let alpha_vantage_secret = get("ALPHA_VANTAGE_SECRET")
            .map(|s| SecretRef::parse(&s))
            .transpose()?;
        let alpha_vantage_url =
            get("ALPHA_VANTAGE_BASE_URL").unwrap_or_else(|| ALPHA_VANTAGE_DEFAULT_URL.to_owned());
        if !(alpha_vantage_url.starts_with("https://") || alpha_vantage_url.starts_with("http://"))
        {
            return Err(AppError::config(format!(
                "ALPHA_VANTAGE_BASE_URL must be an http(s) URL, not '{alpha_vantage_url}'"
            )));
        }
        let default_task = match get("DEFAULT_TASK") {
            None => None,
            Some(text) => match serde_json::from_str::<Value>(&text) {
                Ok(v @ Value::Object(_)) => Some(v),
                _ => {
                    return Err(AppError::config(
                        "DEFAULT_TASK must be a JSON object (a task)",
                    ));
                }
            },
        };
        let flag = |name: &str| -> Result<bool, AppError> {
            match get(name).map(|v| v.to_ascii_lowercase()) {
                None => Ok(false),
                Some(v) if v == "true" || v == "1" || v == "yes" => Ok(true),
                Some(v) if v == "false" || v == "0" || v == "no" => Ok(false),
                Some(v) => Err(AppError::config(format!(
                    "{name} must be true or false, not '{v}'"
                ))),
            }
        };
        let snowflake = SnowflakeSettings {
            secret: get("SNOWFLAKE_SECRET")
                .map(|s| SecretRef::parse(&s))
                .transpose()?,
            session: Session {
                account: get("SNOWFLAKE_ACCOUNT"),
                user: get("SNOWFLAKE_USER"),
                role: get("SNOWFLAKE_ROLE"),
                warehouse: get("SNOWFLAKE_WAREHOUSE"),
                database: get("SNOWFLAKE_DATABASE"),
                schema: get("SNOWFLAKE_SCHEMA"),
            },
            base_url: get("SNOWFLAKE_BASE_URL"),
            allow_ad_hoc: flag("SNOWFLAKE_ALLOW_AD_HOC")?,
            partition_concurrency: number("SNOWFLAKE_PARTITION_CONCURRENCY", 4, 1, 32)? as usize,
            statement_timeout: Duration::from_secs(number(
                "SNOWFLAKE_STATEMENT_TIMEOUT_SECS",
                600,
                1,
                604_800,
            )?),
        };
        if let Some(url) = &snowflake.base_url
            && !(url.starts_with("https://") || url.starts_with("http://"))
        {
            return Err(AppError::config(format!(
                "SNOWFLAKE_BASE_URL must be an http(s) URL, not '{url}'"
            )));
        }
        let statements_file = get("SNOWFLAKE_STATEMENTS_FILE")
            .map(PathBuf::from)
            .unwrap_or_else(|| {
                PathBuf::from(get("LAMBDA_TASK_ROOT").unwrap_or_else(|| ".".to_owned()))
                    .join("statements.toml")
            });
        let service_name = get("SERVICE_NAME")
            .or_else(|| get("AWS_LAMBDA_FUNCTION_NAME"))
            .unwrap_or_else(|| "secret-fetch".to_owned());
        Ok(Config {
            alpha_vantage_secret,
            alpha_vantage_url,
            alpha_vantage_timeout: Duration::from_millis(number(
                "ALPHA_VANTAGE_TIMEOUT_MS",
                10_000,
                100,
                900_000,
            )?),
            secret_cache_ttl: Duration::from_secs(number("SECRET_CACHE_TTL_SECS", 300, 0, 86_400)?),
            secret_cache_max_stale: Duration::from_secs(number(
                "SECRET_CACHE_MAX_STALE_SECS",
                900,
                0,
                86_400,
            )?),
            secret_refresh_timeout: Duration::from_millis(number(
                "SECRET_REFRESH_TIMEOUT_MS",
                2_000,
                100,
                60_000,
            )?),
            memory_mb: number("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", 1_024, 128, 10_240)?,
            default_task,
            max_response_bytes: number("MAX_RESPONSE_BYTES", 6_000_000, 1_024, 6_291_456)? as usize,
            deadline_margin: Duration::from_millis(number("DEADLINE_MARGIN_MS", 500, 0, 60_000)?),
            fallback_deadline: Duration::from_secs(number("FALLBACK_DEADLINE_SECS", 30, 1, 900)?),
            http_timeout: Duration::from_millis(number("HTTP_TIMEOUT_MS", 29_000, 1_000, 900_000)?),
            metrics_namespace: get("METRICS_NAMESPACE").unwrap_or_else(|| "SecretFetch".to_owned()),
            service_name,
            snowflake,
            statements_file,
            snowflake_request_timeout: Duration::from_millis(number(
                "SNOWFLAKE_REQUEST_TIMEOUT_MS",
                30_000,
                100,
                900_000,
            )?),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn from(pairs: &[(&str, &str)]) -> Result<Config, AppError> {
        let map: HashMap<String, String> = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        Config::from_lookup(|k| map.get(k).cloned())
    }

    #[test]
    fn defaults() {
        let c = from(&[]).unwrap();
        assert!(c.alpha_vantage_secret.is_none());
        assert_eq!(c.alpha_vantage_url, ALPHA_VANTAGE_DEFAULT_URL);
        assert_eq!(c.secret_cache_ttl, Duration::from_secs(300));
        assert_eq!(c.secret_cache_max_stale, Duration::from_secs(900));
        assert_eq!(c.memory_mb, 1_024);
        assert_eq!(c.max_response_bytes, 6_000_000);
        assert_eq!(c.http_timeout, Duration::from_secs(29));
        assert_eq!(c.service_name, "secret-fetch");
        assert!(!c.snowflake.allow_ad_hoc);
        assert_eq!(c.snowflake.partition_concurrency, 4);
        assert_eq!(c.statements_file, PathBuf::from("./statements.toml"));
        let c = from(&[
            ("LAMBDA_TASK_ROOT", "/var/task"),
            ("SNOWFLAKE_ALLOW_AD_HOC", "TRUE"),
        ])
        .unwrap();
        assert_eq!(
            c.statements_file,
            PathBuf::from("/var/task/statements.toml")
        );
        assert!(c.snowflake.allow_ad_hoc);
    }

    #[test]
    fn reads_and_validates() {
        let c = from(&[
            ("ALPHA_VANTAGE_SECRET", "av/key:apikey"),
            ("SECRET_CACHE_TTL_SECS", "60"),
            (
                "DEFAULT_TASK",
                r#"{"provider":"alpha_vantage","function":"GLOBAL_QUOTE","symbol":"IBM"}"#,
            ),
            ("AWS_LAMBDA_FUNCTION_NAME", "fn"),
        ])
        .unwrap();
        assert_eq!(c.alpha_vantage_secret.unwrap().json_key(), Some("apikey"));
        assert_eq!(c.secret_cache_ttl, Duration::from_secs(60));
        assert!(c.default_task.is_some());
        assert_eq!(c.service_name, "fn");
    }

    #[test]
    fn rejects_bad_values_naming_the_variable() {
        for (k, v) in [
            ("SECRET_CACHE_TTL_SECS", "-1"),
            ("MAX_RESPONSE_BYTES", "99999999"),
            ("DEFAULT_TASK", "[1]"),
            ("ALPHA_VANTAGE_BASE_URL", "ftp://x"),
            ("ALPHA_VANTAGE_SECRET", "a:b:c:d:e"),
            ("SNOWFLAKE_ALLOW_AD_HOC", "maybe"),
            ("SNOWFLAKE_PARTITION_CONCURRENCY", "0"),
            ("SNOWFLAKE_BASE_URL", "snowflake.example"),
        ] {
            let err = from(&[(k, v)]).unwrap_err();
            assert_eq!(err.kind(), crate::error::ErrorKind::ConfigurationError);
            assert!(
                err.message().contains(k) || k == "ALPHA_VANTAGE_SECRET",
                "{}",
                err.message()
            );
        }
    }
}
