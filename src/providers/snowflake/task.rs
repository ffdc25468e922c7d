//! Snowflake tasks and what they resolve to before any call.

use serde::Deserialize;
use serde_json::{Map, Value};

use super::statements::{Binding, Statements, ad_hoc_bindings};
use crate::error::AppError;
use crate::context::CallerClass;
use std::collections::BTreeMap;

/// Largest `max_rows`.
pub(crate) const MAX_ROWS_LIMIT: u64 = 1_000_000;

/// A Snowflake task (provider tag already removed).
#[derive(Clone, Debug, Default, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub(crate) struct SnowflakeTask {
    /// A named statement from the statements file.
    #[serde(default)]
    pub(crate) query: Option<String>,
    /// Its parameters, by name.
    #[serde(default)]
    pub(crate) params: Map<String, Value>,
    /// At most this many rows in this page.
    #[serde(default)]
    pub(crate) max_rows: Option<u64>,
    /// Continue a previous result (from its `next_cursor`).
    #[serde(default)]
    pub(crate) cursor: Option<String>,
    /// Ad-hoc SQL: direct invocations only, and only when enabled.
    #[serde(default)]
    pub(crate) statement: Option<String>,
    /// Positional values for an ad-hoc statement's `?` placeholders.
    #[serde(default)]
    pub(crate) bindings: Vec<Value>,
}

/// A validated task, ready to submit.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct Plan {
    /// What cursors are bound to: the query name, or `adhoc:<hash>`.
    pub(crate) key: String,
    /// The query name (None for ad-hoc SQL).
    pub(crate) name: Option<String>,
    /// SQL text.
    pub(crate) sql: String,
    /// Typed bindings keyed "1".."N".
    pub(crate) bindings: BTreeMap<String, Binding>,
    /// A digest of the parameters as bound, when the task gave them: a
    /// cursor is only accepted with the parameters it was issued for.
    pub(crate) params_digest: Option<String>,
    /// Statement timeout from the statements file.
    pub(crate) timeout_secs: Option<u64>,
    /// How long an identical execution's stored result may stand in for
    /// running it (`cache_secs`; never for ad-hoc SQL).
    pub(crate) cache_secs: Option<u64>,
    /// Row cap for this page.
    pub(crate) max_rows: usize,
}

impl SnowflakeTask {
    /// Check the task against the statements and the caller, without calling
    /// anything.
    pub(crate) fn plan(
        &self,
        statements: &Statements,
        origin: CallerClass,
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
                st.check_caller(name, origin)?;
                // A cursor continues a stored result: parameters, if given,
                // are only checked against those it was issued for.
                let bound = if self.cursor.is_some() && self.params.is_empty() {
                    None
                } else {
                    Some(st.bindings(&self.params)?)
                };
                let params_digest = bound.as_ref().map(digest).transpose()?;
                Ok(Plan {
                    key: name.clone(),
                    name: Some(name.clone()),
                    sql: st.sql.clone(),
                    bindings: match bound {
                        Some(b) if self.cursor.is_none() => b,
                        _ => BTreeMap::new(),
                    },
                    params_digest,
                    timeout_secs: st.timeout_secs,
                    cache_secs: st.cache_secs.filter(|n| *n > 0),
                    max_rows,
                })
            }
            (None, Some(sql)) => {
                if origin == CallerClass::Http {
                    return Err(AppError::bad_request(
                        "ad-hoc statements are never accepted over HTTP; use a named query",
                    ));
                }
                if origin != CallerClass::Direct {
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
                let sql_digest =
                    aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, sql.as_bytes());
                let hash: String = sql_digest.as_ref()[..8]
                    .iter()
                    .map(|b| format!("{b:02x}"))
                    .collect();
                let bindings = ad_hoc_bindings(&self.bindings)?;
                Ok(Plan {
                    key: format!("adhoc:{hash}"),
                    name: None,
                    sql: sql.clone(),
                    params_digest: Some(digest(&bindings)?),
                    bindings: if self.cursor.is_some() {
                        BTreeMap::new()
                    } else {
                        bindings
                    },
                    timeout_secs: None,
                    cache_secs: None,
                    max_rows,
                })
            }
        }
    }
}

