//! Every stream record accounted for, visibly: an orderId that cannot be part of an execution
//! name (over 47 characters, spaces, `/ # % :`, unicode) is processed end to end through the real
//! definitions and handlers, under a name that is valid and the same for a redelivered record
//! (full or trimmed by the Pipe's InputTemplate); a child that cannot be started ends the batch
//! FAILED (it pages) after every other record ran, with the summary as the cause.

use serde_json::{json, Value};
use sha2::{Digest, Sha256};
use workflow_tests::*;

/// An orderId the order table accepts and that could name no execution: 77 characters, spaces,
/// `/ # % :`, a tab-free unicode part.
const HOSTILE_ORDER: &str =
    "order #42/α β: 100% paid? no — 注文 2026-11-25 with a long tail of text x";
const EVENT_ID: &str = "1f0e3dad99908345f7439f8ffabdffc4";

/// A copy of the project with one more unpaid order (and its check-status record) in the fixtures;
/// `edit` may change the template text.
fn project_with_order(order_id: &str, edit: impl Fn(String) -> String) -> tempfile::TempDir {
    let dir = project_copy(edit);
    add_fixtures(
        dir.path(),
        "orders.json",
        [json!({"orderId": {"S": order_id}, "data": {"M": {
            "orderId": {"S": order_id}, "email": {"S": "hostile.name@example.com"},
            "name": {"S": "Ada"}, "currency": {"S": "THB"}, "total": {"N": "42.00"},
            "payment": {"M": {"isPaid": {"BOOL": false}, "totalPaid": {"N": "0"}}}}}})],
    );
    add_fixtures(
        dir.path(),
        "check-status.json",
        [
            json!({"orderId": {"S": order_id}, "created_at": {"S": "2026-11-25T06:00:01Z"},
               "chargeId": {"S": "ch_hostile"}, "paymentMethod": {"S": "card"}, "status": {"S": "failed"}}),
        ],
    );
    dir
}

/// The name the batch machine gives a record's child: `<eventID>-<39 hex of SHA-256(orderId)>`.
fn expected_name(event_id: &str, order_id: &str) -> String {
    let digest = hex::encode(Sha256::digest(order_id.as_bytes()));
    format!("{event_id}-{}", &digest[..39])
}

/// AWS's rule for execution names: 1-80 characters, none of whitespace, `< > { } [ ] ? * " # % \
/// ^ | ~ ` $ & , ; : /` or control characters.
fn is_valid_execution_name(name: &str) -> bool {
    let forbidden = "<>{}[]?*\"#%\\^|~`$&,;:/";
    (1..=80).contains(&name.chars().count())
        && !name
            .chars()
            .any(|c| c.is_whitespace() || c.is_control() || forbidden.contains(c))
}

fn full_record(event_id: &str, order_id: &str) -> Value {
    let mut r = project_json("events/stream-batch.json")[0].clone();
    r["eventID"] = json!(event_id);
    r["dynamodb"]["Keys"]["orderId"]["S"] = json!(order_id);
    r["dynamodb"]["NewImage"]["orderId"]["S"] = json!(order_id);
    r
}

fn trimmed_record(event_id: &str, order_id: &str) -> Value {
    json!({"eventID": event_id, "eventName": "INSERT",
           "dynamodb": {"Keys": {"orderId": {"S": order_id}}}})
}

