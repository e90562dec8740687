//! record-event's contract, run the same against the in-memory store and the DynamoDB adapters
//! on moto: SES events onto their claim (duplicates, out of order, foreign keys, malformed
//! bodies), status changes into the order index (out of order, redrives, batches, inputs left
//! out), and AWS's faults between the recorder and DynamoDB (a lost reply, a 5xx after the write).

use std::sync::Mutex;

use async_trait::async_trait;
use aws_lambda_events::sqs::{SqsEvent, SqsMessage};
use chrono::{TimeZone, Utc};
use serde_json::{json, Value};
use test_support::MotoEnv;
use unpaid_order::attr::Item;
use unpaid_order::evidence::items::recorded_ses_events;
use unpaid_order::evidence::publish::{self, AcceptedEmail, ExecutionState, Origin};
use unpaid_order::evidence::{ClaimTags, IndexEntry, SesEventKind};
use unpaid_order::ports::{status, Channel, Claim};
use unpaid_order::{
    AttemptId, EmailLog, ExecutionInputs, FunctionError, MemoryStore, OrderId, OrderIndex, Setting,
};

const ORDER: &str = "492500005643";
const MACHINE: &str = "arn:aws:states:us-east-1:123456789012:stateMachine:process-unpaid-order-dev";
const BATCH_MACHINE: &str =
    "arn:aws:states:us-east-1:123456789012:stateMachine:process-unpaid-orders-dev";

/// An SQS batch of these bodies, as Lambda's event source mapping hands it over.
fn batch(bodies: &[String]) -> SqsEvent {
    let mut event = SqsEvent::default();
    event.records = bodies
        .iter()
        .enumerate()
        .map(|(i, body)| {
            let mut m = SqsMessage::default();
            m.message_id = Some(format!("m-{i}"));
            m.body = Some(body.clone());
            m
        })
        .collect();
    event
}

fn failed_ids(response: &aws_lambda_events::sqs::SqsBatchResponse) -> Vec<String> {
    response
        .batch_item_failures
        .iter()
        .map(|f| f.item_identifier.clone())
        .collect()
}

/// The claim notify-failure would hold after handing the email to SES (`sending`).
fn email_claim(attempt: &str, token: &str) -> Claim {
    Claim {
        order_id: OrderId::parse(ORDER).unwrap(),
        attempt_id: AttemptId::parse(attempt).unwrap(),
        channel: Channel::Email,
        recipient: "jane.doe@example.com".into(),
        claimed_at: "2026-11-25T06:10:00.000Z".into(),
        token: token.into(),
    }
}

fn accepted(claim: &Claim, message_id: &str) -> AcceptedEmail {
    AcceptedEmail {
        message_id: message_id.into(),
        from: "payments@example.com".into(),
        to: vec![claim.recipient.clone()],
        subject: "Your payment did not go through".into(),
        tags: ClaimTags {
            email_id: claim.email_id(),
            token: claim.token.clone(),
        }
        .to_tags(),
        configuration_set: Some("payment3-unpaid-order-dev".into()),
        sent_at: Utc::now(),
    }
}

fn ses(kind: SesEventKind, email: &AcceptedEmail, id: &str) -> String {
    publish::ses_event(kind, email, id, Utc::now(), &Origin::default()).to_string()
}

fn status_change(name: &str, status: &str, redrives: u32, input: &Value, id: &str) -> String {
    let machine = if name.starts_with("batch") {
        BATCH_MACHINE
    } else {
        MACHINE
    };
    let arn = format!(
        "{}:{name}",
        machine.replace(":stateMachine:", ":execution:")
    );
    let start = Utc.with_ymd_and_hms(2026, 11, 25, 6, 10, 0).unwrap();
    let input = input.to_string();
    let state = ExecutionState {
        execution_arn: &arn,
        state_machine_arn: machine,
        name,
        status,
        start_date: start,
        stop_date: (status != "RUNNING")
            .then(|| start + chrono::Duration::minutes(1 + i64::from(redrives))),
        input: &input,
        output: None,
        error: (status == "FAILED").then_some("TransientError"),
        cause: None,
        redrive_count: redrives,
        redrive_date: None,
    };
    publish::execution_status_change(&state, id, start, &Origin::default()).to_string()
}

