//! Replays: the stream is at-least-once and the Pipe retries, so every batch of `events/` is
//! delivered three times, interleaved with the others, on one state directory. Each order must be
//! processed once, with no second SNS message or email and one attempt record per execution.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use asl::{Clock, VirtualClock};
use serde_json::Value;
use sfn_local::{PipeReport, Runner, RunnerOptions};
use unpaid_order::memory::MemoryState;
use workflow_tests::*;

/// Every stream batch file in `events/` (a bare array, or the seed's `{"Records": [...]}`).
const BATCH_FILES: [&str; 2] = ["events/stream-batch.json", "events/seed-stream-event.json"];

/// The orders of those batches that reach a child execution, and how each ends.
const ORDERS: [(&str, &str); 5] = [
    (UNPAID_ORDER, "SUCCEEDED"),
    (JSON_STRING_ORDER, "SUCCEEDED"),
    (PAID_ORDER, "SUCCEEDED"),
    (NO_CHECK_STATUS_ORDER, "FAILED"),
    (NO_EMAIL_ORDER, "SUCCEEDED"),
];

/// (order, outcome, child execution) for every record the batch machine reported as processed or
/// failed. Two records with one eventID in a batch may both report the one child they share (as
/// on AWS, when the Map runs them at once), so the work is counted by child execution.
fn work_done(report: &PipeReport) -> BTreeSet<(String, String, String)> {
    report
        .orders
        .iter()
        .filter(|o| o["outcome"] == "processed" || o["outcome"] == "failed")
        .map(|o| {
            (
                o["orderId"].as_str().unwrap_or("?").to_string(),
                o["outcome"].as_str().unwrap_or("?").to_string(),
                o["childExecutionArn"].as_str().unwrap_or("?").to_string(),
            )
        })
        .collect()
}

/// Each order started exactly once: one child per order, with the expected outcome.
fn assert_one_child_per_order(done: &BTreeSet<(String, String, String)>) {
    let orders: Vec<(String, String)> = done
        .iter()
        .map(|(o, outcome, _)| (o.clone(), outcome.clone()))
        .collect();
    let expected: Vec<(String, String)> = ORDERS
        .iter()
        .map(|(o, s)| {
            let outcome = if *s == "FAILED" {
                "failed"
            } else {
                "processed"
            };
            (o.to_string(), outcome.to_string())
        })
        .collect::<BTreeSet<_>>()
        .into_iter()
        .collect();
    assert_eq!(
        orders, expected,
        "each order started exactly once: {done:?}"
    );
}

