//! The console on the order index, offline: `sfn-local serve` answers the Step Functions API and
//! (read-only) the DynamoDB API over its embedded tables; the index is filled by the real
//! recorder (record-event) from the status changes of what ran. `find-order` is one Query of the
//! index (aws-sdk-dynamodb, as on AWS), the scan says how much it searched, the bulk redrive's
//! dry run takes the errors from the index without one DescribeExecution per candidate, and the
//! order page shows the timeline, a bounce included.

use std::time::Duration;

use serde_json::{json, Value};
use unpaid_order::evidence::SesEventKind;
use workflow_tests::console::{query_value, run_console, ConsoleServer};
use workflow_tests::evidence::{record_offline, ses_events, status_changes, stored_executions};
use workflow_tests::{poll_until, project_root, ApiServer, ARN_PREFIX, UNPAID_ORDER};

const LIMIT: Duration = Duration::from_secs(60);
const BATCH_MACHINE: &str = "process-unpaid-orders-dev";
const ORDER_MACHINE: &str = "process-unpaid-order-dev";
const INDEX: &str = "payment3-unpaid-order-index-dev";
const EMAIL_LOG: &str = "payment3-email-log-dev";

fn api(server: &ApiServer, op: &str, body: Value) -> Value {
    let (status, v) = server.call(&format!("AWSStepFunctions.{op}"), &body);
    assert_eq!(status, 200, "{op}: {v}");
    v
}

fn wait_until_stopped(server: &ApiServer, arn: &str) {
    poll_until(LIMIT, "the execution ends", || {
        let d = api(server, "DescribeExecution", json!({ "executionArn": arn }));
        (d["status"] != "RUNNING").then_some(())
    });
}

/// A batch that meets an SES outage, and one attempt started by hand for the same order.
fn run_outage(server: &ApiServer) {
    let records = std::fs::read_to_string(project_root().join("events/stream-batch.json"))
        .expect("events/stream-batch.json");
    let batch = api(
        server,
        "StartExecution",
        json!({"stateMachineArn": format!("{ARN_PREFIX}:stateMachine:{BATCH_MACHINE}"), "name": "outage", "input": records}),
    )["executionArn"]
        .as_str()
        .expect("arn")
        .to_string();
    wait_until_stopped(server, &batch);
    server.set_faults(&[]);
    let by_hand = api(
        server,
        "StartExecution",
        json!({"stateMachineArn": format!("{ARN_PREFIX}:stateMachine:{ORDER_MACHINE}"), "name": "by-hand-1", "input": json!({"orderId": UNPAID_ORDER}).to_string()}),
    )["executionArn"]
        .as_str()
        .expect("arn")
        .to_string();
    wait_until_stopped(server, &by_hand);
}

fn names(found: &Value) -> Vec<String> {
    let mut n: Vec<String> = found["executions"]
        .as_array()
        .expect("executions")
        .iter()
        .filter_map(|e| e["name"].as_str().map(str::to_string))
        .collect();
    n.sort();
    n
}

