//! Credentials from AWS Secrets Manager: references, redacting value types,
//! the SDK-backed source and the TTL cache shared by warm invocations.

pub(crate) mod cache;
pub(crate) mod http;
pub(crate) mod reference;
pub(crate) mod refresh;
pub(crate) mod source;
pub(crate) mod value;

pub use cache::{CacheStatus, SecretCache};
pub use http::sdk_http_client;
pub use reference::{SecretRef, VersionKey};
pub use source::{SecretSource, SecretsManagerSource};
pub use value::{SecretDocument, SecretValue};
