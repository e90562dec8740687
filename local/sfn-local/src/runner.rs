//! The runner: the template's state machines on the `asl` engine, with Lambda tasks dispatched to
//! the functions backend, nested executions run locally, and every execution kept in the store.

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, Weak};

use asl::{
    Checkpoint, Clock, Engine, ExecutionContext, HistoryEvent, HistorySink, StateMachine,
    SystemClock, TaskDispatcher, TaskFailure, TaskRequest,
};
use async_trait::async_trait;
use serde::Serialize;
use serde_json::{json, Value};
use unpaid_order::memory::{MemoryState, Outbox};

use crate::error::RunnerError;
use crate::functions::{
    AwsFunctions, EmbeddedFunctions, Fault, Faulty, Functions, RemoteFunctions,
};
use crate::handlers::{Ports, BINARIES};
use crate::store::{ExecutionRecord, OwnerLease, Store};
use crate::template::{Template, ACCOUNT, REGION};

/// Resources a Task state may name locally.
const LAMBDA_INVOKE: &str = "arn:aws:states:::lambda:invoke";
const START_EXECUTION: &str = "arn:aws:states:::states:startExecution";
const START_EXECUTION_SYNC: &str = "arn:aws:states:::states:startExecution.sync";
const START_EXECUTION_SYNC2: &str = "arn:aws:states:::states:startExecution.sync:2";

/// Largest execution input StartExecution accepts (256 KiB).
const MAX_INPUT_BYTES: usize = 256 * 1024;

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

/// Why an execution ended without the engine: a stop request, or the runner that ran it died.
const STOPPED_CAUSE: &str = "sfn-local stopped during the execution (its process ended before the \
execution did); redrive it to run it again from the state that was running";

/// The offline runner (library API; the CLI is a thin layer over it).
#[derive(Clone)]
pub struct Runner {
    core: Arc<Core>,
}

/// One batch the Pipe started.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct PipeBatch {
    pub execution_arn: String,
    pub status: String,
    /// The indexes (in the records file) of the records in this batch, in order.
    pub record_indexes: Vec<usize>,
    pub output: Option<Value>,
    pub error: Option<String>,
    pub cause: Option<String>,
}

/// The error a batch ends with when a record needs an operator (malformed, or its child could
/// not be started); its cause is the batch summary.
pub const RECORDS_NEED_AN_OPERATOR: &str = "RecordsNeedAnOperator";

impl PipeBatch {
    /// The batch summary `{records, processed, ..., outcomes}`: the output of a succeeded batch,
    /// the cause of one that failed with [`RECORDS_NEED_AN_OPERATOR`].
    pub fn summary(&self) -> Option<Value> {
        summary_of(
            self.output.as_ref(),
            self.error.as_deref(),
            self.cause.as_deref(),
        )
    }
}

fn summary_of(output: Option<&Value>, error: Option<&str>, cause: Option<&str>) -> Option<Value> {
    match (output, error) {
        (Some(o), _) => Some(o.clone()),
        (None, Some(RECORDS_NEED_AN_OPERATOR)) => cause.and_then(|c| serde_json::from_str(c).ok()),
        _ => None,
    }
}

/// A record the Pipe's FilterCriteria dropped (on AWS it would never reach the workflow).
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct FilteredRecord {
    pub index: usize,
    pub event_id: Option<String>,
    pub event_name: Option<String>,
    pub reason: String,
}

/// What `pipe` did with a records file.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct PipeReport {
    pub records: usize,
    pub batch_size: usize,
    pub batches: Vec<PipeBatch>,
    pub filtered: Vec<FilteredRecord>,
    /// One line per record: its order, what happened, the child execution.
    pub orders: Vec<Value>,
}

/// Execution names as StartExecution accepts them: 1..80 characters, none of AWS's refused ones.
pub fn validate_execution_name(name: &str) -> Result<(), RunnerError> {
    let bad = |why: &str| RunnerError::InvalidName(format!("Invalid Name: '{name}' ({why})"));
    let count = name.chars().count();
    if count == 0 || count > 80 {
        return Err(bad("must be 1 to 80 characters"));
    }
    if let Some(c) = name.chars().find(|c| {
        c.is_whitespace()
            || c.is_control()
            || ('\u{7f}'..='\u{9f}').contains(c)
            || "<>{}[]?*\"#%\\^|~`$&,;:/".contains(*c)
    }) {
        return Err(bad(&format!("contains {c:?}")));
    }
    Ok(())
}

/// `arn:aws:states:REGION:ACCOUNT:execution:MACHINE:NAME` (or `MACHINE:NAME`) → (machine, name).
pub fn parse_execution_arn(arn: &str) -> Result<(String, String), RunnerError> {
    let parts: Vec<&str> = arn.split(':').collect();
    let (sm, name) = match parts.as_slice() {
        ["arn", _, "states", _, _, "execution", sm, name] => (*sm, *name),
        [sm, name] if !sm.is_empty() && !name.is_empty() => (*sm, *name),
        _ => {
            return Err(RunnerError::argument(
                "--execution-arn",
                format!("{arn} is not an execution ARN (arn:aws:states:REGION:ACCOUNT:execution:MACHINE:NAME)"),
            ))
        }
    };
    Ok((sm.to_string(), name.to_string()))
}