/// A short digest of typed bindings (what a cursor remembers of them).
fn digest(bindings: &BTreeMap<String, Binding>) -> Result<String, AppError> {
    let bytes = serde_json::to_vec(bindings)
        .map_err(|e| AppError::internal(format!("could not encode the bindings: {e}")))?;
    let d = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, &bytes);
    Ok(d.as_ref()[..12]
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect())
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
            .plan(&statements(), CallerClass::Http, false)
            .unwrap();
        assert_eq!((p.key.as_str(), p.max_rows), ("by_city", 10));
        assert_eq!(p.bindings["1"].value, json!("Berlin"));
    }

    #[test]
    fn a_cursor_needs_no_parameters() {
        let p = task(json!({"query": "by_city", "cursor": "abc.def"}))
            .plan(&statements(), CallerClass::Http, false)
            .unwrap();
        assert!(p.bindings.is_empty());
        assert!(p.params_digest.is_none());
    }

    #[test]
    fn parameters_given_with_a_cursor_are_digested_not_bound() {
        let plan = |city: &str, cursor: bool| {
            let mut t = json!({"query": "by_city", "params": {"city": city}});
            if cursor {
                t["cursor"] = json!("abc.def");
            }
            task(t)
                .plan(&statements(), CallerClass::Direct, false)
                .unwrap()
        };
        let first = plan("Berlin", false);
        let same = plan("Berlin", true);
        let other = plan("Paris", true);
        assert!(same.bindings.is_empty());
        assert_eq!(first.params_digest, same.params_digest);
        assert_ne!(first.params_digest, other.params_digest);
    }

    #[test]
    fn statements_that_change_data_are_not_for_http_callers_by_default() {
        let s = Statements::parse(
            "[add]\nsql = \"insert into t values (?)\"\nparams = [{ name = \"v\", type = \"text\" }]\n\n\
             [open_add]\nsql = \"insert into t values (1)\"\ncallers = [\"http\"]\n\n\
             [read]\nsql = \"-- note\\n (select 1)\"\n",
            "t",
        )
        .unwrap();
        let add = task(json!({"query": "add", "params": {"v": "x"}}));
        for origin in [
            CallerClass::Http,
            CallerClass::Http,
            CallerClass::Http,
        ] {
            let err = add.plan(&s, origin, false).unwrap_err();
            assert_eq!(err.kind(), crate::error::ErrorKind::Forbidden, "{origin:?}");
        }
        for origin in [
            CallerClass::Direct,
            CallerClass::Schedule,
            CallerClass::Schedule,
        ] {
            assert!(add.plan(&s, origin, false).is_ok(), "{origin:?}");
        }
        let open = task(json!({"query": "open_add"}));
        assert!(open.plan(&s, CallerClass::Http, false).is_ok());
        assert!(
            open.plan(&s, CallerClass::Direct, false).is_err(),
            "declared callers only"
        );
        let read = task(json!({"query": "read"}));
        assert!(read.plan(&s, CallerClass::Http, false).is_ok());
    }

    #[test]
    fn ad_hoc_only_from_direct_calls_when_enabled() {
        let t = task(json!({"statement": "select ?", "bindings": [1]}));
        let s = statements();
        assert!(
            t.plan(&s, CallerClass::Direct, true)
                .unwrap()
                .key
                .starts_with("adhoc:")
        );
        for (origin, allow, needle) in [
            (CallerClass::Http, true, "HTTP"),
            (CallerClass::Http, true, "HTTP"),
            (CallerClass::Schedule, true, "direct"),
            (CallerClass::Direct, false, "SNOWFLAKE_ALLOW_AD_HOC"),
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
                .plan(&s, CallerClass::Direct, true)
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
