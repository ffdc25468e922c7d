//! Named statements: a TOML file shipped in the image declares each
//! statement's SQL (with `?` placeholders), typed parameters, defaults and
//! required flags. Requests bind parameters **by name** into the SQL API's
//! typed bindings — values never touch the SQL text.
//!
//! ```toml
//! [customers_by_city]
//! description = "Customers of a city who signed up since a date"
//! sql = "select id, name, signup_date from customers where city = ? and signup_date >= ?"
//! timeout_secs = 60
//! cache_secs = 300   # optional: reuse an identical execution's stored result
//! params = [
//!   { name = "city", type = "text" },
//!   { name = "since", type = "date", default = "2024-01-01" },
//! ]
//! ```
//!
//! Parameters are listed in placeholder order. Types: `text`, `integer`,
//! `decimal`, `float`, `boolean`, `date`, `time`, `timestamp`,
//! `timestamp_tz`, `binary`; `array = true` makes a parameter a list bound as
//! an array (one row per element: a multi-row INSERT).

use std::collections::BTreeMap;
use std::path::Path;

use chrono::{DateTime, NaiveDateTime, NaiveTime, Timelike};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::dates::strict_date;
use crate::error::{AppError, ErrorKind, preview};
use crate::context::CallerClass;

/// A parameter's declared type.
#[derive(Clone, Copy, Debug, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub(crate) enum ParamType {
    Text,
    Integer,
    Decimal,
    Float,
    Boolean,
    Date,
    Time,
    Timestamp,
    TimestampTz,
    Binary,
}

/// A declared parameter.
#[derive(Clone, Debug, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub(crate) struct Param {
    /// Name used in requests.
    pub(crate) name: String,
    /// Declared type.
    #[serde(rename = "type")]
    pub(crate) kind: ParamType,
    /// Whether a request must give it (default: true unless a default is set).
    #[serde(default)]
    pub(crate) required: Option<bool>,
    /// Used when the request omits it.
    #[serde(default)]
    pub(crate) default: Option<toml::Value>,
    /// A list bound as an array (multi-row DML).
    #[serde(default)]
    pub(crate) array: bool,
    /// May be bound to SQL NULL.
    #[serde(default)]
    pub(crate) nullable: bool,
}

/// A named statement.
#[derive(Clone, Debug, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub(crate) struct Statement {
    /// The SQL text with `?` placeholders.
    pub(crate) sql: String,
    /// What it does (documentation only).
    #[serde(default)]
    pub(crate) description: Option<String>,
    /// Snowflake statement timeout, seconds (bounded by the Lambda deadline).
    #[serde(default)]
    pub(crate) timeout_secs: Option<u64>,
    /// Parameters in placeholder order.
    #[serde(default)]
    pub(crate) params: Vec<Param>,
    /// Who may run it. Default: every caller for a read-only statement
    /// (SELECT, WITH, SHOW, DESCRIBE, EXPLAIN), direct and scheduled calls
    /// only for anything else — an HTTP caller never changes data unless
    /// the statement says `callers = [..., "http"]`.
    #[serde(default)]
    pub(crate) callers: Option<Vec<CallerClass>>,
    /// Reuse the stored result of an identical execution (same bindings,
    /// same role) from at most this many seconds ago instead of running the
    /// statement again. Read-only statements only.
    #[serde(default)]
    pub(crate) cache_secs: Option<u64>,
}

/// Whether `sql` only reads: its first keyword (after comments and
/// parentheses) is SELECT, WITH, SHOW, DESCRIBE, DESC or EXPLAIN.
pub(crate) fn is_read_only(sql: &str) -> bool {
    let mut rest = sql.trim_start();
    loop {
        if let Some(r) = rest.strip_prefix("--") {
            rest = r.split_once('\n').map_or("", |(_, r)| r).trim_start();
        } else if let Some(r) = rest.strip_prefix("/*") {
            rest = r.split_once("*/").map_or("", |(_, r)| r).trim_start();
        } else if let Some(r) = rest.strip_prefix('(') {
            rest = r.trim_start();
        } else {
            break;
        }
    }
    let word: String = rest
        .chars()
        .take_while(|c| c.is_ascii_alphabetic())
        .collect::<String>()
        .to_ascii_uppercase();
    matches!(
        word.as_str(),
        "SELECT" | "WITH" | "SHOW" | "DESCRIBE" | "DESC" | "EXPLAIN"
    )
}