#[tokio::test]
async fn an_order_id_that_cannot_name_an_execution_is_processed_end_to_end() {
    assert!(HOSTILE_ORDER.chars().count() > 47);
    assert!(!is_valid_execution_name(&format!(
        "{HOSTILE_ORDER}-{EVENT_ID}"
    )));
    let project = project_with_order(HOSTILE_ORDER, |t| t);
    let state = tempfile::tempdir().unwrap();
    let runner = open_runner(project.path(), state.path()).await;

    let report = runner
        .pipe(json!([full_record(EVENT_ID, HOSTILE_ORDER)]))
        .await
        .unwrap();
    assert_eq!(report.batches.len(), 1);
    assert_eq!(
        report.batches[0].status, "SUCCEEDED",
        "{:?}",
        report.batches
    );
    let line = &report.orders[0];
    assert_eq!(line["outcome"], "processed", "{line}");
    assert_eq!(line["orderId"], HOSTILE_ORDER);
    let name = line["executionName"].as_str().unwrap();
    assert_eq!(name, expected_name(EVENT_ID, HOSTILE_ORDER));
    assert!(is_valid_execution_name(name), "{name}");
    assert_eq!(line["childStatus"], "SUCCEEDED", "{line}");

    // The child ran the whole workflow for this order: saved, logged, notified once.
    let child = runner
        .describe_execution(line["childExecutionArn"].as_str().unwrap())
        .unwrap();
    assert_eq!(child.input["orderId"], HOSTILE_ORDER);
    assert_eq!(
        child.output.as_ref().unwrap()["notifyFailure"]["email"],
        "sent"
    );
    let tables = runner.tables().await.unwrap().unwrap();
    assert_eq!(tables.outbox.emails.len(), 1);
    assert_eq!(tables.outbox.sns.len(), 1);
    assert_eq!(
        tables
            .process_unpaid_order
            .iter()
            .filter(|i| i.get("orderId").and_then(|a| a.key_text()) == Some(HOSTILE_ORDER))
            .count(),
        1
    );

    // Redelivered, full or trimmed by the Pipe's InputTemplate: the same name, refused, no work.
    for again in [
        full_record(EVENT_ID, HOSTILE_ORDER),
        trimmed_record(EVENT_ID, HOSTILE_ORDER),
    ] {
        let report = runner.pipe(json!([again])).await.unwrap();
        assert_eq!(report.batches[0].status, "SUCCEEDED");
        let line = &report.orders[0];
        assert_eq!(line["outcome"], "duplicate", "{line}");
        assert_eq!(line["executionName"], name);
    }
    let tables = runner.tables().await.unwrap().unwrap();
    assert_eq!(tables.outbox.emails.len(), 1, "no second email");
    assert_eq!(
        runner.list_executions(ORDER_MACHINE, None).unwrap().len(),
        1
    );
}

#[tokio::test]
async fn names_are_valid_and_distinct_for_any_order_id_the_table_accepts() {
    let project = project_with_order(HOSTILE_ORDER, |t| t);
    let state = tempfile::tempdir().unwrap();
    let runner = open_runner(project.path(), state.path()).await;
    // Unknown orders: each child runs and fails in LoadOrder, which is all this test needs (a
    // started child, under a valid name, for each).
    let long = "x".repeat(2048);
    let ids = [
        "a b",
        "a/b",
        "a#b",
        "a%b",
        "a:b",
        "注文",
        "a\u{7}b",
        "a\nb",
        long.as_str(),
        "A",
    ];
    let records: Vec<Value> = ids
        .iter()
        .enumerate()
        .map(|(i, id)| trimmed_record(&format!("{i:032x}"), id))
        .collect();
    let report = runner.pipe(Value::Array(records)).await.unwrap();
    assert_eq!(
        report.batches[0].status, "SUCCEEDED",
        "{:?}",
        report.batches
    );
    let mut names = std::collections::BTreeSet::new();
    for line in &report.orders {
        let name = line["executionName"].as_str().unwrap();
        assert!(is_valid_execution_name(name), "{name}");
        assert_eq!(line["outcome"], "failed", "{line}");
        // The child started and ended in a typed error of its own: the functions refuse control
        // characters and over-long ids (InvalidInput), the rest is not in the table.
        assert_eq!(line["childStatus"], "FAILED", "{line}");
        assert!(
            ["OrderNotFound", "InvalidInput"].contains(&line["childError"].as_str().unwrap()),
            "{line}"
        );
        names.insert(name.to_string());
    }
    assert_eq!(names.len(), ids.len());
}

