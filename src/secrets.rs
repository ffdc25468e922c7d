//! Credentials from AWS Secrets Manager: references, redacting value types,
//! the SDK-backed source and the TTL cache shared by warm invocations.

pub mod cache;
pub mod reference;
pub(crate) mod refresh;
pub mod source;
pub mod value;

pub use cache::{CacheStatus, SecretCache};
pub use reference::SecretRef;
pub use source::{SecretSource, SecretsManagerSource};
pub use value::{SecretDocument, SecretValue};
