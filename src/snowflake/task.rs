//! Snowflake tasks and what they resolve to before any call.

use serde::Deserialize;
use serde_json::{Map, Value};

use super::statements::{Binding, Statements, ad_hoc_bindings};
use crate::error::AppError;
use crate::trigger::TriggerKind;
use std::collections::BTreeMap;

/// Largest `max_rows`.
pub const MAX_ROWS_LIMIT: u64 = 1_000_000;

/// A Snowflake task (provider tag already removed).
#[derive(Clone, Debug, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct SnowflakeTask {
    /// A named statement from the statements file.
    #[serde(default)]
    pub query: Option<String>,
    /// Its parameters, by name.
    #[serde(default)]
    pub params: Map<String, Value>,
    /// At most this many rows in this page.
    #[serde(default)]
    pub max_rows: Option<u64>,
    /// Continue a previous result (from its `next_cursor`).
    #[serde(default)]
    pub cursor: Option<String>,
    /// Ad-hoc SQL: direct invocations only, and only when enabled.
    #[serde(default)]
    pub statement: Option<String>,
    /// Positional values for an ad-hoc statement's `?` placeholders.
    #[serde(default)]
    pub bindings: Vec<Value>,
}

/// A validated task, ready to submit.
#[derive(Clone, Debug, PartialEq)]
pub struct Plan {
    /// What cursors are bound to: the query name, or `adhoc:<hash>`.
    pub key: String,
    /// The query name (None for ad-hoc SQL).
    pub name: Option<String>,
    /// SQL text.
    pub sql: String,
    /// Typed bindings keyed "1".."N".
    pub bindings: BTreeMap<String, Binding>,
    /// Statement timeout from the statements file.
    pub timeout_secs: Option<u64>,
    /// Row cap for this page.
    pub max_rows: usize,
}

impl SnowflakeTask {
    /// Check the task against the statements and the caller, without calling
    /// anything.
    pub fn plan(
        &self,
        statements: &Statements,
        origin: TriggerKind,
        allow_ad_hoc: bool,
    ) -> Result<Plan, AppError> {
        let max_rows = match self.max_rows {
            None => usize::MAX,
            Some(n) if (1..=MAX_ROWS_LIMIT).contains(&n) => n as usize,
            Some(_) => {
                return Err(AppError::bad_request(format!(
                    "max_rows must be from 1 to {MAX_ROWS_LIMIT}"
                )));
            }
        };
        match (&self.query, &self.statement) {
            (Some(_), Some(_)) => Err(AppError::bad_request(
                "give either 'query' or 'statement', not both",
            )),
            (None, None) => Err(AppError::bad_request(
                "a Snowflake task needs 'query' (a named statement)",
            )),
            (Some(name), None) => {
                if !self.bindings.is_empty() {
                    return Err(AppError::bad_request(
                        "'bindings' go with 'statement'; named queries take 'params'",
                    ));
                }
                let st = statements.get(name)?;
                Ok(Plan {
                    key: name.clone(),
                    name: Some(name.clone()),
                    sql: st.sql.clone(),
                    // A cursor continues a stored result: nothing is bound again.
                    bindings: if self.cursor.is_some() {
                        BTreeMap::new()
                    } else {
                        st.bindings(&self.params)?
                    },
                    timeout_secs: st.timeout_secs,
                    max_rows,
                })
            }
            (None, Some(sql)) => {
                if origin.is_http() {
                    return Err(AppError::bad_request(
                        "ad-hoc statements are never accepted over HTTP; use a named query",
                    ));
                }
                if origin != TriggerKind::Direct {
                    return Err(AppError::bad_request(
                        "only direct invocations may send ad-hoc statements",
                    ));
                }
                if !allow_ad_hoc {
                    return Err(AppError::bad_request(
                        "ad-hoc statements are disabled in this deployment (SNOWFLAKE_ALLOW_AD_HOC)",
                    ));
                }
                if !self.params.is_empty() {
                    return Err(AppError::bad_request(
                        "'params' go with 'query'; ad-hoc statements take 'bindings'",
                    ));
                }
                if sql.trim().is_empty() {
                    return Err(AppError::bad_request("'statement' is empty"));
                }
                let digest = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, sql.as_bytes());
                let hash: String = digest.as_ref()[..8]
                    .iter()
                    .map(|b| format!("{b:02x}"))
                    .collect();
                Ok(Plan {
                    key: format!("adhoc:{hash}"),
                    name: None,
                    sql: sql.clone(),
                    bindings: ad_hoc_bindings(&self.bindings)?,
                    timeout_secs: None,
                    max_rows,
                })
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn statements() -> Statements {
        Statements::parse("[by_city]\nsql = \"select * from c where city = ?\"\nparams = [{ name = \"city\", type = \"text\" }]\n", "t").unwrap()
    }

    fn task(v: Value) -> SnowflakeTask {
        serde_json::from_value(v).unwrap()
    }

    #[test]
    fn named_query_plans() {
        let p = task(json!({"query": "by_city", "params": {"city": "Berlin"}, "max_rows": 10}))
            .plan(&statements(), TriggerKind::ApiGatewayHttp, false)
            .unwrap();
        assert_eq!((p.key.as_str(), p.max_rows), ("by_city", 10));
        assert_eq!(p.bindings["1"].value, json!("Berlin"));
    }

    #[test]
    fn a_cursor_needs_no_parameters() {
        let p = task(json!({"query": "by_city", "cursor": "abc.def"}))
            .plan(&statements(), TriggerKind::ApiGatewayRest, false)
            .unwrap();
        assert!(p.bindings.is_empty());
    }

    #[test]
    fn ad_hoc_only_from_direct_calls_when_enabled() {
        let t = task(json!({"statement": "select ?", "bindings": [1]}));
        let s = statements();
        assert!(
            t.plan(&s, TriggerKind::Direct, true)
                .unwrap()
                .key
                .starts_with("adhoc:")
        );
        for (origin, allow, needle) in [
            (TriggerKind::ApiGatewayRest, true, "HTTP"),
            (TriggerKind::FunctionUrl, true, "HTTP"),
            (TriggerKind::EventBridge, true, "direct"),
            (TriggerKind::Direct, false, "SNOWFLAKE_ALLOW_AD_HOC"),
        ] {
            let err = t.plan(&s, origin, allow).unwrap_err();
            assert!(
                err.message().contains(needle),
                "{origin:?}: {}",
                err.message()
            );
        }
    }

    #[test]
    fn shape_errors() {
        let s = statements();
        let msg = |v: Value| {
            task(v)
                .plan(&s, TriggerKind::Direct, true)
                .unwrap_err()
                .message()
                .to_owned()
        };
        assert!(msg(json!({})).contains("'query'"));
        assert!(msg(json!({"query": "by_city", "statement": "x"})).contains("not both"));
        assert!(
            msg(json!({"query": "by_city", "params": {"city": "x"}, "max_rows": 0}))
                .contains("max_rows")
        );
        assert!(msg(json!({"query": "nope"})).contains("unknown query"));
        assert!(
            serde_json::from_value::<SnowflakeTask>(json!({"query": "x", "sql": "y"})).is_err()
        );
    }
}
