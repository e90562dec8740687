//! The runner: the template's state machines on the `asl` engine, with Lambda tasks dispatched to
//! the functions backend, nested executions run locally, and every execution kept in the store.
//!
//! This module is the facade ([`Runner`], [`RunnerOptions`]); opening and the template checks are in
//! `open`, the execution lifecycle in `lifecycle` and `ending`, history in `recorder`, Task
//! resources in `dispatch`, names and ARNs in `names`, the Pipe's batches in `pipe`.

mod dispatch;
mod ending;
mod evidence;
mod lifecycle;
mod names;
mod open;
mod pipe;
mod recorder;
mod seed;
mod test_state;

pub use names::{parse_execution_arn, validate_execution_name};
pub use pipe::{FilteredRecord, PipeBatch, PipeReport, RECORDS_NEED_AN_OPERATOR};

use lifecycle::Created;
use recorder::Recorder;
pub use seed::{SeedPlan, SeedReport};

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::sync::atomic::AtomicU64;
use std::sync::{Arc, Mutex, Weak};

use asl::{Clock, StateMachine, SystemClock};
use serde_json::Value;
use unpaid_order::memory::{MemoryState, Outbox};

use crate::error::RunnerError;
use crate::functions::{EmbeddedFunctions, Fault, Faulty};
use crate::store::{ExecutionRecord, ExecutionSummary, OwnerLease, Position, Store};
use crate::template::Template;

/// How the runner is set up.
#[derive(Clone)]
pub struct RunnerOptions {
    /// The project: `template.yaml`, `statemachine/`, `events/tables/`.
    pub project_root: PathBuf,
    /// The embedded store (default `.sfn-local/` under the current directory in the CLI).
    pub state_dir: PathBuf,
    /// Template parameter values (`--parameter K=V`).
    pub parameters: BTreeMap<String, String>,
    /// The engine's clock: the real one in the CLI, a virtual one in tests.
    pub clock: Arc<dyn Clock>,
    /// Run the handlers over the real AWS adapters at this endpoint (moto, or AWS).
    pub aws_endpoint: Option<String>,
    /// Invoke the functions through this Lambda Invoke API instead of in-process.
    pub lambda_endpoint: Option<String>,
    /// `--fail` faults, played in front of the functions (and inside their ports).
    pub faults: Vec<Fault>,
    /// Print a progress line per step on stderr.
    pub progress: bool,
    /// The functions' environment (ORDER_TABLE, ...), over the process's and the template's.
    pub environment: BTreeMap<String, String>,
    /// The SDK configuration for `aws_endpoint` / `lambda_endpoint` (default: the functions' own,
    /// credentials from the environment).
    pub sdk_config: Option<aws_config::SdkConfig>,
    /// Per-service endpoints over `aws_endpoint` (tests: a fault proxy per service).
    pub service_endpoints: unpaid_order::aws::ServiceEndpoints,
    /// Lambda functions the template does not have, as Python handler sources run by
    /// lambda-local (`--lambda-functions`): what TestState (or a task) may invoke besides the
    /// project's five.
    pub lambda_functions: Vec<lambda_local::FunctionDef>,
    /// The evidence queue on SQS (its URL; the SQS client at `aws_endpoint`) instead of the queue
    /// in process: status changes are sent there, and `serve` polls it into record-event.
    pub evidence_queue_url: Option<String>,
}

impl RunnerOptions {
    /// Embedded store in `state_dir`, real clock, no faults, no progress.
    pub fn new(project_root: impl Into<PathBuf>, state_dir: impl Into<PathBuf>) -> Self {
        RunnerOptions {
            project_root: project_root.into(),
            state_dir: state_dir.into(),
            parameters: BTreeMap::new(),
            clock: Arc::new(SystemClock),
            aws_endpoint: None,
            lambda_endpoint: None,
            faults: Vec::new(),
            progress: false,
            environment: BTreeMap::new(),
            sdk_config: None,
            service_endpoints: Default::default(),
            lambda_functions: Vec::new(),
            evidence_queue_url: None,
        }
    }
}

/// A loaded state machine.
struct Machine {
    name: String,
    arn: String,
    definition: StateMachine,
}

