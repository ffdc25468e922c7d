//! The Lambda entry point: telemetry, configuration and clients once per cold
//! start, then the runtime loop. All logic lives in the `secret_fetch` crate.

#![recursion_limit = "256"]
use std::time::Duration;

use aws_config::BehaviorVersion;
use aws_config::retry::RetryConfig;
use aws_config::timeout::TimeoutConfig;
use lambda_runtime::{LambdaEvent, service_fn};
use secret_fetch::secrets::SecretsManagerSource;
use secret_fetch::{App, Config, http_client, telemetry};
use serde_json::value::RawValue;

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), lambda_runtime::Error> {
    telemetry::init();
    telemetry::install_panic_hook();
    let config = Config::from_env().inspect_err(|e| {
        tracing::error!(
            error_kind = e.kind().as_str(),
            error = e.message(),
            "invalid configuration"
        );
    })?;
    let sdk_config = aws_config::defaults(BehaviorVersion::latest())
        .timeout_config(
            TimeoutConfig::builder()
                .connect_timeout(Duration::from_secs(3))
                .operation_attempt_timeout(Duration::from_secs(5))
                .operation_timeout(Duration::from_secs(12))
                .build(),
        )
        .retry_config(RetryConfig::standard().with_max_attempts(3))
        .load()
        .await;
    let secrets = SecretsManagerSource::new(aws_sdk_secretsmanager::Client::new(&sdk_config));
    let app = App::new(config, secrets, http_client()?).inspect_err(|e| {
        tracing::error!(
            error_kind = e.kind().as_str(),
            error = e.message(),
            "invalid configuration"
        );
    })?;
    let app = &app;
    lambda_runtime::run(service_fn(move |event: LambdaEvent<Box<RawValue>>| {
        app.handle(event)
    }))
    .await
}
