//! Alpha Vantage's settings, from the environment.

use std::time::Duration;

use crate::config::Env;
use crate::error::AppError;
use crate::secrets::SecretRef;

/// Default `query` endpoint.
pub(crate) const DEFAULT_URL: &str = "https://www.alphavantage.co/query";

/// Default `UPSTREAM_CACHE_TTL_SECS`: one minute. A hit is then never more
/// than one bar of the finest intraday interval (1min) behind what Alpha
/// Vantage would answer, and daily, weekly and monthly series (which change
/// once a day) are not stale at all in practice — while the bursts that
/// waste a 25-a-day free key are absorbed: retries, dashboards whose panels
/// ask for the same series, a person and a schedule at once, one series
/// read window by window. A deployment serving only end-of-day data can
/// raise it to hours (a warm sandbox rarely lives longer).
pub(crate) const DEFAULT_CACHE_TTL_SECS: u64 = 60;

/// Largest `UPSTREAM_CACHE_TTL_SECS`: a day, the period of daily data.
pub(crate) const MAX_CACHE_TTL_SECS: u64 = 86_400;

/// Largest `UPSTREAM_CACHE_MAX_BYTES`: the memory of the largest function.
pub(crate) const MAX_CACHE_BYTES: u64 = 10_240 * 1024 * 1024;

/// `ALPHA_VANTAGE_*`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct AlphaVantageSettings {
    /// `ALPHA_VANTAGE_SECRET`: where the key lives.
    pub(crate) secret: Option<SecretRef>,
    /// `ALPHA_VANTAGE_BASE_URL`: the `query` endpoint.
    pub(crate) base_url: String,
    /// `ALPHA_VANTAGE_TIMEOUT_MS`: cap on one request.
    pub(crate) timeout: Duration,
    /// `UPSTREAM_CACHE_TTL_SECS`: how long an answer is reused (0 disables
    /// the cache).
    pub(crate) cache_ttl: Duration,
    /// `UPSTREAM_CACHE_MAX_BYTES`: the cache's bound; unset, a fraction of
    /// the function's memory (`upstream_cache::default_max_bytes`).
    pub(crate) cache_max_bytes: Option<u64>,
}

impl AlphaVantageSettings {
    /// Read them.
    pub(crate) fn from_env(env: &Env<'_>) -> Result<Self, AppError> {
        Ok(AlphaVantageSettings {
            secret: env.secret("ALPHA_VANTAGE_SECRET")?,
            base_url: env
                .url("ALPHA_VANTAGE_BASE_URL")?
                .unwrap_or_else(|| DEFAULT_URL.to_owned()),
            timeout: env.millis("ALPHA_VANTAGE_TIMEOUT_MS", 10_000, 100, 900_000)?,
            cache_ttl: env.secs(
                "UPSTREAM_CACHE_TTL_SECS",
                DEFAULT_CACHE_TTL_SECS,
                0,
                MAX_CACHE_TTL_SECS,
            )?,
            cache_max_bytes: match env.get("UPSTREAM_CACHE_MAX_BYTES") {
                None => None,
                Some(_) => Some(env.number("UPSTREAM_CACHE_MAX_BYTES", 0, 0, MAX_CACHE_BYTES)?),
            },
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_and_overrides() {
        let none = |_: &str| None;
        let s = AlphaVantageSettings::from_env(&Env::new(&none)).unwrap();
        assert_eq!(s.base_url, DEFAULT_URL);
        assert!(s.secret.is_none());
        assert_eq!(s.cache_ttl, Duration::from_secs(DEFAULT_CACHE_TTL_SECS));
        assert_eq!(s.cache_max_bytes, None);
        let set = |k: &str| match k {
            "ALPHA_VANTAGE_SECRET" => Some("av/key:apikey".to_owned()),
            "ALPHA_VANTAGE_TIMEOUT_MS" => Some("2500".to_owned()),
            "UPSTREAM_CACHE_TTL_SECS" => Some("0".to_owned()),
            "UPSTREAM_CACHE_MAX_BYTES" => Some("1048576".to_owned()),
            _ => None,
        };
        let s = AlphaVantageSettings::from_env(&Env::new(&set)).unwrap();
        assert_eq!(s.secret.unwrap().json_key(), Some("apikey"));
        assert_eq!(s.timeout, Duration::from_millis(2500));
        assert_eq!(s.cache_ttl, Duration::ZERO);
        assert_eq!(s.cache_max_bytes, Some(1_048_576));
    }

    #[test]
    fn cache_settings_out_of_range_are_configuration_errors() {
        for (name, value) in [
            ("UPSTREAM_CACHE_TTL_SECS", "86401"),
            ("UPSTREAM_CACHE_TTL_SECS", "-1"),
            ("UPSTREAM_CACHE_TTL_SECS", "1m"),
            ("UPSTREAM_CACHE_MAX_BYTES", "64MB"),
            ("UPSTREAM_CACHE_MAX_BYTES", "99999999999999"),
        ] {
            let set = |k: &str| (k == name).then(|| value.to_owned());
            let err = AlphaVantageSettings::from_env(&Env::new(&set)).unwrap_err();
            assert_eq!(err.kind(), crate::error::ErrorKind::ConfigurationError, "{name}={value}");
            assert!(err.message().contains(name), "{}", err.message());
        }
    }
}