/// Checks the end state after any number of deliveries: one child per order, one attempt record
/// per successful child, one claim and one message per channel.
fn assert_once_each(runner: &Runner, tables: &MemoryState) {
    let children = runner.list_executions(ORDER_MACHINE, None).unwrap();
    let mut by_order: BTreeMap<String, Vec<(String, String)>> = BTreeMap::new();
    for c in &children {
        let record = runner.describe_execution(&c.execution_arn).unwrap();
        let order = record.input["orderId"].as_str().unwrap().to_string();
        by_order
            .entry(order)
            .or_default()
            .push((record.name.clone(), record.status.clone()));
    }
    let expected: BTreeSet<String> = ORDERS.iter().map(|(o, _)| o.to_string()).collect();
    assert_eq!(
        by_order.keys().cloned().collect::<BTreeSet<_>>(),
        expected,
        "{by_order:?}"
    );
    for (order, status) in ORDERS {
        let runs = &by_order[order];
        assert_eq!(runs.len(), 1, "order {order} ran {runs:?}");
        assert_eq!(runs[0].1, status, "order {order}");
    }

    // One attempt record per execution that got as far as logging, keyed by that execution.
    let mut attempts: Vec<(String, String)> = tables
        .process_unpaid_order
        .iter()
        .map(|i| {
            (
                i["orderId"].key_text().unwrap().to_string(),
                i["attemptId"].as_s().unwrap().to_string(),
            )
        })
        .collect();
    attempts.sort();
    let mut logged: Vec<(String, String)> = [UNPAID_ORDER, JSON_STRING_ORDER, NO_EMAIL_ORDER]
        .iter()
        .map(|o| (o.to_string(), by_order[*o][0].0.clone()))
        .collect();
    logged.sort();
    assert_eq!(attempts, logged);

    // No duplicate message on either channel: one per (order, attempt), and each claim sent.
    let sns: Vec<Value> = tables
        .outbox
        .sns
        .iter()
        .map(|m| serde_json::from_str(&m.message).unwrap())
        .collect();
    let sns_keys: BTreeSet<(String, String)> = sns
        .iter()
        .map(|m| {
            (
                m["orderId"].as_str().unwrap().to_string(),
                m["attemptId"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    assert_eq!(sns.len(), 3, "{sns:?}");
    assert_eq!(
        sns_keys.len(),
        sns.len(),
        "a duplicate SNS message: {sns:?}"
    );
    let emails: BTreeSet<(String, String)> = tables
        .outbox
        .emails
        .iter()
        .map(|e| (e.to.clone(), e.subject.clone()))
        .collect();
    assert_eq!(tables.outbox.emails.len(), 2, "{:?}", tables.outbox.emails);
    assert_eq!(
        emails.len(),
        tables.outbox.emails.len(),
        "a duplicate email"
    );
    assert_eq!(tables.email_log.len(), 5, "3 SNS + 2 email claims");
    assert!(tables
        .email_log
        .iter()
        .all(|i| i["status"].as_s() == Some("sent")));
}

#[tokio::test]
async fn every_batch_delivered_three_times_interleaved_does_each_order_once() {
    let h = Harness::embedded(&[]).await;
    let batches: Vec<Value> = BATCH_FILES.iter().map(|f| project_json(f)).collect();

    let mut done = BTreeSet::new();
    // A B A B A B: each redelivery comes after another batch has run in between.
    for round in 0..3 {
        for (i, batch) in batches.iter().enumerate() {
            let report = h.runner.pipe(batch.clone()).await.unwrap();
            // A batch with a malformed record ends FAILED (it pages), every time it is
            // delivered; any other batch succeeds.
            for b in &report.batches {
                let malformed = b.summary().unwrap()["malformed"].as_u64().unwrap();
                let want = if malformed > 0 { "FAILED" } else { "SUCCEEDED" };
                assert_eq!(b.status, want, "round {round} batch {i}: {b:?}");
            }
            // Every record accounted for exactly once: filtered by the Pipe or reported.
            assert_eq!(report.orders.len() + report.filtered.len(), report.records);
            let work = work_done(&report);
            if round > 0 {
                // A redelivery does no work: every record is a duplicate or malformed again.
                assert!(work.is_empty(), "round {round} batch {i}: {work:?}");
                assert!(
                    report
                        .orders
                        .iter()
                        .all(|o| o["outcome"] == "duplicate" || o["outcome"] == "malformed"),
                    "round {round} batch {i}: {:?}",
                    report.orders
                );
            }
            done.extend(work);
        }
    }
    assert_one_child_per_order(&done);
    assert_eq!(
        h.runner.list_executions(BATCH_MACHINE, None).unwrap().len(),
        6
    );
    assert_once_each(&h.runner, &h.tables().await);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_redeliveries_on_one_state_dir_do_each_order_once() {
    // Three Pipe deliveries of each batch at once, each through its own runner on the same
    // state directory (as three `sfn-local pipe` processes would be).
    let h = Harness::embedded(&[]).await;
    let mut tasks = Vec::new();
    for round in 0..3 {
        for file in BATCH_FILES {
            let mut options = RunnerOptions::new(project_root(), h.dir.path());
            options.clock = Arc::new(VirtualClock::new(h.clock.now()));
            let batch = project_json(file);
            tasks.push(tokio::spawn(async move {
                let runner = Runner::open(options).await.expect("runner opens");
                let report = runner.pipe(batch).await.expect("pipe");
                (round, file, report)
            }));
        }
    }
    let mut done = BTreeSet::new();
    for t in tasks {
        let (round, file, report) = t.await.expect("task");
        assert_eq!(
            report.orders.len() + report.filtered.len(),
            report.records,
            "{round} {file}"
        );
        done.extend(work_done(&report));
    }
    assert_one_child_per_order(&done);
    assert_once_each(&h.runner, &h.tables().await);
}
