//! Lambda entry point of `record-event`: reads the email-log and order-index table names from
//! the environment, builds the DynamoDB and Step Functions adapters once per cold start, and
//! records each SQS batch within its Lambda deadline.

use aws_lambda_events::sqs::SqsEvent;
use lambda_runtime::{service_fn, LambdaEvent};
use unpaid_order::aws::{
    dynamodb_client, sdk_config, sfn_client, DynamoEmailLog, DynamoOrderIndex, SfnExecutionInputs,
};
use unpaid_order::deadline::{self, Deadline};
use unpaid_order::Setting;

// One thread: a Lambda handles one event at a time, and worker threads cost init time and RSS.
#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), lambda_runtime::Error> {
    unpaid_order::telemetry::init();
    let config = unpaid_order::startup_config(&[Setting::EmailLogTable, Setting::OrderIndexTable])?;
    let sdk = sdk_config(None).await;
    let dynamodb = dynamodb_client(&sdk);
    let email_log = DynamoEmailLog::new(dynamodb.clone(), config.get(Setting::EmailLogTable)?);
    let index = DynamoOrderIndex::new(dynamodb, config.get(Setting::OrderIndexTable)?);
    let executions = SfnExecutionInputs::new(sfn_client(&sdk));
    let ports = record_event::Ports {
        email_log: &email_log,
        index: &index,
        executions: &executions,
    };
    lambda_runtime::run(service_fn(move |event: LambdaEvent<SqsEvent>| async move {
        let deadline = Deadline::from_epoch_millis(event.context.deadline);
        Ok::<_, lambda_runtime::Error>(
            deadline::scope(deadline, record_event::handle(ports, event.payload)).await,
        )
    }))
    .await
}
