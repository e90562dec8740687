//! The live local stack (`local/stack.sh`) as an operator tries it, with the real AWS CLI: a
//! failed order written to moto's DynamoDB goes through the stream, the Pipe, both workflows and
//! SES; SES's events (from the proxy in front of moto's SES) and the status changes reach the
//! email log and the order index through the SQS evidence queue and record-event, a bounce
//! included; a MODIFY and a REMOVE of it are dropped by the filter; Ctrl-C stops everything; a
//! burst of 100 survives the Pipe SIGKILLed mid-burst and restarted, with one email per order;
//! with the Step Functions API down a batch goes to the DLQ, and a replay processes it once.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;
use workflow_tests::{aws_cli, project_root, UNPAID_ORDER};

const ORDER_MACHINE: &str =
    "arn:aws:states:us-east-1:123456789012:stateMachine:process-unpaid-order-dev";
/// An order whose email is SES's bounce simulator (events/tables/README.md).
const MARKER_ORDER: &str = "492500005648";

fn aws(endpoint: &str, args: &[&str]) -> Value {
    let out = Command::new(aws_cli())
        .args(args)
        .args(["--endpoint-url", endpoint, "--output", "json"])
        .env("AWS_ACCESS_KEY_ID", "testing")
        .env("AWS_SECRET_ACCESS_KEY", "testing")
        .env("AWS_DEFAULT_REGION", "us-east-1")
        .output()
        .expect("run the AWS CLI");
    assert!(
        out.status.success(),
        "aws {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8_lossy(&out.stdout);
    if text.trim().is_empty() {
        Value::Null
    } else {
        serde_json::from_str(&text).expect("the CLI prints JSON")
    }
}

/// Writes `item` to the failed-order table on moto, as the shop does (the stream carries it).
fn put_failed_order(moto: &str, item: &str) {
    aws(
        moto,
        &[
            "dynamodb",
            "put-item",
            "--table-name",
            "payment3-failed-order-dev",
            "--item",
            item,
        ],
    );
}

/// Polls `check` until it gives a value, for at most `limit` (a condition, not a sleep).
fn poll<T>(limit: Duration, what: &str, mut check: impl FnMut() -> Option<T>) -> T {
    let deadline = Instant::now() + limit;
    loop {
        if let Some(v) = check() {
            return v;
        }
        assert!(Instant::now() < deadline, "{what}: not within {limit:?}");
        std::thread::sleep(Duration::from_millis(250));
    }
}

/// The email-log record of `order`'s email on moto: its status and the SES events kept on it.
fn email_evidence(moto: &str, order: &str) -> Option<(String, Vec<String>)> {
    let log = aws(
        moto,
        &["dynamodb", "scan", "--table-name", "payment3-email-log-dev"],
    );
    let record = log["Items"]
        .as_array()?
        .iter()
        .find(|i| i["orderId"]["S"] == order && i["channel"]["S"] == "email")?
        .clone();
    let kinds = record["sesEvents"]["L"]
        .as_array()
        .map(|l| {
            l.iter()
                .filter_map(|e| e["M"]["type"]["S"].as_str().map(str::to_string))
                .collect()
        })
        .unwrap_or_default();
    Some((record["status"]["S"].as_str()?.to_string(), kinds))
}

/// The order index on moto for `order`: (machine, status) of each execution, sorted.
fn index_of(moto: &str, order: &str) -> Vec<(String, String)> {
    let values = format!(r#"{{":o": {{"S": "{order}"}}}}"#);
    let found = aws(
        moto,
        &[
            "dynamodb",
            "query",
            "--table-name",
            "payment3-unpaid-order-index-dev",
            "--key-condition-expression",
            "orderId = :o",
            "--expression-attribute-values",
            &values,
        ],
    );
    let mut out: Vec<(String, String)> = found["Items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| {
            (
                i["machine"]["S"].as_str().unwrap_or_default().to_string(),
                i["status"]["S"].as_str().unwrap_or_default().to_string(),
            )
        })
        .collect();
    out.sort();
    out
}

struct Stack {
    child: Child,
    moto: String,
    sfn: String,
    dlq: String,
    dir: tempfile::TempDir,
}

impl Stack {
    fn start() -> Stack {
        use std::os::unix::process::CommandExt;
        let dir = tempfile::tempdir().unwrap();
        let mut command = Command::new("bash");
        command
            .arg(project_root().join("local/stack.sh"))
            .env("STACK_DIR", dir.path())
            .env_remove("MOTO_ENDPOINT")
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit());
        // As from a terminal: a test run started in the background (an async command of a
        // non-interactive shell) inherits SIGINT ignored, and bash cannot trap a signal that was
        // ignored on entry, so Ctrl-C would never reach the script's trap.
        // SAFETY: signal() is async-signal-safe; nothing else runs between fork and exec.
        unsafe {
            command.pre_exec(|| {
                libc::signal(libc::SIGINT, libc::SIG_DFL);
                Ok(())
            });
        }
        let mut child = command.spawn().expect("start local/stack.sh");
        let stdout = child.stdout.take().unwrap();
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        let (mut moto, mut sfn, mut dlq) = (String::new(), String::new(), String::new());
        // It may build sfn-local first.
        let deadline = Instant::now() + Duration::from_secs(600);
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            let line = match rx.recv_timeout(left) {
                Ok(l) => l,
                Err(_) => {
                    let _ = child.kill();
                    panic!("local/stack.sh did not come up (moto {moto:?}, sfn {sfn:?})");
                }
            };
            let value = |key: &str| {
                line.split_whitespace()
                    .find_map(|w| w.strip_prefix(key))
                    .map(str::to_string)
            };
            if let Some(v) = value("MOTO_ENDPOINT=") {
                moto = v;
            }
            if let Some(v) = value("SFN_ENDPOINT=") {
                sfn = v;
            }
            if let Some(v) = value("DLQ_URL=") {
                dlq = v;
            }
            if line.starts_with("Ctrl-C stops everything") {
                break;
            }
        }
        Stack {
            child,
            moto,
            sfn,
            dlq,
            dir,
        }
    }

    /// The per-order executions whose input is `order` (how an operator finds an order's runs).
    fn executions_of(&self, order: &str) -> Vec<Value> {
        let list = aws(
            &self.sfn,
            &[
                "stepfunctions",
                "list-executions",
                "--state-machine-arn",
                ORDER_MACHINE,
            ],
        );
        list["executions"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|e| {
                let d = aws(
                    &self.sfn,
                    &[
                        "stepfunctions",
                        "describe-execution",
                        "--execution-arn",
                        e["executionArn"].as_str().unwrap(),
                    ],
                );
                let input: Value = serde_json::from_str(d["input"].as_str().unwrap()).unwrap();
                input["orderId"] == order
            })
            .cloned()
            .collect()
    }

    fn wait_for_order(&self, order: &str) -> Value {
        let deadline = Instant::now() + Duration::from_secs(90);
        loop {
            let runs = self.executions_of(order);
            if let Some(done) = runs.iter().find(|e| e["status"] != "RUNNING") {
                return done.clone();
            }
            assert!(
                Instant::now() < deadline,
                "no execution of {order} ended within 90 s"
            );
            std::thread::sleep(Duration::from_millis(250));
        }
    }

    /// Ctrl-C: the script stops the Pipe, the API and moto, and exits.
    fn interrupt(&mut self) {
        let pid = self.child.id().to_string();
        let _ = Command::new("kill").args(["-INT", &pid]).status();
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                let _ = status;
                return;
            }
            assert!(
                Instant::now() < deadline,
                "local/stack.sh still running 30 s after Ctrl-C"
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }
}