/// DescribeExecution's input for executions whose event left it out.
#[derive(Default)]
struct Inputs(Mutex<Vec<(String, String)>>);

#[async_trait]
impl ExecutionInputs for Inputs {
    async fn input_of(&self, arn: &str) -> Result<Option<String>, FunctionError> {
        Ok(self
            .0
            .lock()
            .unwrap()
            .iter()
            .find(|(a, _)| a == arn)
            .map(|(_, i)| i.clone()))
    }
}

/// The record of `email_id` in the email log (read back the store's own way).
type ReadLog<'a> = &'a (dyn Fn(&str) -> std::pin::Pin<Box<dyn std::future::Future<Output = Option<Item>> + 'a>>
         + 'a);

async fn ses_contract(log: &dyn EmailLog, index: &dyn OrderIndex, read: ReadLog<'_>) {
    let inputs = Inputs::default();
    let ports = record_event::Ports {
        email_log: log,
        index,
        executions: &inputs,
    };
    let claim = email_claim("a-1", "tok-1");
    log.claim(&claim).await.unwrap();
    assert!(log.begin_send(&claim).await.unwrap());
    let email = accepted(&claim, "ses-1");
    let delivery = ses(SesEventKind::Delivery, &email, "ev-delivery");
    let send = ses(SesEventKind::Send, &email, "ev-send");
    let foreign = ses(
        SesEventKind::Bounce,
        &accepted(&email_claim("someone-else", "tok-x"), "ses-x"),
        "ev-foreign",
    );
    let untagged = ses(
        SesEventKind::Send,
        &AcceptedEmail {
            tags: Vec::new(),
            ..email.clone()
        },
        "ev-untagged",
    );
    // Out of order (Delivery before Send), the Send delivered twice, an event for a key this
    // stack does not own, one of another sender (no tags), and a body that is not an event.
    let response = record_event::handle(
        ports,
        batch(&[
            delivery,
            send.clone(),
            send,
            foreign,
            untagged,
            "{\"not\": \"an event\"}".into(),
        ]),
    )
    .await;
    assert_eq!(
        failed_ids(&response),
        ["m-5"],
        "only the malformed one is redelivered"
    );
    let record = read(&claim.email_id()).await.expect("the record");
    assert_eq!(record["status"].as_s(), Some(status::SENT));
    assert_eq!(record["messageId"].as_s(), Some("ses-1"));
    assert_eq!(record["confirmedBy"].as_s(), Some("ses:Delivery"));
    let kinds: Vec<String> = recorded_ses_events(&record)
        .into_iter()
        .map(|e| e.kind)
        .collect();
    assert_eq!(kinds.len(), 2, "each event once: {kinds:?}");
    assert!(kinds.contains(&"Send".to_string()) && kinds.contains(&"Delivery".to_string()));
    assert!(
        read(&email_claim("someone-else", "tok-x").email_id())
            .await
            .is_none(),
        "nothing written for a foreign key"
    );

    // A bounce of a later attempt's email is kept on its record; the customer never heard.
    let bounced = email_claim("a-2", "tok-2");
    log.claim(&bounced).await.unwrap();
    assert!(log.begin_send(&bounced).await.unwrap());
    log.mark_sent(&bounced, "ses-2", "2026-11-25T06:10:01.000Z")
        .await
        .unwrap();
    let before = unpaid_order::metrics::emitted(unpaid_order::metrics::Metric::EmailsBounced);
    let email = accepted(&bounced, "ses-2");
    let response = record_event::handle(
        ports,
        batch(&[
            ses(SesEventKind::Send, &email, "b-send"),
            ses(SesEventKind::Bounce, &email, "b-bounce"),
        ]),
    )
    .await;
    assert!(failed_ids(&response).is_empty());
    assert!(unpaid_order::metrics::emitted(unpaid_order::metrics::Metric::EmailsBounced) > before);
    let record = read(&bounced.email_id()).await.unwrap();
    let bounce = recorded_ses_events(&record)
        .into_iter()
        .find(|e| e.kind == "Bounce")
        .expect("the bounce is on the record");
    assert_eq!(bounce.summary, "bounceType=Permanent bounceSubType=General");
    assert!(
        !format!("{:?}", record["sesEvents"]).contains("jane.doe"),
        "no address from the event is kept"
    );
}

async fn index_contract(log: &dyn EmailLog, index: &dyn OrderIndex) {
    let inputs = Inputs::default();
    let ports = record_event::Ports {
        email_log: log,
        index,
        executions: &inputs,
    };
    let one =
        json!({"orderId": ORDER, "AWS_STEP_FUNCTIONS_STARTED_BY_EXECUTION_ID": "arn:batch-1"});
    // The end before the start; a failure, its redrive's RUNNING, then its end; one duplicate.
    let events = [
        status_change("x1", "SUCCEEDED", 0, &one, "x1-succeeded"),
        status_change("x1", "RUNNING", 0, &one, "x1-running"),
        status_change("x2", "RUNNING", 0, &one, "x2-running"),
        status_change("x2", "FAILED", 0, &one, "x2-failed"),
        status_change("x2", "RUNNING", 1, &one, "x2-redriven"),
        status_change("x2", "FAILED", 0, &one, "x2-failed"),
        status_change("x2", "SUCCEEDED", 1, &one, "x2-succeeded"),
    ];
    let response = record_event::handle(ports, batch(&events)).await;
    assert!(failed_ids(&response).is_empty());
    // A batch naming two orders (the first twice), and one whose input EventBridge left out.
    let records = json!([
        {"eventID": "e1", "eventName": "INSERT", "dynamodb": {"Keys": {"orderId": {"S": ORDER}}}},
        {"eventID": "e2", "eventName": "INSERT", "dynamodb": {"Keys": {"orderId": {"S": "other"}}}},
        {"eventID": "e3", "eventName": "INSERT", "dynamodb": {"Keys": {"orderId": {"S": ORDER}}}},
    ]);
    let mut left_out: Value =
        serde_json::from_str(&status_change("x3", "RUNNING", 0, &json!({}), "x3-running")).unwrap();
    left_out["detail"]["input"] = Value::Null;
    left_out["detail"]["inputDetails"]["included"] = json!(false);
    inputs.0.lock().unwrap().push((
        left_out["detail"]["executionArn"]
            .as_str()
            .unwrap()
            .to_string(),
        json!({"orderId": ORDER}).to_string(),
    ));
    let response = record_event::handle(
        ports,
        batch(&[
            status_change("batch-1", "SUCCEEDED", 0, &records, "batch-1-succeeded"),
            left_out.to_string(),
        ]),
    )
    .await;
    assert!(failed_ids(&response).is_empty());

    let mut items = index.executions_of(ORDER).await.unwrap();
    items.sort_by(|a, b| a.name.cmp(&b.name));
    let got: Vec<(&str, &str, u32)> = items
        .iter()
        .map(|e| (e.name.as_str(), e.status.as_str(), e.redrive_count))
        .collect();
    assert_eq!(
        got,
        [
            ("batch-1", "SUCCEEDED", 0),
            ("x1", "SUCCEEDED", 0),
            ("x2", "SUCCEEDED", 1),
            ("x3", "RUNNING", 0),
        ]
    );
    let batch_item: &IndexEntry = &items[0];
    assert_eq!(batch_item.stream_event_ids, ["e1", "e3"]);
    assert_eq!(items[1].started_by.as_deref(), Some("arn:batch-1"));
    let other = index.executions_of("other").await.unwrap();
    assert_eq!(other.len(), 1);
    assert_eq!(other[0].stream_event_ids, ["e2"]);
}

#[tokio::test]
async fn in_memory_the_recorder_keeps_the_contract() {
    let store = MemoryStore::default();
    let read_store = store.clone();
    let read = move |id: &str| {
        let state = read_store.snapshot();
        let id = id.to_string();
        Box::pin(async move {
            state
                .email_log
                .into_iter()
                .find(|i| i.get("emailId").and_then(|v| v.as_s()) == Some(id.as_str()))
        }) as std::pin::Pin<Box<dyn std::future::Future<Output = Option<Item>>>>
    };
    ses_contract(&store, &store, &read).await;
    index_contract(&store, &store).await;
}

fn moto_ports(env: &MotoEnv) -> unpaid_order::aws::AwsPorts {
    let sdk = unpaid_order::aws::with_app_name(&env.sdk, "record-event");
    unpaid_order::aws::AwsPorts::new(&sdk, &env.config).unwrap()
}

async fn moto_read(env: &MotoEnv, id: &str) -> Option<Item> {
    env.scan(Setting::EmailLogTable)
        .await
        .into_iter()
        .find(|i| i.get("emailId").and_then(|v| v.as_s()) == Some(id))
}

#[tokio::test]
#[cfg_attr(
    not(feature = "emulator"),
    ignore = "needs moto: run by tests/run.sh, or --features emulator with .tools/moto"
)]
async fn over_dynamodb_the_recorder_keeps_the_contract() {
    let env = MotoEnv::new().await;
    let p = moto_ports(&env);
    let read = |id: &str| {
        let id = id.to_string();
        let env = &env;
        Box::pin(async move { moto_read(env, &id).await })
            as std::pin::Pin<Box<dyn std::future::Future<Output = Option<Item>> + '_>>
    };
    ses_contract(&p.email_log, &p.order_index, &read).await;
    index_contract(&p.email_log, &p.order_index).await;
}

