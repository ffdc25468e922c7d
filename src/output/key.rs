//! Where an object goes: `s3://BUCKET/KEY-TEMPLATE` parsed once, its
//! placeholders filled from the task and the invocation.
//!
//! Placeholders: `{provider}`, `{function}`, `{symbol}`, `{query}`, `{date}`
//! (`YYYY-MM-DD`), `{time}` (`HHMMSS`) and `{request_id}`. A value must be
//! 1–128 of `A–Z a–z 0–9 . _ = -` and not `.` or `..`, so no value can add a
//! folder, climb out of one or smuggle a character a tool would misread; a
//! placeholder the task has no value for is a 400. The key that results is
//! checked as a whole too: at most 1,024 bytes, no empty, `.` or `..`
//! segment, no control character or backslash.

use std::fmt;

use chrono::{DateTime, Utc};

use crate::error::AppError;

/// A placeholder of a key template.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Placeholder {
    /// `{provider}`: `alpha_vantage`, `snowflake`.
    Provider,
    /// `{function}`: an Alpha Vantage function.
    Function,
    /// `{symbol}`: an Alpha Vantage symbol.
    Symbol,
    /// `{query}`: a named Snowflake statement.
    Query,
    /// `{date}`: `YYYY-MM-DD` of the task's time.
    Date,
    /// `{time}`: `HHMMSS` of the task's time.
    Time,
    /// `{request_id}`: the Lambda request id.
    RequestId,
}

impl Placeholder {
    const ALL: [Placeholder; 7] = [
        Placeholder::Provider,
        Placeholder::Function,
        Placeholder::Symbol,
        Placeholder::Query,
        Placeholder::Date,
        Placeholder::Time,
        Placeholder::RequestId,
    ];

    /// Its name between the braces.
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Placeholder::Provider => "provider",
            Placeholder::Function => "function",
            Placeholder::Symbol => "symbol",
            Placeholder::Query => "query",
            Placeholder::Date => "date",
            Placeholder::Time => "time",
            Placeholder::RequestId => "request_id",
        }
    }

    fn named(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|p| p.as_str() == name)
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
enum Part {
    Literal(String),
    Field(Placeholder),
}

/// `s3://BUCKET/KEY-TEMPLATE`, parsed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct KeyTemplate {
    bucket: String,
    parts: Vec<Part>,
}

/// One object: a bucket and a key.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct ObjectUri {
    /// The bucket.
    pub(crate) bucket: String,
    /// The key.
    pub(crate) key: String,
}

impl fmt::Display for ObjectUri {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "s3://{}/{}", self.bucket, self.key)
    }
}

/// Longest S3 key, in bytes.
const MAX_KEY_BYTES: usize = 1024;
/// Longest placeholder value.
const MAX_VALUE_CHARS: usize = 128;

/// Whether `name` is a bucket name S3 accepts: 3–63 of `a–z 0–9 . -`,
/// starting and ending with a letter or digit.
pub(crate) fn valid_bucket(name: &str) -> bool {
    let b = name.as_bytes();
    (3..=63).contains(&b.len())
        && b.iter()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || *c == b'.' || *c == b'-')
        && b[0].is_ascii_alphanumeric()
        && b[b.len() - 1].is_ascii_alphanumeric()
        && !name.contains("..")
}

/// `s3://bucket/rest` split; `None` if it is not an S3 URI with a valid bucket.
pub(crate) fn split_uri(uri: &str) -> Option<(&str, &str)> {
    let rest = uri.strip_prefix("s3://")?;
    let (bucket, key) = rest.split_once('/').unwrap_or((rest, ""));
    valid_bucket(bucket).then_some((bucket, key))
}

fn bad(message: impl Into<String>) -> AppError {
    AppError::bad_request(message)
}

impl KeyTemplate {
    /// Parse `output.uri`.
    pub(crate) fn parse(uri: &str) -> Result<Self, AppError> {
        let shown = crate::error::preview(uri);
        let (bucket, template) = split_uri(uri).ok_or_else(|| {
            bad(format!(
                "output.uri must be s3://BUCKET/KEY with a valid bucket name, not '{shown}'"
            ))
        })?;
        if template.is_empty() || template.ends_with('/') {
            return Err(bad(format!(
                "output.uri '{shown}' names no object: give a key after the bucket, not ending in '/'"
            )));
        }
        let mut parts = Vec::new();
        let mut rest = template;
        while !rest.is_empty() {
            match rest.find(['{', '}']) {
                None => {
                    parts.push(Part::Literal(rest.to_owned()));
                    break;
                }
                Some(at) if rest.as_bytes()[at] == b'}' => {
                    return Err(bad(format!("output.uri '{shown}' has a '}}' without '{{'")));
                }
                Some(at) => {
                    if at > 0 {
                        parts.push(Part::Literal(rest[..at].to_owned()));
                    }
                    let after = &rest[at + 1..];
                    let end = after.find('}').ok_or_else(|| {
                        bad(format!("output.uri '{shown}' has a '{{' without '}}'"))
                    })?;
                    let name = &after[..end];
                    let field = Placeholder::named(name).ok_or_else(|| {
                        let known: Vec<String> = Placeholder::ALL
                            .iter()
                            .map(|p| format!("{{{}}}", p.as_str()))
                            .collect();
                        bad(format!(
                            "output.uri has an unknown placeholder '{{{}}}'; known: {}",
                            crate::error::preview(name),
                            known.join(", ")
                        ))
                    })?;
                    parts.push(Part::Field(field));
                    rest = &after[end + 1..];
                }
            }
        }
        Ok(KeyTemplate {
            bucket: bucket.to_owned(),
            parts,
        })
    }