#[tokio::test]
async fn find_order_queries_the_index_and_the_scan_says_what_it_searched() {
    let dir = tempfile::tempdir().expect("temp dir");
    let server = ApiServer::start(
        dir.path(),
        &[
            "--virtual-clock",
            "--fail",
            "notify-failure=TransientError:always",
        ],
    );
    run_outage(&server);

    // sfn-local published the status changes of what it ran, and record-event indexed them: the
    // console finds the order through the index (the Branch comes from the machines).
    let before = run_console(
        &server.endpoint,
        &["find-order", UNPAID_ORDER, "--json"],
        &[],
    );
    assert_eq!(before.code, 0, "{before:?}");
    assert_eq!(
        before.json["searched"]["method"], "index",
        "{}",
        before.json
    );
    assert_eq!(before.json["searched"]["table"], INDEX);
    assert_eq!(names(&before.json).len(), 3, "{}", before.json);

    // The same status changes delivered again (at least once) change nothing.
    let events: Vec<Value> = stored_executions(dir.path())
        .iter()
        .flat_map(status_changes)
        .collect();
    record_offline(&project_root(), dir.path(), &events).await;

    let calls = tempfile::tempdir().expect("call log dir");
    let log = calls.path().to_str().expect("utf-8 path");
    let found = run_console(
        &server.endpoint,
        &["find-order", UNPAID_ORDER, "--json"],
        &[("CONSOLE_CALL_LOG_DIR", log)],
    );
    assert_eq!(found.code, 0, "{found:?}");
    let by_index = names(&found.json);
    assert_eq!(
        by_index.len(),
        3,
        "the batch, its child, the one by hand: {by_index:?}"
    );
    assert!(
        by_index.contains(&"outage".to_string()) && by_index.contains(&"by-hand-1".to_string())
    );
    assert_eq!(found.json["searched"]["method"], "index");
    assert_eq!(found.json["searched"]["found"], 3);
    assert!(
        found.json["searched"]["message"]
            .as_str()
            .is_some_and(|m| m.contains("Found 3 execution(s) in the order index")),
        "{}",
        found.json
    );
    // One Query of the index; DescribeExecution for the three found only; no ListExecutions.
    let recorded = read_calls(calls.path());
    let count = |action: &str| recorded.iter().filter(|c| c["action"] == action).count();
    assert_eq!(count("dynamodb:Query"), 1, "{recorded:?}");
    assert_eq!(count("states:DescribeExecution"), 3, "{recorded:?}");
    assert_eq!(count("states:ListExecutions"), 0, "{recorded:?}");

    // The scan finds the same executions, and says how many it searched.
    let scanned = run_console(
        &server.endpoint,
        &["find-order", UNPAID_ORDER, "--scan", "--json"],
        &[],
    );
    assert_eq!(scanned.code, 0, "{scanned:?}");
    assert_eq!(names(&scanned.json), by_index);
    let message = scanned.json["searched"]["message"]
        .as_str()
        .unwrap_or_default();
    assert_eq!(scanned.json["searched"]["method"], "scan");
    assert!(message.starts_with("Searched "), "{message}");
    assert!(
        message.contains(&format!("all 1 executions of {BATCH_MACHINE}")),
        "{message}"
    );
    // A scan bounded below the history: it says which ones, and that older ones were not searched.
    let bounded = run_console(
        &server.endpoint,
        &["--scan-limit", "2", "find-order", UNPAID_ORDER, "--scan"],
        &[],
    );
    assert_eq!(bounded.code, 0, "{bounded:?}");
    assert!(
        bounded
            .stderr
            .contains(&format!("the newest 2 executions of {ORDER_MACHINE}"))
            && bounded.stderr.contains("older ones were not searched"),
        "{}",
        bounded.stderr
    );
    // A stack without the index table: it scans, and says why.
    let no_index = run_console(
        &server.endpoint,
        &[
            "--index-table",
            "payment3-unpaid-order-index-old",
            "find-order",
            UNPAID_ORDER,
            "--json",
        ],
        &[],
    );
    assert_eq!(no_index.code, 0, "{no_index:?}");
    assert_eq!(no_index.json["searched"]["method"], "scan");
    assert!(
        no_index.json["searched"]["message"]
            .as_str()
            .is_some_and(|m| m.contains("payment3-unpaid-order-index-old does not exist")),
        "{}",
        no_index.json
    );
    assert_eq!(names(&no_index.json), by_index);

    // The bulk redrive's dry run: FAILED from ListExecutions, errors from the index, no
    // DescribeExecution per candidate.
    let calls = tempfile::tempdir().expect("call log dir");
    let log = calls.path().to_str().expect("utf-8 path");
    let dry = run_console(
        &server.endpoint,
        &[
            "redrive-failed",
            "--error",
            "TransientError",
            "--dry-run",
            "--json",
        ],
        &[("CONSOLE_CALL_LOG_DIR", log)],
    );
    assert_eq!(dry.code, 0, "{dry:?}");
    let would = dry.json["wouldRedrive"].as_array().expect("wouldRedrive");
    assert!(would.len() >= 3, "{}", dry.json);
    assert!(would
        .iter()
        .all(|e| e["error"] == "TransientError" && e["errorFrom"] == "index"));
    let recorded = read_calls(calls.path());
    assert_eq!(
        recorded
            .iter()
            .filter(|c| c["action"] == "states:DescribeExecution")
            .count(),
        0,
        "{recorded:?}"
    );
    assert!(recorded
        .iter()
        .any(|c| c["action"] == "dynamodb:Query" && c["index"] == "failed-executions"));
}

