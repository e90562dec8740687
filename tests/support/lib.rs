//! Workspace-level tests: workflows over the real state machines, the AWS CLI against the offline
//! API, and the reliability suite. This library is their shared harness.
//!
//! [`Harness`] runs the real `statemachine/*.asl.json` with the real handlers through `sfn-local`,
//! on a fresh embedded store (or moto) and a virtual clock, so retries take no wall-clock time.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;

use asl::{Clock, VirtualClock};
use chrono::{DateTime, TimeZone, Utc};
use serde_json::Value;
use sfn_local::{ExecutionRecord, Fault, Runner, RunnerOptions};
use test_support::MotoEnv;
use unpaid_order::memory::MemoryState;

mod aws_cli;
pub mod console;
pub mod evidence;
mod project_copy;
pub use aws_cli::{aws_cli, aws_json};
pub use project_copy::{add_fixtures, open_runner, project_copy};

/// The per-order machine, by the short name sfn-local accepts.
pub const ORDER_MACHINE: &str = "process-unpaid-order";
/// The batch machine.
pub const BATCH_MACHINE: &str = "process-unpaid-orders";

/// Orders in `events/tables/` (see its README). Unpaid, `data` as a map, two check-status
/// records (the oldest is used).
pub const UNPAID_ORDER: &str = "492500005643";
/// Unpaid, `data` as a JSON string (PynamoDB style) with big numbers, nested maps and HTML in the name.
pub const JSON_STRING_ORDER: &str = "492500005644";
/// Already paid: `OrderAlreadyPaid`, never overwritten, no email.
pub const PAID_ORDER: &str = "492500005645";
/// No check-status record: `CheckStatusNotFound`.
pub const NO_CHECK_STATUS_ORDER: &str = "492500005646";
/// Unpaid with no `email`: the SNS message goes, the email is `no-address`.
pub const NO_EMAIL_ORDER: &str = "492500005647";

/// The repository root.
pub fn project_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// A JSON file of the project (`events/...`).
pub fn project_json(rel: &str) -> Value {
    let path = project_root().join(rel);
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// A runner over a temporary state directory, on a virtual clock.
pub struct Harness {
    /// The state directory, removed when the harness is dropped.
    pub dir: tempfile::TempDir,
    /// The clock the runner waits on: tests advance it instead of sleeping.
    pub clock: Arc<VirtualClock>,
    /// The offline runner over that directory.
    pub runner: Runner,
    /// Set for the moto-backed harness.
    pub moto: Option<MotoEnv>,
}

fn start_time() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 25, 6, 10, 0)
        .single()
        .expect("a valid date")
}

impl Harness {
    /// The embedded store, seeded from `events/tables/` on first use.
    pub async fn embedded(faults: &[&str]) -> Harness {
        let dir = tempfile::tempdir().expect("temp dir");
        let clock = Arc::new(VirtualClock::new(start_time()));
        let runner = open(&dir, clock.clone(), faults, None).await;
        Harness {
            dir,
            clock,
            runner,
            moto: None,
        }
    }

    /// The real AWS adapters against moto (MOTO_ENDPOINT, or a moto server started from
    /// `.tools/moto`; panics with the install command when neither exists), fresh tables seeded
    /// from the same fixtures.
    pub async fn moto(faults: &[&str]) -> Harness {
        let env = MotoEnv::new().await;
        env.seed_fixtures().await;
        let dir = tempfile::tempdir().expect("temp dir");
        let clock = Arc::new(VirtualClock::new(start_time()));
        let runner = open(&dir, clock.clone(), faults, Some(&env)).await;
        Harness {
            dir,
            clock,
            runner,
            moto: Some(env),
        }
    }

    /// Replaces the fault switch's faults (`&[]`: the outage is over).
    pub fn set_faults(&self, faults: &[&str]) {
        self.runner
            .set_faults(parse_faults(faults))
            .expect("faults name template functions");
    }

