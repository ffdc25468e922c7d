//! The output stage: a task's rows written to S3 as one object, exactly
//! once, instead of returned.
//!
//! A task with `"output": {"uri": "s3://BUCKET/KEY-TEMPLATE", "format": …}`
//! goes this way, before any upstream call:
//! 1. the caller may write (`OUTPUT_ALLOW_HTTP` for API Gateway / Function
//!    URL callers), the key renders (`key`), and the object lies under one
//!    of `OUTPUT_S3_PREFIXES` (`settings`) — else a 400;
//! 2. HeadObject: if the object is there (a retried schedule, a second
//!    delivery), the answer is its manifest with `written: false`, and
//!    nothing else happens — no secret read, no upstream call;
//! 3. the provider streams its rows into an [`ObjectWriter`] (`object`,
//!    `format`), and the object is created with `If-None-Match: *` (`s3`):
//!    if another delivery created it meanwhile, S3 keeps that one and the
//!    answer says `written: false`.
//!
//! The time behind `{date}` and `{time}` is the task's `as_of` (a Scheduler
//! target passes `<aws.scheduler.scheduled-time>`), else an EventBridge
//! envelope's `time`, else the invocation's start — all the same on every
//! retry of one occurrence but the last, which is why schedules should pass
//! `as_of` or use the envelope.

pub(crate) mod format;
pub(crate) mod key;
pub(crate) mod object;
pub(crate) mod s3;
pub(crate) mod settings;

use aws_credential_types::provider::SharedCredentialsProvider;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use self::format::Format;
use self::key::{KeyTemplate, ObjectUri, Placeholder};
pub(crate) use self::object::ObjectWriter;
use self::s3::{Existing, ObjectMeta, S3Client};
pub(crate) use self::settings::OutputSettings;
use crate::context::CallerClass;
use crate::deadline::Deadline;
use crate::error::AppError;

/// A task's `output`, as the task document carries it.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct OutputField {
    uri: String,
    #[serde(default)]
    format: Option<Format>,
}

/// A task's `output`, checked: where (a template) and in which format.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct OutputSpec {
    pub(crate) template: KeyTemplate,
    pub(crate) format: Format,
}

impl OutputSpec {
    /// Parse `output` (the format may be left to the key's extension:
    /// `.jsonl`/`.ndjson`, `.csv`, `.parquet`).
    pub(crate) fn parse(value: Value) -> Result<Self, AppError> {
        let field: OutputField = serde_json::from_value(value).map_err(|e| {
            AppError::bad_request(format!(
                "invalid output: {} (expected {{\"uri\": \"s3://BUCKET/KEY\", \"format\": \"jsonl\" | \"csv\" | \"parquet\"}})",
                crate::error::preview(&e.to_string())
            ))
        })?;
        let template = KeyTemplate::parse(&field.uri)?;
        let by_extension = || {
            let lower = field.uri.to_ascii_lowercase();
            [
                (".jsonl", Format::Jsonl),
                (".ndjson", Format::Jsonl),
                (".csv", Format::Csv),
                (".parquet", Format::Parquet),
            ]
            .into_iter()
            .find(|(ext, _)| lower.ends_with(ext))
            .map(|(_, f)| f)
        };
        let format = field.format.or_else(by_extension).ok_or_else(|| {
            AppError::bad_request(
                "output.format is required (jsonl, csv or parquet) when the key does not end in .jsonl, .csv or .parquet",
            )
        })?;
        Ok(OutputSpec { template, format })
    }
}

/// Parse a task document's `as_of` (RFC 3339; kept in UTC).
pub(crate) fn parse_as_of(value: &Value) -> Result<DateTime<Utc>, AppError> {
    value
        .as_str()
        .and_then(|s| DateTime::parse_from_rfc3339(s.trim()).ok())
        .map(|t| t.with_timezone(&Utc))
        .ok_or_else(|| {
            AppError::bad_request(format!(
                "as_of must be an RFC 3339 time such as 2024-03-22T18:59:43Z, not {}",
                crate::error::preview(&value.to_string())
            ))
        })
}

