//! The `sfn-local` binary: the README's run command, the verbs across separate invocations sharing a
//! state directory, and a clear non-zero exit for bad arguments and files.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use serde_json::Value;

fn project_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn sfn_local(state_dir: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_sfn-local"))
        .current_dir(project_root())
        .arg("--state-dir")
        .arg(state_dir)
        .arg("--virtual-clock")
        .args(args)
        .output()
        .expect("run sfn-local")
}

fn stdout_json(o: &Output) -> Value {
    assert!(
        o.status.success(),
        "stderr: {}",
        String::from_utf8_lossy(&o.stderr)
    );
    serde_json::from_slice(&o.stdout)
        .unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(&o.stdout)))
}

/// A pipe whose reader has already gone, as `sfn-local ... | head` leaves one.
fn closed_pipe() -> std::fs::File {
    use std::os::fd::FromRawFd;
    let mut fds = [0; 2];
    // SAFETY: pipe(2) fills both descriptors; the read end is closed at once and the write end
    // is owned by the File from here on.
    unsafe {
        assert_eq!(libc::pipe(fds.as_mut_ptr()), 0, "pipe(2)");
        libc::close(fds[0]);
        std::fs::File::from_raw_fd(fds[1])
    }
}

#[test]
fn an_answer_to_a_reader_that_has_gone_is_dropped_not_a_panic() {
    let dir = tempfile::tempdir().unwrap();
    let o = Command::new(env!("CARGO_BIN_EXE_sfn-local"))
        .current_dir(project_root())
        .arg("--state-dir")
        .arg(dir.path())
        .args(["--virtual-clock", "--quiet"])
        .args(["pipe", "--records", "file://events/stream-batch.json"])
        .stdout(closed_pipe())
        .output()
        .expect("run sfn-local");
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert!(!stderr.contains("panicked"), "{stderr}");
    assert!(o.status.success(), "{:?}: {stderr}", o.status);
    // The work was done all the same: the emails are in the outbox.
    let outbox = std::fs::read_to_string(dir.path().join("outbox.json")).expect("outbox.json");
    assert!(outbox.contains("492500005643"), "{outbox}");
}

#[test]
fn pipe_prints_a_summary_per_order_and_the_outbox() {
    let dir = tempfile::tempdir().unwrap();
    let o = sfn_local(
        dir.path(),
        &["pipe", "--records", "file://events/stream-batch.json"],
    );
    let out = String::from_utf8_lossy(&o.stdout);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    for order in [
        "492500005643",
        "492500005644",
        "492500005645",
        "492500005646",
        "492500005647",
    ] {
        assert!(out.contains(order), "{order} missing from:\n{out}");
    }
    assert!(out.contains("CheckStatusNotFound"), "{out}");
    assert!(out.contains("malformed"), "{out}");
    // What the README's quick start says of this very run.
    let readme = std::fs::read_to_string(project_root().join("README.md")).expect("README.md");
    let filtered = out.matches("filtered by the Pipe").count();
    let batch = out
        .lines()
        .find(|l| l.starts_with("batch 1:"))
        .expect("the batch's line");
    for (claim, holds) in [
        ("The Pipe's filter drops three records", filtered == 3),
        ("the batch SUCCEEDS", batch.contains("SUCCEEDED")),
        (
            "fails `CheckStatusNotFound` on its own execution",
            batch.contains("1 failed"),
        ),
        (
            "the paid order is skipped with no",
            out.contains("already paid: skipped, no email"),
        ),
    ] {
        let said = readme.split_whitespace().collect::<Vec<_>>().join(" ");
        assert!(said.contains(claim), "README.md no longer says {claim:?}");
        assert!(
            holds,
            "README.md says {claim:?}, but the run printed:\n{out}"
        );
    }
    assert!(
        out.contains(&dir.path().join("outbox.json").display().to_string()),
        "{out}"
    );
    // Progress lines went to stderr.
    assert!(String::from_utf8_lossy(&o.stderr).contains("NotifyFailure"));

    let outbox = stdout_json(&sfn_local(dir.path(), &["outbox"]));
    assert_eq!(outbox["emails"].as_array().unwrap().len(), 2);
}