impl Statement {
    /// The callers that may run it (declared, or the default above).
    pub(crate) fn callers(&self) -> Vec<CallerClass> {
        match &self.callers {
            Some(c) => c.clone(),
            None if is_read_only(&self.sql) => {
                vec![CallerClass::Direct, CallerClass::Schedule, CallerClass::Http]
            }
            None => vec![CallerClass::Direct, CallerClass::Schedule],
        }
    }

    /// `Ok` if a caller of class `caller` may run statement `name`.
    pub(crate) fn check_caller(&self, name: &str, caller: CallerClass) -> Result<(), AppError> {
        let allowed = self.callers();
        if allowed.contains(&caller) {
            return Ok(());
        }
        let list: Vec<&str> = allowed.iter().map(|c| c.as_str()).collect();
        Err(AppError::new(
            ErrorKind::Forbidden,
            format!(
                "statement '{name}' may not be run by {} callers (it allows: {}); set `callers` in the statements file to change that",
                caller.as_str(),
                if list.is_empty() {
                    "none".to_owned()
                } else {
                    list.join(", ")
                }
            ),
        ))
    }
}

/// One typed binding as the SQL API takes it.
#[derive(Clone, Debug, Serialize, PartialEq)]
pub(crate) struct Binding {
    /// Binding type (`TEXT`, `FIXED`, …).
    #[serde(rename = "type")]
    pub(crate) kind: &'static str,
    /// A string, an array of strings, or null.
    pub(crate) value: Value,
}

/// The statements file.
#[derive(Clone, Debug, Default)]
pub(crate) struct Statements {
    by_name: BTreeMap<String, Statement>,
}

impl Statements {
    /// Parse and check a statements file's text; `origin` names it in errors.
    pub(crate) fn parse(text: &str, origin: &str) -> Result<Self, AppError> {
        let by_name: BTreeMap<String, Statement> = toml::from_str(text)
            .map_err(|e| AppError::config(format!("{origin}: {}", preview(&e.to_string()))))?;
        for (name, st) in &by_name {
            let bad = |why: String| {
                Err(AppError::config(format!(
                    "{origin}: statement '{name}': {why}"
                )))
            };
            if !valid_name(name) {
                return bad("names may use letters, digits, '_' and '-' only".into());
            }
            if st.cache_secs.is_some_and(|n| n > 0) && !is_read_only(&st.sql) {
                return bad(
                    "cache_secs is for read-only statements (a stored result stands in for running it again)"
                        .into(),
                );
            }
            let placeholders = count_placeholders(&st.sql);
            if placeholders != st.params.len() {
                return bad(format!(
                    "the SQL has {placeholders} '?' placeholders but {} parameters are declared",
                    st.params.len()
                ));
            }
            let mut seen = std::collections::HashSet::new();
            for p in &st.params {
                if !seen.insert(p.name.as_str()) {
                    return bad(format!("parameter '{}' is declared twice", p.name));
                }
                if let Some(default) = &p.default {
                    let json = serde_json::to_value(default).unwrap_or(Value::Null);
                    if let Err(e) = bind(p, &json) {
                        return bad(format!("default of '{}': {}", p.name, e.message()));
                    }
                }
                if p.required == Some(true) && p.default.is_some() {
                    return bad(format!(
                        "parameter '{}' is required and has a default",
                        p.name
                    ));
                }
            }
        }
        Ok(Statements { by_name })
    }

    /// Load `path`; a missing file is an empty set.
    pub(crate) fn load(path: &Path) -> Result<Self, AppError> {
        match std::fs::read_to_string(path) {
            Ok(text) => Self::parse(&text, &path.display().to_string()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Statements::default()),
            Err(e) => Err(AppError::config(format!(
                "cannot read {}: {e}",
                path.display()
            ))),
        }
    }

    /// The statement `name`, or an `unknown_query` error listing the known ones.
    pub(crate) fn get(&self, name: &str) -> Result<&Statement, AppError> {
        self.by_name.get(name).ok_or_else(|| {
            let known: Vec<&str> = self.by_name.keys().map(String::as_str).collect();
            AppError::new(
                ErrorKind::UnknownQuery,
                format!(
                    "unknown query '{}'; known: {}",
                    preview(name),
                    if known.is_empty() {
                        "none".to_owned()
                    } else {
                        known.join(", ")
                    }
                ),
            )
        })
    }

