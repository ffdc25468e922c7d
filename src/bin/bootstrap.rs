//! The Lambda entry point: telemetry, configuration and clients once per cold
//! start, then the runtime loop. All logic lives in the `secret_fetch` crate.

#![recursion_limit = "256"]
use aws_config::BehaviorVersion;
use aws_config::retry::RetryConfig;
use aws_config::timeout::TimeoutConfig;
use lambda_runtime::{LambdaEvent, service_fn};
use secret_fetch::secrets::SecretsManagerSource;
use secret_fetch::{App, AppError, Config, http_client, telemetry};
use serde_json::value::RawValue;

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), lambda_runtime::Error> {
    telemetry::init();
    telemetry::install_panic_hook();
    let app = start().await.inspect_err(|e| {
        tracing::error!(
            error_kind = e.kind().as_str(),
            error = e.message(),
            "invalid configuration"
        );
    })?;
    let app = &app;
    // The runtime without its tracing layer: the handler opens the one span
    // per invocation (request id, trace id, trigger, provider), so no field
    // is carried twice.
    lambda_runtime::Runtime::new(service_fn(move |event: LambdaEvent<Box<RawValue>>| {
        app.handle(event)
    }))
    .run()
    .await
}

/// Read the configuration and build the clients and the handler.
async fn start() -> Result<App<SecretsManagerSource>, AppError> {
    let config = Config::from_env()?;
    let sdk_config = aws_config::defaults(BehaviorVersion::latest())
        .timeout_config(
            TimeoutConfig::builder()
                .connect_timeout(config.sdk.connect_timeout)
                .operation_attempt_timeout(config.sdk.attempt_timeout)
                .operation_timeout(config.sdk.operation_timeout)
                .build(),
        )
        .retry_config(RetryConfig::standard().with_max_attempts(config.sdk.max_attempts))
        .load()
        .await;
    let secrets = SecretsManagerSource::new(aws_sdk_secretsmanager::Client::new(&sdk_config));
    App::new(config, secrets, http_client()?)
}