/// Every `Resource` of every Task state, however deeply nested.
fn task_resources(v: &Value, out: &mut Vec<(String, Value)>) {
    match v {
        Value::Object(m) => {
            if m.get("Type").and_then(Value::as_str) == Some("Task") {
                if let Some(r) = m.get("Resource").and_then(Value::as_str) {
                    out.push((
                        r.to_string(),
                        m.get("Parameters").cloned().unwrap_or(Value::Null),
                    ));
                }
            }
            m.values().for_each(|x| task_resources(x, out));
        }
        Value::Array(a) => a.iter().for_each(|x| task_resources(x, out)),
        _ => {}
    }
}

impl Runner {
    /// Loads the template and both definitions (refusing any resource the runner cannot run),
    /// opens the state directory and sets up the functions backend.
    pub async fn open(options: RunnerOptions) -> Result<Runner, RunnerError> {
        let template_path = options.project_root.join("template.yaml");
        let template = Template::load(&template_path, &options.parameters)?;
        let mut machines = Vec::new();
        for m in &template.state_machines {
            let text = template.definition(m)?;
            let definition_error = |message: String| RunnerError::Definition {
                path: m.definition_path.clone(),
                message,
            };
            let json: Value =
                serde_json::from_str(&text).map_err(|e| definition_error(e.to_string()))?;
            let mut resources = Vec::new();
            task_resources(&json, &mut resources);
            for (resource, params) in resources {
                match resource.as_str() {
                    LAMBDA_INVOKE => {
                        if let Some(name) = params.get("FunctionName").and_then(Value::as_str) {
                            if template.function(name).is_none() {
                                return Err(definition_error(format!(
                                    "FunctionName {name} is not a function of the template"
                                )));
                            }
                        }
                    }
                    START_EXECUTION | START_EXECUTION_SYNC | START_EXECUTION_SYNC2 => {
                        if let Some(sm) = params.get("StateMachineArn").and_then(Value::as_str) {
                            if template.state_machine(sm).is_none() {
                                return Err(definition_error(format!(
                                    "StateMachineArn {sm} is not a state machine of the template"
                                )));
                            }
                        }
                    }
                    r if r.starts_with("arn:aws:lambda:") => {
                        if template.function(r).is_none() {
                            return Err(definition_error(format!(
                                "Resource {r} is not a function of the template"
                            )));
                        }
                    }
                    r => {
                        return Err(definition_error(format!(
                            "Task resource {r} is not supported by sfn-local"
                        )))
                    }
                }
            }
            let definition =
                StateMachine::from_value(json).map_err(|e| definition_error(e.to_string()))?;
            machines.push(Machine {
                name: m.name.clone(),
                arn: m.arn.clone(),
                definition,
            });
        }
        for f in &template.functions {
            if !BINARIES.contains(&f.binary.as_str()) && options.lambda_endpoint.is_none() {
                return Err(RunnerError::Template {
                    path: template_path.clone(),
                    message: format!(
                        "function {} runs binary {}, for which sfn-local has no handler",
                        f.logical_id, f.binary
                    ),
                });
            }
        }
        for fault in &options.faults {
            if crate::port_faults::is_port_fault(fault) {
                continue;
            }
            if template.function(&fault.function).is_none() {
                return Err(RunnerError::argument(
                    format!("--fail {}", fault.function),
                    format!(
                        "no such function in the template (one of: {}; or a port: {})",
                        template
                            .functions
                            .iter()
                            .map(|f| f.binary.as_str())
                            .collect::<Vec<_>>()
                            .join(", "),
                        crate::port_faults::PORTS.join(", ")
                    ),
                ));
            }
        }
        let faults = options
            .faults
            .iter()
            .map(|f| {
                if crate::port_faults::is_port_fault(f) {
                    return f.clone();
                }
                let binary = template
                    .function(&f.function)
                    .map(|x| x.binary.clone())
                    .unwrap_or_default();
                Fault {
                    function: binary,
                    ..f.clone()
                }
            })
            .collect();

        let store = Store::open(&options.state_dir)?;
        let env = |name: &str| -> String {
            options
                .environment
                .get(name)
                .cloned()
                .or_else(|| std::env::var(name).ok())
                .filter(|v| !v.is_empty())
                .or_else(|| template.function_environment.get(name).cloned())
                .unwrap_or_default()
        };
        let mut embedded = None;
        let backend: Arc<dyn Functions> = if let Some(url) = &options.lambda_endpoint {
            let sdk = match &options.sdk_config {
                Some(s) => s.to_builder().endpoint_url(url).build(),
                None => unpaid_order::aws::sdk_config(Some(url)).await,
            };
            let names = template
                .functions
                .iter()
                .map(|f| (f.binary.clone(), f.binary.clone()))
                .collect();
            Arc::new(RemoteFunctions::new(
                aws_sdk_lambda::Client::new(&sdk),
                names,
            ))
        } else if let Some(url) = &options.aws_endpoint {
            let sdk = match &options.sdk_config {
                Some(s) => s.to_builder().endpoint_url(url).build(),
                None => unpaid_order::aws::sdk_config(Some(url)).await,
            };
            let config = unpaid_order::Config::with(
                unpaid_order::Setting::ALL
                    .iter()
                    .map(|s| (*s, env(s.var()))),
            );
            // Each function's own clients, as each Lambda has: `app/<binary>` in the user agent.
            let mut per_binary = BTreeMap::new();
            for f in &template.functions {
                let sdk = unpaid_order::aws::with_app_name(&sdk, &f.binary);
                let ports = unpaid_order::aws::AwsPorts::with_endpoints(
                    &sdk,
                    &config,
                    &options.service_endpoints,
                )
                .map_err(|e| RunnerError::Backend(e.to_string()))?;
                per_binary.insert(f.binary.clone(), Ports::from_aws(&ports));
            }
            Arc::new(AwsFunctions::new(per_binary))
        } else {
            let e = Arc::new(EmbeddedFunctions::new(
                store.clone(),
                options.project_root.join("events").join("tables"),
                env("FAILURE_TOPIC_ARN"),
                env("SENDER_EMAIL"),
            ));
            embedded = Some(e.clone());
            e
        };
        let lease = store.take_lease()?;
        let timeouts = template
            .functions
            .iter()
            .map(|f| (f.binary.clone(), f.timeout))
            .collect();
        let runner = Runner {
            core: Arc::new_cyclic(|me| Core {
                template,
                machines,
                store,
                functions: Arc::new(Faulty::new(backend, faults).with_timeouts(timeouts)),
                embedded,
                clock: options.clock,
                progress: options.progress,
                running: Mutex::new(HashMap::new()),
                run_ids: AtomicU64::new(0),
                opened_at: chrono::Utc::now(),
                lease,
                me: me.clone(),
            }),
        };
        runner.core.recover().await?;
        Ok(runner)
    }

