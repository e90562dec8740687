use lambda_runtime::{service_fn, LambdaEvent};
use serde_json::Value;

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    unpaid_order::telemetry::init();
    lambda_runtime::run(service_fn(|event: LambdaEvent<Value>| {
        build_failed_header::handle(event.payload)
    }))
    .await
}