impl Drop for Stack {
    fn drop(&mut self) {
        if self.child.try_wait().ok().flatten().is_none() {
            let pid = self.child.id().to_string();
            let _ = Command::new("kill").args(["-TERM", &pid]).status();
            let _ = self.child.wait();
        }
    }
}

#[test]
#[cfg_attr(
    not(feature = "emulator"),
    ignore = "needs moto and the AWS CLI: run by tests/run.sh, or --features emulator with .tools/"
)]
fn a_failed_order_put_on_the_table_is_processed_through_the_live_stack() {
    let mut stack = Stack::start();
    let key = format!(r#"{{"orderId": {{"S": "{UNPAID_ORDER}"}}}}"#);
    let item = format!(
        r#"{{"orderId": {{"S": "{UNPAID_ORDER}"}}, "failedAt": {{"S": "2026-11-25T06:01:00Z"}}}}"#
    );
    put_failed_order(&stack.moto, &item);
    let run = stack.wait_for_order(UNPAID_ORDER);
    assert_eq!(run["status"], "SUCCEEDED", "{run}");
    let d = aws(
        &stack.sfn,
        &[
            "stepfunctions",
            "describe-execution",
            "--execution-arn",
            run["executionArn"].as_str().unwrap(),
        ],
    );
    let output: Value = serde_json::from_str(d["output"].as_str().unwrap()).unwrap();
    assert_eq!(output["notifyFailure"]["sns"], "sent", "{output}");
    assert_eq!(output["notifyFailure"]["email"], "sent", "{output}");
    // The email is in moto's SES, the order carries the unpaid header.
    let quota = aws(&stack.moto, &["ses", "get-send-quota"]);
    assert_eq!(quota["SentLast24Hours"].as_f64(), Some(1.0), "{quota}");
    let order = aws(
        &stack.moto,
        &[
            "dynamodb",
            "get-item",
            "--table-name",
            "order-table-dev",
            "--key",
            &key,
        ],
    );
    assert!(order.to_string().contains("isPaid"), "{order}");
    // The batch ran on the batch machine.
    let batches = aws(
        &stack.sfn,
        &[
            "stepfunctions",
            "list-executions",
            "--state-machine-arn",
            "arn:aws:states:us-east-1:123456789012:stateMachine:process-unpaid-orders-dev",
        ],
    );
    assert_eq!(
        batches["executions"].as_array().unwrap().len(),
        1,
        "{batches}"
    );
    // The evidence: SES's Send and Delivery on the email's record, both executions (the batch
    // and the order's) in the index in their end state.
    let limit = Duration::from_secs(60);
    let (status, kinds) = poll(limit, "Send and Delivery on the email log", || {
        email_evidence(&stack.moto, UNPAID_ORDER).filter(|(_, k)| k.iter().any(|e| e == "Delivery"))
    });
    assert_eq!(status, "sent");
    assert_eq!(kinds, ["Send", "Delivery"]);
    let indexed = poll(limit, "both executions in the order index", || {
        let index = index_of(&stack.moto, UNPAID_ORDER);
        (index.len() == 2 && index.iter().all(|(_, s)| s == "SUCCEEDED")).then_some(index)
    });
    assert_eq!(indexed[0].0, "process-unpaid-order-dev", "{indexed:?}");
    assert_eq!(indexed[1].0, "process-unpaid-orders-dev", "{indexed:?}");

    // A MODIFY and a REMOVE of that order, then a new order: the filter drops the first two.
    let changed = item.replace("06:01:00Z", "06:02:00Z");
    put_failed_order(&stack.moto, &changed);
    aws(
        &stack.moto,
        &[
            "dynamodb",
            "delete-item",
            "--table-name",
            "payment3-failed-order-dev",
            "--key",
            &key,
        ],
    );
    let marker = format!(r#"{{"orderId": {{"S": "{MARKER_ORDER}"}}}}"#);
    put_failed_order(&stack.moto, &marker);
    stack.wait_for_order(MARKER_ORDER);
    assert_eq!(
        stack.executions_of(UNPAID_ORDER).len(),
        1,
        "MODIFY/REMOVE started nothing"
    );
    // The marker's email is SES's bounce simulator: its Bounce is kept on the email log.
    let (_, kinds) = poll(limit, "the Bounce on the email log", || {
        email_evidence(&stack.moto, MARKER_ORDER).filter(|(_, k)| k.iter().any(|e| e == "Bounce"))
    });
    assert_eq!(kinds, ["Send", "Bounce"]);
    let quota = aws(&stack.moto, &["ses", "get-send-quota"]);
    assert!(quota["SentLast24Hours"].as_f64() <= Some(2.0), "{quota}");

    // Ctrl-C: everything stops; moto no longer answers.
    let moto = stack.moto.clone();
    stack.interrupt();
    let port = moto.rsplit(':').next().unwrap().to_string();
    assert!(
        std::net::TcpStream::connect(format!("127.0.0.1:{port}")).is_err(),
        "moto is still listening on {port}"
    );
}

/// `items` written to `table` on moto with `batch-write-item`, 25 per call (the API's limit).
fn batch_write(moto: &str, table: &str, items: &[Value]) {
    for chunk in items.chunks(25) {
        let puts: Vec<Value> = chunk
            .iter()
            .map(|item| serde_json::json!({"PutRequest": {"Item": item}}))
            .collect();
        let request = serde_json::json!({ table: puts }).to_string();
        let out = aws(
            moto,
            &["dynamodb", "batch-write-item", "--request-items", &request],
        );
        assert_eq!(out["UnprocessedItems"], serde_json::json!({}), "{out}");
    }
}

/// The fixture row of `order` in `events/tables/<file>.json`, under the order id `id`.
fn fixture_row(file: &str, order: &str, id: &str) -> Value {
    let path = project_root().join(format!("events/tables/{file}.json"));
    let rows: Vec<Value> = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    let mut row = rows
        .into_iter()
        .find(|r| r["orderId"]["S"] == order)
        .unwrap_or_else(|| panic!("{order} in events/tables/{file}.json"));
    row["orderId"] = serde_json::json!({"S": id});
    row
}

/// A process that is killed when the test ends, whatever happened.
struct KillOnDrop(Child);

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// SIGKILLs one part of the stack (`pipe` or `serve`) and returns its command line, to start it
/// again as it was.
fn kill_part(dir: &std::path::Path, part: &str) -> Vec<String> {
    let pid = std::fs::read_to_string(dir.join(format!("{part}.pid"))).unwrap();
    let pid = pid.trim();
    let cmdline = std::fs::read(format!("/proc/{pid}/cmdline")).expect("the Pipe runs");
    let argv: Vec<String> = cmdline
        .split(|b| *b == 0)
        .filter(|a| !a.is_empty())
        .map(|a| String::from_utf8_lossy(a).into_owned())
        .collect();
    assert!(argv.iter().any(|a| a.ends_with("sfn-local")), "{argv:?}");
    assert!(Command::new("kill")
        .args(["-KILL", pid])
        .status()
        .unwrap()
        .success());
    // Gone, or a zombie its parent (the stack script) has not reaped yet: either way it is dead.
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
            Err(_) => break,
            Ok(stat)
                if stat
                    .rsplit(')')
                    .next()
                    .unwrap_or("")
                    .trim_start()
                    .starts_with('Z') =>
            {
                break
            }
            Ok(_) => {}
        }
        assert!(Instant::now() < deadline, "{part} survived SIGKILL");
        std::thread::sleep(Duration::from_millis(50));
    }
    argv
}