/// What the dispatcher and the runner share.
struct Core {
    template: Template,
    machines: Vec<Machine>,
    store: Store,
    functions: Arc<Faulty>,
    embedded: Option<Arc<EmbeddedFunctions>>,
    /// `--lambda-functions`: Python handlers for functions the template does not have.
    python: Option<lambda_local::LambdaTasks<lambda_local::PythonFunctions>>,
    /// The evidence queue: status changes and SES's events, delivered to record-event.
    evidence: Arc<crate::evidence::Evidence>,
    clock: Arc<dyn Clock>,
    progress: bool,
    /// The executions this runner is running now (StopExecution, live history), by ARN.
    running: Mutex<HashMap<String, Running>>,
    run_ids: AtomicU64,
    /// When this runner opened (the API's creationDate of the machines).
    opened_at: chrono::DateTime<chrono::Utc>,
    /// This runner's lease: the executions it runs name it as their owner.
    lease: OwnerLease,
    /// The Arc this Core lives in: the dispatcher (called through `&self`) starts nested
    /// executions, which need an owned handle.
    me: Weak<Core>,
}

/// An execution running in this runner.
struct Running {
    id: u64,
    /// Set when it runs in a task of its own (the API's); an inline run is stopped in the store
    /// only, and `finish` then keeps the stored ABORTED.
    abort: Option<tokio::task::AbortHandle>,
    recorder: Arc<Recorder>,
}

/// The offline runner (library API; the CLI is a thin layer over it).
#[derive(Clone)]
pub struct Runner {
    core: Arc<Core>,
}

impl Runner {
    /// The template this runner loaded.
    pub fn template(&self) -> &Template {
        &self.core.template
    }

    /// When this runner opened.
    pub fn opened_at(&self) -> chrono::DateTime<chrono::Utc> {
        self.core.opened_at
    }

    /// The state directory this runner holds.
    pub fn state_dir(&self) -> &Path {
        self.core.store.root()
    }

    /// Replaces the fault switch's faults (an empty list: the outage is over).
    pub fn set_faults(&self, faults: Vec<Fault>) -> Result<(), RunnerError> {
        let mut resolved = Vec::new();
        for f in faults {
            if crate::evidence::is_ses_events_fault(&f) {
                crate::evidence::ses::check_ses_events_fault(&f)?;
                resolved.push(f);
                continue;
            }
            if crate::project::port_faults::is_port_fault(&f) {
                resolved.push(f);
                continue;
            }
            let binary = self
                .core
                .template
                .function(&f.function)
                .ok_or_else(|| {
                    RunnerError::argument(
                        format!("--fail {}", f.function),
                        "no such function in the template",
                    )
                })?
                .binary
                .clone();
            resolved.push(Fault {
                function: binary,
                ..f
            });
        }
        let (ses_events, resolved): (Vec<Fault>, Vec<Fault>) = resolved
            .into_iter()
            .partition(crate::evidence::is_ses_events_fault);
        self.core.evidence.ses.set_faults(&ses_events);
        self.core.functions.set(resolved);
        Ok(())
    }

    /// StartExecution, waiting for the end: the execution as DescribeExecution sees it then.
    pub async fn start_execution(
        &self,
        state_machine: &str,
        input: Value,
        name: Option<&str>,
    ) -> Result<ExecutionRecord, RunnerError> {
        let r = self.core.start(state_machine, input, name, None).await;
        self.flush().await?;
        r
    }

    /// Folds the embedded tables' journal into `tables.json` and writes `outbox.json`.
    pub async fn flush(&self) -> Result<(), RunnerError> {
        match &self.core.embedded {
            Some(e) => e.flush().await,
            None => Ok(()),
        }
    }

    /// StartExecution as the API does it: returns the RUNNING execution at once and runs it in a
    /// background task (the same name and input while it runs: that execution, as on AWS).
    pub async fn start_execution_detached(
        &self,
        state_machine: &str,
        input: Value,
        name: Option<&str>,
    ) -> Result<ExecutionRecord, RunnerError> {
        match self.core.create(state_machine, input, name, None).await? {
            Created::Existing(r) => Ok(r),
            Created::New(r) => {
                self.core.spawn_run(r.clone(), None);
                Ok(r)
            }
        }
    }

    /// RedriveExecution as the API does it: returns the redriven (RUNNING) execution at once.
    pub async fn redrive_execution_detached(
        &self,
        execution_arn: &str,
    ) -> Result<ExecutionRecord, RunnerError> {
        let (record, checkpoint, offset) = self.core.prepare_redrive(execution_arn).await?;
        self.core
            .spawn_run(record.clone(), Some((checkpoint, offset)));
        Ok(record)
    }