    /// Whether there are none.
    pub(crate) fn is_empty(&self) -> bool {
        self.by_name.is_empty()
    }
}

impl Statement {
    /// Bind `given` by name: every required parameter present, no unknown
    /// names, each value checked against its declared type.
    pub(crate) fn bindings(
        &self,
        given: &Map<String, Value>,
    ) -> Result<BTreeMap<String, Binding>, AppError> {
        if let Some(unknown) = given
            .keys()
            .find(|k| !self.params.iter().any(|p| &p.name == *k))
        {
            let names: Vec<&str> = self.params.iter().map(|p| p.name.as_str()).collect();
            return Err(AppError::bad_request(format!(
                "unknown parameter '{}'; this query takes: {}",
                preview(unknown),
                if names.is_empty() {
                    "none".into()
                } else {
                    names.join(", ")
                }
            )));
        }
        let mut out = BTreeMap::new();
        for (i, p) in self.params.iter().enumerate() {
            let value = match (given.get(&p.name), &p.default) {
                (Some(v), _) => v.clone(),
                (None, Some(default)) => serde_json::to_value(default).unwrap_or(Value::Null),
                (None, None) if p.required == Some(false) || p.nullable => Value::Null,
                (None, None) => {
                    return Err(AppError::bad_request(format!(
                        "missing parameter '{}' ({})",
                        p.name,
                        type_name(p)
                    )));
                }
            };
            out.insert((i + 1).to_string(), bind(p, &value)?);
        }
        Ok(out)
    }
}

fn type_name(p: &Param) -> String {
    let base = format!("{:?}", p.kind).to_ascii_lowercase();
    if p.array {
        format!("array of {base}")
    } else {
        base
    }
}

fn valid_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 128
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
}

/// `?` placeholders outside string literals, quoted identifiers and comments.
pub(crate) fn count_placeholders(sql: &str) -> usize {
    let b = sql.as_bytes();
    let (mut i, mut n) = (0, 0);
    while i < b.len() {
        match b[i] {
            q @ (b'\'' | b'"') => {
                i += 1;
                while i < b.len() {
                    if b[i] == b'\\' && q == b'\'' {
                        i += 2;
                        continue;
                    }
                    if b[i] == q {
                        if b.get(i + 1) == Some(&q) {
                            i += 2;
                            continue;
                        }
                        break;
                    }
                    i += 1;
                }
            }
            b'-' if b.get(i + 1) == Some(&b'-') => {
                while i < b.len() && b[i] != b'\n' {
                    i += 1;
                }
            }
            b'/' if b.get(i + 1) == Some(&b'*') => {
                i += 2;
                while i + 1 < b.len() && !(b[i] == b'*' && b[i + 1] == b'/') {
                    i += 1;
                }
                i += 1;
            }
            b'$' if b.get(i + 1) == Some(&b'$') => {
                i += 2;
                while i + 1 < b.len() && !(b[i] == b'$' && b[i + 1] == b'$') {
                    i += 1;
                }
                i += 1;
            }
            b'?' => n += 1,
            _ => {}
        }
        i += 1;
    }
    n
}

/// One value to a typed binding.
pub(crate) fn bind(p: &Param, value: &Value) -> Result<Binding, AppError> {
    let kind = binding_type(p.kind);
    if value.is_null() {
        if p.nullable || p.required == Some(false) {
            return Ok(Binding {
                kind,
                value: Value::Null,
            });
        }
        return Err(AppError::bad_request(format!(
            "parameter '{}' may not be null",
            p.name
        )));
    }
    if p.array {
        let Value::Array(items) = value else {
            return Err(AppError::bad_request(format!(
                "parameter '{}' must be a JSON array ({})",
                p.name,
                type_name(p)
            )));
        };
        if items.is_empty() {
            return Err(AppError::bad_request(format!(
                "parameter '{}' is an empty array",
                p.name
            )));
        }
        let values = items
            .iter()
            .map(|v| scalar(p, v).map(Value::String))
            .collect::<Result<Vec<_>, _>>()?;
        return Ok(Binding {
            kind,
            value: Value::Array(values),
        });
    }
    Ok(Binding {
        kind,
        value: Value::String(scalar(p, value)?),
    })
}

