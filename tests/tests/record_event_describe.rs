//! record-event's one Step Functions call, DescribeExecution, against `sfn-local serve` through
//! the fault proxy (which logs it for the IAM check): a status change whose input EventBridge
//! left out (over 248 KB) is indexed from DescribeExecution's input, a lost reply is retried by
//! the SDK (a read), and an execution that no longer exists is acknowledged, not retried forever.

use std::time::Duration;

use aws_fault_proxy::{Fault, FaultProxy, Rule, Service};
use aws_lambda_events::sqs::{SqsEvent, SqsMessage};
use serde_json::json;
use unpaid_order::evidence::publish::{self, ExecutionState, Origin};
use unpaid_order::{MemoryStore, OrderIndex};
use workflow_tests::{ApiServer, ARN_PREFIX, UNPAID_ORDER};

fn batch(body: String) -> SqsEvent {
    let mut message = SqsMessage::default();
    message.message_id = Some("m-0".into());
    message.body = Some(body);
    let mut event = SqsEvent::default();
    event.records = vec![message];
    event
}

/// The status change of `arn` as EventBridge delivers it when the input is too large: no input.
fn event_without_input(arn: &str, input: &str) -> String {
    let state = ExecutionState {
        execution_arn: arn,
        state_machine_arn: &format!(
            "{ARN_PREFIX}:stateMachine:{}",
            arn.rsplit(':').nth(1).unwrap_or_default()
        ),
        name: arn.rsplit(':').next().unwrap_or_default(),
        status: "SUCCEEDED",
        start_date: chrono::Utc::now(),
        stop_date: Some(chrono::Utc::now()),
        input,
        output: None,
        error: None,
        cause: None,
        redrive_count: 0,
        redrive_date: None,
    };
    let event =
        publish::execution_status_change(&state, "ev-big", chrono::Utc::now(), &Origin::default());
    assert_eq!(
        event["detail"]["inputDetails"]["included"], false,
        "the input must be left out"
    );
    event.to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_input_left_out_of_the_event_is_read_with_describe_execution() {
    let dir = tempfile::tempdir().expect("temp dir");
    let server = ApiServer::start(dir.path(), &["--virtual-clock"]);
    // An input over EventBridge's 248 KB, under Step Functions' 256 KiB.
    let input = json!({"orderId": UNPAID_ORDER, "note": "x".repeat(250 * 1024)}).to_string();
    let (status, started) = server.call(
        "AWSStepFunctions.StartExecution",
        &json!({
            "stateMachineArn": format!("{ARN_PREFIX}:stateMachine:process-unpaid-order-dev"),
            "name": "big-input",
            "input": input,
        }),
    );
    assert_eq!(status, 200, "{started}");
    let arn = started["executionArn"]
        .as_str()
        .expect("executionArn")
        .to_string();

    let proxy = FaultProxy::start(
        Service::StepFunctions,
        &server.endpoint,
        Duration::from_secs(3),
    )
    .await
    .expect("proxy");
    let sdk = test_support::sdk_config(&proxy.endpoint());
    let sdk = unpaid_order::aws::with_app_name(&sdk, "record-event");
    let executions =
        unpaid_order::aws::SfnExecutionInputs::new(unpaid_order::aws::sfn_client(&sdk));
    let store = MemoryStore::default();
    let ports = record_event::Ports {
        email_log: &store,
        index: &store,
        executions: &executions,
    };
    // The first DescribeExecution's answer is lost: the SDK asks again.
    proxy.script(Rule {
        operation: Some("DescribeExecution".into()),
        nth: 1,
        fault: Fault::LostReply,
    });
    let response = record_event::handle(ports, batch(event_without_input(&arn, &input))).await;
    assert!(response.batch_item_failures.is_empty());
    let calls = proxy.calls();
    assert!(calls.len() >= 2, "{calls:?}");
    assert!(calls.iter().all(|c| c.operation == "DescribeExecution"
        && c.resource == arn
        && c.function == "record-event"));
    let items = store.executions_of(UNPAID_ORDER).await.unwrap();
    assert_eq!(items.len(), 1, "{items:?}");
    assert_eq!(items[0].execution_arn, arn);

    // A batch whose records are over the limit: indexed under its order from its input.
    let records = json!([{
        "eventID": "e1", "eventName": "INSERT",
        "dynamodb": {"Keys": {"orderId": {"S": "batch-order"}}},
        "note": "x".repeat(250 * 1024),
    }])
    .to_string();
    let (status, started) = server.call(
        "AWSStepFunctions.StartExecution",
        &json!({
            "stateMachineArn": format!("{ARN_PREFIX}:stateMachine:process-unpaid-orders-dev"),
            "name": "big-batch",
            "input": records,
        }),
    );
    assert_eq!(status, 200, "{started}");
    let batch_arn = started["executionArn"]
        .as_str()
        .expect("executionArn")
        .to_string();
    let response =
        record_event::handle(ports, batch(event_without_input(&batch_arn, &records))).await;
    assert!(response.batch_item_failures.is_empty());
    let items = store.executions_of("batch-order").await.unwrap();
    assert_eq!(items.len(), 1, "{items:?}");
    assert_eq!(items[0].stream_event_ids, ["e1"]);

    // An execution Step Functions no longer knows: acknowledged, nothing indexed.
    let gone = format!("{ARN_PREFIX}:execution:process-unpaid-order-dev:gone");
    let response = record_event::handle(ports, batch(event_without_input(&gone, &input))).await;
    assert!(response.batch_item_failures.is_empty());
    assert_eq!(store.executions_of(UNPAID_ORDER).await.unwrap().len(), 1);

    // A role without the permission: reported, so SQS delivers it again.
    proxy.clear();
    proxy.script(Rule {
        operation: Some("DescribeExecution".into()),
        nth: 1,
        fault: Fault::AccessDenied,
    });
    let response = record_event::handle(ports, batch(event_without_input(&arn, &input))).await;
    assert_eq!(response.batch_item_failures.len(), 1);
}