fn read_calls(dir: &std::path::Path) -> Vec<Value> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).expect("call log dir") {
        let text = std::fs::read_to_string(entry.expect("entry").path()).expect("call log");
        out.extend(
            text.lines()
                .map(|l| serde_json::from_str::<Value>(l).expect("a JSON line")),
        );
    }
    out
}

#[tokio::test]
async fn the_order_page_shows_the_timeline_with_a_bounce() {
    let dir = tempfile::tempdir().expect("temp dir");
    let server = ApiServer::start(
        dir.path(),
        &[
            "--virtual-clock",
            "--fail",
            "notify-failure=TransientError:always",
        ],
    );
    run_outage(&server);
    let events: Vec<Value> = stored_executions(dir.path())
        .iter()
        .flat_map(status_changes)
        .collect();
    record_offline(&project_root(), dir.path(), &events).await;

    // The email of the hand-started attempt, read back through the DynamoDB API (the SDK, as the
    // console reads it), then SES's Send and Bounce for it through record-event.
    let config = aws_config::SdkConfig::builder()
        .behavior_version(aws_config::BehaviorVersion::latest())
        .region(aws_config::Region::new("us-east-1"))
        .endpoint_url(&server.endpoint)
        .http_client(unpaid_order::aws::http_client())
        .credentials_provider(aws_sdk_dynamodb::config::SharedCredentialsProvider::new(
            aws_sdk_dynamodb::config::Credentials::new("test", "test", None, None, "test"),
        ))
        .build();
    let dynamodb = aws_sdk_dynamodb::Client::new(&config);
    let got = dynamodb
        .get_item()
        .table_name(EMAIL_LOG)
        .key(
            "emailId",
            aws_sdk_dynamodb::types::AttributeValue::S(format!("{UNPAID_ORDER}#by-hand-1#email")),
        )
        .send()
        .await
        .expect("GetItem through sfn-local");
    let record =
        unpaid_order::attr::item_from_sdk(got.item().expect("the email's record")).expect("item");
    let bounce = ses_events(
        &record,
        &[SesEventKind::Send, SesEventKind::Bounce],
        "payment3-unpaid-order-dev",
    );
    record_offline(&project_root(), dir.path(), &bounce).await;
    let index = dynamodb
        .query()
        .table_name(INDEX)
        .key_condition_expression("orderId = :o")
        .expression_attribute_values(
            ":o",
            aws_sdk_dynamodb::types::AttributeValue::S(UNPAID_ORDER.into()),
        )
        .send()
        .await
        .expect("Query through sfn-local");
    assert_eq!(index.count(), 3);

    let console = ConsoleServer::start(&server.endpoint, &[]);
    let (status, page) = console.get(&format!("/order?id={UNPAID_ORDER}"));
    assert_eq!(status, 200, "{page}");
    let timeline = page
        .split("id=\"timeline\"")
        .nth(1)
        .expect("the page has a timeline");
    for kind in [
        "stream-record",
        "execution-started",
        "execution-ended",
        "payment-header",
        "attempt-record",
        "sns",
        "email-claim",
        "email-sent",
        "ses-event",
    ] {
        assert!(
            timeline.contains(&format!("data-kind=\"{kind}\"")),
            "no {kind} in the timeline: {timeline}"
        );
    }
    assert!(
        timeline.contains("c4ca4238a0b923820dcc509a6f75849b"),
        "the stream record's eventID"
    );
    assert!(
        timeline.contains("data-ses=\"Bounce\"")
            && timeline.contains("the customer did not get the email")
    );
    assert!(page.contains("id=\"never-heard\""));
    assert!(timeline.contains("j***@example.com"), "the address, masked");
    assert!(
        !page.contains("jane.doe@example.com"),
        "never the whole address"
    );
    // Newest first: the bounce (after the send) comes before the execution that sent it started.
    let at = |needle: &str| timeline.find(needle).unwrap_or_else(|| panic!("{needle}"));
    assert!(at("data-ses=\"Bounce\"") < at("data-ses=\"Send\""));
    assert!(at("data-ses=\"Send\"") < at("data-kind=\"stream-record\""));
}

