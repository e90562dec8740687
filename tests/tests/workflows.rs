//! The real state machines with the real handlers on the embedded store (virtual clock): each
//! outcome an order can have, retries, redrive, a redelivered batch and malformed records.

use serde_json::{json, Value};
use workflow_tests::*;

const FIVE_STEPS: [&str; 5] = [
    "LoadOrder",
    "BuildFailedHeader",
    "SaveOrder",
    "LogAttempt",
    "NotifyFailure",
];

#[tokio::test]
async fn happy_path_marks_the_order_unpaid_logs_the_attempt_and_notifies_once() {
    let h = Harness::embedded(&[]).await;
    let before = h.tables().await;
    let r = h.run_order(UNPAID_ORDER, "492500005643-manual-1").await;
    assert_eq!(r.status, "SUCCEEDED", "{:?} {:?}", r.error, r.cause);
    let out = r.output.clone().unwrap();
    assert_eq!(out["orderId"], UNPAID_ORDER);
    assert_eq!(out["checkStatus"]["chargeId"], "ch_3QfA1b2C3d4E5f6G");
    assert_eq!(out["failedHeader"]["paymentHeader"]["isPaid"], false);
    assert_eq!(
        out["failedHeader"]["paymentHeader"]["paymentId"],
        "ch_3QfA1b2C3d4E5f6G"
    );
    // The header's timestamp is the execution's start time (so a redrive builds the same one).
    assert_eq!(
        out["failedHeader"]["paymentHeader"]["timestamp"],
        "2026-11-25T06:10:00.000Z"
    );
    assert_eq!(out["saveOrder"]["outcome"], "saved");
    assert_eq!(out["logAttempt"]["outcome"], "logged");
    assert_eq!(
        out["notifyFailure"],
        json!({"sns": "sent", "email": "sent"})
    );

    let history = h
        .runner
        .get_execution_history(&r.execution_arn, false)
        .unwrap();
    assert_eq!(tasks_entered(&history), FIVE_STEPS);
    assert_eq!(history.first().unwrap()["type"], "ExecutionStarted");
    assert_eq!(history.last().unwrap()["type"], "ExecutionSucceeded");
    // The Lambda task result has AWS's lambda:invoke shape.
    let succeeded = history
        .iter()
        .find(|e| e["type"] == "TaskSucceeded")
        .unwrap();
    let result: Value = serde_json::from_str(
        succeeded["taskSucceededEventDetails"]["output"]
            .as_str()
            .unwrap(),
    )
    .unwrap();
    assert_eq!(result["StatusCode"], 200);
    assert_eq!(result["ExecutedVersion"], "$LATEST");
    assert_eq!(result["Payload"]["orderId"], UNPAID_ORDER);

    let after = h.tables().await;
    assert_ne!(
        before.orders, after.orders,
        "the order was saved with the unpaid header"
    );
    assert_eq!(h.attempts(UNPAID_ORDER).await, 1);
    let emails = h.emails().await;
    assert_eq!(emails.len(), 1, "{emails:?}");
    assert_eq!(emails[0].0, "jane.doe@example.com");
    assert_eq!(after.outbox.sns.len(), 1);
    assert!(after.outbox.sns[0]
        .message
        .contains("492500005643-manual-1"));

    // Described and listed as the AWS CLI would.
    let d = h
        .runner
        .describe_execution(&r.execution_arn)
        .unwrap()
        .describe();
    assert_eq!(d["status"], "SUCCEEDED");
    assert_eq!(d["input"], json!("{\"orderId\":\"492500005643\"}"));
    let listed = h
        .runner
        .list_executions(ORDER_MACHINE, Some("SUCCEEDED"))
        .unwrap();
    assert_eq!(listed.len(), 1);
    assert!(h
        .runner
        .list_executions(ORDER_MACHINE, Some("FAILED"))
        .unwrap()
        .is_empty());
}

