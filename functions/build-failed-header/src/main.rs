//! Lambda entry point of `build-failed-header`: runs [`build_failed_header::handle`] under the
//! Lambda runtime with JSON logs (pure: no AWS clients to set up).

use lambda_runtime::{service_fn, LambdaEvent};
use serde_json::Value;

// One thread: a Lambda handles one event at a time, and worker threads cost init time and RSS.
#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), lambda_runtime::Error> {
    unpaid_order::telemetry::init();
    lambda_runtime::run(service_fn(|event: LambdaEvent<Value>| {
        build_failed_header::handle(event.payload)
    }))
    .await
}
