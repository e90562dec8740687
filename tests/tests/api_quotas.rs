//! `sfn-local serve --aws-quotas`: Step Functions' API throttling offline. A call past its bucket
//! is refused as AWS refuses it (the real AWS CLI and aws-sdk-sfn see `ThrottlingException`), and
//! the console's runbook verbs complete under throttling (the SDK's adaptive retry), nothing lost,
//! no stack trace. Quotas are shrunk per action (`--quota ACTION=SIZE/REFILL`) so that throttling
//! happens within a few dozen calls; the buckets are AWS's own otherwise.

use std::process::Command;

use serde_json::{json, Value};
use workflow_tests::console::run_console;
use workflow_tests::{aws_json, project_root, sfn_local_binary, ApiServer, ARN_PREFIX};

const ORDER_MACHINE: &str = "process-unpaid-order-dev";

/// `sfn-local seed-executions` on `dir` (before a server holds it): its report.
fn seed(dir: &std::path::Path, args: &[&str]) -> Value {
    let out = Command::new(sfn_local_binary())
        .arg("--state-dir")
        .arg(dir)
        .arg("--project-root")
        .arg(project_root())
        .arg("--quiet")
        .arg("seed-executions")
        .args(args)
        .output()
        .expect("run sfn-local seed-executions");
    assert!(
        out.status.success(),
        "seed-executions: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).expect("the seed report")
}

/// `aws stepfunctions ARGS` with one attempt per call: Ok(JSON) or Err((exit code, stderr)).
fn aws_once(server: &ApiServer, args: &[&str]) -> Result<Value, (i32, String)> {
    aws_json(
        "stepfunctions",
        &server.endpoint,
        args,
        &[("AWS_MAX_ATTEMPTS", "1")],
    )
}

fn throttled(server: &ApiServer) -> Value {
    let (status, report) = server.call("SfnLocal.Quotas", &json!({}));
    assert_eq!(status, 200, "{report}");
    assert_eq!(report["awsQuotas"], true, "{report}");
    report["throttled"].clone()
}

#[test]
#[cfg_attr(
    not(feature = "emulator"),
    ignore = "needs the AWS CLI: run by tests/run.sh, or --features emulator with .tools/awscli"
)]
fn a_call_past_its_bucket_is_refused_as_aws_refuses_it() {
    let dir = tempfile::tempdir().expect("temp dir");
    seed(dir.path(), &["--count", "3"]);
    // Two ListExecutions, never refilled: the third is throttled whatever the machine's speed.
    let server = ApiServer::start_serving(
        dir.path(),
        &[],
        &["--aws-quotas", "--quota", "ListExecutions=2/0"],
    );
    let machine = format!("{ARN_PREFIX}:stateMachine:{ORDER_MACHINE}");
    let list = ["list-executions", "--state-machine-arn", machine.as_str()];
    for _ in 0..2 {
        let page = aws_once(&server, &list).expect("within the bucket");
        assert_eq!(
            page["executions"].as_array().map(Vec::len),
            Some(3),
            "{page}"
        );
    }
    let (code, err) = aws_once(&server, &list).expect_err("past the bucket");
    assert_eq!(code, 255, "{err}");
    assert!(
        err.contains(
            "An error occurred (ThrottlingException) when calling the ListExecutions operation"
        ) && err.contains("Rate exceeded"),
        "{err}"
    );
    // On the wire: HTTP 400 and AWS's error document.
    let (status, body) = server.call(
        "AWSStepFunctions.ListExecutions",
        &json!({ "stateMachineArn": machine }),
    );
    assert_eq!(status, 400);
    assert_eq!(
        body,
        json!({"__type": "ThrottlingException", "message": "Rate exceeded"})
    );
    // Each action has its own bucket: describing is still allowed.
    let arn = format!("{ARN_PREFIX}:execution:{ORDER_MACHINE}:seeded-0-seeded");
    let described = aws_once(&server, &["describe-execution", "--execution-arn", &arn])
        .expect("DescribeExecution has its own bucket");
    assert_eq!(
        described["input"],
        json!(json!({"orderId": "seeded-0"}).to_string())
    );
    assert_eq!(throttled(&server), json!({"ListExecutions": 2}));
}