/// Starts a killed part again with its command line; its log goes to `<part>-restarted.log`.
fn restart(dir: &std::path::Path, part: &str, argv: &[String], stdout: Stdio) -> KillOnDrop {
    let log = std::fs::File::create(dir.join(format!("{part}-restarted.log"))).unwrap();
    KillOnDrop(
        sfn_local(&argv[0])
            .args(&argv[1..])
            .stdout(stdout)
            .stderr(log)
            .spawn()
            .expect("restart a part of the stack"),
    )
}

/// The sfn-local binary at `path`, run as the stack runs it.
fn sfn_local(path: &str) -> Command {
    let mut command = Command::new(path);
    command
        .current_dir(project_root())
        .env("AWS_ACCESS_KEY_ID", "testing")
        .env("AWS_SECRET_ACCESS_KEY", "testing")
        .env("AWS_DEFAULT_REGION", "us-east-1")
        .env("AWS_EC2_METADATA_DISABLED", "true");
    command
}

fn count(endpoint: &str, args: &[&str]) -> usize {
    aws(endpoint, args)["executions"].as_array().unwrap().len()
}

#[test]
#[cfg_attr(
    not(feature = "emulator"),
    ignore = "needs moto and the AWS CLI: run by tests/run.sh, or --features emulator with .tools/"
)]
fn a_burst_of_100_survives_the_pipe_killed_mid_burst_with_one_email_per_order() {
    let stack = Stack::start();
    let ids: Vec<String> = (0..100).map(|i| format!("burst-{i:03}")).collect();
    let rows = |file: &str| -> Vec<Value> {
        ids.iter()
            .map(|id| fixture_row(file, UNPAID_ORDER, id))
            .collect()
    };
    batch_write(&stack.moto, "order-table-dev", &rows("orders"));
    batch_write(
        &stack.moto,
        "payment3-check-status-dev",
        &rows("check-status"),
    );
    let failed: Vec<Value> = ids
        .iter()
        .map(|id| serde_json::json!({"orderId": {"S": id}, "failedAt": {"S": "2026-11-25T06:01:00Z"}}))
        .collect();

    // Half the burst, then SIGKILL the Pipe as soon as it has handed over a batch (it may be
    // anywhere: mid-StartExecution, before its checkpoint, with records buffered in the window).
    batch_write(&stack.moto, "payment3-failed-order-dev", &failed[..50]);
    let batch_machine =
        ORDER_MACHINE.replace("process-unpaid-order-dev", "process-unpaid-orders-dev");
    let list_batches = [
        "stepfunctions",
        "list-executions",
        "--state-machine-arn",
        batch_machine.as_str(),
    ];
    let deadline = Instant::now() + Duration::from_secs(120);
    while count(&stack.sfn, &list_batches) == 0 {
        assert!(Instant::now() < deadline, "no batch started within 120 s");
        std::thread::sleep(Duration::from_millis(100));
    }
    let argv = kill_part(stack.dir.path(), "pipe");
    // The other half lands while the Pipe is down; then it starts again from its checkpoint.
    batch_write(&stack.moto, "payment3-failed-order-dev", &failed[50..]);
    let _pipe = restart(stack.dir.path(), "pipe", &argv, Stdio::null());

    let succeeded = [
        "stepfunctions",
        "list-executions",
        "--state-machine-arn",
        ORDER_MACHINE,
        "--status-filter",
        "SUCCEEDED",
    ];
    let deadline = Instant::now() + Duration::from_secs(300);
    while count(&stack.sfn, &succeeded) < ids.len() {
        assert!(
            Instant::now() < deadline,
            "not every order SUCCEEDED within 300 s; see {}",
            stack.dir.path().display()
        );
        std::thread::sleep(Duration::from_millis(250));
    }
    let all = &succeeded[..4];
    assert_eq!(count(&stack.sfn, all), ids.len(), "one execution per order");

    // One email per order, in moto's SES and in the email log; nothing in the Pipe's DLQ.
    let quota = aws(&stack.moto, &["ses", "get-send-quota"]);
    assert_eq!(quota["SentLast24Hours"].as_f64(), Some(100.0), "{quota}");
    let log = aws(
        &stack.moto,
        &["dynamodb", "scan", "--table-name", "payment3-email-log-dev"],
    );
    let mut emailed: Vec<&str> = log["Items"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|i| i["channel"]["S"] == "email" && i["status"]["S"] == "sent")
        .filter_map(|i| i["orderId"]["S"].as_str())
        .filter(|o| o.starts_with("burst-"))
        .collect();
    emailed.sort_unstable();
    assert_eq!(emailed, ids, "each order emailed once");
    let dlq = aws(
        &stack.moto,
        &[
            "sqs",
            "get-queue-attributes",
            "--queue-url",
            &stack.dlq,
            "--attribute-names",
            "ApproximateNumberOfMessages",
        ],
    );
    assert_eq!(
        dlq["Attributes"]["ApproximateNumberOfMessages"], "0",
        "{dlq}"
    );
}

