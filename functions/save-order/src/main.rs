//! Lambda entry point of `save-order`: reads the order table's name from the environment, builds
//! its DynamoDB adapter once per cold start, and bounds each invocation by its Lambda deadline.

use lambda_runtime::{service_fn, LambdaEvent};
use serde_json::Value;
use unpaid_order::aws::{dynamodb_client, sdk_config, DynamoOrderTable};
use unpaid_order::deadline::{self, Deadline};
use unpaid_order::Setting;

// One thread: a Lambda handles one event at a time, and worker threads cost init time and RSS.
#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), lambda_runtime::Error> {
    unpaid_order::telemetry::init();
    let config = unpaid_order::startup_config(&[Setting::OrderTable])?;
    let sdk = sdk_config(None).await;
    let orders = DynamoOrderTable::new(dynamodb_client(&sdk), config.get(Setting::OrderTable)?);
    let orders = &orders;
    lambda_runtime::run(service_fn(move |event: LambdaEvent<Value>| async move {
        // Every AWS call of the invocation is bounded by what is left of its deadline.
        let deadline = Deadline::from_epoch_millis(event.context.deadline);
        deadline::scope(deadline, save_order::handle(orders, event.payload)).await
    }))
    .await
}
