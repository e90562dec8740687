//! The real AWS CLI (awscli from PyPI, pinned: `bash tests/tools/install-awscli.sh`) against
//! `sfn-local serve`: one order run, inspected, failed by the fault switch and redriven; and a
//! server killed while an execution runs, restarted on the same state directory.

use std::time::Duration;

use serde_json::{json, Value};
use workflow_tests::{aws_json, poll_until, ApiServer, ARN_PREFIX, UNPAID_ORDER};

const LIMIT: Duration = Duration::from_secs(60);

/// `aws stepfunctions ARGS --endpoint-url ...`: Ok(JSON output) or Err((exit code, stderr)).
fn aws(server: &ApiServer, args: &[&str]) -> Result<Value, (i32, String)> {
    aws_json("stepfunctions", &server.endpoint, args, &[])
}

fn ok(server: &ApiServer, args: &[&str]) -> Value {
    aws(server, args).unwrap_or_else(|(code, err)| panic!("aws {args:?} exited {code}: {err}"))
}

/// The AWS CLI's service error: exit 255 (AWS CLI v1; v2 uses 254) and `An error occurred (NAME)`.
fn refused(server: &ApiServer, args: &[&str], name: &str) -> String {
    match aws(server, args) {
        Ok(v) => panic!("aws {args:?} succeeded: {v}"),
        Err((code, err)) => {
            assert_eq!(code, 255, "aws {args:?}: {err}");
            assert!(err.contains(&format!("({name})")), "aws {args:?}: {err}");
            err
        }
    }
}

/// The per-order machine's ARN, from list-state-machines.
fn order_machine(server: &ApiServer) -> String {
    let list = ok(server, &["list-state-machines"]);
    let machines = list["stateMachines"].as_array().expect("stateMachines");
    assert_eq!(machines.len(), 2, "{list}");
    let m = machines
        .iter()
        .find(|m| {
            let n = m["name"].as_str().unwrap_or("");
            n.starts_with("process-unpaid-order") && !n.starts_with("process-unpaid-orders")
        })
        .unwrap_or_else(|| panic!("no per-order machine in {list}"));
    assert_eq!(m["type"], "STANDARD");
    let arn = m["stateMachineArn"].as_str().expect("arn").to_string();
    assert_eq!(
        arn,
        format!(
            "{ARN_PREFIX}:stateMachine:{}",
            m["name"].as_str().unwrap_or("")
        )
    );
    arn
}

fn wait_status(server: &ApiServer, arn: &str, want: &str) -> Value {
    poll_until(LIMIT, &format!("{arn} {want}"), || {
        let d = ok(server, &["describe-execution", "--execution-arn", arn]);
        (d["status"] == want).then_some(d)
    })
}

/// The executions' names, sorted (on the virtual clock several start at the same instant, so
/// "newest first" does not order them).
fn names(list: &Value) -> Vec<String> {
    let mut names: Vec<String> = list["executions"]
        .as_array()
        .expect("executions")
        .iter()
        .map(|e| e["name"].as_str().unwrap_or("").to_string())
        .collect();
    names.sort();
    names
}