#[tokio::test]
async fn unknown_order_fails_with_order_not_found_and_sends_nothing() {
    let h = Harness::embedded(&[]).await;
    let r = h.run_order("999999999999", "999999999999-manual").await;
    assert_eq!(r.status, "FAILED");
    assert_eq!(r.error.as_deref(), Some("OrderNotFound"));
    assert!(
        r.cause.as_deref().unwrap_or("").contains("999999999999"),
        "{:?}",
        r.cause
    );
    let history = h
        .runner
        .get_execution_history(&r.execution_arn, false)
        .unwrap();
    assert_eq!(tasks_entered(&history), ["LoadOrder"]);
    assert!(h.emails().await.is_empty());
    assert_eq!(h.tables().await.outbox.sns.len(), 0);
    // A business error is an answer, not an outage: it failed in the Fail state, and a redrive
    // would only fail there again.
    assert!(history.iter().any(|e| e["type"] == "FailStateEntered"));
}

#[tokio::test]
async fn order_without_check_status_fails_with_check_status_not_found() {
    let h = Harness::embedded(&[]).await;
    let before = h.tables().await;
    let r = h
        .run_order(NO_CHECK_STATUS_ORDER, "492500005646-manual")
        .await;
    assert_eq!(r.status, "FAILED");
    assert_eq!(r.error.as_deref(), Some("CheckStatusNotFound"));
    assert!(r
        .cause
        .as_deref()
        .unwrap_or("")
        .contains(NO_CHECK_STATUS_ORDER));
    let after = h.tables().await;
    assert_eq!(before.orders, after.orders, "nothing saved");
    assert_eq!(h.attempts(NO_CHECK_STATUS_ORDER).await, 0);
    assert!(h.emails().await.is_empty());
}

#[tokio::test]
async fn paid_order_is_skipped_never_overwritten_and_gets_no_email() {
    let h = Harness::embedded(&[]).await;
    let before = h.tables().await;
    let r = h.run_order(PAID_ORDER, "492500005645-manual").await;
    assert_eq!(r.status, "SUCCEEDED");
    let out = r.output.unwrap();
    assert_eq!(out["skipped"]["Error"], "OrderAlreadyPaid");
    let history = h
        .runner
        .get_execution_history(&r.execution_arn, false)
        .unwrap();
    assert_eq!(tasks_entered(&history), ["LoadOrder"]);
    let after = h.tables().await;
    assert_eq!(before.orders, after.orders);
    assert_eq!(h.attempts(PAID_ORDER).await, 0);
    assert!(h.emails().await.is_empty());
    assert!(after.outbox.sns.is_empty());
}

#[tokio::test]
async fn transient_failures_are_retried_with_back_off_and_notify_once() {
    let h = Harness::embedded(&["notify-failure=TransientError:2"]).await;
    let wall = std::time::Instant::now();
    let r = h.run_order(UNPAID_ORDER, "492500005643-retry").await;
    assert_eq!(r.status, "SUCCEEDED", "{:?} {:?}", r.error, r.cause);
    let history = h
        .runner
        .get_execution_history(&r.execution_arn, false)
        .unwrap();
    assert_eq!(
        task_failures(&history),
        ["TransientError", "TransientError"]
    );
    // One NotifyFailure state, three invocations of its task.
    assert_eq!(tasks_entered(&history), FIVE_STEPS);
    let scheduled = history
        .iter()
        .filter(|e| e["type"] == "TaskScheduled")
        .count();
    assert_eq!(scheduled, 5 + 2);
    assert_eq!(h.emails().await.len(), 1);
    // The back-off ran on the virtual clock: FULL jitter waits a random time in [0, 1 s] and then
    // in [0, 2 s] (IntervalSeconds 1, BackoffRate 2), with no real waiting.
    let waited: Vec<_> = history
        .windows(2)
        .filter(|w| w[0]["type"] == "TaskFailed" && w[1]["type"] == "TaskScheduled")
        .map(|w| {
            let at = |e: &serde_json::Value| {
                chrono::DateTime::parse_from_rfc3339(e["timestamp"].as_str().unwrap()).unwrap()
            };
            at(&w[1]) - at(&w[0])
        })
        .collect();
    assert_eq!(waited.len(), 2, "{history:#?}");
    assert!(waited[0] <= chrono::Duration::seconds(1), "{waited:?}");
    assert!(waited[1] <= chrono::Duration::seconds(2), "{waited:?}");
    assert!(
        h.elapsed() > chrono::Duration::zero() && h.elapsed() <= chrono::Duration::seconds(3),
        "{:?}",
        h.elapsed()
    );
    assert!(wall.elapsed() < std::time::Duration::from_secs(20));
}

