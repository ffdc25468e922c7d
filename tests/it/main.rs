//! The integration tests, one binary: the library's public API driven the
//! way the Lambda binary drives it.
//!
//! - `app`: the handler with the real AWS SDK client against moto's server
//!   (installed into `.venv` by `scripts/test`; without it these tests stop
//!   with one line saying so) and the real reqwest client against a wiremock
//!   Alpha Vantage;
//! - `secrets_manager`: the SDK-backed secret source and cache, against moto
//!   and against mocked SDK responses for failures moto cannot produce;
//! - `hardening`: hostile inputs and upstreams, with a scripted secret source;
//! - `snowflake`: the SQL API client's retry, resubmit, poll, cancel and
//!   refresh paths against a wiremock Snowflake.

mod app;
mod common;
mod hardening;
mod secrets_manager;
mod snowflake;
