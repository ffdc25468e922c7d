//! Settings from the environment, read and validated once at start-up.
//!
//! [`Config`] holds what the function as a whole needs; each provider reads
//! its own settings (through the same [`Env`] reader) in its own folder, and
//! `Config` keeps them in [`ProviderSettings`] without knowing their fields.
//! Every variable is documented in the README's configuration reference.
//! Nothing sensitive lives here: secrets are named by reference only.

use std::time::Duration;

use serde_json::Value;

use crate::error::AppError;
use crate::output::OutputSettings;
use crate::providers::ProviderSettings;
use crate::secrets::SecretRef;

/// Reads and checks environment variables: values are trimmed, empty means
/// unset, and every error names its variable.
pub(crate) struct Env<'a> {
    lookup: &'a dyn Fn(&str) -> Option<String>,
}

impl<'a> Env<'a> {
    /// Read through `lookup` (the process environment, or a test's map).
    pub(crate) fn new(lookup: &'a dyn Fn(&str) -> Option<String>) -> Self {
        Env { lookup }
    }

    /// The trimmed value of `name`, if set and not empty.
    pub(crate) fn get(&self, name: &str) -> Option<String> {
        (self.lookup)(name)
            .map(|v| v.trim().to_owned())
            .filter(|v| !v.is_empty())
    }

    /// A whole number in `min..=max`, or `default` when unset.
    pub(crate) fn number(
        &self,
        name: &str,
        default: u64,
        min: u64,
        max: u64,
    ) -> Result<u64, AppError> {
        match self.get(name) {
            None => Ok(default),
            Some(text) => match text.parse::<u64>() {
                Ok(n) if (min..=max).contains(&n) => Ok(n),
                _ => Err(AppError::config(format!(
                    "{name} must be a whole number from {min} to {max}, not '{text}'"
                ))),
            },
        }
    }

    /// Milliseconds in `min..=max`, or `default` when unset.
    pub(crate) fn millis(
        &self,
        name: &str,
        default: u64,
        min: u64,
        max: u64,
    ) -> Result<Duration, AppError> {
        self.number(name, default, min, max)
            .map(Duration::from_millis)
    }

    /// Seconds in `min..=max`, or `default` when unset.
    pub(crate) fn secs(
        &self,
        name: &str,
        default: u64,
        min: u64,
        max: u64,
    ) -> Result<Duration, AppError> {
        self.number(name, default, min, max)
            .map(Duration::from_secs)
    }

    /// `true`/`1`/`yes` or `false`/`0`/`no` (any case); false when unset.
    pub(crate) fn flag(&self, name: &str) -> Result<bool, AppError> {
        match self.get(name).map(|v| v.to_ascii_lowercase()) {
            None => Ok(false),
            Some(v) if v == "true" || v == "1" || v == "yes" => Ok(true),
            Some(v) if v == "false" || v == "0" || v == "no" => Ok(false),
            Some(v) => Err(AppError::config(format!(
                "{name} must be true or false, not '{v}'"
            ))),
        }
    }

    /// A secret reference, if set.
    pub(crate) fn secret(&self, name: &str) -> Result<Option<SecretRef>, AppError> {
        self.get(name).map(|s| SecretRef::parse(&s)).transpose()
    }

    /// An `http(s)://` URL, if set.
    pub(crate) fn url(&self, name: &str) -> Result<Option<String>, AppError> {
        match self.get(name) {
            Some(url) if !(url.starts_with("https://") || url.starts_with("http://")) => Err(
                AppError::config(format!("{name} must be an http(s) URL, not '{url}'")),
            ),
            other => Ok(other),
        }
    }
}

/// Timeouts and retries of the AWS SDK client (Secrets Manager).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SdkSettings {
    /// `AWS_SDK_CONNECT_TIMEOUT_MS`.
    pub connect_timeout: Duration,
    /// `AWS_SDK_ATTEMPT_TIMEOUT_MS`: one attempt.
    pub attempt_timeout: Duration,
    /// `AWS_SDK_OPERATION_TIMEOUT_MS`: all attempts.
    pub operation_timeout: Duration,
    /// `AWS_SDK_MAX_ATTEMPTS`.
    pub max_attempts: u32,
}

/// Validated settings.
#[derive(Clone, Debug)]
pub struct Config {
    /// `SECRET_CACHE_TTL_SECS`.
    pub(crate) secret_cache_ttl: Duration,
    /// `SECRET_CACHE_MAX_STALE_SECS`: how long past its TTL a cached secret
    /// may be served while Secrets Manager fails transiently (0 disables).
    pub(crate) secret_cache_max_stale: Duration,
    /// `SECRET_REFRESH_TIMEOUT_MS`: a refresh with a cached fallback gets
    /// this long before the fallback is served.
    pub(crate) secret_refresh_timeout: Duration,
    /// The Secrets Manager client's timeouts and retries.
    pub sdk: SdkSettings,
    /// `AWS_LAMBDA_FUNCTION_MEMORY_SIZE` (MB; set by Lambda): upstream body
    /// caps derive from it.
    pub(crate) memory_mb: u64,
    /// `DEFAULT_TASK`: run when a schedule delivers no task.
    pub(crate) default_task: Option<Value>,
    /// `MAX_RESPONSE_BYTES`: the largest serialized response.
    pub(crate) max_response_bytes: usize,
    /// `DEADLINE_MARGIN_MS`: kept free before the Lambda deadline.
    pub(crate) deadline_margin: Duration,
    /// `FALLBACK_DEADLINE_SECS`: budget when the runtime's deadline is implausible.
    pub(crate) fallback_deadline: Duration,
    /// `HTTP_TIMEOUT_MS`: budget cap for API Gateway / Function URL requests.
    pub(crate) http_timeout: Duration,
    /// `METRICS_NAMESPACE`.
    pub(crate) metrics_namespace: String,
    /// `SERVICE_NAME` (default: the function name).
    pub(crate) service_name: String,
    /// Each provider's own settings.
    pub(crate) providers: ProviderSettings,
    /// The output stage's settings (`OUTPUT_*`).
    pub(crate) output: OutputSettings,
}