/// Polls DescribeExecution until `arn` has `status`.
fn wait_status(server: &ApiServer, arn: &str, status: &str) {
    poll_until(LIMIT, &format!("{arn} {status}"), || {
        let d = api(server, "DescribeExecution", json!({ "executionArn": arn }));
        (d["status"] == status).then_some(())
    });
}

#[test]
fn the_console_starts_stops_and_redrives_within_the_stack() {
    let dir = tempfile::tempdir().expect("temp dir");
    let server = ApiServer::start(
        dir.path(),
        &["--virtual-clock", "--fail", "load-order=Hang:always"],
    );
    let console = ConsoleServer::start(&server.endpoint, &[]);

    // A new attempt for the order: only the per-order machine is offered.
    let (status, page) = console.get(&format!("/order?id={UNPAID_ORDER}"));
    assert_eq!(status, 200, "{page}");
    let token = ConsoleServer::token(&page);
    let form = page
        .split("id=\"start-form\"")
        .nth(1)
        .expect("the start form");
    let form = form.split("</form>").next().unwrap_or_default();
    assert!(form.contains(&format!(">{ORDER_MACHINE}<")), "{form}");
    assert!(
        !form.contains(BATCH_MACHINE),
        "the batch machine is not offered: {form}"
    );
    let order_machine = format!("{ARN_PREFIX}:stateMachine:{ORDER_MACHINE}");
    let (status, location, body) = console.post(
        "/start",
        &[
            ("token", &token),
            ("order_id", UNPAID_ORDER),
            ("machine", &order_machine),
        ],
    );
    assert_eq!(status, 303, "{body}");
    let attempt = location
        .as_deref()
        .and_then(|l| query_value(l, "arn"))
        .expect("redirected to the new execution");
    // A batch whose children hang too.
    let records = std::fs::read_to_string(project_root().join("events/stream-batch.json"))
        .expect("events/stream-batch.json");
    let batch = api(
        &server,
        "StartExecution",
        json!({"stateMachineArn": format!("{ARN_PREFIX}:stateMachine:{BATCH_MACHINE}"), "name": "hung", "input": records}),
    )["executionArn"]
        .as_str()
        .expect("arn")
        .to_string();
    wait_status(&server, &attempt, "RUNNING");
    wait_status(&server, &batch, "RUNNING");

    // Stop both from their pages' forms; then, the outage over, redrive both.
    for arn in [&attempt, &batch] {
        let (status, _, body) = console.post("/stop", &[("token", &token), ("arn", arn)]);
        assert_eq!(status, 303, "{body}");
        wait_status(&server, arn, "ABORTED");
    }
    server.set_faults(&[]);
    for arn in [&attempt, &batch] {
        let (status, location, body) = console.post("/redrive", &[("token", &token), ("arn", arn)]);
        assert_eq!(status, 303, "{body}");
        assert!(location.is_some_and(|l| l.ends_with("notice=redriven")));
    }
    wait_status(&server, &attempt, "SUCCEEDED");
    // Each execution's page (its definition, its history) and the machines' page.
    for arn in [&attempt, &batch] {
        let (status, page) = console.get(&format!("/execution?arn={}", arn.replace(':', "%3A")));
        assert_eq!(status, 200, "{page}");
        assert!(page.contains("id=\"redrive-count\">1<"), "{page}");
    }
    let (status, page) = console.get("/");
    assert_eq!(status, 200, "{page}");
    assert!(page.contains(BATCH_MACHINE) && page.contains(ORDER_MACHINE));
}

