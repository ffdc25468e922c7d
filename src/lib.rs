//! secret-fetch: an AWS Lambda function that reads a third-party credential
//! from AWS Secrets Manager and returns market data or SQL results as JSON.
//!
//! An event goes one way, down: the binary (`src/bin/bootstrap.rs`) hands
//! it to [`App`]; [`trigger`] classifies it and `routes` turns an HTTP
//! request into a typed task; [`providers`] runs the task with the
//! invocation's context (`context`: deadline, counters, redactor, secret
//! cache, caller) — each provider in its own folder; [`response`] shapes the
//! result and [`error`] the failure for the caller; [`telemetry`] reports.

pub mod app;
pub(crate) mod borrowed;
pub mod config;
pub(crate) mod context;
pub(crate) mod dates;
pub(crate) mod deadline;
pub mod error;
pub(crate) mod job;
pub(crate) mod output;
pub mod providers;
pub mod redact;
pub mod response;
pub(crate) mod routes;
pub(crate) mod row_json;
pub(crate) mod row_renderer;
pub mod secrets;
pub(crate) mod table;
pub mod telemetry;
pub mod trigger;
pub(crate) mod upstream;
pub(crate) mod upstream_cache;

#[cfg(test)]
mod properties;

pub use app::App;
pub use config::Config;
pub use error::{AppError, ErrorKind};
pub use upstream::http_client;