fn dlq_depth(stack: &Stack) -> String {
    let attrs = aws(
        &stack.moto,
        &[
            "sqs",
            "get-queue-attributes",
            "--queue-url",
            &stack.dlq,
            "--attribute-names",
            "ApproximateNumberOfMessages",
        ],
    );
    attrs["Attributes"]["ApproximateNumberOfMessages"]
        .as_str()
        .unwrap_or_default()
        .to_string()
}

#[test]
#[cfg_attr(
    not(feature = "emulator"),
    ignore = "needs moto and the AWS CLI: run by tests/run.sh, or --features emulator with .tools/"
)]
fn with_the_step_functions_api_down_the_batch_goes_to_the_dlq_and_is_replayed_once() {
    let stack = Stack::start();
    // The Step Functions API goes down; a failed order comes in.
    let argv = kill_part(stack.dir.path(), "serve");
    let item = format!(
        r#"{{"orderId": {{"S": "{UNPAID_ORDER}"}}, "failedAt": {{"S": "2026-11-25T06:01:00Z"}}}}"#
    );
    put_failed_order(&stack.moto, &item);
    // StartExecution cannot reach it: MaximumRetryAttempts, then the batch goes to the DLQ.
    let deadline = Instant::now() + Duration::from_secs(120);
    while dlq_depth(&stack) != "1" {
        assert!(
            Instant::now() < deadline,
            "no DLQ message within 120 s; see {}",
            stack.dir.path().display()
        );
        std::thread::sleep(Duration::from_millis(250));
    }

    // The operator brings the API back (same port, same state) and replays the DLQ.
    let port = stack.sfn.rsplit(':').next().unwrap().to_string();
    let mut argv = argv;
    let at = argv.iter().position(|a| a == "--port").unwrap();
    argv[at + 1] = port.clone();
    let mut serve = restart(stack.dir.path(), "serve", &argv, Stdio::piped());
    let mut line = String::new();
    BufReader::new(serve.0.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    assert!(
        line.contains(&port),
        "serve listens again on {port}: {line}"
    );
    let replay = |extra: &[&str]| -> Vec<Value> {
        let out = sfn_local(&argv[0])
            .args(["--project-root", project_root().to_str().unwrap()])
            .args(["dlq-replay", "--queue-url", &stack.dlq])
            .args(["--endpoint-url", &stack.moto])
            .args(["--sfn-endpoint-url", &stack.sfn])
            .args(extra)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        // One JSON object per message (pretty-printed).
        serde_json::Deserializer::from_slice(&out.stdout)
            .into_iter::<Value>()
            .map(|v| v.expect("dlq-replay prints JSON"))
            .collect()
    };
    let looked = replay(&[]);
    assert_eq!(looked.len(), 1, "{looked:?}");
    assert_eq!(dlq_depth(&stack), "1", "looking changes nothing");
    let started = replay(&["--start", "--delete"]);
    assert_eq!(started.len(), 1, "{started:?}");
    assert_eq!(started[0]["outcome"], "started", "{started:?}");

    let run = stack.wait_for_order(UNPAID_ORDER);
    assert_eq!(run["status"], "SUCCEEDED", "{run}");
    assert_eq!(stack.executions_of(UNPAID_ORDER).len(), 1);
    let quota = aws(&stack.moto, &["ses", "get-send-quota"]);
    assert_eq!(quota["SentLast24Hours"].as_f64(), Some(1.0), "{quota}");
    assert_eq!(dlq_depth(&stack), "0", "deleted once started");
}
