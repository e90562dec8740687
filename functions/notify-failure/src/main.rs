//! Lambda entry point of `notify-failure`: reads the tables, topic and sender from the
//! environment, builds the DynamoDB, SNS and SES adapters once per cold start, and bounds each
//! invocation by its Lambda deadline.

use lambda_runtime::{service_fn, LambdaEvent};
use serde_json::Value;
use unpaid_order::aws::{
    dynamodb_client, sdk_config, sesv2_client, sns_client, DynamoEmailLog, DynamoOrderTable,
    SesMailer, SnsNotifier,
};
use unpaid_order::deadline::{self, Deadline};
use unpaid_order::Setting;

// One thread: a Lambda handles one event at a time, and worker threads cost init time and RSS.
#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), lambda_runtime::Error> {
    unpaid_order::telemetry::init();
    let config = unpaid_order::startup_config(&[
        Setting::OrderTable,
        Setting::EmailLogTable,
        Setting::FailureTopicArn,
        Setting::SenderEmail,
        Setting::SesConfigurationSet,
    ])?;
    let policy = notify_failure::EvidencePolicy::from_env()
        .inspect_err(|e| tracing::error!(error = %e, "configuration"))?;
    let sdk = sdk_config(None).await;
    let dynamodb = dynamodb_client(&sdk);
    let orders = DynamoOrderTable::new(dynamodb.clone(), config.get(Setting::OrderTable)?);
    let email_log = DynamoEmailLog::new(dynamodb, config.get(Setting::EmailLogTable)?);
    let notifier = SnsNotifier::new(sns_client(&sdk), config.get(Setting::FailureTopicArn)?);
    let mailer = SesMailer::new(
        sesv2_client(&sdk),
        config.get(Setting::SenderEmail)?,
        config.get(Setting::SesConfigurationSet)?,
    );
    let ports = notify_failure::Ports {
        orders: &orders,
        email_log: &email_log,
        notifier: &notifier,
        mailer: &mailer,
        policy,
    };
    lambda_runtime::run(service_fn(move |event: LambdaEvent<Value>| async move {
        // Every AWS call of the invocation is bounded by what is left of its deadline.
        let deadline = Deadline::from_epoch_millis(event.context.deadline);
        deadline::scope(deadline, notify_failure::handle(ports, event.payload)).await
    }))
    .await
}