/// The recorder's writes through the fault proxy: a lost reply (the SDK retries a write that
/// landed) and a 500 after the write both end in the right record, written once; a refusal is a
/// batch item failure, so SQS delivers the event again.
#[tokio::test]
#[cfg_attr(
    not(feature = "emulator"),
    ignore = "needs moto: run by tests/run.sh, or --features emulator with .tools/moto"
)]
async fn a_lost_reply_or_a_5xx_after_the_write_records_the_event_once() {
    use aws_fault_proxy::{Fault, FaultProxy, Rule, Service};
    let env = MotoEnv::new().await;
    let proxy = FaultProxy::start(
        Service::DynamoDb,
        &env.endpoint,
        std::time::Duration::from_secs(3),
    )
    .await
    .unwrap();
    let sdk = unpaid_order::aws::with_app_name(&env.sdk, "record-event");
    let dynamodb = unpaid_order::aws::dynamodb_client_at(&sdk, Some(&proxy.endpoint()));
    let log =
        unpaid_order::aws::DynamoEmailLog::new(dynamodb.clone(), env.get(Setting::EmailLogTable));
    let index =
        unpaid_order::aws::DynamoOrderIndex::new(dynamodb, env.get(Setting::OrderIndexTable));
    // What notify-failure wrote and what the test reads back go straight to moto: the proxy's
    // call log (the IAM check's evidence) holds the recorder's own calls only.
    let direct = moto_ports(&env);
    let (setup, reads) = (&direct.email_log, &direct.order_index);
    let inputs = Inputs::default();
    let ports = record_event::Ports {
        email_log: &log,
        index: &index,
        executions: &inputs,
    };
    for (n, fault) in [Fault::LostReply, Fault::ServerErrorAfterApply]
        .into_iter()
        .enumerate()
    {
        let claim = email_claim(&format!("f-{n}"), &format!("tok-f{n}"));
        setup.claim(&claim).await.unwrap();
        assert!(setup.begin_send(&claim).await.unwrap());
        proxy.clear();
        proxy.script(Rule {
            operation: Some("UpdateItem".into()),
            nth: 1,
            fault,
        });
        let email = accepted(&claim, &format!("ses-f{n}"));
        let response = record_event::handle(
            ports,
            batch(&[ses(SesEventKind::Send, &email, &format!("f{n}"))]),
        )
        .await;
        assert!(failed_ids(&response).is_empty(), "{fault:?}");
        let record = moto_read(&env, &claim.email_id()).await.unwrap();
        assert_eq!(record["status"].as_s(), Some(status::SENT), "{fault:?}");
        assert_eq!(
            recorded_ses_events(&record).len(),
            1,
            "{fault:?}: kept once"
        );
        // The index: the write lands, the reply is lost, the retry finds its own rank.
        proxy.clear();
        proxy.script(Rule {
            operation: Some("PutItem".into()),
            nth: 1,
            fault,
        });
        let name = format!("faulted-{n}");
        let response = record_event::handle(
            ports,
            batch(&[status_change(
                &name,
                "SUCCEEDED",
                0,
                &json!({"orderId": ORDER}),
                &name,
            )]),
        )
        .await;
        assert!(failed_ids(&response).is_empty(), "{fault:?}");
        assert!(reads
            .executions_of(ORDER)
            .await
            .unwrap()
            .iter()
            .any(|e| e.name == name && e.status == "SUCCEEDED"));
    }
    // A role without the permission: not recorded, reported back for redelivery.
    proxy.clear();
    proxy.script(Rule {
        operation: Some("PutItem".into()),
        nth: 1,
        fault: Fault::AccessDenied,
    });
    let response = record_event::handle(
        ports,
        batch(&[status_change(
            "denied",
            "RUNNING",
            0,
            &json!({"orderId": ORDER}),
            "denied",
        )]),
    )
    .await;
    assert_eq!(failed_ids(&response), ["m-0"]);
}

