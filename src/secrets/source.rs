//! Where secret documents come from: [`SecretSource`], and its production
//! implementation on the AWS SDK's Secrets Manager client.
//!
//! SDK failures become typed errors that name the reference and never the
//! value (the SDK's own output type redacts the value in `Debug`; nothing here
//! formats it).

use std::future::Future;

use aws_sdk_secretsmanager::Client;
use aws_sdk_secretsmanager::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_secretsmanager::operation::get_secret_value::GetSecretValueError;

use super::reference::VersionKey;
use super::value::SecretDocument;
use crate::error::{AppError, ErrorKind, preview};

/// Fetches one stored secret version.
pub trait SecretSource: Send + Sync {
    /// Read the version `key` names.
    fn fetch(
        &self,
        key: &VersionKey,
    ) -> impl Future<Output = Result<SecretDocument, AppError>> + Send;
}

/// [`SecretSource`] backed by `GetSecretValue` through the function's role.
#[derive(Clone, Debug)]
pub struct SecretsManagerSource {
    client: Client,
}

impl SecretsManagerSource {
    /// Use `client` (built once at start-up).
    pub fn new(client: Client) -> Self {
        SecretsManagerSource { client }
    }
}

impl SecretSource for SecretsManagerSource {
    async fn fetch(&self, key: &VersionKey) -> Result<SecretDocument, AppError> {
        let output = self
            .client
            .get_secret_value()
            .secret_id(&key.secret_id)
            .set_version_stage(key.version_stage.clone())
            .set_version_id(key.version_id.clone())
            .send();
        // The SDK's operation future is large: boxed, it does not deepen
        // the stack of every invocation that fetches a secret.
        let output = Box::pin(output)
            .await
            .map_err(|err| map_sdk_error(&key.secret_id, err))?;
        if let Some(text) = output.secret_string {
            Ok(SecretDocument::text(text))
        } else if let Some(blob) = output.secret_binary {
            Ok(SecretDocument::binary(blob.into_inner()))
        } else {
            Err(AppError::new(
                ErrorKind::SecretMalformed,
                format!(
                    "secret '{}' has neither a string nor a binary value",
                    key.secret_id
                ),
            ))
        }
    }
}

/// Map a `GetSecretValue` failure to an [`AppError`] naming `secret_id`.
pub(crate) fn map_sdk_error(secret_id: &str, err: GetSecretValueSdkError) -> AppError {
    describe_sdk_error(secret_id, &err).with_source(err)
}

type GetSecretValueSdkError =
    SdkError<GetSecretValueError, aws_sdk_secretsmanager::config::http::HttpResponse>;

fn describe_sdk_error(secret_id: &str, err: &GetSecretValueSdkError) -> AppError {
    let describe = |what: &str, detail: Option<&str>| match detail {
        Some(d) if !d.is_empty() => format!("secret '{secret_id}': {what} ({})", preview(d)),
        _ => format!("secret '{secret_id}': {what}"),
    };
    match err {
        SdkError::ServiceError(service) => {
            let e = service.err();
            // The modeled errors carry their own message; generic ones only metadata.
            let message = match e {
                GetSecretValueError::DecryptionFailure(i) => i.message(),
                GetSecretValueError::InternalServiceError(i) => i.message(),
                GetSecretValueError::InvalidParameterException(i) => i.message(),
                GetSecretValueError::InvalidRequestException(i) => i.message(),
                GetSecretValueError::ResourceNotFoundException(i) => i.message(),
                _ => None,
            }
            .or_else(|| e.message());
            let (kind, what) = match e {
                GetSecretValueError::ResourceNotFoundException(_) => (
                    ErrorKind::SecretNotFound,
                    "not found (no such secret, version or stage)",
                ),
                GetSecretValueError::DecryptionFailure(_) => (
                    ErrorKind::SecretDecryptionFailed,
                    "KMS could not decrypt it (does the role have kms:Decrypt on its key?)",
                ),
                GetSecretValueError::InvalidRequestException(_)
                    if message.is_some_and(|m| m.to_ascii_lowercase().contains("delet")) =>
                {
                    (ErrorKind::SecretDeleted, "scheduled for deletion")
                }
                GetSecretValueError::InvalidRequestException(_) => (
                    ErrorKind::SecretUnavailable,
                    "request rejected in the secret's current state",
                ),
                GetSecretValueError::InvalidParameterException(_) => (
                    ErrorKind::ConfigurationError,
                    "invalid parameter in the secret reference",
                ),
                GetSecretValueError::InternalServiceError(_) => (
                    ErrorKind::SecretUnavailable,
                    "Secrets Manager had an internal error",
                ),
                _ => match e.code() {
                    Some("AccessDeniedException") => (
                        ErrorKind::SecretAccessDenied,
                        "access denied (does the role allow secretsmanager:GetSecretValue on it?)",
                    ),
                    Some(
                        "UnrecognizedClientException"
                        | "InvalidSignatureException"
                        | "ExpiredTokenException"
                        | "IncompleteSignature"
                        | "MissingAuthenticationToken",
                    ) => (
                        ErrorKind::SecretAccessDenied,
                        "the function's AWS credentials were rejected",
                    ),
                    Some(
                        "ThrottlingException" | "TooManyRequestsException" | "RequestLimitExceeded",
                    ) => (
                        ErrorKind::SecretThrottled,
                        "Secrets Manager throttled the request",
                    ),
                    _ => (
                        ErrorKind::SecretUnavailable,
                        "Secrets Manager returned an error",
                    ),
                },
            };
            let transient = matches!(kind, ErrorKind::SecretThrottled)
                || matches!(e, GetSecretValueError::InternalServiceError(_))
                || (kind == ErrorKind::SecretUnavailable
                    && service.raw().status().is_server_error());
            let err = AppError::new(kind, describe(what, message));
            if transient { err.transient() } else { err }
        }
        SdkError::TimeoutError(_) => AppError::new(
            ErrorKind::SecretUnavailable,
            describe("Secrets Manager did not answer in time", None),
        )
        .transient(),
        SdkError::DispatchFailure(_) => AppError::new(
            ErrorKind::SecretUnavailable,
            describe("could not reach Secrets Manager", None),
        )
        .transient(),
        _ => AppError::new(
            ErrorKind::SecretUnavailable,
            describe("unreadable response from Secrets Manager", None),
        )
        .transient(),
    }
}