fn binding_type(t: ParamType) -> &'static str {
    match t {
        ParamType::Text | ParamType::Decimal => "TEXT",
        ParamType::Integer => "FIXED",
        ParamType::Float => "REAL",
        ParamType::Boolean => "BOOLEAN",
        ParamType::Date => "DATE",
        ParamType::Time => "TIME",
        ParamType::Timestamp => "TIMESTAMP_NTZ",
        ParamType::TimestampTz => "TIMESTAMP_TZ",
        ParamType::Binary => "BINARY",
    }
}

/// A scalar in the SQL API's string encoding for the parameter's type.
fn scalar(p: &Param, v: &Value) -> Result<String, AppError> {
    let bad = |expected: &str| {
        AppError::bad_request(format!(
            "parameter '{}' must be {expected}, not {}",
            p.name,
            preview(&v.to_string())
        ))
    };
    let text = match v {
        Value::String(s) => s.trim().to_owned(),
        Value::Number(n) => n.to_string(),
        Value::Bool(b) => b.to_string(),
        _ => return Err(bad("a scalar")),
    };
    match p.kind {
        ParamType::Text => match v {
            Value::String(s) => Ok(s.clone()),
            _ => Err(bad("a string")),
        },
        ParamType::Integer => {
            let digits = text.strip_prefix('-').unwrap_or(&text);
            if !digits.is_empty()
                && digits.len() <= 38
                && digits.bytes().all(|b| b.is_ascii_digit())
            {
                Ok(text)
            } else {
                Err(bad("an integer"))
            }
        }
        ParamType::Decimal => {
            let body = text.strip_prefix('-').unwrap_or(&text);
            let ok = !body.is_empty()
                && body.bytes().all(|b| b.is_ascii_digit() || b == b'.')
                && body.bytes().filter(|&b| b == b'.').count() <= 1
                && body.bytes().any(|b| b.is_ascii_digit());
            if ok {
                Ok(text)
            } else {
                Err(bad("a decimal number such as 12.50"))
            }
        }
        ParamType::Float => match text.parse::<f64>() {
            Ok(f) if f.is_finite() => Ok(text),
            _ => Err(bad("a number")),
        },
        ParamType::Boolean => match text.to_ascii_lowercase().as_str() {
            "true" => Ok("true".into()),
            "false" => Ok("false".into()),
            _ => Err(bad("true or false")),
        },
        ParamType::Date => strict_date(&text)
            .and_then(|d| d.and_hms_opt(0, 0, 0))
            .map(|dt| dt.and_utc().timestamp_millis().to_string())
            .ok_or_else(|| bad("a date YYYY-MM-DD")),
        ParamType::Time => NaiveTime::parse_from_str(&text, "%H:%M:%S%.f")
            .ok()
            .map(|t| {
                (i64::from(t.num_seconds_from_midnight()) * 1_000_000_000
                    + i64::from(t.nanosecond()))
                .to_string()
            })
            .ok_or_else(|| bad("a time HH:MM:SS[.fffffffff]")),
        ParamType::Timestamp => ["%Y-%m-%dT%H:%M:%S%.f", "%Y-%m-%d %H:%M:%S%.f"]
            .iter()
            .find_map(|f| NaiveDateTime::parse_from_str(&text, f).ok())
            .and_then(|dt| dt.and_utc().timestamp_nanos_opt())
            .map(|n| n.to_string())
            .ok_or_else(|| bad("a timestamp YYYY-MM-DDTHH:MM:SS[.f] without a zone")),
        ParamType::TimestampTz => DateTime::parse_from_rfc3339(&text)
            .ok()
            .and_then(|dt| {
                let nanos = dt.timestamp_nanos_opt()?;
                let offset = dt.offset().local_minus_utc() / 60 + 1440;
                Some(format!("{nanos} {offset}"))
            })
            .ok_or_else(|| bad("an RFC 3339 timestamp with an offset")),
        ParamType::Binary => {
            if text.len().is_multiple_of(2) && text.bytes().all(|b| b.is_ascii_hexdigit()) {
                Ok(text.to_ascii_uppercase())
            } else {
                Err(bad("hex text"))
            }
        }
    }
}