/// What a task with `output` answers instead of its rows.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub(crate) struct Manifest {
    /// `s3://bucket/key`.
    pub(crate) uri: String,
    /// `jsonl`, `csv` or `parquet`.
    pub(crate) format: Format,
    /// Rows in the object (as recorded on it, when it was already there).
    pub(crate) rows: Option<u64>,
    /// Its size.
    pub(crate) bytes: u64,
    /// Its `ETag` (`null` when another writer created it meanwhile).
    pub(crate) etag: Option<String>,
    /// Whether this invocation wrote it.
    pub(crate) written: bool,
}

/// One object to write: where, and how.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Target {
    pub(crate) uri: ObjectUri,
    pub(crate) format: Format,
}

impl Target {
    /// The manifest of an object that was already there.
    pub(crate) fn existing(&self, found: Existing) -> Manifest {
        Manifest {
            uri: self.uri.to_string(),
            format: self.format,
            rows: found.rows,
            bytes: found.bytes,
            etag: Some(found.etag),
            written: false,
        }
    }

    /// The manifest of an object this invocation finished.
    pub(crate) fn finished(&self, done: &object::Finished) -> Manifest {
        Manifest {
            uri: self.uri.to_string(),
            format: self.format,
            rows: Some(done.rows),
            bytes: done.bytes,
            etag: done.etag.clone(),
            written: done.written,
        }
    }
}

/// The output stage, built once per cold start.
#[derive(Clone, Debug)]
pub(crate) struct Output {
    settings: OutputSettings,
    s3: S3Client,
}

impl Output {
    pub(crate) fn new(
        settings: OutputSettings,
        http: reqwest::Client,
        credentials: Option<SharedCredentialsProvider>,
    ) -> Self {
        Output {
            s3: S3Client::new(http, &settings, credentials),
            settings,
        }
    }

    /// Sign S3 requests with `credentials` from now on.
    pub(crate) fn sign_with(&mut self, credentials: Option<SharedCredentialsProvider>) {
        self.s3.sign_with(credentials);
    }

    /// Where `spec` puts the rows of this task, checked against the
    /// deployment: `value` fills the placeholders.
    pub(crate) fn target(
        &self,
        spec: &OutputSpec,
        caller: CallerClass,
        value: impl Fn(Placeholder) -> Option<String>,
    ) -> Result<Target, AppError> {
        if caller == CallerClass::Http && !self.settings.allow_http {
            return Err(AppError::bad_request(
                "output is not accepted over HTTP in this deployment (OUTPUT_ALLOW_HTTP is not set)",
            ));
        }
        let uri = spec.template.render(value)?;
        if !self.settings.allows(&uri) {
            return Err(AppError::bad_request(
                if self.settings.prefixes.is_empty() {
                    format!(
                        "output to {uri} is not allowed: this deployment allows no output (OUTPUT_S3_PREFIXES is not set)"
                    )
                } else {
                    format!(
                        "output to {uri} is not allowed; this deployment writes only under {}",
                        self.settings.listed()
                    )
                },
            ));
        }
        Ok(Target {
            uri,
            format: spec.format,
        })
    }

    /// The object at `target`, if it is there already.
    pub(crate) async fn existing(
        &self,
        target: &Target,
        deadline: &Deadline,
    ) -> Result<Option<Existing>, AppError> {
        self.s3.head(&target.uri, deadline).await
    }