#[tokio::test]
#[cfg_attr(
    not(feature = "emulator"),
    ignore = "needs moto: run by tests/run.sh, or --features emulator with .tools/moto"
)]
async fn the_console_reads_the_index_email_log_and_attempts_over_moto() {
    use unpaid_order::Setting;
    let env = test_support::MotoEnv::new().await;
    env.seed_fixtures().await;
    let dir = tempfile::tempdir().expect("temp dir");
    let mut vars = env.function_env();
    vars.extend([
        ("AWS_ACCESS_KEY_ID".to_string(), "testing".to_string()),
        ("AWS_SECRET_ACCESS_KEY".to_string(), "testing".to_string()),
        ("AWS_REGION".to_string(), "us-east-1".to_string()),
    ]);
    let server = ApiServer::start_with_env(
        dir.path(),
        &[
            "--virtual-clock",
            "--aws-endpoint",
            &env.endpoint,
            "--fail",
            "notify-failure=TransientError:always",
        ],
        &vars,
    );
    run_outage(&server);

    // moto publishes no events: the status changes, and SES's Send and Bounce of the attempt
    // by hand, go through record-event over the DynamoDB adapters.
    let ports = unpaid_order::aws::AwsPorts::new(&env.sdk, &env.config).expect("adapters");
    let describe = unpaid_order::MemoryStore::default();
    let recorder = record_event::Ports {
        email_log: &ports.email_log,
        index: &ports.order_index,
        executions: &describe,
    };
    let events: Vec<Value> = stored_executions(dir.path())
        .iter()
        .flat_map(status_changes)
        .collect();
    workflow_tests::evidence::record_with(recorder, &events).await;
    let email_log = env.scan(Setting::EmailLogTable).await;
    let record = email_log
        .iter()
        .find(|i| {
            i.get("emailId").and_then(|a| a.as_s())
                == Some(&format!("{UNPAID_ORDER}#by-hand-1#email"))
        })
        .expect("the email of the attempt by hand");
    let bounce = ses_events(
        record,
        &[SesEventKind::Send, SesEventKind::Bounce],
        &env.get(Setting::SesConfigurationSet),
    );
    workflow_tests::evidence::record_with(recorder, &bounce).await;

    let (index, email, attempts) = (
        env.get(Setting::OrderIndexTable),
        env.get(Setting::EmailLogTable),
        env.get(Setting::ProcessUnpaidOrderTable),
    );
    let tables = [
        "--dynamodb-endpoint-url",
        env.endpoint.as_str(),
        "--index-table",
        index.as_str(),
        "--email-log-table",
        email.as_str(),
        "--attempt-table",
        attempts.as_str(),
    ];
    let args: Vec<&str> = tables
        .iter()
        .copied()
        .chain(["find-order", UNPAID_ORDER, "--json"])
        .collect();
    let found = run_console(&server.endpoint, &args, &[]);
    assert_eq!(found.code, 0, "{found:?}");
    assert_eq!(found.json["searched"]["method"], "index", "{}", found.json);
    assert_eq!(found.json["searched"]["table"], index.as_str());
    assert_eq!(names(&found.json).len(), 3, "{}", found.json);

    let args: Vec<&str> = tables
        .iter()
        .copied()
        .chain([
            "redrive-failed",
            "--error",
            "TransientError",
            "--dry-run",
            "--json",
        ])
        .collect();
    let dry = run_console(&server.endpoint, &args, &[]);
    assert_eq!(dry.code, 0, "{dry:?}");
    let would = dry.json["wouldRedrive"].as_array().expect("wouldRedrive");
    assert!(
        !would.is_empty() && would.iter().all(|e| e["errorFrom"] == "index"),
        "{}",
        dry.json
    );

    let console = ConsoleServer::start(&server.endpoint, &tables);
    let (status, page) = console.get(&format!("/order?id={UNPAID_ORDER}"));
    assert_eq!(status, 200, "{page}");
    for needle in [
        "data-kind=\"attempt-record\"",
        "data-kind=\"sns\"",
        "data-kind=\"email-claim\"",
        "data-ses=\"Bounce\"",
        "the customer did not get the email",
    ] {
        assert!(
            page.contains(needle),
            "no {needle} on the page over moto: {page}"
        );
    }
}