    /// StopExecution: ends a RUNNING execution as ABORTED (redrivable). A finished one is left
    /// as it is. Returns the execution as it is now.
    pub async fn stop_execution(
        &self,
        execution_arn: &str,
        error: Option<String>,
        cause: Option<String>,
    ) -> Result<ExecutionRecord, RunnerError> {
        self.core.stop(execution_arn, error, cause).await
    }

    /// DescribeExecution: the execution as the store keeps it.
    pub fn describe_execution(&self, execution_arn: &str) -> Result<ExecutionRecord, RunnerError> {
        self.core.execution(execution_arn)
    }

    /// GetExecutionHistory's events (oldest first, or newest first with `reverse`).
    pub fn get_execution_history(
        &self,
        execution_arn: &str,
        reverse: bool,
    ) -> Result<Vec<Value>, RunnerError> {
        let record = self.describe_execution(execution_arn)?;
        let running_now = record.is_running();
        let mut events = record.history;
        if running_now {
            // Events of a run in this runner are kept in memory until it ends: show them live.
            let running = self.core.running.lock().unwrap_or_else(|p| p.into_inner());
            if let Some(r) = running.get(&record.execution_arn) {
                events.extend(
                    r.recorder
                        .events
                        .lock()
                        .unwrap_or_else(|p| p.into_inner())
                        .iter()
                        .cloned(),
                );
            }
        }
        if reverse {
            events.reverse();
        }
        Ok(events)
    }

    /// ListExecutions, newest first, optionally only those with `status`.
    pub fn list_executions(
        &self,
        state_machine: &str,
        status: Option<&str>,
    ) -> Result<Vec<ExecutionSummary>, RunnerError> {
        Ok(self
            .list_executions_page(state_machine, status, None, None, usize::MAX)?
            .0)
    }

    /// One page of ListExecutions (newest first) after `after`, of those with `status` and, with
    /// `redriven`, those redriven (true) or not (false); and where the next page starts.
    pub fn list_executions_page(
        &self,
        state_machine: &str,
        status: Option<&str>,
        redriven: Option<bool>,
        after: Option<&Position>,
        size: usize,
    ) -> Result<(Vec<ExecutionSummary>, Option<Position>), RunnerError> {
        if let Some(s) = status {
            if !EXECUTION_STATUSES.contains(&s) {
                return Err(RunnerError::argument(
                    "--status-filter",
                    format!("{s} is not one of {}", EXECUTION_STATUSES.join(", ")),
                ));
            }
        }
        let machine = self.core.machine(state_machine)?;
        self.core
            .store
            .list_executions_page(&machine.name, after, size, |r| {
                status.is_none_or(|s| r.status == s)
                    && redriven.is_none_or(|want| (r.redrive_count > 0) == want)
            })
    }

    /// RedriveExecution, waiting for the end: re-runs from the state that failed.
    pub async fn redrive_execution(
        &self,
        execution_arn: &str,
    ) -> Result<ExecutionRecord, RunnerError> {
        let r = self.core.redrive(execution_arn).await;
        self.flush().await?;
        r
    }
    /// The embedded tables and outbox (None with `--aws-endpoint` / `--lambda-endpoint`).
    pub async fn tables(&self) -> Result<Option<MemoryState>, RunnerError> {
        match &self.core.embedded {
            Some(e) => Ok(Some(e.snapshot().await?)),
            None => Ok(None),
        }
    }

    /// One order's items in the embedded tables (None with `--aws-endpoint` /
    /// `--lambda-endpoint`): what a Query on an order's key reads, without copying the tables.
    pub async fn order_tables(&self, order_id: &str) -> Result<Option<MemoryState>, RunnerError> {
        match &self.core.embedded {
            Some(e) => Ok(Some(e.order_slice(order_id).await?)),
            None => Ok(None),
        }
    }

    /// What SNS and SES would have sent (embedded store only).
    pub async fn outbox(&self) -> Result<Option<Outbox>, RunnerError> {
        Ok(self.tables().await?.map(|t| t.outbox))
    }
}

/// The execution statuses Step Functions knows (ListExecutions' `statusFilter`).
pub const EXECUTION_STATUSES: [&str; 6] = [
    "RUNNING",
    "SUCCEEDED",
    "FAILED",
    "TIMED_OUT",
    "ABORTED",
    "PENDING_REDRIVE",
];