#[tokio::test]
async fn failed_step_is_redriven_alone_after_the_outage_and_sends_one_email() {
    // The outage: notify-failure sends, then crashes before answering, on every attempt.
    let h = Harness::embedded(&["notify-failure=TransientError:always:crash-after"]).await;
    let r = h.run_order(UNPAID_ORDER, "492500005643-redrive").await;
    assert_eq!(r.status, "FAILED");
    assert_eq!(r.error.as_deref(), Some("TransientError"));
    assert_eq!(
        h.emails().await.len(),
        1,
        "the first attempt's email went out once"
    );
    let first = h
        .runner
        .get_execution_history(&r.execution_arn, false)
        .unwrap();
    assert_eq!(task_failures(&first).len(), 6, "1 attempt + 5 retries");
    assert_eq!(first.last().unwrap()["type"], "ExecutionFailed");
    assert_eq!(
        h.runner
            .describe_execution(&r.execution_arn)
            .unwrap()
            .describe()["redriveStatus"],
        "REDRIVABLE"
    );

    h.set_faults(&[]);
    let again = h.runner.redrive_execution(&r.execution_arn).await.unwrap();
    assert_eq!(again.execution_arn, r.execution_arn);
    assert_eq!(
        again.status, "SUCCEEDED",
        "{:?} {:?}",
        again.error, again.cause
    );
    assert_eq!(again.redrive_count, 1);
    assert_eq!(
        again.output.as_ref().unwrap()["notifyFailure"],
        json!({"sns": "unchanged", "email": "unchanged"})
    );

    let history = h
        .runner
        .get_execution_history(&r.execution_arn, false)
        .unwrap();
    let redriven = history
        .iter()
        .position(|e| e["type"] == "ExecutionRedriven")
        .expect("an ExecutionRedriven event");
    assert_eq!(
        redriven,
        first.len(),
        "the redrive appends to the same history"
    );
    assert_eq!(
        tasks_entered(&history[redriven..]),
        ["NotifyFailure"],
        "only the failed step re-ran"
    );
    assert_eq!(
        tasks_entered(&history)
            .iter()
            .filter(|s| *s == "LoadOrder")
            .count(),
        1
    );
    let ids: Vec<u64> = history.iter().map(|e| e["id"].as_u64().unwrap()).collect();
    assert_eq!(
        ids,
        (1..=history.len() as u64).collect::<Vec<_>>(),
        "event ids go on across the redrive"
    );

    assert_eq!(h.emails().await.len(), 1, "still one email");
    assert_eq!(h.tables().await.outbox.sns.len(), 1);
    assert_eq!(h.attempts(UNPAID_ORDER).await, 1);
    let err = h
        .runner
        .redrive_execution(&r.execution_arn)
        .await
        .unwrap_err()
        .to_string();
    assert!(err.contains("ExecutionNotRedrivable"), "{err}");
}

#[tokio::test]
async fn a_batch_delivered_twice_does_no_work_twice() {
    let h = Harness::embedded(&[]).await;
    let batch = project_json("events/stream-batch.json");
    let first = h.runner.pipe(batch.clone()).await.unwrap();
    assert_eq!(first.batches.len(), 1);
    // 6 INSERTs reach the workflow (the Pipe filters the MODIFY, the REMOVE and the record whose
    // key is not a string): 5 distinct valid orders and one repeated eventID. The paid order's
    // child fails and is redriven on its own page; nothing in the batch needs an operator.
    assert_eq!(first.batches[0].status, "SUCCEEDED");
    let summary = first.batches[0].summary().unwrap();
    assert_eq!(first.filtered.len(), 3);
    assert_eq!(summary["records"], 6);
    // The repeated eventID names the same child. The Map runs the two records at once (as AWS
    // does): the second either joins the running child (StartExecution with the same name and
    // input is idempotent, so it reports it processed) or finds it finished (duplicate).
    assert_eq!(summary["failed"], 1);
    assert_eq!(
        summary["processed"].as_u64().unwrap() + summary["duplicate"].as_u64().unwrap(),
        5,
        "{summary}"
    );
    assert!(summary["duplicate"].as_u64().unwrap() <= 1, "{summary}");
    assert_eq!(summary["malformed"], 0);
    let emails = h.emails().await.len();
    let sns = h.tables().await.outbox.sns.len();
    assert_eq!(
        emails, 2,
        "jane (643) and the JSON-string order (644); 647 has no address"
    );
    assert_eq!(sns, 3);
    let children = h.runner.list_executions(ORDER_MACHINE, None).unwrap().len();
    assert_eq!(children, 5);

    let second = h.runner.pipe(batch).await.unwrap();
    assert_eq!(second.batches[0].status, "SUCCEEDED");
    let summary = second.batches[0].summary().unwrap();
    assert_eq!(summary["processed"], 0);
    assert_eq!(summary["failed"], 0);
    assert_eq!(
        summary["duplicate"], 6,
        "every valid record maps to an execution that exists"
    );
    assert_eq!(summary["malformed"], 0);
    assert_eq!(h.emails().await.len(), emails);
    assert_eq!(h.tables().await.outbox.sns.len(), sns);
    assert_eq!(
        h.runner.list_executions(ORDER_MACHINE, None).unwrap().len(),
        children
    );
    assert_eq!(
        h.runner.list_executions(BATCH_MACHINE, None).unwrap().len(),
        2
    );
}