/// Typed bindings for an ad-hoc statement from plain JSON values: strings →
/// TEXT, integers → FIXED, other numbers → REAL, booleans → BOOLEAN, null →
/// NULL, arrays → array bindings of TEXT.
pub(crate) fn ad_hoc_bindings(values: &[Value]) -> Result<BTreeMap<String, Binding>, AppError> {
    let mut out = BTreeMap::new();
    for (i, v) in values.iter().enumerate() {
        let binding = match v {
            Value::String(s) => Binding {
                kind: "TEXT",
                value: Value::String(s.clone()),
            },
            Value::Number(n) if n.is_i64() || n.is_u64() => Binding {
                kind: "FIXED",
                value: Value::String(n.to_string()),
            },
            Value::Number(n) => Binding {
                kind: "REAL",
                value: Value::String(n.to_string()),
            },
            Value::Bool(b) => Binding {
                kind: "BOOLEAN",
                value: Value::String(b.to_string()),
            },
            Value::Null => Binding {
                kind: "TEXT",
                value: Value::Null,
            },
            Value::Array(items) => Binding {
                kind: "TEXT",
                value: Value::Array(
                    items
                        .iter()
                        .map(|x| match x {
                            Value::String(s) => Value::String(s.clone()),
                            other => Value::String(other.to_string()),
                        })
                        .collect(),
                ),
            },
            Value::Object(_) => {
                return Err(AppError::bad_request(format!(
                    "binding {} is an object; use a string",
                    i + 1
                )));
            }
        };
        out.insert((i + 1).to_string(), binding);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const FILE: &str = r#"
[customers_by_city]
description = "Customers of a city"
sql = "select id, name from customers where city = ? and signup_date >= ? and note <> 'what?' -- really?"
params = [
  { name = "city", type = "text" },
  { name = "since", type = "date", default = "2024-01-01" },
]

[add_customers]
sql = "insert into customers (name, city) values (?, ?)"
params = [
  { name = "names", type = "text", array = true },
  { name = "cities", type = "text", array = true },
]

[typed]
sql = "select ?, ?, ?, ?, ?, ?, ?, ?, ?"
params = [
  { name = "i", type = "integer" }, { name = "d", type = "decimal" }, { name = "f", type = "float" },
  { name = "b", type = "boolean" }, { name = "t", type = "time" }, { name = "ts", type = "timestamp" },
  { name = "tz", type = "timestamp_tz" }, { name = "bin", type = "binary" },
  { name = "opt", type = "text", required = false },
]
"#;

    fn st() -> Statements {
        Statements::parse(FILE, "statements.toml").unwrap()
    }

    #[test]
    fn binds_by_name_with_defaults() {
        let s = st();
        let b = s
            .get("customers_by_city")
            .unwrap()
            .bindings(json!({"city": "Berlin"}).as_object().unwrap())
            .unwrap();
        assert_eq!(
            serde_json::to_value(&b).unwrap(),
            json!({
                "1": {"type": "TEXT", "value": "Berlin"},
                "2": {"type": "DATE", "value": "1704067200000"}
            })
        );
    }

    #[test]
    fn every_type_encodes_as_the_sql_api_expects() {
        let s = st();
        let b = s
            .get("typed")
            .unwrap()
            .bindings(json!({"i": "-42", "d": 12.5, "f": "2.5", "b": "TRUE", "t": "13:45:30.123456789",
                             "ts": "2024-01-02T03:04:05.123456789", "tz": "2024-01-02T03:04:05-08:00", "bin": "deadbeef"})
                .as_object()
                .unwrap())
            .unwrap();
        let v = serde_json::to_value(&b).unwrap();
        assert_eq!(v["1"], json!({"type": "FIXED", "value": "-42"}));
        assert_eq!(v["2"], json!({"type": "TEXT", "value": "12.5"}));
        assert_eq!(v["3"], json!({"type": "REAL", "value": "2.5"}));
        assert_eq!(v["4"], json!({"type": "BOOLEAN", "value": "true"}));
        assert_eq!(v["5"], json!({"type": "TIME", "value": "49530123456789"}));
        assert_eq!(
            v["6"],
            json!({"type": "TIMESTAMP_NTZ", "value": "1704164645123456789"})
        );
        assert_eq!(
            v["7"],
            json!({"type": "TIMESTAMP_TZ", "value": "1704193445000000000 960"})
        );
        assert_eq!(v["8"], json!({"type": "BINARY", "value": "DEADBEEF"}));
        assert_eq!(v["9"], json!({"type": "TEXT", "value": null}));
    }

    #[test]
    fn array_bindings_for_multi_row_insert() {
        let s = st();
        let b = s
            .get("add_customers")
            .unwrap()
            .bindings(
                json!({"names": ["Ann", "Bo"], "cities": ["Berlin", "Oslo"]})
                    .as_object()
                    .unwrap(),
            )
            .unwrap();
        assert_eq!(
            serde_json::to_value(&b).unwrap()["1"],
            json!({"type": "TEXT", "value": ["Ann", "Bo"]})
        );
        let err = s
            .get("add_customers")
            .unwrap()
            .bindings(json!({"names": "Ann", "cities": []}).as_object().unwrap())
            .unwrap_err();
        assert!(err.message().contains("'names'"), "{}", err.message());
    }

    #[test]
    fn errors_name_the_parameter() {
        let s = st();
        let q = s.get("customers_by_city").unwrap();
        let msg = |v: Value| {
            q.bindings(v.as_object().unwrap())
                .unwrap_err()
                .message()
                .to_owned()
        };
        assert!(msg(json!({})).contains("missing parameter 'city'"));
        assert!(msg(json!({"city": "x", "bogus": 1})).contains("unknown parameter 'bogus'"));
        assert!(msg(json!({"city": 5})).contains("'city' must be a string"));
        assert!(
            msg(json!({"city": "x", "since": "2024-13-01"})).contains("'since' must be a date")
        );
        assert!(msg(json!({"city": null})).contains("may not be null"));
        let t = s.get("typed").unwrap();
        let err = t
            .bindings(json!({"i": "1.5"}).as_object().unwrap())
            .unwrap_err();
        assert!(err.message().contains("'i' must be an integer"));
        assert_eq!(s.get("nope").unwrap_err().kind(), ErrorKind::UnknownQuery);
        assert!(
            s.get("nope")
                .unwrap_err()
                .message()
                .contains("customers_by_city")
        );
    }

    #[test]
    fn cache_secs_is_for_read_only_statements() {
        let st = Statements::parse("[q]\nsql = \"select 1\"\ncache_secs = 30\n", "t").unwrap();
        assert_eq!(st.get("q").unwrap().cache_secs, Some(30));
        let err = Statements::parse("[w]\nsql = \"delete from t\"\ncache_secs = 30\n", "t").unwrap_err();
        assert_eq!(err.kind(), ErrorKind::ConfigurationError);
        assert!(err.message().contains("cache_secs"));
        assert!(Statements::parse("[w]\nsql = \"delete from t\"\ncache_secs = 0\n", "t").is_ok());
    }

    #[test]
    fn file_errors_are_configuration_errors() {
        for bad in [
            "[q]\nsql = \"select ?\"\n",
            "[q]\nsql = \"select 1\"\nparams = [{ name = \"a\", type = \"text\" }]\n",
            "[q]\nsql = \"select ?\"\nparams = [{ name = \"a\", type = \"uuid\" }]\n",
            "[q]\nsql = \"select ?\"\nparams = [{ name = \"a\", type = \"date\", default = \"soon\" }]\n",
            "[\"bad name\"]\nsql = \"select 1\"\n",
            "not toml at all [",
        ] {
            let err = Statements::parse(bad, "f.toml").unwrap_err();
            assert_eq!(err.kind(), ErrorKind::ConfigurationError, "{bad}");
        }
    }

    #[test]
    fn the_shipped_statements_file_is_valid() {
        let path = Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/statements.toml"));
        let s = Statements::load(path).unwrap();
        for name in ["customers_by_city", "daily_orders", "add_customers"] {
            assert!(s.get(name).is_ok(), "{name}");
        }
        assert!(
            Statements::load(Path::new("/nonexistent/statements.toml"))
                .unwrap()
                .is_empty()
        );
    }

    #[test]
    fn placeholders_skip_literals_and_comments() {
        assert_eq!(
            count_placeholders("select ? , '?' , \"?\" -- ?\n, ? /* ? */ , $$?$$"),
            2
        );
        assert_eq!(count_placeholders("select 'it''s ?', ?"), 1);
    }

    #[test]
    fn ad_hoc_values_are_typed_by_json_type() {
        let b = ad_hoc_bindings(&[
            json!("x"),
            json!(3),
            json!(2.5),
            json!(true),
            Value::Null,
            json!(["a", 1]),
        ])
        .unwrap();
        let v = serde_json::to_value(&b).unwrap();
        assert_eq!(v["2"], json!({"type": "FIXED", "value": "3"}));
        assert_eq!(v["6"], json!({"type": "TEXT", "value": ["a", "1"]}));
        assert!(ad_hoc_bindings(&[json!({})]).is_err());
    }
}