#[test]
#[cfg_attr(
    not(feature = "emulator"),
    ignore = "needs the AWS CLI: run by tests/run.sh, or --features emulator with .tools/awscli"
)]
fn the_aws_cli_runs_inspects_fails_and_redrives_an_order() {
    let dir = tempfile::tempdir().expect("temp dir");
    let server = ApiServer::start(dir.path(), &["--virtual-clock"]);
    let machine = order_machine(&server);
    let machine_name = machine.rsplit(':').next().unwrap_or("").to_string();
    let input = json!({ "orderId": UNPAID_ORDER }).to_string();

    // One order, to its end.
    let started = ok(
        &server,
        &[
            "start-execution",
            "--state-machine-arn",
            &machine,
            "--name",
            "cli-ok",
            "--input",
            &input,
        ],
    );
    let arn = format!("{ARN_PREFIX}:execution:{machine_name}:cli-ok");
    assert_eq!(started["executionArn"], json!(arn));
    assert!(started["startDate"].is_number(), "{started}");
    let done = wait_status(&server, &arn, "SUCCEEDED");
    assert_eq!(done["input"], json!(input));
    let output: Value =
        serde_json::from_str(done["output"].as_str().expect("output")).expect("JSON");
    assert_eq!(output["orderId"], UNPAID_ORDER);
    assert_eq!(output["saveOrder"]["outcome"], "saved");
    assert_eq!(
        output["notifyFailure"],
        json!({"sns": "sent", "email": "sent"})
    );
    assert_eq!(done["redriveStatus"], "NOT_REDRIVABLE");
    assert!(done["stopDate"].as_f64() >= done["startDate"].as_f64());

    // Its history: in order, ids consecutive; reversed; paged by the CLI through nextToken.
    let history = ok(&server, &["get-execution-history", "--execution-arn", &arn]);
    let events = history["events"].as_array().expect("events");
    assert_eq!(events[0]["type"], "ExecutionStarted");
    assert_eq!(events[events.len() - 1]["type"], "ExecutionSucceeded");
    for (i, e) in events.iter().enumerate() {
        assert_eq!(e["id"], json!(i + 1), "{e}");
        assert!(e["timestamp"].is_number(), "{e}");
    }
    let entered: Vec<&str> = events
        .iter()
        .filter(|e| e["type"] == "TaskStateEntered")
        .filter_map(|e| e["stateEnteredEventDetails"]["name"].as_str())
        .collect();
    assert_eq!(
        entered,
        [
            "LoadOrder",
            "BuildFailedHeader",
            "SaveOrder",
            "LogAttempt",
            "NotifyFailure"
        ]
    );
    let reversed = ok(
        &server,
        &[
            "get-execution-history",
            "--execution-arn",
            &arn,
            "--reverse-order",
        ],
    );
    assert_eq!(reversed["events"][0]["type"], "ExecutionSucceeded");
    let paged = ok(
        &server,
        &[
            "get-execution-history",
            "--execution-arn",
            &arn,
            "--page-size",
            "4",
        ],
    );
    assert_eq!(
        paged["events"], history["events"],
        "pages of 4 put together"
    );
    let first = ok(
        &server,
        &[
            "get-execution-history",
            "--execution-arn",
            &arn,
            "--max-items",
            "3",
        ],
    );
    assert_eq!(first["events"].as_array().map(Vec::len), Some(3));
    assert!(first["NextToken"].is_string(), "{first}");

    // A failing order: the fault switch makes NotifyFailure fail through all its retries.
    server.set_faults(&["notify-failure=TransientError:always"]);
    ok(
        &server,
        &[
            "start-execution",
            "--state-machine-arn",
            &machine,
            "--name",
            "cli-fail",
            "--input",
            &input,
        ],
    );
    let failed_arn = format!("{ARN_PREFIX}:execution:{machine_name}:cli-fail");
    let failed = wait_status(&server, &failed_arn, "FAILED");
    assert_eq!(failed["error"], "TransientError");
    assert_eq!(failed["redriveStatus"], "REDRIVABLE");

    let all = ok(
        &server,
        &["list-executions", "--state-machine-arn", &machine],
    );
    assert_eq!(names(&all), ["cli-fail", "cli-ok"]);
    let paged = ok(
        &server,
        &[
            "list-executions",
            "--state-machine-arn",
            &machine,
            "--page-size",
            "1",
        ],
    );
    assert_eq!(
        names(&paged),
        ["cli-fail", "cli-ok"],
        "pages of 1 put together"
    );
    let only_failed = ok(
        &server,
        &[
            "list-executions",
            "--state-machine-arn",
            &machine,
            "--status-filter",
            "FAILED",
        ],
    );
    assert_eq!(names(&only_failed), ["cli-fail"]);

    // The outage is over: redrive runs the failed step again, same ARN, redriveCount 1.
    server.set_faults(&[]);
    let redriven = ok(
        &server,
        &["redrive-execution", "--execution-arn", &failed_arn],
    );
    assert!(redriven["redriveDate"].is_number(), "{redriven}");
    let done = wait_status(&server, &failed_arn, "SUCCEEDED");
    assert_eq!(done["redriveCount"], 1);
    // redriveFilter: only the redriven one, or only the others (AWS honours it; both are listed
    // without it).
    let list_redrive = |filter: &str| {
        names(&ok(
            &server,
            &[
                "list-executions",
                "--state-machine-arn",
                &machine,
                "--redrive-filter",
                filter,
            ],
        ))
    };
    assert_eq!(list_redrive("REDRIVEN"), ["cli-fail"]);
    assert_eq!(list_redrive("NOT_REDRIVEN"), ["cli-ok"]);
    let history = ok(
        &server,
        &["get-execution-history", "--execution-arn", &failed_arn],
    );
    let types: Vec<&str> = history["events"]
        .as_array()
        .expect("events")
        .iter()
        .filter_map(|e| e["type"].as_str())
        .collect();
    assert!(
        types.contains(&"ExecutionFailed") && types.contains(&"ExecutionRedriven"),
        "{types:?}"
    );
    assert_eq!(types.last(), Some(&"ExecutionSucceeded"));
    let after_redrive: Vec<&str> = history["events"]
        .as_array()
        .expect("events")
        .iter()
        .skip_while(|e| e["type"] != "ExecutionRedriven")
        .filter(|e| e["type"] == "TaskStateEntered")
        .filter_map(|e| e["stateEnteredEventDetails"]["name"].as_str())
        .collect();
    assert_eq!(
        after_redrive,
        ["NotifyFailure"],
        "only the failed step runs again"
    );

    // AWS's errors, as the CLI reports them.
    let missing = format!("{ARN_PREFIX}:execution:{machine_name}:nope");
    refused(
        &server,
        &["describe-execution", "--execution-arn", &missing],
        "ExecutionDoesNotExist",
    );
    refused(
        &server,
        &["describe-execution", "--execution-arn", "not-an-arn"],
        "InvalidArn",
    );
    refused(
        &server,
        &[
            "start-execution",
            "--state-machine-arn",
            &machine,
            "--name",
            "cli-ok",
            "--input",
            "{\"orderId\":\"1\"}",
        ],
        "ExecutionAlreadyExists",
    );
    refused(
        &server,
        &[
            "start-execution",
            "--state-machine-arn",
            &machine,
            "--name",
            "bad name",
            "--input",
            "{}",
        ],
        "InvalidName",
    );
    refused(
        &server,
        &[
            "start-execution",
            "--state-machine-arn",
            &machine,
            "--input",
            "{not json",
        ],
        "InvalidExecutionInput",
    );
    refused(
        &server,
        &[
            "start-execution",
            "--state-machine-arn",
            &format!("{ARN_PREFIX}:stateMachine:nope"),
        ],
        "StateMachineDoesNotExist",
    );
    refused(
        &server,
        &["redrive-execution", "--execution-arn", &arn],
        "ExecutionNotRedrivable",
    );
    refused(
        &server,
        &[
            "list-executions",
            "--state-machine-arn",
            &machine,
            "--status-filter",
            "BOGUS",
        ],
        "ValidationException",
    );
}

