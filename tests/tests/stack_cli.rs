//! The live local stack (`local/stack.sh`) as an operator tries it, with the real AWS CLI: a
//! failed order written to moto's DynamoDB goes through the stream, the Pipe, both workflows and
//! SES; a MODIFY and a REMOVE of it are dropped by the filter; Ctrl-C stops everything.

use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;
use workflow_tests::{project_root, UNPAID_ORDER};

const ORDER_MACHINE: &str =
    "arn:aws:states:us-east-1:123456789012:stateMachine:process-unpaid-order-dev";
const MARKER_ORDER: &str = "492500005644";

fn aws_cli() -> PathBuf {
    let path = std::env::var_os("AWS_CLI")
        .map(PathBuf::from)
        .unwrap_or_else(|| project_root().join(".tools/awscli/bin/aws"));
    assert!(
        path.is_file(),
        "the AWS CLI is not installed at {}: run `bash tests/tools/install-awscli.sh`",
        path.display()
    );
    path
}

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

struct Stack {
    child: Child,
    moto: String,
    sfn: String,
    _dir: tempfile::TempDir,
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
        let (mut moto, mut sfn) = (String::new(), String::new());
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
            if line.starts_with("Ctrl-C stops everything") {
                break;
            }
        }
        Stack {
            child,
            moto,
            sfn,
            _dir: dir,
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
fn a_failed_order_put_on_the_table_is_processed_through_the_live_stack() {
    let mut stack = Stack::start();
    let key = format!(r#"{{"orderId": {{"S": "{UNPAID_ORDER}"}}}}"#);
    let item = format!(
        r#"{{"orderId": {{"S": "{UNPAID_ORDER}"}}, "failedAt": {{"S": "2026-11-25T06:01:00Z"}}}}"#
    );
    aws(
        &stack.moto,
        &[
            "dynamodb",
            "put-item",
            "--table-name",
            "payment3-failed-order-dev",
            "--item",
            &item,
        ],
    );
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

    // A MODIFY and a REMOVE of that order, then a new order: the filter drops the first two.
    let changed = item.replace("06:01:00Z", "06:02:00Z");
    aws(
        &stack.moto,
        &[
            "dynamodb",
            "put-item",
            "--table-name",
            "payment3-failed-order-dev",
            "--item",
            &changed,
        ],
    );
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
    aws(
        &stack.moto,
        &[
            "dynamodb",
            "put-item",
            "--table-name",
            "payment3-failed-order-dev",
            "--item",
            &marker,
        ],
    );
    stack.wait_for_order(MARKER_ORDER);
    assert_eq!(
        stack.executions_of(UNPAID_ORDER).len(),
        1,
        "MODIFY/REMOVE started nothing"
    );
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
