//! `sfn-console find-order` and `redrive-failed` against `sfn-local serve`, through aws-sdk-sfn
//! (and aws-sdk-dynamodb for the order index) as against AWS: a batch fails on an SES outage; the
//! runbook finds the order (by the input's orderId, whatever the execution's name), dry-runs the
//! bulk redrive (nothing redriven), ends the outage, redrives, and every matching execution
//! succeeds.

use std::time::Duration;

use serde_json::{json, Value};
use workflow_tests::console::run_console;
use workflow_tests::evidence::{record_offline, status_changes, stored_executions};
use workflow_tests::{poll_until, project_root, ApiServer, ARN_PREFIX, UNPAID_ORDER};

const LIMIT: Duration = Duration::from_secs(60);
const ORDER_MACHINE: &str = "process-unpaid-order-dev";
const BATCH_MACHINE: &str = "process-unpaid-orders-dev";

/// Runs `sfn-console --endpoint-url ... ARGS`: (exit code, stdout JSON or Null).
fn console(server: &ApiServer, args: &[&str]) -> (i32, Value) {
    let run = run_console(&server.endpoint, args, &[]);
    (run.code, run.json)
}

fn api(server: &ApiServer, op: &str, body: Value) -> Value {
    let (status, v) = server.call(&format!("AWSStepFunctions.{op}"), &body);
    assert_eq!(status, 200, "{op}: {v}");
    v
}

fn machine_arn(name: &str) -> String {
    format!("{ARN_PREFIX}:stateMachine:{name}")
}

fn list(server: &ApiServer, filter: Value) -> Vec<Value> {
    let mut body = json!({ "stateMachineArn": machine_arn(ORDER_MACHINE) });
    if let (Some(b), Some(f)) = (body.as_object_mut(), filter.as_object()) {
        b.extend(f.clone());
    }
    api(server, "ListExecutions", body)["executions"]
        .as_array()
        .cloned()
        .unwrap_or_default()
}

#[tokio::test]
async fn the_runbook_verbs_find_an_order_and_redrive_what_failed() {
    let dir = tempfile::tempdir().expect("temp dir");
    let server = ApiServer::start(
        dir.path(),
        &[
            "--virtual-clock",
            "--fail",
            "notify-failure=TransientError:always",
        ],
    );
    let records: Value = serde_json::from_str(
        &std::fs::read_to_string(project_root().join("events/stream-batch.json"))
            .expect("events/stream-batch.json"),
    )
    .expect("JSON");
    let batch = api(
        &server,
        "StartExecution",
        json!({"stateMachineArn": machine_arn(BATCH_MACHINE), "name": "outage", "input": records.to_string()}),
    )["executionArn"]
        .as_str()
        .expect("arn")
        .to_string();
    poll_until(LIMIT, "the batch ends", || {
        let d = api(
            &server,
            "DescribeExecution",
            json!({ "executionArn": batch }),
        );
        (d["status"] != "RUNNING").then_some(())
    });
    // A hand-started attempt with a name that says nothing about the order.
    api(
        &server,
        "StartExecution",
        json!({"stateMachineArn": machine_arn(ORDER_MACHINE), "name": "by-hand-1", "input": json!({"orderId": UNPAID_ORDER}).to_string()}),
    );
    poll_until(LIMIT, "by-hand-1 ends", || {
        let all = list(&server, json!({}));
        all.iter()
            .any(|e| e["name"] == "by-hand-1" && e["status"] != "RUNNING")
            .then_some(())
    });

    // The order index, filled by the recorder from the status changes of what ran.
    let events: Vec<Value> = stored_executions(dir.path())
        .iter()
        .flat_map(status_changes)
        .collect();
    record_offline(&project_root(), dir.path(), &events).await;

    // find-order: the batch, its child and the hand-started one; never another order's.
    let (code, found) = console(&server, &["find-order", UNPAID_ORDER, "--json"]);
    assert_eq!(code, 0, "{found}");
    let mut names: Vec<&str> = found["executions"]
        .as_array()
        .expect("executions")
        .iter()
        .filter_map(|e| e["name"].as_str())
        .collect();
    names.sort();
    assert_eq!(names.len(), 3, "{names:?}");
    assert!(
        names.contains(&"outage") && names.contains(&"by-hand-1"),
        "{names:?}"
    );
    // The batch's child, named from the eventID and a hash of the orderId (found by its input).
    assert!(
        names.iter().any(|n| *n != "outage" && *n != "by-hand-1"),
        "{names:?}"
    );

    // The dry run lists every TransientError failure and redrives nothing.
    let failed_transient: Vec<String> = list(&server, json!({"statusFilter": "FAILED"}))
        .iter()
        .filter_map(|e| e["executionArn"].as_str().map(str::to_string))
        .filter(|arn| {
            api(&server, "DescribeExecution", json!({ "executionArn": arn }))["error"]
                == "TransientError"
        })
        .collect();
    assert!(failed_transient.len() >= 3, "{failed_transient:?}");
    let (code, dry) = console(
        &server,
        &[
            "redrive-failed",
            "--error",
            "TransientError",
            "--since",
            "7d",
            "--dry-run",
            "--json",
        ],
    );
    assert_eq!(code, 0, "{dry}");
    let mut would: Vec<String> = dry["wouldRedrive"]
        .as_array()
        .expect("wouldRedrive")
        .iter()
        .filter_map(|e| e["arn"].as_str().map(str::to_string))
        .collect();
    would.sort();
    let mut want = failed_transient.clone();
    want.sort();
    assert_eq!(would, want);
    assert!(
        list(&server, json!({"redriveFilter": "REDRIVEN"})).is_empty(),
        "a dry run redrives nothing"
    );
    // A time range that excludes them selects nothing.
    let (_, none) = console(
        &server,
        &[
            "redrive-failed",
            "--until",
            "2000-01-01T00:00:00Z",
            "--dry-run",
            "--json",
        ],
    );
    assert_eq!(none["wouldRedrive"], json!([]));

    // The outage ends; the redrive runs each again, one result each, and they succeed.
    server.set_faults(&[]);
    let (code, done) = console(
        &server,
        &[
            "redrive-failed",
            "--error",
            "TransientError",
            "--machine",
            ORDER_MACHINE,
            "--rate",
            "50",
            "--json",
        ],
    );
    assert_eq!(code, 0, "{done}");
    let results = done["results"].as_array().expect("results");
    assert_eq!(results.len(), want.len());
    assert!(results.iter().all(|r| r["ok"] == true), "{done}");
    poll_until(LIMIT, "the redriven executions succeed", || {
        let r = list(&server, json!({"redriveFilter": "REDRIVEN"}));
        (r.len() == want.len() && r.iter().all(|e| e["status"] == "SUCCEEDED")).then_some(())
    });
    // The one that failed for another reason (no check-status record) was left alone.
    let others = list(&server, json!({"statusFilter": "FAILED"}));
    assert!(
        !others.is_empty() && others.iter().all(|e| e["redriveCount"] == 0),
        "{others:?}"
    );

    // Bounded: a limit outside 1..=500 is a usage error.
    let (code, _) = console(&server, &["redrive-failed", "--limit", "0"]);
    assert_eq!(code, 2);
}
