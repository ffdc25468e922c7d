//! The benchmark's floor (`scripts/bench`): the smallest `lambda_runtime`
//! function — no configuration, no clients, a constant JSON answer. Its init
//! and per-invocation cost are what any Rust Lambda on this runtime pays.

use lambda_runtime::{Error, LambdaEvent, service_fn};
use serde_json::{Value, json};

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Error> {
    lambda_runtime::run(service_fn(|_event: LambdaEvent<Value>| async {
        Ok::<Value, Error>(json!({"rows": [], "row_count": 0, "floor": true}))
    }))
    .await
}