#[test]
fn verbs_share_the_state_directory_across_invocations() {
    let dir = tempfile::tempdir().unwrap();
    let started = stdout_json(&sfn_local(
        dir.path(),
        &[
            "--fail",
            "notify-failure=TransientError:always",
            "start-execution",
            "--state-machine-arn",
            "process-unpaid-order",
            "--input",
            "file://events/start-execution.json",
            "--name",
            "cli-1",
        ],
    ));
    assert_eq!(started["status"], "FAILED");
    let arn = started["executionArn"].as_str().unwrap().to_string();
    assert!(
        arn.ends_with(":execution:process-unpaid-order-dev:cli-1"),
        "{arn}"
    );

    let described = stdout_json(&sfn_local(
        dir.path(),
        &["describe-execution", "--execution-arn", &arn],
    ));
    assert_eq!(described["error"], "TransientError");
    assert_eq!(described["redriveStatus"], "REDRIVABLE");
    let listed = stdout_json(&sfn_local(
        dir.path(),
        &[
            "list-executions",
            "--state-machine-arn",
            "process-unpaid-order-dev",
            "--status-filter",
            "FAILED",
        ],
    ));
    assert_eq!(listed["executions"].as_array().unwrap().len(), 1);

    let redriven = stdout_json(&sfn_local(
        dir.path(),
        &["redrive-execution", "--execution-arn", &arn],
    ));
    assert_eq!(redriven["status"], "SUCCEEDED");
    assert_eq!(redriven["redriveCount"], 1);
    let history = stdout_json(&sfn_local(
        dir.path(),
        &[
            "get-execution-history",
            "--execution-arn",
            &arn,
            "--reverse-order",
        ],
    ));
    assert_eq!(history["events"][0]["type"], "ExecutionSucceeded");
}

fn assert_fails(dir: &Path, args: &[&str], mentions: &str) {
    let o = sfn_local(dir, args);
    assert!(!o.status.success(), "{args:?} succeeded");
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        err.contains(mentions),
        "{args:?}: stderr does not mention {mentions}: {err}"
    );
}

#[test]
fn bad_arguments_and_files_fail_with_a_message_naming_them() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    assert_fails(
        d,
        &["pipe", "--records", "file://events/nope.json"],
        "events/nope.json",
    );
    assert_fails(
        d,
        &["pipe", "--records", "events/stream-batch.json"],
        "--records",
    );
    assert_fails(
        d,
        &[
            "start-execution",
            "--state-machine-arn",
            "process-unpaid-order",
            "--input",
            "{bad",
        ],
        "--input",
    );
    assert_fails(
        d,
        &[
            "start-execution",
            "--state-machine-arn",
            "nope",
            "--input",
            "{}",
        ],
        "nope",
    );
    assert_fails(
        d,
        &["describe-execution", "--execution-arn", "garbage"],
        "garbage",
    );
    assert_fails(
        d,
        &[
            "describe-execution",
            "--execution-arn",
            "arn:aws:states:us-east-1:123456789012:execution:process-unpaid-order-dev:none",
        ],
        "ExecutionDoesNotExist",
    );
    assert_fails(
        d,
        &["--fail", "notify-failure=TransientError", "outbox"],
        "--fail",
    );
    assert_fails(
        d,
        &["--fail", "no-such-fn=TransientError:1", "outbox"],
        "no-such-fn",
    );
    assert_fails(
        d,
        &[
            "list-executions",
            "--state-machine-arn",
            "process-unpaid-order",
            "--status-filter",
            "DONE",
        ],
        "--status-filter",
    );
    assert_fails(d, &["--parameter", "Nope=1", "outbox"], "Nope");
    assert_fails(
        d,
        &["--project-root", "/nonexistent", "outbox"],
        "--project-root",
    );
    assert_fails(d, &["frobnicate"], "frobnicate");
}

#[test]
fn outbox_and_evidence_show_what_ses_reported_about_each_email() {
    let dir = tempfile::tempdir().unwrap();
    // A lost SendEmail answer: the execution waits for SES's events (the virtual clock moves 15 s
    // on), the Send confirms it; the order's address is SES's bounce simulator.
    let started = stdout_json(&sfn_local(
        dir.path(),
        &[
            "--quiet",
            "--fail",
            "ses=lost-reply:1",
            "start-execution",
            "--state-machine-arn",
            "process-unpaid-order",
            "--input",
            r#"{"orderId": "492500005648"}"#,
            "--name",
            "bounce-1",
        ],
    ));
    assert_eq!(started["status"], "SUCCEEDED", "{started}");
    let outbox = stdout_json(&sfn_local(dir.path(), &["outbox"]));
    let emails = outbox["emails"].as_array().unwrap();
    assert_eq!(emails.len(), 1, "{outbox}");
    assert_eq!(emails[0]["emailLogStatus"], "sent");
    assert_eq!(emails[0]["confirmedBy"], "ses:Send");
    let kinds: Vec<&str> = emails[0]["sesEvents"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["kind"].as_str().unwrap())
        .collect();
    assert_eq!(kinds, ["Send", "Bounce"]);
    assert_eq!(emails[0]["duplicateOf"], Value::Null);
    let evidence = stdout_json(&sfn_local(dir.path(), &["evidence"]));
    assert_eq!(evidence["pending"], serde_json::json!([]), "{evidence}");
    assert_eq!(evidence["deadLetters"], serde_json::json!([]), "{evidence}");
    // A bad ses-events class is refused with its name.
    assert_fails(
        dir.path(),
        &["--fail", "ses-events=sometimes:1", "outbox"],
        "ses-events",
    );
}
