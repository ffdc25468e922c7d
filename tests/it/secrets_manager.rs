//! The Secrets Manager source and cache through the real SDK client: against
//! moto's server, and with mocked HTTP responses for the failures moto cannot
//! produce (access denied, throttling, KMS).

use super::common;

use std::time::Duration;

use aws_sdk_secretsmanager::Client;
use aws_sdk_secretsmanager::error::ErrorMetadata;
use aws_sdk_secretsmanager::operation::get_secret_value::{
    GetSecretValueError, GetSecretValueOutput,
};
use aws_sdk_secretsmanager::primitives::Blob;
use aws_sdk_secretsmanager::types::error::{
    DecryptionFailure, InvalidRequestException, ResourceNotFoundException,
};
use aws_smithy_mocks::{RuleMode, mock, mock_client};
use secret_fetch::ErrorKind;
use secret_fetch::secrets::{
    CacheStatus, SecretCache, SecretRef, SecretSource, SecretsManagerSource,
};

fn r(s: &str) -> SecretRef {
    SecretRef::parse(s).unwrap()
}

#[tokio::test]
async fn reads_every_kind_of_secret_from_moto() {
    let moto = common::Moto::start();
    let client = moto.client();
    let json = client
        .create_secret()
        .name("av/json")
        .secret_string(r#"{"apikey":"K-json","spare":"K-spare"}"#)
        .send()
        .await
        .unwrap();
    client
        .create_secret()
        .name("av/plain")
        .secret_string("K-plain")
        .send()
        .await
        .unwrap();
    client
        .create_secret()
        .name("av/binary")
        .secret_binary(Blob::new(br#"{"apikey":"K-binary"}"#.to_vec()))
        .send()
        .await
        .unwrap();
    client
        .put_secret_value()
        .secret_id("av/plain")
        .secret_string("K-plain-2")
        .send()
        .await
        .unwrap();
    client
        .create_secret()
        .name("av/deleted")
        .secret_string("x")
        .send()
        .await
        .unwrap();
    client
        .delete_secret()
        .secret_id("av/deleted")
        .recovery_window_in_days(7)
        .send()
        .await
        .unwrap();

    let cache = SecretCache::new(
        SecretsManagerSource::new(client.clone()),
        Duration::from_secs(300),
    );
    let keys = ["apikey"];
    let get = async |s: &str| cache.get(&r(s), &keys, false).await;
    assert_eq!(get("av/json").await.unwrap().0.expose(), "K-json");
    assert_eq!(get("av/json:spare").await.unwrap().0.expose(), "K-spare");
    assert_eq!(get(json.arn().unwrap()).await.unwrap().0.expose(), "K-json");
    assert_eq!(
        get(&format!("{}:spare", json.arn().unwrap()))
            .await
            .unwrap()
            .0
            .expose(),
        "K-spare"
    );
    assert_eq!(get("av/plain").await.unwrap().0.expose(), "K-plain-2");
    assert_eq!(
        get("av/plain::AWSPREVIOUS").await.unwrap().0.expose(),
        "K-plain"
    );
    assert_eq!(get("av/binary").await.unwrap().0.expose(), "K-binary");

    let (_, status) = get("av/json:spare").await.unwrap();
    assert_eq!(status, CacheStatus::Hit);

    for (reference, kind) in [
        ("av/missing", ErrorKind::SecretNotFound),
        ("av/deleted", ErrorKind::SecretDeleted),
        ("av/plain::NOSUCHSTAGE", ErrorKind::SecretNotFound),
        ("av/plain:apikey", ErrorKind::SecretMalformed),
        ("av/json:nokey", ErrorKind::SecretMalformed),
    ] {
        let err = get(reference).await.unwrap_err();
        assert_eq!(err.kind(), kind, "{reference}: {}", err.message());
        assert!(
            err.message().contains(reference.split(':').next().unwrap()),
            "{}",
            err.message()
        );
        assert!(
            !err.message().contains("K-"),
            "value leaked: {}",
            err.message()
        );
    }
}

fn mocked(rule: &aws_smithy_mocks::Rule) -> Client {
    mock_client!(aws_sdk_secretsmanager, RuleMode::MatchAny, [rule], |c| c
        .retry_config(
            aws_sdk_secretsmanager::config::retry::RetryConfig::disabled()
        ))
}

async fn kind_for(
    error: impl Fn() -> GetSecretValueError + Send + Sync + 'static,
) -> (ErrorKind, String) {
    let rule = mock!(Client::get_secret_value).then_error(error);
    let source = SecretsManagerSource::new(mocked(&rule));
    let err = source.fetch(&r("prod/av").version_key()).await.unwrap_err();
    (err.kind(), err.message().to_owned())
}

#[tokio::test]
async fn maps_every_sdk_failure_to_a_kind() {
    let generic = |code: &'static str| {
        move || {
            GetSecretValueError::generic(
                ErrorMetadata::builder()
                    .code(code)
                    .message("denied")
                    .build(),
            )
        }
    };
    let cases: Vec<(ErrorKind, (ErrorKind, String))> = vec![
        (ErrorKind::SecretAccessDenied, kind_for(generic("AccessDeniedException")).await),
        (ErrorKind::SecretThrottled, kind_for(generic("ThrottlingException")).await),
        (ErrorKind::SecretAccessDenied, kind_for(generic("ExpiredTokenException")).await),
        (ErrorKind::SecretUnavailable, kind_for(generic("SomethingNew")).await),
        (
            ErrorKind::SecretDecryptionFailed,
            kind_for(|| GetSecretValueError::DecryptionFailure(DecryptionFailure::builder().build())).await,
        ),
        (
            ErrorKind::SecretNotFound,
            kind_for(|| GetSecretValueError::ResourceNotFoundException(ResourceNotFoundException::builder().build()))
                .await,
        ),
        (
            ErrorKind::SecretDeleted,
            kind_for(|| {
                GetSecretValueError::InvalidRequestException(
                    InvalidRequestException::builder()
                        .message("You can't perform this operation on the secret because it was marked for deletion.")
                        .build(),
                )
            })
            .await,
        ),
    ];
    for (want, (got, message)) in cases {
        assert_eq!(got, want, "{message}");
        assert!(message.contains("prod/av"), "{message}");
    }
}

#[tokio::test]
async fn a_secret_with_no_value_is_malformed() {
    let rule = mock!(Client::get_secret_value)
        .then_output(|| GetSecretValueOutput::builder().name("prod/av").build());
    let source = SecretsManagerSource::new(mocked(&rule));
    let err = source.fetch(&r("prod/av").version_key()).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::SecretMalformed);
}

#[tokio::test]
async fn the_sdk_output_debug_is_redacted_and_one_call_serves_the_ttl() {
    let rule = mock!(Client::get_secret_value)
        .match_requests(|req| req.secret_id() == Some("prod/av"))
        .then_output(|| {
            GetSecretValueOutput::builder()
                .secret_string("SENTINEL-sdk")
                .build()
        });
    let cache = SecretCache::new(
        SecretsManagerSource::new(mocked(&rule)),
        Duration::from_secs(300),
    );
    for _ in 0..20 {
        let (value, _) = cache.get(&r("prod/av"), &[], false).await.unwrap();
        assert_eq!(value.expose(), "SENTINEL-sdk");
        assert!(!format!("{value:?}").contains("SENTINEL"));
    }
    assert_eq!(rule.num_calls(), 1);
}
