//! The benchmark's naive Rust start-up (`scripts/bench`): what a first
//! version of this function builds before its first `/next` — the AWS SDK's
//! default configuration, a Secrets Manager client and a reqwest client —
//! with a handler that does nothing. With this crate's dependency set the
//! SDK has no HTTP client of its own (aws-config without default features),
//! so only reqwest builds a TLS stack here.

use aws_config::BehaviorVersion;
use lambda_runtime::{Error, LambdaEvent, service_fn};
use serde_json::{Value, json};

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Error> {
    let sdk_config = aws_config::defaults(BehaviorVersion::latest()).load().await;
    let secrets = aws_sdk_secretsmanager::Client::new(&sdk_config);
    let http = reqwest::Client::builder().build()?;
    let (secrets, http) = (&secrets, &http);
    lambda_runtime::run(service_fn(move |_event: LambdaEvent<Value>| async move {
        // Kept alive across invocations, as a real handler would use them.
        let _ = (secrets, http);
        Ok::<Value, Error>(json!({"rows": [], "row_count": 0, "naive": true}))
    }))
    .await
}