#[test]
#[cfg_attr(
    not(feature = "emulator"),
    ignore = "needs the AWS CLI: run by tests/run.sh, or --features emulator with .tools/awscli"
)]
fn a_server_killed_mid_run_loses_nothing_and_the_cut_execution_is_redrivable() {
    let dir = tempfile::tempdir().expect("temp dir");
    // The first NotifyFailure call never answers: that execution stays RUNNING until the kill.
    let mut server = ApiServer::start(dir.path(), &["--fail", "notify-failure=Hang:1"]);
    let machine = order_machine(&server);
    let machine_name = machine.rsplit(':').next().unwrap_or("").to_string();
    let input = json!({ "orderId": UNPAID_ORDER }).to_string();
    let cut = format!("{ARN_PREFIX}:execution:{machine_name}:cut");
    ok(
        &server,
        &[
            "start-execution",
            "--state-machine-arn",
            &machine,
            "--name",
            "cut",
            "--input",
            &input,
        ],
    );
    // Running, and (live history) inside NotifyFailure.
    poll_until(LIMIT, "cut to reach NotifyFailure", || {
        let h = ok(&server, &["get-execution-history", "--execution-arn", &cut]);
        h["events"]
            .as_array()?
            .iter()
            .any(|e| {
                e["type"] == "TaskStateEntered"
                    && e["stateEnteredEventDetails"]["name"] == "NotifyFailure"
            })
            .then_some(())
    });
    assert_eq!(
        ok(&server, &["describe-execution", "--execution-arn", &cut])["status"],
        "RUNNING"
    );
    // Another order finishes meanwhile.
    let done = format!("{ARN_PREFIX}:execution:{machine_name}:done");
    ok(
        &server,
        &[
            "start-execution",
            "--state-machine-arn",
            &machine,
            "--name",
            "done",
            "--input",
            &input,
        ],
    );
    wait_status(&server, &done, "SUCCEEDED");

    server.kill();
    let server = ApiServer::start(dir.path(), &[]);

    // Nothing lost: both executions are there; the cut one ended FAILED, redrivable.
    let all = ok(
        &server,
        &["list-executions", "--state-machine-arn", &machine],
    );
    assert_eq!(names(&all), ["cut", "done"]);
    assert_eq!(
        ok(&server, &["describe-execution", "--execution-arn", &done])["status"],
        "SUCCEEDED"
    );
    let cut_now = ok(&server, &["describe-execution", "--execution-arn", &cut]);
    assert_eq!(cut_now["status"], "FAILED", "{cut_now}");
    assert_eq!(cut_now["error"], "States.Runtime");
    assert!(
        cut_now["cause"]
            .as_str()
            .unwrap_or("")
            .contains("stopped during the execution"),
        "{cut_now}"
    );
    assert_eq!(cut_now["redriveStatus"], "REDRIVABLE");

    ok(&server, &["redrive-execution", "--execution-arn", &cut]);
    let redriven = wait_status(&server, &cut, "SUCCEEDED");
    assert_eq!(redriven["redriveCount"], 1);
    let output: Value =
        serde_json::from_str(redriven["output"].as_str().expect("output")).expect("JSON");
    assert_eq!(output["orderId"], UNPAID_ORDER);
}
