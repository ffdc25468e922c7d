//! The task object every trigger carries, tagged on `provider`.

use serde::Deserialize;
use serde_json::Value;

use crate::alpha_vantage::AlphaVantageTask;
use crate::error::{AppError, preview};
use crate::snowflake::SnowflakeTask;

/// A data-fetch task.
#[derive(Clone, Debug, Deserialize, PartialEq)]
#[serde(tag = "provider", rename_all = "snake_case")]
pub enum TaskRequest {
    /// Market data from Alpha Vantage.
    AlphaVantage(AlphaVantageTask),
    /// A SQL statement through the Snowflake SQL API v2.
    Snowflake(SnowflakeTask),
}

impl TaskRequest {
    /// Parse a task document; the error says what is wrong with it.
    pub fn parse(value: Value) -> Result<Self, AppError> {
        if !value.is_object() {
            return Err(AppError::bad_request("a task must be a JSON object"));
        }
        serde_json::from_value(value).map_err(|e| {
            AppError::bad_request(format!("invalid task: {}", preview(&e.to_string())))
        })
    }

    /// The provider's name as in the `provider` field.
    pub fn provider(&self) -> &'static str {
        match self {
            TaskRequest::AlphaVantage(_) => "alpha_vantage",
            TaskRequest::Snowflake(_) => "snowflake",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn parses_by_provider() {
        let t = TaskRequest::parse(
            json!({"provider": "alpha_vantage", "function": "GLOBAL_QUOTE", "symbol": "IBM"}),
        )
        .unwrap();
        assert_eq!(t.provider(), "alpha_vantage");
    }

    #[test]
    fn errors_name_the_problem() {
        let msg = |v| TaskRequest::parse(v).unwrap_err().message().to_owned();
        assert!(msg(json!({"function": "GLOBAL_QUOTE"})).contains("provider"));
        assert!(msg(json!({"provider": "bloomberg"})).contains("alpha_vantage"));
        assert!(msg(json!({"provider": "bloomberg"})).contains("snowflake"));
        let t =
            TaskRequest::parse(json!({"provider": "snowflake", "query": "q", "params": {"a": 1}}))
                .unwrap();
        assert_eq!(t.provider(), "snowflake");
        assert!(
            msg(json!({"provider": "alpha_vantage", "function": "GLOBAL_QUOTE", "symbl": "IBM"}))
                .contains("symbl")
        );
        assert!(msg(json!([1])).contains("object"));
    }
}
