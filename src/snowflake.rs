//! The Snowflake SQL API v2 provider.

pub mod auth;
pub mod decode;
pub mod statements;
