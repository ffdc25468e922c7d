//! secret-fetch: an AWS Lambda function that reads a third-party credential
//! from AWS Secrets Manager and returns market data or SQL results as JSON.
//!
//! The binary (`src/bin/bootstrap.rs`) only wires things together; the logic
//! lives here so tests call it directly:
//!
//! - [`trigger`] classifies the event, [`routes`] maps HTTP requests to tasks,
//!   [`task`] parses the task document;
//! - [`secrets`] reads and caches credentials, [`credentials`] refreshes them
//!   once when an upstream rejects them;
//! - [`alpha_vantage`] is the first provider;
//! - [`response`] shapes results, [`error`] is the one error type,
//!   [`deadline`] bounds every call, [`telemetry`] writes logs and metrics;
//! - [`app`] ties it together.

pub mod alpha_vantage;
pub mod app;
pub mod config;
pub mod credentials;
pub mod cursor;
pub mod dates;
pub mod deadline;
pub mod error;
pub mod invocation;
pub mod redact;
pub mod response;
pub mod routes;
pub mod secrets;
pub mod snowflake;
pub mod task;
pub mod telemetry;
pub mod trigger;
pub mod upstream;

pub use app::App;
pub use config::Config;
pub use error::{AppError, ErrorKind};
pub use upstream::http_client;