    /// Starts the per-order machine for `order_id` under the execution name `name`.
    pub async fn run_order(&self, order_id: &str, name: &str) -> ExecutionRecord {
        self.runner
            .start_execution(
                ORDER_MACHINE,
                serde_json::json!({ "orderId": order_id }),
                Some(name),
            )
            .await
            .expect("start-execution")
    }

    /// The embedded tables and outbox.
    pub async fn tables(&self) -> MemoryState {
        self.runner
            .tables()
            .await
            .expect("tables")
            .expect("embedded store")
    }

    /// Emails sent: (recipient, subject), from the embedded outbox or moto.
    pub async fn emails(&self) -> Vec<(String, String)> {
        match &self.moto {
            None => self
                .tables()
                .await
                .outbox
                .emails
                .into_iter()
                .map(|e| (e.to, e.subject))
                .collect(),
            Some(env) => env
                .sent_emails()
                .await
                .into_iter()
                .map(|m| {
                    (
                        m["destinations"].to_string(),
                        m["subject"].as_str().unwrap_or_default().to_string(),
                    )
                })
                .collect(),
        }
    }

    /// Attempt-log items for `order_id`.
    pub async fn attempts(&self, order_id: &str) -> usize {
        let items = match &self.moto {
            None => self.tables().await.process_unpaid_order,
            Some(env) => {
                env.scan(unpaid_order::Setting::ProcessUnpaidOrderTable)
                    .await
            }
        };
        items
            .iter()
            .filter(|i| i.get("orderId").and_then(|a| a.key_text()) == Some(order_id))
            .count()
    }

    /// Virtual time elapsed since the harness started.
    pub fn elapsed(&self) -> chrono::Duration {
        self.clock.now() - start_time()
    }
}

fn parse_faults(faults: &[&str]) -> Vec<Fault> {
    faults
        .iter()
        .map(|f| f.parse().expect("a valid --fail spec"))
        .collect()
}

async fn open(
    dir: &tempfile::TempDir,
    clock: Arc<VirtualClock>,
    faults: &[&str],
    moto: Option<&MotoEnv>,
) -> Runner {
    let mut options = RunnerOptions::new(project_root(), dir.path());
    options.clock = clock;
    options.faults = parse_faults(faults);
    if let Some(env) = moto {
        options.aws_endpoint = Some(env.endpoint.clone());
        options.sdk_config = Some(env.sdk.clone());
        options.environment = unpaid_order::Setting::ALL
            .iter()
            .map(|s| (s.var().to_string(), env.get(*s)))
            .collect::<BTreeMap<_, _>>();
    }
    Runner::open(options)
        .await
        .expect("sfn-local opens the project")
}

/// The names of the Task states entered, in history order.
pub fn tasks_entered(history: &[Value]) -> Vec<String> {
    history
        .iter()
        .filter(|e| e["type"] == "TaskStateEntered")
        .filter_map(|e| {
            e["stateEnteredEventDetails"]["name"]
                .as_str()
                .map(str::to_string)
        })
        .collect()
}

/// The errors of the TaskFailed and TaskTimedOut events, in history order.
pub fn task_failures(history: &[Value]) -> Vec<String> {
    history
        .iter()
        .filter_map(|e| match e["type"].as_str() {
            // A task's timeout is TaskTimedOut in the history, as on AWS.
            Some("TaskFailed") => e["taskFailedEventDetails"]["error"].as_str(),
            Some("TaskTimedOut") => e["taskTimedOutEventDetails"]["error"].as_str(),
            _ => None,
        })
        .map(str::to_string)
        .collect()
}

/// `sfn-local serve` in a child process on a free loopback port, for the API tests (the AWS CLI
/// and aws-sdk-sfn). Killed (SIGKILL, as a crash) when dropped.
pub struct ApiServer {
    /// The `sfn-local serve` process.
    pub child: std::process::Child,
    /// `http://127.0.0.1:PORT`.
    pub endpoint: String,
}

