//! The Lambda entry point: telemetry, configuration and clients once per cold
//! start, then the runtime loop. All logic lives in the `secret_fetch` crate.

#![recursion_limit = "256"]
use aws_config::BehaviorVersion;
use aws_config::Region;
use aws_config::environment::EnvironmentVariableCredentialsProvider;
use aws_config::retry::RetryConfig;
use aws_config::timeout::TimeoutConfig;
use lambda_runtime::{LambdaEvent, service_fn};
use secret_fetch::secrets::{SecretsManagerSource, sdk_http_client};
use secret_fetch::{App, AppError, Config, http_client, telemetry};
use serde_json::value::RawValue;

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), lambda_runtime::Error> {
    keep_freed_memory();
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
    // is carried twice. The handler's future lives on the heap, where its
    // memory is reused, not on the main stack, whose touched pages stay.
    lambda_runtime::Runtime::new(service_fn(move |event: LambdaEvent<Box<RawValue>>| {
        Box::pin(app.handle(event))
    }))
    .run()
    .await
}

/// Read the configuration and build the clients and the handler.
async fn start() -> Result<App<SecretsManagerSource>, AppError> {
    let config = Config::from_env()?;
    let http = http_client()?;
    let mut loader = aws_config::defaults(BehaviorVersion::latest());
    // Lambda puts the role's credentials and the region in the environment.
    // Named explicitly, the SDK skips building the rest of its default
    // chains — an STS client for web identity and an IMDS client, about a
    // third of this function's start-up — which could never answer there.
    // Anywhere else (a profile, SSO), the default chains run as usual.
    if std::env::var_os("AWS_ACCESS_KEY_ID").is_some() {
        loader = loader.credentials_provider(EnvironmentVariableCredentialsProvider::new());
    }
    if let Ok(region) = std::env::var("AWS_REGION")
        && !region.is_empty()
    {
        loader = loader.region(Region::new(region));
    }
    let sdk_config = loader
        .http_client(sdk_http_client(http.clone()))
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
    Ok(App::new(config, secrets, http)?.with_aws_credentials(sdk_config.credentials_provider()))
}

/// glibc hands freed memory back to the kernel (trim) and serves large
/// blocks from fresh mappings, so a warm sandbox faults the same pages in
/// again on every large invocation. A sandbox runs one invocation at a time
/// within a fixed memory size: keep what was freed for the next invocation.
fn keep_freed_memory() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: mallopt only sets allocator parameters; it is called first
    // thing in main, before any other thread exists.
    unsafe {
        libc::mallopt(libc::M_TRIM_THRESHOLD, 256 << 20);
        libc::mallopt(libc::M_MMAP_THRESHOLD, 32 << 20);
        // One arena: Snowflake partitions are decoded on blocking-pool
        // threads, and a kept (untrimmed) arena per thread would hold each
        // thread's peak apart; in one arena, what one frees the next reuses.
        libc::mallopt(libc::M_ARENA_MAX, 1);
    }
}
