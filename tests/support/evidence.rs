//! AWS's own events about the executions and emails a test ran, recorded through the real
//! recorder (record-event): the status changes Step Functions would publish for each execution
//! sfn-local keeps, and the SES events of an email-log record's claim. Offline in process over
//! the state directory (as sfn-local's handlers run it), or over the DynamoDB adapters (moto).

use std::path::Path;

use chrono::{DateTime, Utc};
use serde_json::{json, Value};
use sfn_local::functions::{EmbeddedFunctions, Functions};
use sfn_local::{ExecutionRecord, Store};
use unpaid_order::evidence::publish::{
    execution_status_change, ses_event, AcceptedEmail, ExecutionState, Origin,
};
use unpaid_order::evidence::{ClaimTags, SesEventKind};
use unpaid_order::{Attr, Item};

/// Every execution the state directory keeps, oldest first.
pub fn stored_executions(state_dir: &Path) -> Vec<ExecutionRecord> {
    let store = Store::open(state_dir).expect("the state directory");
    let mut out = Vec::new();
    for machine in store.machines().expect("machines") {
        for summary in store.list_executions(&machine).expect("executions") {
            out.extend(
                store
                    .get_execution(&machine, &summary.name)
                    .expect("an execution's file"),
            );
        }
    }
    out.sort_by_key(|r| r.start_date);
    out
}

/// The status-change events Step Functions publishes for `record`: RUNNING when it started,
/// then (each redrive a new round) RUNNING again, and its current status.
pub fn status_changes(record: &ExecutionRecord) -> Vec<Value> {
    let input = record.input.to_string();
    let output = record.output.as_ref().map(Value::to_string);
    let state = |status: &'static str, round: u32, stop: Option<DateTime<Utc>>| ExecutionState {
        execution_arn: &record.execution_arn,
        state_machine_arn: &record.state_machine_arn,
        name: &record.name,
        status,
        start_date: record.start_date,
        stop_date: stop,
        input: &input,
        output: None,
        error: None,
        cause: None,
        redrive_count: round,
        redrive_date: None,
    };
    let origin = Origin::default();
    let id = |status: &str, round: u32| format!("{}#{status}#{round}", record.execution_arn);
    let mut out = vec![execution_status_change(
        &state("RUNNING", 0, None),
        &id("RUNNING", 0),
        record.start_date,
        &origin,
    )];
    if record.redrive_count > 0 {
        out.push(execution_status_change(
            &ExecutionState {
                redrive_date: record.redrive_date,
                ..state("RUNNING", record.redrive_count, None)
            },
            &id("RUNNING", record.redrive_count),
            record.redrive_date.unwrap_or(record.start_date),
            &origin,
        ));
    }
    if let Some(stop) = record.stop_date {
        let status: &'static str = match record.status.as_str() {
            "SUCCEEDED" => "SUCCEEDED",
            "FAILED" => "FAILED",
            "TIMED_OUT" => "TIMED_OUT",
            _ => "ABORTED",
        };
        out.push(execution_status_change(
            &ExecutionState {
                output: output.as_deref(),
                error: record.error.as_deref(),
                cause: record.cause.as_deref(),
                redrive_date: record.redrive_date,
                ..state(status, record.redrive_count, Some(stop))
            },
            &id(status, record.redrive_count),
            stop,
            &origin,
        ));
    }
    out
}

fn text<'a>(item: &'a Item, name: &str) -> Option<&'a str> {
    item.get(name).and_then(Attr::as_s)
}

/// The SES events of `kinds` about the message an email-log record (`...#email`) holds, tagged
/// with its claim as SES tags them, one second apart from its `sentAt`.
pub fn ses_events(record: &Item, kinds: &[SesEventKind], configuration_set: &str) -> Vec<Value> {
    let email_id = text(record, "emailId")
        .expect("an email-log record")
        .to_string();
    let claim = ClaimTags {
        email_id,
        token: text(record, "claimToken").expect("a claim").to_string(),
    };
    // After every event already on the record (sfn-local publishes its mailer's own, on the
    // runner's clock), so these are the newest.
    let parse = |t: &str| {
        DateTime::parse_from_rfc3339(t)
            .ok()
            .map(|t| t.with_timezone(&Utc))
    };
    let sent_at = unpaid_order::evidence::items::recorded_ses_events(record)
        .iter()
        .filter_map(|e| parse(&e.at))
        .chain(text(record, "sentAt").and_then(parse))
        .max()
        .unwrap_or_else(Utc::now);
    let email = AcceptedEmail {
        message_id: text(record, "messageId").unwrap_or("m-unknown").to_string(),
        from: "payments@example.com".into(),
        to: vec![text(record, "recipient").unwrap_or_default().to_string()],
        subject: "Your payment failed".into(),
        tags: claim.to_tags(),
        configuration_set: Some(configuration_set.to_string()),
        sent_at,
    };
    kinds
        .iter()
        .enumerate()
        .map(|(i, kind)| {
            let at = sent_at + chrono::Duration::seconds(i as i64 + 1);
            let id = format!("{}#{}", claim.token, kind.as_str());
            ses_event(*kind, &email, &id, at, &Origin::default())
        })
        .collect()
}

/// The events as one SQS batch, as Lambda's event source hands record-event its messages.
pub fn sqs_batch(events: &[Value]) -> Value {
    let records: Vec<Value> = events
        .iter()
        .enumerate()
        .map(|(i, e)| json!({"messageId": format!("m-{i}"), "body": e.to_string()}))
        .collect();
    json!({ "Records": records })
}

/// Records `events` with record-event in process on the embedded tables of `state_dir` (the
/// journal shares them with a running `sfn-local serve`). Panics on a batch item failure.
pub async fn record_offline(project_root: &Path, state_dir: &Path, events: &[Value]) {
    let functions = EmbeddedFunctions::new(
        Store::open(state_dir).expect("the state directory"),
        sfn_local::project::fixtures_dir(project_root),
        String::new(),
        String::new(),
    );
    for chunk in events.chunks(10) {
        let answer = functions
            .invoke("record-event", sqs_batch(chunk))
            .await
            .expect("record-event runs");
        assert_eq!(answer["batchItemFailures"], json!([]), "{answer}");
    }
}

/// Records `events` with record-event over these ports (the DynamoDB adapters on moto).
pub async fn record_with(ports: record_event::Ports<'_>, events: &[Value]) {
    for chunk in events.chunks(10) {
        let batch = serde_json::from_value(sqs_batch(chunk)).expect("an SQS event");
        let answer = record_event::handle(ports, batch).await;
        assert!(
            answer.batch_item_failures.is_empty(),
            "record-event failed some: {:?}",
            answer
                .batch_item_failures
                .iter()
                .map(|f| f.item_identifier.clone())
                .collect::<Vec<_>>()
        );
    }
}
