//! Alpha Vantage's settings, from the environment.

use std::time::Duration;

use crate::config::Env;
use crate::error::AppError;
use crate::secrets::SecretRef;

/// Default `query` endpoint.
pub(crate) const DEFAULT_URL: &str = "https://www.alphavantage.co/query";

/// `ALPHA_VANTAGE_*`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct AlphaVantageSettings {
    /// `ALPHA_VANTAGE_SECRET`: where the key lives.
    pub(crate) secret: Option<SecretRef>,
    /// `ALPHA_VANTAGE_BASE_URL`: the `query` endpoint.
    pub(crate) base_url: String,
    /// `ALPHA_VANTAGE_TIMEOUT_MS`: cap on one request.
    pub(crate) timeout: Duration,
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
        let set = |k: &str| match k {
            "ALPHA_VANTAGE_SECRET" => Some("av/key:apikey".to_owned()),
            "ALPHA_VANTAGE_TIMEOUT_MS" => Some("2500".to_owned()),
            _ => None,
        };
        let s = AlphaVantageSettings::from_env(&Env::new(&set)).unwrap();
        assert_eq!(s.secret.unwrap().json_key(), Some("apikey"));
        assert_eq!(s.timeout, Duration::from_millis(2500));
    }
}
