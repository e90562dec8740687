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
use unpaid_order::memory::MemoryState;
use unpaid_order::testing::MotoEnv;

/// The per-order machine, by the short name sfn-local accepts.
pub const ORDER_MACHINE: &str = "process-unpaid-order";
/// The batch machine.
pub const BATCH_MACHINE: &str = "process-unpaid-orders";

/// Orders in `events/tables/` (see its README).
pub const UNPAID_ORDER: &str = "492500005643";
pub const JSON_STRING_ORDER: &str = "492500005644";
pub const PAID_ORDER: &str = "492500005645";
pub const NO_CHECK_STATUS_ORDER: &str = "492500005646";
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
    pub dir: tempfile::TempDir,
    pub clock: Arc<VirtualClock>,
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

/// The errors of the TaskFailed events, in history order.
pub fn task_failures(history: &[Value]) -> Vec<String> {
    history
        .iter()
        .filter(|e| e["type"] == "TaskFailed")
        .filter_map(|e| {
            e["taskFailedEventDetails"]["error"]
                .as_str()
                .map(str::to_string)
        })
        .collect()
}