    /// The object, with every placeholder filled by `value` (`None`: the
    /// task has no such value, a 400).
    pub(crate) fn render(
        &self,
        value: impl Fn(Placeholder) -> Option<String>,
    ) -> Result<ObjectUri, AppError> {
        let mut key = String::new();
        for part in &self.parts {
            match part {
                Part::Literal(text) => key.push_str(text),
                Part::Field(p) => {
                    let v = value(*p).ok_or_else(|| {
                        bad(format!(
                            "output.uri uses {{{}}}, which this task has no value for",
                            p.as_str()
                        ))
                    })?;
                    let safe = (1..=MAX_VALUE_CHARS).contains(&v.chars().count())
                        && v != "."
                        && v != ".."
                        && v.bytes()
                            .all(|b| b.is_ascii_alphanumeric() || b"._=-".contains(&b));
                    if !safe {
                        return Err(bad(format!(
                            "the value of {{{}}} ('{}') cannot go into an S3 key: it must be 1 to {MAX_VALUE_CHARS} of A-Z a-z 0-9 . _ = -",
                            p.as_str(),
                            crate::error::preview(&v)
                        )));
                    }
                    key.push_str(&v);
                }
            }
        }
        check_key(&key)?;
        Ok(ObjectUri {
            bucket: self.bucket.clone(),
            key,
        })
    }
}

/// The whole key's rules (see the module doc).
fn check_key(key: &str) -> Result<(), AppError> {
    let shown = crate::error::preview(key);
    if key.len() > MAX_KEY_BYTES {
        return Err(bad(format!(
            "the output key is {} bytes, over S3's {MAX_KEY_BYTES}",
            key.len()
        )));
    }
    if key.chars().any(|c| c.is_control() || c == '\\') {
        return Err(bad(
            "the output key holds a control character or a backslash",
        ));
    }
    if key.starts_with('/')
        || key
            .split('/')
            .any(|s| s.is_empty() || s == "." || s == "..")
    {
        return Err(bad(format!(
            "the output key '{shown}' has an empty, '.' or '..' segment"
        )));
    }
    Ok(())
}

/// `{date}` and `{time}` of `at` (UTC).
pub(crate) fn date_and_time(at: DateTime<Utc>) -> (String, String) {
    (
        at.format("%Y-%m-%d").to_string(),
        at.format("%H%M%S").to_string(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fill(p: Placeholder) -> Option<String> {
        match p {
            Placeholder::Provider => Some("alpha_vantage".into()),
            Placeholder::Function => Some("TIME_SERIES_DAILY".into()),
            Placeholder::Symbol => Some("BRK.B".into()),
            Placeholder::Query => None,
            Placeholder::Date => Some("2024-03-22".into()),
            Placeholder::Time => Some("185943".into()),
            Placeholder::RequestId => Some("8f5e-11".into()),
        }
    }

    #[test]
    fn renders_every_placeholder() {
        let t = KeyTemplate::parse(
            "s3://my-bucket/av/{provider}/{function}/{symbol}/dt={date}/{time}-{request_id}.parquet",
        )
        .unwrap();
        let uri = t.render(fill).unwrap();
        assert_eq!(uri.bucket, "my-bucket");
        assert_eq!(
            uri.key,
            "av/alpha_vantage/TIME_SERIES_DAILY/BRK.B/dt=2024-03-22/185943-8f5e-11.parquet"
        );
        assert_eq!(uri.to_string(), format!("s3://my-bucket/{}", uri.key));
    }

    #[test]
    fn a_placeholder_without_a_value_is_a_bad_request() {
        let t = KeyTemplate::parse("s3://b-1/{query}.csv").unwrap();
        let e = t.render(fill).unwrap_err();
        assert_eq!(e.kind(), crate::error::ErrorKind::BadRequest);
        assert!(e.message().contains("{query}"), "{}", e.message());
    }

    #[test]
    fn values_cannot_change_the_folder() {
        let t = KeyTemplate::parse("s3://bucket/out/{symbol}/x.jsonl").unwrap();
        for hostile in [
            "../../etc",
            "a/b",
            "..",
            ".",
            "",
            "a b",
            "é",
            "x\u{0}",
            "{date}",
            &"a".repeat(129),
        ] {
            let r = t.render(|p| (p == Placeholder::Symbol).then(|| hostile.to_owned()));
            assert!(r.is_err(), "{hostile:?} accepted");
        }
    }

    #[test]
    fn malformed_templates_are_refused() {
        for uri in [
            "https://bucket/key",
            "s3://",
            "s3://bucket",
            "s3://bucket/",
            "s3://bucket/dir/",
            "s3://Bucket/key",
            "s3://b/key",
            "s3://bucket/{nope}.csv",
            "s3://bucket/{date.csv",
            "s3://bucket/date}.csv",
            "s3://bucket/a//b.csv",
            "s3://bucket/../b.csv",
            "s3://bucket/./b.csv",
            "s3://bucket//b.csv",
        ] {
            let refused = KeyTemplate::parse(uri)
                .and_then(|t| t.render(fill))
                .is_err();
            assert!(refused, "{uri} accepted");
        }
        let long = format!("s3://bucket/{}", "k".repeat(1025));
        assert!(KeyTemplate::parse(&long).unwrap().render(fill).is_err());
    }

    #[test]
    fn date_and_time_are_utc() {
        let at = DateTime::parse_from_rfc3339("2022-03-22T20:59:43+02:00")
            .unwrap()
            .with_timezone(&Utc);
        assert_eq!(date_and_time(at), ("2022-03-22".into(), "185943".into()));
    }
}