    /// A writer for `target`, recording `user` metadata on the object.
    pub(crate) fn writer<'a>(
        &'a self,
        target: &'a Target,
        user: Vec<(&'static str, String)>,
        deadline: &'a Deadline,
        redactor: &'a crate::redact::Redactor,
    ) -> ObjectWriter<'a> {
        ObjectWriter::new(
            &self.s3,
            &target.uri,
            target.format,
            ObjectMeta {
                content_type: target.format.content_type(),
                user,
            },
            self.settings.part_bytes,
            deadline,
            redactor,
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn format_from_the_field_or_the_extension() {
        let spec = |v| OutputSpec::parse(v).map(|s| s.format);
        assert_eq!(
            spec(json!({"uri": "s3://bkt/a/{date}.parquet"})).unwrap(),
            Format::Parquet
        );
        assert_eq!(
            spec(json!({"uri": "s3://bkt/a/{date}.CSV"})).unwrap(),
            Format::Csv
        );
        assert_eq!(
            spec(json!({"uri": "s3://bkt/a/x", "format": "jsonl"})).unwrap(),
            Format::Jsonl
        );
        for bad in [
            json!({"uri": "s3://bkt/a/x"}),
            json!({"uri": "s3://bkt/a/x", "format": "xlsx"}),
            json!({"uri": "s3://bkt/a/x.csv", "extra": 1}),
            json!("s3://bkt/a.csv"),
            json!({"format": "csv"}),
        ] {
            let e = OutputSpec::parse(bad.clone()).unwrap_err();
            assert_eq!(e.kind(), crate::error::ErrorKind::BadRequest, "{bad}");
        }
    }

    #[test]
    fn as_of_is_rfc3339_in_utc() {
        let t = parse_as_of(&json!("2022-03-22T18:59:43Z")).unwrap();
        assert_eq!(t.to_rfc3339(), "2022-03-22T18:59:43+00:00");
        let t = parse_as_of(&json!("2022-03-23T01:59:43+07:00")).unwrap();
        assert_eq!(
            key::date_and_time(t),
            ("2022-03-22".into(), "185943".into())
        );
        for bad in [
            json!("2022-03-22"),
            json!(1647975583),
            json!("<aws.scheduler.scheduled-time>"),
        ] {
            assert!(parse_as_of(&bad).is_err(), "{bad}");
        }
    }

    fn output(prefixes: &str, http: bool) -> Output {
        let map = [
            ("OUTPUT_S3_PREFIXES", prefixes.to_owned()),
            ("OUTPUT_ALLOW_HTTP", http.to_string()),
        ];
        let lookup = |k: &str| map.iter().find(|(n, _)| *n == k).map(|(_, v)| v.clone());
        let settings = OutputSettings::from_env(&crate::config::Env::new(&lookup)).unwrap();
        Output::new(settings, reqwest::Client::new(), None)
    }

    #[test]
    fn targets_are_checked_before_anything_is_called() {
        let spec = OutputSpec::parse(json!({"uri": "s3://lake/av/{symbol}.csv"})).unwrap();
        let symbol = |v: &'static str| move |p| (p == Placeholder::Symbol).then(|| v.to_owned());
        let out = output("s3://lake/av/", false);
        let t = out
            .target(&spec, CallerClass::Direct, symbol("IBM"))
            .unwrap();
        assert_eq!(t.uri.to_string(), "s3://lake/av/IBM.csv");
        let e = out
            .target(&spec, CallerClass::Http, symbol("IBM"))
            .unwrap_err();
        assert!(e.message().contains("OUTPUT_ALLOW_HTTP"));
        assert!(
            output("s3://lake/av/", true)
                .target(&spec, CallerClass::Http, symbol("IBM"))
                .is_ok()
        );
        let e = output("s3://lake/other/", false)
            .target(&spec, CallerClass::Schedule, symbol("IBM"))
            .unwrap_err();
        assert!(e.message().contains("s3://lake/other/"), "{}", e.message());
        let e = output("", false)
            .target(&spec, CallerClass::Direct, symbol("IBM"))
            .unwrap_err();
        assert!(e.message().contains("OUTPUT_S3_PREFIXES"));
    }
}