    pub fn template(&self) -> &Template {
        &self.core.template
    }

    /// When this runner opened.
    pub fn opened_at(&self) -> chrono::DateTime<chrono::Utc> {
        self.core.opened_at
    }

    pub fn state_dir(&self) -> &Path {
        self.core.store.root()
    }

    /// Replaces the fault switch's faults (an empty list: the outage is over).
    pub fn set_faults(&self, faults: Vec<Fault>) -> Result<(), RunnerError> {
        let mut resolved = Vec::new();
        for f in faults {
            if crate::port_faults::is_port_fault(&f) {
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
    ) -> Result<Vec<ExecutionRecord>, RunnerError> {
        const STATUSES: [&str; 6] = [
            "RUNNING",
            "SUCCEEDED",
            "FAILED",
            "TIMED_OUT",
            "ABORTED",
            "PENDING_REDRIVE",
        ];
        if let Some(s) = status {
            if !STATUSES.contains(&s) {
                return Err(RunnerError::argument(
                    "--status-filter",
                    format!("{s} is not one of {}", STATUSES.join(", ")),
                ));
            }
        }
        let machine = self.core.machine(state_machine)?;
        Ok(self
            .core
            .store
            .list_executions(&machine.name)?
            .into_iter()
            .filter(|r| status.is_none_or(|s| r.status == s))
            .collect())
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

    /// The Pipe: filters `records` (a JSON array of stream records, or `{"Records": [...]}`) with
    /// the template's FilterCriteria and starts the batch machine once per BatchSize records.
    pub async fn pipe(&self, records: Value) -> Result<PipeReport, RunnerError> {
        let pipe = self
            .core
            .template
            .pipe
            .clone()
            .ok_or_else(|| RunnerError::Template {
                path: self.core.template.path.clone(),
                message: "no AWS::Pipes::Pipe resource".into(),
            })?;
        let records =
            match records {
                Value::Array(a) => a,
                Value::Object(mut m) => match m.remove("Records") {
                    Some(Value::Array(a)) => a,
                    _ => return Err(RunnerError::argument(
                        "--records",
                        "expected a JSON array of DynamoDB stream records or {\"Records\": [...]}",
                    )),
                },
                _ => {
                    return Err(RunnerError::argument(
                        "--records",
                        "expected a JSON array of DynamoDB stream records or {\"Records\": [...]}",
                    ))
                }
            };
        // The InputTemplate applies to each record of a batch on its own; the target gets the
        // array of transformed records.
        let cx = crate::pipe::context(&pipe);
        let mut targets = vec![Value::Null; records.len()];
        let mut passed = Vec::new();
        let mut filtered = Vec::new();
        for (index, record) in records.iter().enumerate() {
            let ok = crate::pipe::passes(&pipe, record).map_err(|m| RunnerError::Template {
                path: self.core.template.path.clone(),
                message: format!("pipe {} FilterCriteria: {m}", pipe.logical_id),
            })?;
            if ok {
                targets[index] = crate::pipe::transform(&pipe, record, &cx).map_err(|e| {
                    RunnerError::InvalidExecutionInput(format!(
                        "record {index}: pipe {}: {e} (on AWS this batch fails, is retried and goes to the DLQ)",
                        pipe.logical_id
                    ))
                })?;
                passed.push(index);
            } else {
                filtered.push(FilteredRecord {
                    index,
                    event_id: record.get("eventID").and_then(Value::as_str).map(str::to_string),
                    event_name: record.get("eventName").and_then(Value::as_str).map(str::to_string),
                    reason: "does not match the Pipe's FilterCriteria (AWS drops it before the workflow)".into(),
                });
            }
        }
        let mut batches = Vec::new();
        let mut orders = Vec::new();
        for chunk in passed.chunks(pipe.batch_size) {
            let input = Value::Array(chunk.iter().map(|i| targets[*i].clone()).collect());
            let record = self.core.start(&pipe.target, input, None, None).await?;
            // The summary: the output of a succeeded batch, the cause of one that failed because a
            // record needs an operator (RecordsNeedAnOperator).
            let summary = summary_of(
                record.output.as_ref(),
                record.error.as_deref(),
                record.cause.as_deref(),
            );
            if let Some(outcomes) = summary
                .as_ref()
                .and_then(|o| o.get("outcomes"))
                .and_then(Value::as_array)
            {
                for o in outcomes {
                    let mut line = o.clone();
                    let batch_index = o.get("index").and_then(Value::as_u64).unwrap_or(0) as usize;
                    if let Some(m) = line.as_object_mut() {
                        m.insert("record".into(), json!(chunk.get(batch_index)));
                        m.remove("index");
                        // The child's ARN: in the result when it succeeded, in the cause (its
                        // DescribeExecution) when it failed.
                        let failed_child: Option<Value> = o
                            .get("cause")
                            .and_then(Value::as_str)
                            .and_then(|c| serde_json::from_str(c).ok());
                        let child = o
                            .get("executionArn")
                            .or_else(|| o.pointer("/child/executionArn"))
                            .or_else(|| failed_child.as_ref().and_then(|c| c.get("ExecutionArn")))
                            .and_then(Value::as_str)
                            .map(str::to_string);
                        if let Some(c) = child.and_then(|arn| self.describe_execution(&arn).ok()) {
                            m.insert("childExecutionArn".into(), json!(c.execution_arn));
                            m.insert("childStatus".into(), json!(c.status));
                            if let Some(e) = &c.error {
                                m.insert("childError".into(), json!(e));
                            }
                            if c.output.as_ref().and_then(|o| o.get("skipped")).is_some() {
                                m.insert("childSkipped".into(), json!("OrderAlreadyPaid"));
                            }
                        }
                    }
                    orders.push(line);
                }
            }
            batches.push(PipeBatch {
                execution_arn: record.execution_arn,
                status: record.status,
                record_indexes: chunk.to_vec(),
                output: record.output,
                error: record.error,
                cause: record.cause,
            });
        }
        self.flush().await?;
        Ok(PipeReport {
            records: records.len(),
            batch_size: pipe.batch_size,
            batches,
            filtered,
            orders,
        })
    }

    /// The embedded tables and outbox (None with `--aws-endpoint` / `--lambda-endpoint`).
    pub async fn tables(&self) -> Result<Option<MemoryState>, RunnerError> {
        match &self.core.embedded {
            Some(e) => Ok(Some(e.snapshot().await?)),
            None => Ok(None),
        }
    }

    /// What SNS and SES would have sent (embedded store only).
    pub async fn outbox(&self) -> Result<Option<Outbox>, RunnerError> {
        Ok(self.tables().await?.map(|t| t.outbox))
    }
}

/// What `create` found.
enum Created {
    New(ExecutionRecord),
    /// The same execution (name and input), already running.
    Existing(ExecutionRecord),
}

/// Records history into memory (and the progress line), renumbering after a redrive so the ids go
/// on from the execution's earlier events, as on AWS.
struct Recorder {
    events: Mutex<Vec<Value>>,
    offset: u64,
    label: Option<String>,
}

impl HistorySink for Recorder {
    fn record(&self, mut event: HistoryEvent) {
        event.id += self.offset;
        event.previous_event_id += self.offset;
        if let Some(label) = &self.label {
            let t = event.r#type.as_str();
            let state = event
                .details
                .get("name")
                .and_then(Value::as_str)
                .unwrap_or("");
            if t == "TaskStateEntered" {
                eprintln!("sfn-local: {label} {state}");
            } else if t == "TaskFailed" {
                eprintln!(
                    "sfn-local: {label}   failed: {}",
                    event
                        .details
                        .get("error")
                        .and_then(Value::as_str)
                        .unwrap_or("")
                );
            }
        }
        match serde_json::to_value(&event) {
            Ok(v) => self
                .events
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .push(v),
            Err(e) => tracing::error!(error = %e, "history event not serialisable"),
        }
    }
}

impl Core {
    fn self_arc(&self) -> Option<Arc<Core>> {
        self.me.upgrade()
    }

    fn machine(&self, name_or_arn: &str) -> Result<&Machine, RunnerError> {
        let m = self
            .template
            .state_machine(name_or_arn)
            .ok_or_else(|| RunnerError::StateMachineDoesNotExist(name_or_arn.to_string()))?;
        self.machines
            .iter()
            .find(|x| x.name == m.name)
            .ok_or_else(|| RunnerError::StateMachineDoesNotExist(name_or_arn.to_string()))
    }

    /// Map iterations run concurrently up to MaxConcurrency and FULL jitter draws a random delay,
    /// as on AWS. The jitter seed comes from the execution ARN and its redrive count: every
    /// execution gets its own delays, and a test sees the same ones on every run.
    fn engine(self: &Arc<Self>, record: &ExecutionRecord) -> Engine {
        use std::hash::{Hash, Hasher};
        let mut h = std::collections::hash_map::DefaultHasher::new();
        record.execution_arn.hash(&mut h);
        record.redrive_count.hash(&mut h);
        Engine::new(self.clone() as Arc<dyn TaskDispatcher>, self.clock.clone())
            .with_concurrency(true)
            .with_jitter_seed(h.finish())
    }

    fn recorder(&self, record: &ExecutionRecord, offset: u64) -> Recorder {
        Recorder {
            events: Mutex::new(Vec::new()),
            offset,
            label: self
                .progress
                .then(|| format!("{}:{}", record.state_machine_name, record.name)),
        }
    }

    fn context(&self, record: &ExecutionRecord) -> ExecutionContext {
        ExecutionContext {
            execution_arn: record.execution_arn.clone(),
            execution_name: record.name.clone(),
            start_time: record.start_date,
            state_machine_arn: record.state_machine_arn.clone(),
            state_machine_name: record.state_machine_name.clone(),
            role_arn: format!("arn:aws:iam::{ACCOUNT}:role/sfn-local"),
            redrive_count: record.redrive_count,
        }
    }

    /// Creates the execution, or finds the same one running (same name and input).
    async fn create(
        &self,
        state_machine: &str,
        input: Value,
        name: Option<&str>,
        parent: Option<String>,
    ) -> Result<Created, RunnerError> {
        let machine = self.machine(state_machine)?;
        let name = match name {
            Some(n) => n.to_string(),
            None => uuid::Uuid::new_v4().to_string(),
        };
        validate_execution_name(&name)?;
        let size = input.to_string().len();
        if size > MAX_INPUT_BYTES {
            return Err(RunnerError::InvalidExecutionInput(format!(
                "the input is {size} bytes, over the {MAX_INPUT_BYTES}-byte limit"
            )));
        }
        let record = ExecutionRecord {
            execution_arn: format!(
                "arn:aws:states:{REGION}:{ACCOUNT}:execution:{}:{name}",
                machine.name
            ),
            state_machine_arn: machine.arn.clone(),
            state_machine_name: machine.name.clone(),
            name: name.clone(),
            status: "RUNNING".into(),
            input,
            output: None,
            error: None,
            cause: None,
            start_date: self.clock.now(),
            stop_date: None,
            redrive_count: 0,
            redrive_date: None,
            history: Vec::new(),
            checkpoint: None,
            parent_execution_arn: parent,
            owner: Some(self.lease.id().to_string()),
        };
        // Written and fsynced before the lock (concurrently with other executions' writes); put in
        // place under it, so the execution exists durably before its first step, as before.
        let prepared = self.store.prepare_execution(&record).await?;
        let _lock = self.store.lock().await?;
        if let Some(existing) = self.store.get_execution(&machine.name, &name)? {
            // AWS: the same name and input while it runs is the same execution (idempotent).
            if existing.is_running() && existing.input == record.input {
                return Ok(Created::Existing(existing));
            }
            return Err(RunnerError::ExecutionAlreadyExists(existing.execution_arn));
        }
        self.store.commit(prepared)?;
        if self.progress {
            eprintln!(
                "sfn-local: {}:{} started",
                record.state_machine_name, record.name
            );
        }
        Ok(Created::New(record))
    }

    /// Creates the execution (or finds the same one running), runs it and stores the outcome.
    async fn start(
        self: &Arc<Self>,
        state_machine: &str,
        input: Value,
        name: Option<&str>,
        parent: Option<String>,
    ) -> Result<ExecutionRecord, RunnerError> {
        match self.create(state_machine, input, name, parent).await? {
            Created::Existing(r) => self.wait_for(&r).await,
            // Inline, in the caller's task: a nested execution runs within its parent's step.
            Created::New(r) => self.run_inline(r, None).await,
        }
    }

    /// Notes a run of this runner (for StopExecution and live history); returns its id.
    fn register(&self, arn: &str, recorder: Arc<Recorder>) -> u64 {
        let id = self.run_ids.fetch_add(1, Ordering::Relaxed);
        self.running
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(
                arn.to_string(),
                Running {
                    id,
                    abort: None,
                    recorder,
                },
            );
        id
    }

    fn unregister(&self, arn: &str, id: u64) {
        let mut running = self.running.lock().unwrap_or_else(|p| p.into_inner());
        if running.get(arn).is_some_and(|r| r.id == id) {
            running.remove(arn);
        }
    }

    /// Runs `record` (from its start, or redriven from a checkpoint) in the caller's task.
    async fn run_inline(
        self: &Arc<Self>,
        record: ExecutionRecord,
        redrive: Option<(Checkpoint, u64)>,
    ) -> Result<ExecutionRecord, RunnerError> {
        let offset = redrive.as_ref().map(|(_, o)| *o).unwrap_or(0);
        let recorder = Arc::new(self.recorder(&record, offset));
        let arn = record.execution_arn.clone();
        let id = self.register(&arn, recorder.clone());
        let result = self.execute(record, redrive, &recorder).await;
        self.unregister(&arn, id);
        result
    }

    /// Runs `record` in a task of its own, so that the API returns at once and StopExecution can
    /// end it.
    fn spawn_run(self: &Arc<Self>, record: ExecutionRecord, redrive: Option<(Checkpoint, u64)>) {
        let offset = redrive.as_ref().map(|(_, o)| *o).unwrap_or(0);
        let recorder = Arc::new(self.recorder(&record, offset));
        let arn = record.execution_arn.clone();
        let id = self.register(&arn, recorder.clone());
        let core = self.clone();
        let task_arn = arn.clone();
        let handle = tokio::spawn(async move {
            let result = core.execute(record, redrive, &recorder).await;
            core.unregister(&task_arn, id);
            if let Err(e) = &result {
                tracing::error!(executionArn = %task_arn, error = %e, "execution could not be stored");
            }
        });
        let mut running = self.running.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(r) = running.get_mut(&arn).filter(|r| r.id == id) {
            r.abort = Some(handle.abort_handle());
        }
    }

    /// The engine run of a created (or redriven) execution, and its outcome stored.
    async fn execute(
        self: &Arc<Self>,
        record: ExecutionRecord,
        redrive: Option<(Checkpoint, u64)>,
        sink: &Recorder,
    ) -> Result<ExecutionRecord, RunnerError> {
        let machine = self.machine(&record.state_machine_name)?;
        let execution = match &redrive {
            None => {
                self.engine(&record)
                    .run(
                        &machine.definition,
                        record.input.clone(),
                        self.context(&record),
                        sink,
                    )
                    .await
            }
            Some((checkpoint, _)) => {
                self.engine(&record)
                    .redrive(&machine.definition, checkpoint, self.context(&record), sink)
                    .await
            }
        };
        self.finish(record, execution, sink).await
    }

    /// Polls the store until another invocation's run of the execution ends, for at most a Standard
    /// workflow's time here (the machines' TimeoutSeconds is 900 s) plus a margin: a run whose process
    /// died stays RUNNING in the store, and this must not wait for it forever.
    async fn wait_for(&self, record: &ExecutionRecord) -> Result<ExecutionRecord, RunnerError> {
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(960);
        loop {
            let now = self
                .store
                .get_execution(&record.state_machine_name, &record.name)?
                .ok_or_else(|| RunnerError::ExecutionDoesNotExist(record.execution_arn.clone()))?;
            if !now.is_running() {
                return Ok(now);
            }
            if now
                .owner
                .as_deref()
                .is_some_and(|o| o != self.lease.id() && !self.store.owner_alive(o))
            {
                return self.end_orphan(now, None, None).await;
            }
            if std::time::Instant::now() >= deadline {
                return Err(RunnerError::Backend(format!(
                    "execution {} is still RUNNING in {}: the process running it may have died",
                    record.execution_arn,
                    self.store.root().display()
                )));
            }
            // Another process runs it on its own clock: poll in real time.
            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        }
    }

    async fn finish(
        &self,
        mut record: ExecutionRecord,
        execution: asl::Execution,
        sink: &Recorder,
    ) -> Result<ExecutionRecord, RunnerError> {
        let status = serde_json::to_value(execution.status)
            .ok()
            .and_then(|v| v.as_str().map(str::to_string))
            .unwrap_or_else(|| "FAILED".into());
        record.status = status;
        record.output = execution.output;
        record.error = execution.error;
        record.cause = execution.cause;
        record.stop_date = Some(self.clock.now());
        record.checkpoint = Some(execution.checkpoint);
        record.owner = None;
        record.history.extend(std::mem::take(
            &mut *sink.events.lock().unwrap_or_else(|p| p.into_inner()),
        ));
        if self.progress {
            eprintln!(
                "sfn-local: {}:{} {}{}",
                record.state_machine_name,
                record.name,
                record.status,
                record
                    .error
                    .as_deref()
                    .map(|e| format!(" ({e})"))
                    .unwrap_or_default()
            );
        }
        // As in `create`: synced outside the lock, renamed in place under it.
        let prepared = self.store.prepare_execution(&record).await?;
        let _lock = self.store.lock().await?;
        if let Some(stored) = self
            .store
            .get_execution(&record.state_machine_name, &record.name)?
            .filter(|s| s.status == "ABORTED" && s.redrive_count == record.redrive_count)
        {
            // StopExecution ended it while the engine ran inline: that is its end.
            return Ok(stored);
        }
        self.store.commit(prepared)?;
        Ok(record)
    }

    /// Ends a RUNNING execution that no engine will finish (stopped, or its runner died): ABORTED
    /// with the caller's error/cause, or FAILED with States.Runtime; either way redrivable (from the
    /// last failure's checkpoint, or from the start). `events` are the run's history so far.
    fn end_record(
        &self,
        record: &mut ExecutionRecord,
        stopped: Option<(Option<String>, Option<String>)>,
        events: Vec<Value>,
    ) {
        record.history.extend(events);
        let id = record
            .history
            .last()
            .and_then(|e| e.get("id"))
            .and_then(Value::as_u64)
            .unwrap_or(0);
        let now = self.clock.now();
        let (status, event, error, cause) = match stopped {
            Some((error, cause)) => ("ABORTED", "ExecutionAborted", error, cause),
            None => (
                "FAILED",
                "ExecutionFailed",
                Some("States.Runtime".to_string()),
                Some(STOPPED_CAUSE.to_string()),
            ),
        };
        let mut details = serde_json::Map::new();
        if let Some(e) = &error {
            details.insert("error".into(), json!(e));
        }
        if let Some(c) = &cause {
            details.insert("cause".into(), json!(c));
        }
        let event = HistoryEvent {
            timestamp: now,
            r#type: event.into(),
            id: id + 1,
            previous_event_id: id,
            details: if details.is_empty() {
                Value::Null
            } else {
                Value::Object(details)
            },
        };
        if let Ok(v) = serde_json::to_value(&event) {
            record.history.push(v);
        }
        record.status = status.into();
        record.error = error;
        record.cause = cause;
        record.stop_date = Some(now);
        record.owner = None;
        if record.checkpoint.is_none() {
            record.checkpoint = Some(Checkpoint {
                input: record.input.clone(),
                ..Default::default()
            });
        }
    }

    /// Ends an execution whose owner died (seen while waiting for it).
    async fn end_orphan(
        &self,
        record: ExecutionRecord,
        _error: Option<String>,
        _cause: Option<String>,
    ) -> Result<ExecutionRecord, RunnerError> {
        let _lock = self.store.lock().await?;
        let mut now = self
            .store
            .get_execution(&record.state_machine_name, &record.name)?
            .ok_or_else(|| RunnerError::ExecutionDoesNotExist(record.execution_arn.clone()))?;
        if now.is_running() && now.owner == record.owner {
            self.end_record(&mut now, None, Vec::new());
            self.store.put_execution(&now)?;
        }
        Ok(now)
    }

    /// On opening: every RUNNING execution whose runner is gone (killed, crashed) is ended as
    /// FAILED (States.Runtime) and so becomes redrivable; nothing else is touched.
    async fn recover(&self) -> Result<(), RunnerError> {
        let _lock = self.store.lock().await?;
        for machine in self.store.machines()? {
            for mut record in self.store.list_executions(&machine)? {
                if !record.is_running() {
                    continue;
                }
                let alive = match record.owner.as_deref() {
                    Some(o) => o == self.lease.id() || self.store.owner_alive(o),
                    // Written before leases existed: nobody can be running it now.
                    None => false,
                };
                if !alive {
                    tracing::warn!(executionArn = %record.execution_arn, "execution cut off by a stopped sfn-local: marked FAILED, redrivable");
                    self.end_record(&mut record, None, Vec::new());
                    self.store.put_execution(&record)?;
                }
            }
        }
        Ok(())
    }

    /// The stored record of `execution_arn`, or AWS's ExecutionDoesNotExist.
    fn execution(&self, execution_arn: &str) -> Result<ExecutionRecord, RunnerError> {
        let (sm, name) = parse_execution_arn(execution_arn)?;
        let machine = self.machine(&sm)?;
        self.store
            .get_execution(&machine.name, &name)?
            .ok_or_else(|| {
                RunnerError::ExecutionDoesNotExist(format!(
                    "Execution Does Not Exist: '{execution_arn}'"
                ))
            })
    }

    /// StopExecution.
    async fn stop(
        &self,
        execution_arn: &str,
        error: Option<String>,
        cause: Option<String>,
    ) -> Result<ExecutionRecord, RunnerError> {
        let _lock = self.store.lock().await?;
        let mut record = self.execution(execution_arn)?;
        if !record.is_running() {
            return Ok(record);
        }
        // With the store locked the run cannot store its outcome: abort it, keep its events.
        let events = match self
            .running
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .remove(&record.execution_arn)
        {
            Some(r) => {
                if let Some(a) = &r.abort {
                    a.abort();
                }
                let events = std::mem::take(
                    &mut *r.recorder.events.lock().unwrap_or_else(|p| p.into_inner()),
                );
                events
            }
            None => Vec::new(),
        };
        self.end_record(&mut record, Some((error, cause)), events);
        self.store.put_execution(&record)?;
        Ok(record)
    }

    /// Marks a redrivable execution RUNNING again: (the record, its checkpoint, the last event id).
    async fn prepare_redrive(
        &self,
        execution_arn: &str,
    ) -> Result<(ExecutionRecord, Checkpoint, u64), RunnerError> {
        let _lock = self.store.lock().await?;
        let mut record = self.execution(execution_arn)?;
        if !record.redrivable() {
            return Err(RunnerError::ExecutionNotRedrivable(format!(
                "Execution {} is {} and cannot be redriven",
                record.execution_arn, record.status
            )));
        }
        let checkpoint = record.checkpoint.clone().unwrap_or_default();
        let offset = record
            .history
            .last()
            .and_then(|e| e.get("id"))
            .and_then(Value::as_u64)
            .unwrap_or(0);
        record.status = "RUNNING".into();
        record.redrive_count += 1;
        record.redrive_date = Some(self.clock.now());
        record.stop_date = None;
        record.error = None;
        record.cause = None;
        record.owner = Some(self.lease.id().to_string());
        self.store.put_execution(&record)?;
        if self.progress {
            eprintln!(
                "sfn-local: {}:{} redriven",
                record.state_machine_name, record.name
            );
        }
        Ok((record, checkpoint, offset))
    }

    async fn redrive(
        self: &Arc<Self>,
        execution_arn: &str,
    ) -> Result<ExecutionRecord, RunnerError> {
        let (record, checkpoint, offset) = self.prepare_redrive(execution_arn).await?;
        self.run_inline(record, Some((checkpoint, offset))).await
    }

    async fn lambda_invoke(&self, req: &TaskRequest) -> Result<Value, TaskFailure> {
        let p = &req.parameters;
        let name = p
            .get("FunctionName")
            .and_then(Value::as_str)
            .ok_or_else(|| TaskFailure {
                error: "States.Runtime".into(),
                cause: Some(format!(
                    "The state '{}': lambda:invoke needs a string FunctionName",
                    req.state_name
                )),
            })?;
        if let Some(t) = p
            .get("InvocationType")
            .and_then(Value::as_str)
            .filter(|t| *t != "RequestResponse")
        {
            return Err(TaskFailure {
                error: "States.Runtime".into(),
                cause: Some(format!(
                    "InvocationType {t} is not supported by sfn-local (RequestResponse only)"
                )),
            });
        }
        let function = self.template.function(name).ok_or_else(|| TaskFailure {
            error: "Lambda.ResourceNotFoundException".into(),
            cause: Some(format!("Function not found: {name}")),
        })?;
        let payload = p.get("Payload").cloned().unwrap_or_else(|| json!({}));
        let request_id = uuid::Uuid::new_v4().to_string();
        match self.functions.invoke(&function.binary, payload).await {
            Ok(out) => Ok(json!({
                "ExecutedVersion": "$LATEST",
                "Payload": out,
                "SdkHttpMetadata": {
                    "AllHttpHeaders": {
                        "X-Amz-Executed-Version": ["$LATEST"],
                        "x-amzn-Remapped-Content-Length": ["0"],
                        "Connection": ["keep-alive"],
                        "x-amzn-RequestId": [request_id],
                        "Content-Type": ["application/json"],
                    },
                    "HttpHeaders": {
                        "Connection": "keep-alive",
                        "Content-Type": "application/json",
                        "X-Amz-Executed-Version": "$LATEST",
                        "x-amzn-Remapped-Content-Length": "0",
                        "x-amzn-RequestId": request_id,
                    },
                    "HttpStatusCode": 200
                },
                "SdkResponseMetadata": {"RequestId": request_id},
                "StatusCode": 200
            })),
            Err(e) => Err(TaskFailure {
                error: e.error().to_string(),
                cause: Some(e.cause()),
            }),
        }
    }

    async fn start_child(self: &Arc<Self>, req: &TaskRequest) -> Result<Value, TaskFailure> {
        let p = &req.parameters;
        let api = |e: RunnerError| TaskFailure {
            error: e.integration_error(),
            cause: Some(e.to_string()),
        };
        let sm = p
            .get("StateMachineArn")
            .and_then(Value::as_str)
            .ok_or_else(|| TaskFailure {
                error: "States.Runtime".into(),
                cause: Some(format!(
                    "The state '{}': startExecution needs a string StateMachineArn",
                    req.state_name
                )),
            })?;
        let input = match p.get("Input") {
            None => json!({}),
            // A string Input is the JSON text of the input, as in the API.
            Some(Value::String(s)) => serde_json::from_str(s).map_err(|e| {
                api(RunnerError::InvalidExecutionInput(format!(
                    "Input is not JSON: {e}"
                )))
            })?,
            Some(v) => v.clone(),
        };
        let name = p.get("Name").and_then(Value::as_str);
        let parent = input
            .get("AWS_STEP_FUNCTIONS_STARTED_BY_EXECUTION_ID")
            .and_then(Value::as_str)
            .map(str::to_string)
            .or_else(|| {
                req.context
                    .pointer("/Execution/Id")
                    .and_then(Value::as_str)
                    .map(str::to_string)
            });
        let child = self.start(sm, input, name, parent).await.map_err(api)?;
        match req.resource.as_str() {
            START_EXECUTION => Ok(json!({
                "ExecutionArn": child.execution_arn,
                "StartDate": child.start_date.timestamp_millis(),
            })),
            resource => {
                let mut result = child.sync2_result();
                if resource == START_EXECUTION_SYNC {
                    // .sync (version 1) gives Input and Output as JSON text.
                    for key in ["Input", "Output"] {
                        if let Some(v) = result.get(key).cloned() {
                            result[key] = Value::String(v.to_string());
                        }
                    }
                }
                if child.status == "SUCCEEDED" {
                    Ok(result)
                } else {
                    Err(TaskFailure {
                        error: "States.TaskFailed".into(),
                        cause: Some(result.to_string()),
                    })
                }
            }
        }
    }
}

#[async_trait]
impl TaskDispatcher for Core {
    async fn invoke(&self, req: TaskRequest) -> Result<Value, TaskFailure> {
        match req.resource.as_str() {
            LAMBDA_INVOKE => self.lambda_invoke(&req).await,
            START_EXECUTION | START_EXECUTION_SYNC | START_EXECUTION_SYNC2 => {
                // The dispatcher is the Core behind an Arc (see Core::engine), so get that Arc back.
                match self.self_arc() {
                    Some(core) => core.start_child(&req).await,
                    None => Err(TaskFailure {
                        error: "States.Runtime".into(),
                        cause: Some("sfn-local: runner is shutting down".into()),
                    }),
                }
            }
            r if r.starts_with("arn:aws:lambda:") => {
                let function = self.template.function(r).ok_or_else(|| TaskFailure {
                    error: "Lambda.ResourceNotFoundException".into(),
                    cause: Some(format!("Function not found: {r}")),
                })?;
                self.functions
                    .invoke(&function.binary, req.parameters.clone())
                    .await
                    .map_err(|e| TaskFailure {
                        error: e.error().to_string(),
                        cause: Some(e.cause()),
                    })
            }
            r => Err(TaskFailure {
                error: "States.Runtime".into(),
                cause: Some(format!("Task resource {r} is not supported by sfn-local")),
            }),
        }
    }
}