#[test]
fn the_console_finds_and_selects_under_aws_quotas_with_nothing_lost() {
    let dir = tempfile::tempdir().expect("temp dir");
    // 24 executions over 30 days, every third FAILED, alternately TransientError and OrderNotFound.
    let report = seed(
        dir.path(),
        &[
            "--count",
            "24",
            "--days",
            "30",
            "--failed-every",
            "3",
            "--error",
            "TransientError",
            "--error",
            "OrderNotFound",
        ],
    );
    assert_eq!(report["executions"], 24);
    assert_eq!(report["failed"], 8);
    assert_eq!(report["indexItems"], 24);
    // DescribeExecution: 2 at once, 8 a second. A scan of 24 describes 8 at a time, so it is
    // throttled unless each describe took seconds; the SDK's retry must carry it through.
    let server = ApiServer::start_serving(
        dir.path(),
        &[],
        &[
            "--aws-quotas",
            "--quota",
            "DescribeExecution=2/8",
            "--quota",
            "ListExecutions=2/2",
        ],
    );
    let console = |args: &[&str]| {
        let run = run_console(&server.endpoint, args, &[]);
        assert!(
            !run.stderr.contains("panicked") && !run.stderr.contains("stack backtrace"),
            "{}",
            run.stderr
        );
        assert_eq!(run.code, 0, "{args:?}: {}\n{}", run.json, run.stderr);
        run.json
    };

    // The oldest order, by the index: one Query, one DescribeExecution.
    let found = console(&["find-order", "seeded-0", "--json"]);
    let names: Vec<&str> = found["executions"]
        .as_array()
        .expect("executions")
        .iter()
        .filter_map(|e| e["name"].as_str())
        .collect();
    assert_eq!(names, ["seeded-0-seeded"], "{found}");
    assert_eq!(found["executions"][0]["error"], "TransientError", "{found}");

    // The same order by the scan: every execution described, the order found, none left out.
    let scanned = console(&["find-order", "seeded-0", "--scan", "--json"]);
    let names: Vec<&str> = scanned["executions"]
        .as_array()
        .expect("executions")
        .iter()
        .filter_map(|e| e["name"].as_str())
        .collect();
    assert_eq!(names, ["seeded-0-seeded"], "{scanned}");
    let machines = scanned["searched"]["machines"]
        .as_array()
        .expect("machines");
    let order_scan = machines
        .iter()
        .find(|m| m["machine"] == ORDER_MACHINE)
        .expect("the per-order machine scanned");
    assert_eq!(order_scan["searched"], 24, "{scanned}");
    assert_eq!(order_scan["olderNotSearched"], false, "{scanned}");

    // The bulk redrive's dry run selects every TransientError failure (n = 0, 6, 12, 18).
    let dry = console(&[
        "redrive-failed",
        "--error",
        "TransientError",
        "--since",
        "31d",
        "--dry-run",
        "--json",
    ]);
    let mut selected: Vec<&str> = dry["wouldRedrive"]
        .as_array()
        .expect("wouldRedrive")
        .iter()
        .filter_map(|e| e["name"].as_str())
        .collect();
    selected.sort();
    assert_eq!(
        selected,
        [
            "seeded-0-seeded",
            "seeded-12-seeded",
            "seeded-18-seeded",
            "seeded-6-seeded"
        ],
        "{dry}"
    );

    // It was throttled, and came through.
    let throttled = throttled(&server);
    assert!(
        throttled["DescribeExecution"].as_u64().unwrap_or(0) > 0,
        "no DescribeExecution was throttled: {throttled}"
    );
}
