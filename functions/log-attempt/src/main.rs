//! Lambda entry point of `log-attempt`: reads the table names from the environment, builds the
//! DynamoDB adapters once per cold start, and bounds each invocation by its Lambda deadline.

use lambda_runtime::{service_fn, LambdaEvent};
use serde_json::Value;
use unpaid_order::aws::{dynamodb_client, sdk_config, DynamoAttemptLog, DynamoOrderTable};
use unpaid_order::deadline::{self, Deadline};
use unpaid_order::Setting;

// One thread: a Lambda handles one event at a time, and worker threads cost init time and RSS.
#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), lambda_runtime::Error> {
    unpaid_order::telemetry::init();
    let config =
        unpaid_order::startup_config(&[Setting::OrderTable, Setting::ProcessUnpaidOrderTable])?;
    let sdk = sdk_config(None).await;
    let dynamodb = dynamodb_client(&sdk);
    let orders = DynamoOrderTable::new(dynamodb.clone(), config.get(Setting::OrderTable)?);
    let attempts = DynamoAttemptLog::new(dynamodb, config.get(Setting::ProcessUnpaidOrderTable)?);
    let (orders, attempts) = (&orders, &attempts);
    lambda_runtime::run(service_fn(move |event: LambdaEvent<Value>| async move {
        // Every AWS call of the invocation is bounded by what is left of its deadline.
        let deadline = Deadline::from_epoch_millis(event.context.deadline);
        deadline::scope(
            deadline,
            log_attempt::handle(orders, attempts, event.payload),
        )
        .await
    }))
    .await
}