/// The sample events in `events/evidence/` (the shapes AWS documents, for reading and for `aws
/// sqs send-message` by hand) are recorded as they say.
#[tokio::test]
async fn the_sample_events_record_as_documented() {
    let dir = test_support::workspace_root().join("events/evidence");
    let mut bodies: Vec<(String, String)> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .map(|p| {
            (
                p.file_name().unwrap().to_string_lossy().into_owned(),
                std::fs::read_to_string(&p).unwrap(),
            )
        })
        .collect();
    bodies.sort();
    assert_eq!(bodies.len(), 5, "{bodies:?}");
    let store = MemoryStore::default();
    let claim = Claim {
        attempt_id: AttemptId::parse("492500005643-manual-1").unwrap(),
        token: "0b6a4b0e-7c1b-4b8e-9a57-5f0c3e1d2a90".into(),
        ..email_claim("unused", "unused")
    };
    store.claim(&claim).await.unwrap();
    assert!(store.begin_send(&claim).await.unwrap());
    let inputs = Inputs::default();
    let ports = record_event::Ports {
        email_log: &store,
        index: &store,
        executions: &inputs,
    };
    let all: Vec<String> = bodies.iter().map(|(_, b)| b.clone()).collect();
    let response = record_event::handle(ports, batch(&all)).await;
    assert!(failed_ids(&response).is_empty());
    let record = store
        .snapshot()
        .email_log
        .into_iter()
        .find(|i| i.get("emailId").and_then(|v| v.as_s()) == Some(claim.email_id().as_str()))
        .unwrap();
    assert_eq!(record["status"].as_s(), Some(status::SENT));
    assert_eq!(recorded_ses_events(&record).len(), 3);
    let names: Vec<String> = store
        .executions_of(ORDER)
        .await
        .unwrap()
        .into_iter()
        .map(|e| format!("{} {}", e.name, e.status))
        .collect();
    assert_eq!(names.len(), 2, "{names:?}");
    assert!(names.contains(&"492500005643-manual-1 RUNNING".to_string()));
    assert_eq!(store.executions_of("492500005644").await.unwrap().len(), 1);
}