#[tokio::test]
async fn malformed_records_are_reported_not_lost() {
    let h = Harness::embedded(&[]).await;
    let good = project_json("events/stream-batch.json")[0].clone();
    let mut no_event_id = good.clone();
    no_event_id.as_object_mut().unwrap().remove("eventID");
    let mut numeric_key = good.clone();
    numeric_key["dynamodb"]["Keys"] = json!({"orderId": {"N": "492500005643"}});
    let mut empty_key = good.clone();
    empty_key["dynamodb"]["Keys"]["orderId"]["S"] = json!("");
    let mut no_event_name = good.clone();
    no_event_name.as_object_mut().unwrap().remove("eventName");
    let records = json!([no_event_id, numeric_key, 42, empty_key, no_event_name, good]);

    let report = h.runner.pipe(records).await.unwrap();
    let filtered: Vec<usize> = report.filtered.iter().map(|f| f.index).collect();
    assert_eq!(
        filtered,
        [1, 2, 4],
        "the Pipe's filter drops what is not an INSERT with a string key, and says so"
    );
    let mut seen: Vec<(usize, String, String)> = report
        .orders
        .iter()
        .map(|o| {
            (
                o["record"].as_u64().unwrap() as usize,
                o["outcome"].as_str().unwrap().to_string(),
                o["reason"].as_str().unwrap_or("").to_string(),
            )
        })
        .collect();
    seen.sort();
    assert_eq!(
        seen,
        [
            (
                0,
                "malformed".into(),
                "INSERT record has no non-empty string eventID".into()
            ),
            (
                3,
                "malformed".into(),
                "INSERT record has no non-empty string dynamodb.Keys.orderId.S".into()
            ),
            (5, "processed".into(), String::new()),
        ]
    );
    // Every record is accounted for exactly once, and the malformed ones page.
    assert_eq!(report.orders.len() + report.filtered.len(), report.records);
    assert_eq!(report.batches[0].status, "FAILED");
    assert_eq!(
        report.batches[0].error.as_deref(),
        Some("RecordsNeedAnOperator")
    );
    assert_eq!(h.emails().await.len(), 1);
}

#[tokio::test]
async fn refuses_an_execution_name_twice_and_invalid_names() {
    let h = Harness::embedded(&[]).await;
    let r = h.run_order(UNPAID_ORDER, "same-name").await;
    assert_eq!(r.status, "SUCCEEDED");
    let err = h
        .runner
        .start_execution(
            ORDER_MACHINE,
            json!({"orderId": UNPAID_ORDER}),
            Some("same-name"),
        )
        .await
        .unwrap_err()
        .to_string();
    assert!(err.contains("ExecutionAlreadyExists"), "{err}");
    let err = h
        .runner
        .start_execution(ORDER_MACHINE, json!({"orderId": UNPAID_ORDER}), Some("a:b"))
        .await
        .unwrap_err()
        .to_string();
    assert!(err.contains("InvalidName"), "{err}");
    let err = h
        .runner
        .start_execution("no-such-machine", json!({}), None)
        .await
        .unwrap_err()
        .to_string();
    assert!(err.contains("no-such-machine"), "{err}");
    assert_eq!(h.emails().await.len(), 1);
}