impl Config {
    /// Read the process environment.
    pub fn from_env() -> Result<Self, AppError> {
        Self::from_lookup(|name| std::env::var(name).ok())
    }

    /// Read settings through `lookup` (tests pass a map).
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Self, AppError> {
        let env = Env::new(&lookup);
        let default_task = match env.get("DEFAULT_TASK") {
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
        let service_name = env
            .get("SERVICE_NAME")
            .or_else(|| env.get("AWS_LAMBDA_FUNCTION_NAME"))
            .unwrap_or_else(|| "secret-fetch".to_owned());
        Ok(Config {
            secret_cache_ttl: env.secs("SECRET_CACHE_TTL_SECS", 300, 0, 86_400)?,
            secret_cache_max_stale: env.secs("SECRET_CACHE_MAX_STALE_SECS", 900, 0, 86_400)?,
            secret_refresh_timeout: env.millis("SECRET_REFRESH_TIMEOUT_MS", 2_000, 100, 60_000)?,
            sdk: SdkSettings {
                connect_timeout: env.millis("AWS_SDK_CONNECT_TIMEOUT_MS", 3_000, 100, 60_000)?,
                attempt_timeout: env.millis("AWS_SDK_ATTEMPT_TIMEOUT_MS", 5_000, 100, 300_000)?,
                operation_timeout: env.millis(
                    "AWS_SDK_OPERATION_TIMEOUT_MS",
                    12_000,
                    100,
                    900_000,
                )?,
                max_attempts: env.number("AWS_SDK_MAX_ATTEMPTS", 3, 1, 10)? as u32,
            },
            memory_mb: env.number("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", 1_024, 128, 10_240)?,
            default_task,
            max_response_bytes: env.number("MAX_RESPONSE_BYTES", 6_000_000, 1_024, 6_291_456)?
                as usize,
            deadline_margin: env.millis("DEADLINE_MARGIN_MS", 500, 0, 60_000)?,
            fallback_deadline: env.secs("FALLBACK_DEADLINE_SECS", 30, 1, 900)?,
            http_timeout: env.millis("HTTP_TIMEOUT_MS", 29_000, 1_000, 900_000)?,
            metrics_namespace: env
                .get("METRICS_NAMESPACE")
                .unwrap_or_else(|| "SecretFetch".to_owned()),
            service_name,
            providers: ProviderSettings::from_env(&env)?,
            output: OutputSettings::from_env(&env)?,
        })
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use std::collections::HashMap;

    pub(crate) fn from(pairs: &[(&str, &str)]) -> Result<Config, AppError> {
        let map: HashMap<String, String> = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        Config::from_lookup(|k| map.get(k).cloned())
    }

    #[test]
    fn defaults() {
        let c = from(&[]).unwrap();
        assert_eq!(c.secret_cache_ttl, Duration::from_secs(300));
        assert_eq!(c.secret_cache_max_stale, Duration::from_secs(900));
        assert_eq!(c.memory_mb, 1_024);
        assert_eq!(c.max_response_bytes, 6_000_000);
        assert_eq!(c.http_timeout, Duration::from_secs(29));
        assert_eq!(c.service_name, "secret-fetch");
        assert_eq!(c.sdk.max_attempts, 3);
        assert_eq!(c.sdk.operation_timeout, Duration::from_secs(12));
    }

    #[test]
    fn reads_and_validates() {
        let c = from(&[
            ("SECRET_CACHE_TTL_SECS", "60"),
            (
                "DEFAULT_TASK",
                r#"{"provider":"alpha_vantage","function":"GLOBAL_QUOTE","symbol":"IBM"}"#,
            ),
            ("AWS_LAMBDA_FUNCTION_NAME", "fn"),
            ("AWS_SDK_MAX_ATTEMPTS", "5"),
        ])
        .unwrap();
        assert_eq!(c.secret_cache_ttl, Duration::from_secs(60));
        assert!(c.default_task.is_some());
        assert_eq!(c.service_name, "fn");
        assert_eq!(c.sdk.max_attempts, 5);
    }

    #[test]
    fn rejects_bad_values_naming_the_variable() {
        for (k, v) in [
            ("SECRET_CACHE_TTL_SECS", "-1"),
            ("MAX_RESPONSE_BYTES", "99999999"),
            ("DEFAULT_TASK", "[1]"),
            ("AWS_SDK_MAX_ATTEMPTS", "0"),
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