/// The `sfn-local` binary, built on demand (`cargo test -p workflow-tests` does not build the
/// binaries of its dependencies).
pub fn sfn_local_binary() -> PathBuf {
    let exe = std::env::current_exe().expect("the test binary's path");
    // target/<profile>/deps/<test> → target/<profile>/sfn-local
    let profile_dir = exe
        .parent()
        .and_then(|d| d.parent())
        .expect("the test binary is in target/<profile>/deps")
        .to_path_buf();
    static BUILT: std::sync::OnceLock<()> = std::sync::OnceLock::new();
    BUILT.get_or_init(|| build_sfn_local(&profile_dir));
    profile_dir.join("sfn-local")
}

/// `cargo` for a build from inside a test, without the variables cargo set for the test
/// (`CARGO_MANIFEST_DIR`, `CARGO_PKG_*`, ...): ring's build script reruns when
/// `CARGO_MANIFEST_DIR` changes, so with them the build would rebuild ring, rustls and the whole
/// SDK above them, and the next plain build all of it again.
pub fn cargo_build() -> std::process::Command {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let mut build = std::process::Command::new(cargo);
    for (name, _) in std::env::vars_os() {
        let Some(name) = name.to_str() else { continue };
        let set_for_the_test = [
            "CARGO_PKG_",
            "CARGO_MANIFEST_",
            "CARGO_CRATE_",
            "CARGO_BIN_",
        ]
        .iter()
        .any(|p| name.starts_with(p))
            || matches!(
                name,
                "CARGO_PRIMARY_PACKAGE" | "CARGO_TARGET_TMPDIR" | "OUT_DIR"
            );
        if set_for_the_test {
            build.env_remove(name);
        }
    }
    build.arg("build").current_dir(project_root());
    build
}

/// Whether the binaries in `target/<profile>/` are the ones this test run built: `tests/run.sh`
/// runs `cargo test --workspace`, which builds sfn-local's and the console's binaries (their
/// packages have integration tests) with the workspace's features before any test starts, and
/// says so in `WORKFLOW_TESTS_BUILT_BINS`. A `cargo build -p` from inside a test would resolve
/// other features and rebuild the SDK under them (two minutes a binary on CI's two cores).
pub fn binaries_built_by_this_run(binary: &std::path::Path) -> bool {
    std::env::var_os("WORKFLOW_TESTS_BUILT_BINS").is_some() && binary.is_file()
}

fn build_sfn_local(profile_dir: &std::path::Path) {
    if binaries_built_by_this_run(&profile_dir.join("sfn-local")) {
        return;
    }
    let mut build = cargo_build();
    build.args(["-p", "sfn-local", "--bin", "sfn-local"]);
    if profile_dir.file_name().and_then(|n| n.to_str()) == Some("release") {
        build.arg("--release");
    }
    let status = build.status().expect("run cargo build -p sfn-local");
    assert!(status.success(), "cargo build -p sfn-local failed");
}

/// The pattern of an order execution's ARN on the default account and region.
pub const ARN_PREFIX: &str = "arn:aws:states:us-east-1:123456789012";

impl ApiServer {
    /// Starts `sfn-local serve --port 0` on `state_dir` with extra arguments (`--fail ...`,
    /// `--virtual-clock`) and waits (bounded) for its address line.
    pub fn start(state_dir: &std::path::Path, args: &[&str]) -> ApiServer {
        Self::start_serving(state_dir, args, &[])
    }

    /// [`ApiServer::start`] with arguments of `serve` itself after the global ones
    /// (`--account 111111111111`).
    pub fn start_serving(
        state_dir: &std::path::Path,
        args: &[&str],
        serve_args: &[&str],
    ) -> ApiServer {
        Self::start_full(state_dir, args, serve_args, &[])
    }

    /// [`ApiServer::start`] with environment variables added (the functions' table names and
    /// endpoint for `--aws-endpoint`).
    pub fn start_with_env(
        state_dir: &std::path::Path,
        args: &[&str],
        env: &[(String, String)],
    ) -> ApiServer {
        Self::start_full(state_dir, args, &[], env)
    }