#[tokio::test]
async fn a_child_that_cannot_be_started_fails_the_batch_after_every_other_record_ran() {
    // The batch machine names a per-order machine that does not exist: every StartExecution is
    // refused, as it would be for a role without states:StartExecution.
    let project = project_with_order(HOSTILE_ORDER, |t| {
        let anchor =
            "        ProcessUnpaidOrderStateMachineArn: !Ref ProcessUnpaidOrderStateMachine\n";
        assert!(t.contains(anchor), "template anchor moved");
        t.replace(
            anchor,
            "        ProcessUnpaidOrderStateMachineArn: arn:aws:states:us-east-1:123456789012:stateMachine:gone\n",
        )
    });
    let state = tempfile::tempdir().unwrap();
    let runner = open_runner(project.path(), state.path()).await;
    let mut malformed = trimmed_record(EVENT_ID, "x");
    // Not an eventID a stream produces (a numeric one would reach the machine as text
    // through the Pipe's InputTemplate).
    malformed["eventID"] = json!("not a valid/id");
    let skipped = json!({"eventID": "e2", "eventName": "MODIFY"});
    let report = runner
        .pipe(json!([
            trimmed_record(EVENT_ID, HOSTILE_ORDER),
            malformed,
            skipped
        ]))
        .await
        .unwrap();
    let batch = &report.batches[0];
    assert_eq!(batch.status, "FAILED", "{batch:?}");
    assert_eq!(batch.error.as_deref(), Some("RecordsNeedAnOperator"));
    let summary = batch.summary().expect("the cause is the summary");
    assert_eq!(
        summary["records"], 2,
        "the Pipe's filter drops the MODIFY: {summary}"
    );
    assert_eq!(summary["unstarted"], 1, "{summary}");
    assert_eq!(summary["malformed"], 1, "{summary}");
    let line = report
        .orders
        .iter()
        .find(|o| o["orderId"] == HOSTILE_ORDER)
        .unwrap();
    assert_eq!(line["outcome"], "unstarted", "{line}");
    assert!(
        line["error"]
            .as_str()
            .unwrap()
            .starts_with("StepFunctions."),
        "{line}"
    );
    assert!(runner
        .list_executions(ORDER_MACHINE, None)
        .unwrap()
        .is_empty());
    assert!(runner
        .tables()
        .await
        .unwrap()
        .unwrap()
        .outbox
        .emails
        .is_empty());
}

#[tokio::test]
async fn malformed_records_fail_the_batch_only_after_the_valid_ones_ran() {
    let project = project_with_order(HOSTILE_ORDER, |t| t);
    let state = tempfile::tempdir().unwrap();
    let runner = open_runner(project.path(), state.path()).await;
    // Straight into the batch machine (a run by hand), so the Pipe's filter does not drop them.
    let mut no_key = trimmed_record("e1", "x");
    no_key["dynamodb"]["Keys"] = json!([{"orderId": {"S": "492500005643"}}]);
    let records = json!([
        no_key,
        trimmed_record("e2", HOSTILE_ORDER),
        {"eventID": "e3", "eventName": "REMOVE"},
        trimmed_record("not an event id", UNPAID_ORDER),
        "not a record"
    ]);
    let r = runner
        .start_execution(BATCH_MACHINE, records, Some("by-hand"))
        .await
        .unwrap();
    assert_eq!(r.status, "FAILED");
    assert_eq!(r.error.as_deref(), Some("RecordsNeedAnOperator"));
    let summary: Value = serde_json::from_str(r.cause.as_deref().unwrap()).unwrap();
    let outcomes: Vec<(u64, &str)> = summary["outcomes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|o| (o["index"].as_u64().unwrap(), o["outcome"].as_str().unwrap()))
        .collect();
    assert_eq!(
        outcomes,
        [
            (0, "malformed"),
            (1, "processed"),
            (2, "skipped"),
            (3, "malformed"),
            (4, "malformed")
        ],
        "{summary}"
    );
    // The valid record ran to the end before the batch failed.
    let tables = runner.tables().await.unwrap().unwrap();
    assert_eq!(tables.outbox.emails.len(), 1);
}