    /// `sfn-local [args] serve --port 0 [serve_args]` with `env` added.
    pub fn start_full(
        state_dir: &std::path::Path,
        args: &[&str],
        serve_args: &[&str],
        env: &[(String, String)],
    ) -> ApiServer {
        use std::io::BufRead;
        let mut child = std::process::Command::new(sfn_local_binary())
            .arg("--state-dir")
            .arg(state_dir)
            .arg("--project-root")
            .arg(project_root())
            .arg("--quiet")
            .args(args)
            .args(["serve", "--port", "0"])
            .args(serve_args)
            .envs(env.iter().map(|(k, v)| (k, v)))
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::inherit())
            .spawn()
            .expect("spawn sfn-local serve");
        let stdout = child.stdout.take().expect("piped stdout");
        // The first line says where it listens; read it on a thread so a silent server cannot
        // hang the test past the deadline.
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let mut line = String::new();
            let _ = std::io::BufReader::new(stdout).read_line(&mut line);
            let _ = tx.send(line);
        });
        let line = match rx.recv_timeout(std::time::Duration::from_secs(60)) {
            Ok(l) => l,
            Err(_) => {
                let _ = child.kill();
                panic!("sfn-local serve printed no address within 60 s");
            }
        };
        let v: Value = serde_json::from_str(&line)
            .unwrap_or_else(|e| panic!("sfn-local serve's first line {line:?}: {e}"));
        let endpoint = v["endpoint"].as_str().expect("endpoint").to_string();
        ApiServer { child, endpoint }
    }

    /// Kills the server at once (SIGKILL): a crash, nothing flushed on the way out.
    pub fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// One raw AWS JSON 1.0 request (`X-Amz-Target: target`): (HTTP status, JSON body).
    pub fn call(&self, target: &str, body: &Value) -> (u16, Value) {
        use std::io::{Read, Write};
        let address = self.endpoint.trim_start_matches("http://");
        let mut stream = std::net::TcpStream::connect(address).expect("connect to sfn-local");
        stream
            .set_read_timeout(Some(std::time::Duration::from_secs(60)))
            .expect("read timeout");
        let body = body.to_string();
        write!(
            stream,
            "POST / HTTP/1.1\r\nHost: {address}\r\nX-Amz-Target: {target}\r\n\
             Content-Type: application/x-amz-json-1.0\r\nContent-Length: {}\r\n\
             Connection: close\r\n\r\n{body}",
            body.len()
        )
        .expect("send the request");
        let mut response = String::new();
        stream
            .read_to_string(&mut response)
            .expect("read the response");
        let (head, text) = response
            .split_once("\r\n\r\n")
            .unwrap_or_else(|| panic!("not an HTTP response: {response:?}"));
        let status = head
            .split_whitespace()
            .nth(1)
            .and_then(|s| s.parse().ok())
            .unwrap_or_else(|| panic!("no status in {head:?}"));
        let json = serde_json::from_str(text).unwrap_or_else(|e| panic!("{text:?}: {e}"));
        (status, json)
    }

    /// sfn-local's fault switch, through its admin operation (`&[]`: the outage is over).
    pub fn set_faults(&self, faults: &[&str]) {
        let (status, body) = self.call(
            "SfnLocal.SetFaults",
            &serde_json::json!({ "faults": faults }),
        );
        assert_eq!(status, 200, "SetFaults: {body}");
    }
}

impl Drop for ApiServer {
    fn drop(&mut self) {
        self.kill();
    }
}

/// Polls `probe` until it returns Some, for at most `limit`: the API runs executions in the
/// background, so tests wait for a state with a bounded deadline, never a fixed sleep.
pub fn poll_until<T>(
    limit: std::time::Duration,
    what: &str,
    mut probe: impl FnMut() -> Option<T>,
) -> T {
    let deadline = std::time::Instant::now() + limit;
    loop {
        if let Some(v) = probe() {
            return v;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "timed out after {limit:?} waiting for {what}"
        );
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
}
