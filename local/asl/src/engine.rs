//! The interpreter: runs a validated [`StateMachine`] state by state, applying the JSONPath or
//! JSONata data flow of each state, Retry/Catch, Map/Parallel, and recording history.

use std::borrow::Cow;
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, SecondsFormat, Utc};
use serde::{Deserialize, Serialize};
use serde_json::{json, Map, Value};

use crate::choice;
use crate::clock::Clock;
use crate::definition::{Catcher, State, StateMachine, StateType};
use crate::error::Failure;
use crate::history::{HistoryEvent, HistorySink};
use crate::path::{set_at, ContextRoot, Path, PathError};
use crate::template::{
    eval_expr, eval_jsonata_template, eval_template, jsonata_expr, to_json, Env,
};

/// AWS's cap on concurrent iterations of an inline Map state.
pub const INLINE_MAP_MAX_CONCURRENCY: usize = 40;

/// AWS's payload quota: 256 KiB.
pub const MAX_PAYLOAD_BYTES: usize = 256 * 1024;

/// What a Task state asks its dispatcher to do.
#[derive(Debug, Clone, PartialEq)]
pub struct TaskRequest {
    pub resource: String,
    /// The effective input after Parameters/Arguments.
    pub parameters: Value,
    pub state_name: String,
    /// The Context object (`$$`).
    pub context: Value,
    pub timeout_seconds: Option<u64>,
    pub heartbeat_seconds: Option<u64>,
}

/// A task's failure, named as AWS names it (`Lambda.ServiceException`, a function's errorType, ...).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TaskFailure {
    pub error: String,
    pub cause: Option<String>,
}

/// Runs Task states' resources; the engine itself knows no AWS service.
#[async_trait]
pub trait TaskDispatcher: Send + Sync {
    async fn invoke(&self, req: TaskRequest) -> Result<Value, TaskFailure>;
}

/// Identity of one execution, from which the Context object is built.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ExecutionContext {
    pub execution_arn: String,
    pub execution_name: String,
    pub start_time: DateTime<Utc>,
    pub state_machine_arn: String,
    pub state_machine_name: String,
    pub role_arn: String,
    pub redrive_count: u32,
}

impl ExecutionContext {
    /// Context for `name` of machine `sm_name` in account 111111111111 / us-east-1.
    pub fn new(name: &str, sm_name: &str, start_time: DateTime<Utc>) -> Self {
        let prefix = "arn:aws:states:us-east-1:111111111111";
        ExecutionContext {
            execution_arn: format!("{prefix}:execution:{sm_name}:{name}"),
            execution_name: name.to_string(),
            start_time,
            state_machine_arn: format!("{prefix}:stateMachine:{sm_name}"),
            state_machine_name: sm_name.to_string(),
            role_arn: "arn:aws:iam::111111111111:role/StepFunctionsRole".to_string(),
            redrive_count: 0,
        }
    }
}

/// Final status of an execution.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum ExecutionStatus {
    Succeeded,
    Failed,
    TimedOut,
    Aborted,
}

/// Where a failed execution stopped, enough to redrive it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
pub struct Checkpoint {
    pub input: Value,
    /// The top-level state that failed, with the input it was entered with.
    pub failed_state: Option<String>,
    pub failed_state_input: Option<Value>,
    pub variables: Map<String, Value>,
    /// For a failed Map/Parallel: the outputs of the iterations/branches that succeeded.
    pub completed_children: Option<Vec<Option<Value>>>,
}

/// The outcome of a run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Execution {
    pub status: ExecutionStatus,
    pub output: Option<Value>,
    pub error: Option<String>,
    pub cause: Option<String>,
    pub checkpoint: Checkpoint,
}

type BoxFut<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// Per-run shared state.
struct Run<'a> {
    ctx: ExecutionContext,
    /// The run-constant part of the Context object (Execution, StateMachine, TestState
    /// overrides), built once: states borrow it through [`ContextView`].
    context_base: Map<String, Value>,
    sink: &'a dyn HistorySink,
    next_id: AtomicU64,
    last_id: AtomicU64,
    /// Completed children of the failing top-level Map/Parallel (for redrive).
    partial: Mutex<Option<Vec<Option<Value>>>>,
    /// Children to reuse on redrive (consumed by the first Map/Parallel that runs).
    reuse: Mutex<Option<Vec<Option<Value>>>>,
    /// TestState mode: no retries are performed, the outcome is reported instead.
    test_mode: bool,
    /// TestState `mock` (`{"result": "<json>"}` or `{"errorOutput": {...}}`) for the tested state.
    mock: Option<Value>,
    test_outcome: Mutex<Option<&'static str>>,
    /// The machine-level TimeoutSeconds elapsed (TIMED_OUT rather than FAILED).
    timed_out: std::sync::atomic::AtomicBool,
}

impl Run<'_> {
    /// Record an event; ids advance even when the sink keeps nothing (causes cite them), but
    /// the details are only built for a sink that keeps them.
    fn event(&self, clock: &dyn Clock, ty: &str, details: impl FnOnce() -> Value) -> u64 {
        let id = self.next_id.fetch_add(1, Ordering::SeqCst) + 1;
        let prev = self.last_id.swap(id, Ordering::SeqCst);
        if self.sink.enabled() {
            self.sink.record(HistoryEvent {
                timestamp: clock.now(),
                r#type: ty.to_string(),
                id,
                previous_event_id: prev,
                details: details(),
            });
        }
        id
    }
}

/// The run-constant members of the Context object, with TestState's overrides applied.
fn context_base(
    ctx: &ExecutionContext,
    input: &Value,
    overrides: Option<&Value>,
) -> Map<String, Value> {
    let mut base = Map::new();
    base.insert(
        "Execution".into(),
        json!({
            "Id": ctx.execution_arn,
            "Input": input,
            "StartTime": ts(ctx.start_time),
            "Name": ctx.execution_name,
            "RoleArn": ctx.role_arn,
            "RedriveCount": ctx.redrive_count,
        }),
    );
    base.insert(
        "StateMachine".into(),
        json!({"Id": ctx.state_machine_arn, "Name": ctx.state_machine_name}),
    );
    if let Some(Value::Object(o)) = overrides {
        for (k, v) in o {
            base.insert(k.clone(), v.clone());
        }
    }
    base
}

/// The Context object (`$$`) of one state attempt: borrows the run's constant part and adds
/// `State` (and `Map` in an ItemSelector), so no state copies the execution input.
pub struct ContextView<'a> {
    base: &'a Map<String, Value>,
    state: &'a Value,
    map: Option<Value>,
}

impl ContextView<'_> {
    /// The whole object as AWS shows it (for TaskRequest.context and JSONata's `$states`).
    fn to_value(&self) -> Value {
        if self.base.len() == 2 {
            // No TestState overrides: a map clone copies its hash table instead of re-hashing
            // every key, then State (and Map) follow as AWS orders them.
            let mut m = self.base.clone();
            m.insert("State".into(), self.state.clone());
            if let Some(v) = &self.map {
                m.insert("Map".into(), v.clone());
            }
            return Value::Object(m);
        }
        let mut m = Map::with_capacity(self.base.len() + 2);
        for k in ["Execution", "StateMachine", "State"] {
            if let Some(v) = self.top(k) {
                m.insert(k.into(), v.clone());
            }
        }
        for (k, v) in self.base {
            if !m.contains_key(k) {
                m.insert(k.clone(), v.clone());
            }
        }
        if let (Some(v), false) = (&self.map, m.contains_key("Map")) {
            m.insert("Map".into(), v.clone());
        }
        Value::Object(m)
    }
}

impl ContextRoot for ContextView<'_> {
    fn top(&self, key: &str) -> Option<&Value> {
        // TestState overrides (in `base`) win over the per-state parts.
        self.base.get(key).or(match key {
            "State" => Some(self.state),
            "Map" => self.map.as_ref(),
            _ => None,
        })
    }
    fn materialize(&self) -> Cow<'_, Value> {
        Cow::Owned(self.to_value())
    }
}

/// What [`Engine::test_state`] runs the state with.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct TestStateInput {
    pub input: Value,
    pub variables: Map<String, Value>,
    /// `{"result": "<json text>"}` or `{"errorOutput": {"error", "cause"}}`.
    pub mock: Option<Value>,
    /// Replaces top-level parts of the Context object.
    pub context: Option<Value>,
}

/// The result of [`Engine::test_state`]: status is SUCCEEDED, FAILED, RETRIABLE or CAUGHT_ERROR.
#[derive(Debug, Clone, PartialEq)]
pub struct TestStateOutcome {
    pub status: String,
    pub output: Option<Value>,
    pub error: Option<String>,
    pub cause: Option<String>,
    pub next_state: Option<String>,
    pub variables: Map<String, Value>,
}

/// Where a state transitions next.
struct Step {
    output: Value,
    next: Option<String>,
}

/// The engine: a dispatcher for Task states and a clock.
#[derive(Clone)]
pub struct Engine {
    dispatcher: Arc<dyn TaskDispatcher>,
    clock: Arc<dyn Clock>,
    /// Random FULL jitter (opt-in); without it, FULL jitter waits half the interval.
    jitter: Option<Arc<Mutex<JitterRng>>>,
    /// Map iterations / Parallel branches overlap (opt-in); without it they run in order.
    concurrent: bool,
}

/// The random source of Retry's FULL jitter: splitmix64, seeded, so runs are reproducible.
#[derive(Debug)]
struct JitterRng(u64);

impl JitterRng {
    /// A uniform draw in [0, 1].
    fn unit(&mut self) -> f64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^= z >> 31;
        // 53 random bits over 2^53 - 1: both ends reachable.
        (z >> 11) as f64 / ((1u64 << 53) - 1) as f64
    }
}

pub fn json_type_name(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "boolean",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    }
}

fn ts(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Millis, true)
}

/// A Task's Resource as history shows it, `(resourceType, resource)`:
/// `arn:aws:states:::lambda:invoke` → (`lambda`, `invoke`),
/// `arn:aws:states:::states:startExecution.sync:2` → (`states`, `startExecution.sync:2`),
/// any other ARN → (its service, the whole ARN), e.g. a Lambda function ARN → (`lambda`, ARN).
pub fn split_resource(resource: &str) -> (&str, &str) {
    if let Some(rest) = resource
        .strip_prefix("arn:")
        .and_then(|r| r.split_once(':'))
        .and_then(|(_, r)| r.strip_prefix("states:::"))
    {
        if let Some((service, api)) = rest.split_once(':') {
            return (service, api);
        }
    }
    match resource.split(':').nth(2) {
        Some("states") if resource.contains(":activity:") => ("activity", resource),
        Some(service) if !service.is_empty() => (service, resource),
        _ => ("", resource),
    }
}

/// A JSON object of known size, allocated once (the `json!` macro grows its map per key, and
/// history details are built for every event).
fn obj<const N: usize>(pairs: [(&str, Value); N]) -> Value {
    let mut m = Map::with_capacity(N);
    for (k, v) in pairs {
        m.insert(k.to_string(), v);
    }
    Value::Object(m)
}

fn not_truncated() -> Value {
    obj([("truncated", Value::Bool(false))])
}

fn state_exited(state: &State, output: &Value) -> Value {
    obj([
        ("name", Value::String(state.name.clone())),
        ("output", Value::String(to_json(output))),
        ("outputDetails", not_truncated()),
    ])
}

/// The history types of entering and leaving a state of type `ty`.
fn state_event_types(ty: StateType) -> (&'static str, &'static str) {
    match ty {
        StateType::Pass => ("PassStateEntered", "PassStateExited"),
        StateType::Task => ("TaskStateEntered", "TaskStateExited"),
        StateType::Choice => ("ChoiceStateEntered", "ChoiceStateExited"),
        StateType::Wait => ("WaitStateEntered", "WaitStateExited"),
        StateType::Succeed => ("SucceedStateEntered", "SucceedStateExited"),
        StateType::Fail => ("FailStateEntered", "FailStateExited"),
        StateType::Parallel => ("ParallelStateEntered", "ParallelStateExited"),
        StateType::Map => ("MapStateEntered", "MapStateExited"),
    }
}

fn error_output(f: &Failure) -> Value {
    let mut m = Map::new();
    if let Some(e) = &f.error {
        m.insert("Error".into(), Value::String(e.clone()));
    }
    if let Some(c) = &f.cause {
        m.insert("Cause".into(), Value::String(c.clone()));
    }
    Value::Object(m)
}

fn matches_error(list: &[String], err: &str, ty: StateType) -> bool {
    // States.ALL never catches States.Runtime; it catches States.DataLimitExceeded only when a
    // Task's result was too big (AWS's recording of a Lambda's oversized result shows it caught).
    list.iter().any(|e| {
        e == err
            || (e == "States.ALL"
                && err != "States.Runtime"
                && (err != "States.DataLimitExceeded" || ty == StateType::Task))
            || (e == "States.TaskFailed"
                && ty == StateType::Task
                && err != "States.Timeout"
                && !err.starts_with("States.Runtime"))
    })
}

/// Counts serialised bytes and stops the serialisation once past the quota.
struct SizeCounter(usize);

impl std::io::Write for SizeCounter {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0 += buf.len();
        if self.0 > MAX_PAYLOAD_BYTES {
            return Err(std::io::Error::other("payload over quota"));
        }
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

fn payload_too_big(v: &Value) -> bool {
    let mut c = SizeCounter(0);
    serde_json::to_writer(&mut c, v).is_err() && c.0 > MAX_PAYLOAD_BYTES
}

/// Apply a JSONPath InputPath/OutputPath (`null` → `{}`); without one, the value itself.
fn apply_io_path<'v>(
    state: &State,
    field: &str,
    v: &'v Value,
    context: &dyn ContextRoot,
    vars: &Map<String, Value>,
) -> Result<Cow<'v, Value>, Failure> {
    match state.field(field) {
        None => Ok(Cow::Borrowed(v)),
        _ => select_io_path(state, field, v, context, vars).map(Cow::Owned),
    }
}

/// [`apply_io_path`] for an owned value (OutputPath on a state's result): no copy without one.
fn apply_io_path_owned(
    state: &State,
    field: &str,
    v: Value,
    context: &dyn ContextRoot,
    vars: &Map<String, Value>,
) -> Result<Value, Failure> {
    match state.field(field) {
        None => Ok(v),
        _ => select_io_path(state, field, &v, context, vars),
    }
}

fn select_io_path(
    state: &State,
    field: &str,
    v: &Value,
    context: &dyn ContextRoot,
    vars: &Map<String, Value>,
) -> Result<Value, Failure> {
    match state.field(field) {
        None => Ok(v.clone()),
        Some(Value::Null) => Ok(json!({})),
        Some(Value::String(p)) => {
            let path = Path::parse(p).map_err(|e| Failure::runtime(e.to_string()))?;
            path.evaluate(v, context, vars).map_err(|e| match e {
                PathError::NotFound { .. } | PathError::UnknownVariable(_) => {
                    Failure::runtime(format!(
                        "Invalid path '{p}' : No results for path: {}",
                        path.normalized()
                    ))
                }
                other => Failure::runtime(other.to_string()),
            })
        }
        Some(_) => Ok(v.clone()),
    }
}

/// Merge a result into the raw input per ResultPath (`null` discards the result).
fn apply_result_path(
    rp: Option<&Value>,
    raw_input: &Value,
    result: Value,
) -> Result<Value, Failure> {
    match rp {
        None => Ok(result),
        Some(Value::Null) => Ok(raw_input.clone()),
        Some(Value::String(p)) => {
            let path = Path::parse(p).map_err(|e| Failure::runtime(e.to_string()))?;
            let fields = path
                .reference_fields()
                .ok_or_else(|| Failure::runtime(format!("Invalid ResultPath '{p}'")))?;
            if fields.is_empty() {
                return Ok(result);
            }
            let mut out = raw_input.clone();
            if !out.is_object() {
                return Err(Failure::runtime(format!(
                    "Unable to apply ResultPath '{p}' to input '{}'",
                    to_json(raw_input)
                )));
            }
            set_at(&mut out, &fields, result).map_err(|_| {
                Failure::runtime(format!(
                    "Unable to apply ResultPath '{p}' to input '{}'",
                    to_json(raw_input)
                ))
            })?;
            Ok(out)
        }
        Some(_) => Ok(result),
    }
}

/// A MaxConcurrency value as a limit (0 = none; anything not a non-negative integer, e.g. an
/// unevaluated JSONata template, counts as none).
fn concurrency_limit(v: Option<&Value>) -> usize {
    v.and_then(Value::as_u64)
        .and_then(|n| usize::try_from(n).ok())
        .unwrap_or(0)
}

fn integer_value(v: &Value) -> Option<i64> {
    match v {
        Value::Number(n) => n
            .as_i64()
            .or_else(|| n.as_f64().filter(|f| f.fract() == 0.0).map(|f| f as i64)),
        Value::String(s) => s.trim().parse().ok(),
        _ => None,
    }
}

fn display_value(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        other => to_json(other),
    }
}

impl Engine {
    pub fn new(dispatcher: Arc<dyn TaskDispatcher>, clock: Arc<dyn Clock>) -> Self {
        Engine {
            dispatcher,
            clock,
            jitter: None,
            concurrent: false,
        }
    }

    /// AWS's FULL jitter: retries with `JitterStrategy: FULL` wait a random time in
    /// [0, interval], drawn from a generator with this seed (same seed, same delays). Without
    /// it they wait half the interval (deterministic, the engine's original behaviour).
    pub fn with_jitter_seed(mut self, seed: u64) -> Self {
        self.jitter = Some(Arc::new(Mutex::new(JitterRng(seed))));
        self
    }

    /// Run Map iterations concurrently up to MaxConcurrency (0 = AWS's inline cap of 40) and
    /// Parallel branches all at once, as AWS does. Off by default: iterations and branches then
    /// run one after another, which hides races between iterations that AWS would expose.
    pub fn with_concurrency(mut self, on: bool) -> Self {
        self.concurrent = on;
        self
    }

    pub fn clock(&self) -> &Arc<dyn Clock> {
        &self.clock
    }

    /// Run a whole execution.
    pub async fn run(
        &self,
        sm: &StateMachine,
        input: Value,
        ctx: ExecutionContext,
        sink: &dyn HistorySink,
    ) -> Execution {
        self.run_from(sm, input, ctx, sink, None).await
    }

    /// Re-run a failed execution from the state that failed, with that state's original input.
    pub async fn redrive(
        &self,
        sm: &StateMachine,
        checkpoint: &Checkpoint,
        ctx: ExecutionContext,
        sink: &dyn HistorySink,
    ) -> Execution {
        self.run_from(sm, checkpoint.input.clone(), ctx, sink, Some(checkpoint))
            .await
    }

    async fn run_from(
        &self,
        sm: &StateMachine,
        input: Value,
        ctx: ExecutionContext,
        sink: &dyn HistorySink,
        from: Option<&Checkpoint>,
    ) -> Execution {
        let run = Run {
            context_base: context_base(&ctx, &input, None),
            ctx,
            sink,
            next_id: AtomicU64::new(0),
            last_id: AtomicU64::new(0),
            partial: Mutex::new(None),
            reuse: Mutex::new(from.and_then(|c| c.completed_children.clone())),
            test_mode: false,
            mock: None,
            test_outcome: Mutex::new(None),
            timed_out: Default::default(),
        };
        let clock = self.clock.as_ref();
        if from.is_some() {
            run.event(
                clock,
                "ExecutionRedriven",
                || json!({"redriveCount": run.ctx.redrive_count}),
            );
        } else {
            run.event(
                clock,
                "ExecutionStarted",
                || json!({"input": to_json(&input), "inputDetails": {"truncated": false}, "roleArn": run.ctx.role_arn}),
            );
        }
        let (start, start_input, vars) = match from {
            Some(Checkpoint {
                failed_state: Some(s),
                failed_state_input: Some(i),
                variables,
                ..
            }) => (s.clone(), i.clone(), variables.clone()),
            Some(c) => (sm.start_at.clone(), c.input.clone(), c.variables.clone()),
            None => (sm.start_at.clone(), input.clone(), Map::new()),
        };
        let mut failed_at: Option<(String, Value, Map<String, Value>)> = None;
        let result = self
            .run_machine(&run, sm, &start, start_input, vars, 0, &mut failed_at)
            .await;
        let mut checkpoint = Checkpoint {
            input,
            ..Default::default()
        };
        match result {
            Ok(out) if payload_too_big(&out) => {
                let f = Failure::raw(
                    Some("States.DataLimitExceeded".into()),
                    Some("The state/task 'ExecutionSucceeded' returned a result with a size exceeding the maximum number of bytes service limit.".into()),
                );
                self.finish_failed(&run, f, checkpoint)
            }
            Ok(out) => {
                run.event(
                    clock,
                    "ExecutionSucceeded",
                    || json!({"output": to_json(&out), "outputDetails": {"truncated": false}}),
                );
                Execution {
                    status: ExecutionStatus::Succeeded,
                    output: Some(out),
                    error: None,
                    cause: None,
                    checkpoint,
                }
            }
            Err(f) => {
                if let Some((s, i, v)) = failed_at {
                    checkpoint.failed_state = Some(s);
                    checkpoint.failed_state_input = Some(i);
                    checkpoint.variables = v;
                    checkpoint.completed_children =
                        run.partial.lock().unwrap_or_else(|p| p.into_inner()).take();
                }
                if run.timed_out.load(Ordering::SeqCst) {
                    run.event(clock, "ExecutionTimedOut", || json!({}));
                    return Execution {
                        status: ExecutionStatus::TimedOut,
                        output: None,
                        error: f.error,
                        cause: None,
                        checkpoint,
                    };
                }
                self.finish_failed(&run, f, checkpoint)
            }
        }
    }

    fn finish_failed(&self, run: &Run, f: Failure, checkpoint: Checkpoint) -> Execution {
        let mut d = Map::new();
        if let Some(e) = &f.error {
            d.insert("error".into(), json!(e));
        }
        if let Some(c) = &f.cause {
            d.insert("cause".into(), json!(c));
        }
        run.event(self.clock.as_ref(), "ExecutionFailed", || Value::Object(d));
        Execution {
            status: ExecutionStatus::Failed,
            output: None,
            error: f.error,
            cause: f.cause,
            checkpoint,
        }
    }

    #[allow(clippy::too_many_arguments)]
    fn run_machine<'a>(
        &'a self,
        run: &'a Run<'a>,
        sm: &'a StateMachine,
        start: &'a str,
        input: Value,
        mut vars: Map<String, Value>,
        depth: usize,
        failed_at: &'a mut Option<(String, Value, Map<String, Value>)>,
    ) -> BoxFut<'a, Result<Value, Failure>> {
        Box::pin(async move {
            let deadline = sm
                .timeout_seconds
                .filter(|_| depth == 0)
                .map(|s| self.clock.now() + chrono::Duration::seconds(s as i64));
            let mut cur = start.to_string();
            let mut input = input;
            loop {
                let state = sm
                    .state(&cur)
                    .ok_or_else(|| Failure::runtime(format!("Missing state '{cur}'")))?;
                // Only the top level reports where it failed (for redrive); the input stays owned
                // here, so only the variables need a copy, and only there.
                let saved_vars = (depth == 0).then(|| vars.clone());
                match self.run_state(run, state, &input, &mut vars, depth).await {
                    Ok(step) => {
                        if deadline.is_some_and(|d| self.clock.now() > d) {
                            return Err(Failure {
                                error: Some("States.Timeout".into()),
                                cause: None,
                                needs_state_prefix: false,
                            });
                        }
                        match step.next {
                            Some(n) => {
                                cur = n;
                                input = step.output;
                            }
                            None => return Ok(step.output),
                        }
                    }
                    Err(f) => {
                        if let Some(saved_vars) = saved_vars {
                            *failed_at = Some((cur, input, saved_vars));
                        }
                        return Err(f);
                    }
                }
            }
        })
    }

    /// Run one state with its Retry/Catch.
    async fn run_state(
        &self,
        run: &Run<'_>,
        state: &State,
        raw_input: &Value,
        vars: &mut Map<String, Value>,
        depth: usize,
    ) -> Result<Step, Failure> {
        let clock = self.clock.as_ref();
        let (entered_type, exited_type) = state_event_types(state.ty);
        let entered_id = run.event(clock, entered_type, || {
            obj([
                ("name", Value::String(state.name.clone())),
                ("input", Value::String(to_json(raw_input))),
                ("inputDetails", not_truncated()),
            ])
        });
        let entered = clock.now();
        let mut state_ctx = obj([
            ("Name", Value::String(state.name.clone())),
            ("EnteredTime", Value::String(ts(entered))),
        ]);
        let prefix = |f: Failure| -> Failure {
            if f.needs_state_prefix {
                Failure {
                    error: f.error,
                    cause: f.cause.map(|c| {
                        format!("An error occurred while executing the state '{}' (entered at the event id #{entered_id}). {c}", state.name)
                    }),
                    needs_state_prefix: false,
                }
            } else {
                f
            }
        };
        let mut retry_counts = vec![0u64; state.retry.len()];
        let mut attempt = 0u64;
        loop {
            let retry_count = if state.ty == StateType::Task {
                Some(attempt)
            } else {
                None
            };
            if let Some(r) = retry_count {
                state_ctx["RetryCount"] = json!(r);
            }
            let context = ContextView {
                base: &run.context_base,
                state: &state_ctx,
                map: None,
            };
            let res = self
                .exec_state(run, state, raw_input, &context, vars, depth)
                .await
                .map_err(prefix);
            match res {
                Ok(step) => {
                    if payload_too_big(&step.output) {
                        let f = Failure::raw(
                            Some("States.DataLimitExceeded".into()),
                            Some(format!("The state/task '{}' returned a result with a size exceeding the maximum number of bytes service limit.", state.name)),
                        );
                        return Err(f);
                    }
                    run.event(clock, exited_type, || state_exited(state, &step.output));
                    return Ok(step);
                }
                Err(f) => {
                    let name = f.name().to_string();
                    // Retry: the first retrier whose ErrorEquals matches decides.
                    if let Some(i) = state
                        .retry
                        .iter()
                        .position(|r| matches_error(&r.error_equals, &name, state.ty))
                    {
                        let r = &state.retry[i];
                        if retry_counts[i] < r.max_attempts && run.test_mode && depth == 0 {
                            *run.test_outcome.lock().unwrap_or_else(|p| p.into_inner()) =
                                Some("RETRIABLE");
                            return Err(f);
                        }
                        if retry_counts[i] < r.max_attempts {
                            let mut delay =
                                r.interval_seconds * r.backoff_rate.powi(retry_counts[i] as i32);
                            if let Some(m) = r.max_delay_seconds {
                                delay = delay.min(m);
                            }
                            if r.jitter_full {
                                delay *= match &self.jitter {
                                    // AWS's full jitter: a random delay in [0, interval].
                                    Some(rng) => {
                                        rng.lock().unwrap_or_else(|p| p.into_inner()).unit()
                                    }
                                    // Deterministic stand-in: half the interval.
                                    None => 0.5,
                                };
                            }
                            retry_counts[i] += 1;
                            attempt += 1;
                            clock.sleep(Duration::from_secs_f64(delay.max(0.0))).await;
                            continue;
                        }
                    }
                    if let Some(c) = state
                        .catch
                        .iter()
                        .find(|c| matches_error(&c.error_equals, &name, state.ty))
                    {
                        let output = self
                            .apply_catcher(c, state, raw_input, &context, vars, &f)
                            .map_err(prefix)?;
                        if run.test_mode && depth == 0 {
                            *run.test_outcome.lock().unwrap_or_else(|p| p.into_inner()) =
                                Some("CAUGHT_ERROR");
                        }
                        run.event(clock, exited_type, || state_exited(state, &output));
                        return Ok(Step {
                            output,
                            next: Some(c.next.clone()),
                        });
                    }
                    return Err(f);
                }
            }
        }
    }

    fn apply_catcher(
        &self,
        c: &Catcher,
        state: &State,
        raw_input: &Value,
        context: &ContextView<'_>,
        vars: &mut Map<String, Value>,
        f: &Failure,
    ) -> Result<Value, Failure> {
        let err_out = error_output(f);
        if state.is_jsonata() {
            let mut b = vars.clone();
            b.insert(
                "states".into(),
                json!({"input": raw_input, "context": context.to_value(), "errorOutput": err_out}),
            );
            if let Some(a) = &c.assign {
                let assigned = eval_jsonata_template(a, &b, "Assign")?;
                merge_vars(vars, assigned);
            }
            return match &c.output {
                Some(o) => eval_jsonata_template(o, &b, "Output"),
                None => Ok(err_out),
            };
        }
        if let Some(a) = &c.assign {
            let env = Env {
                input: &err_out,
                context,
                vars,
            };
            let assigned = eval_template(a, &env)?;
            merge_vars(vars, assigned);
        }
        apply_result_path(c.result_path.as_ref(), raw_input, err_out)
    }

    /// Evaluate a state's body once (no Retry/Catch).
    async fn exec_state(
        &self,
        run: &Run<'_>,
        state: &State,
        raw_input: &Value,
        context: &ContextView<'_>,
        vars: &mut Map<String, Value>,
        depth: usize,
    ) -> Result<Step, Failure> {
        if state.is_jsonata() {
            return self
                .exec_jsonata(run, state, raw_input, context, vars, depth)
                .await;
        }
        let next = state.next.clone();
        let effective = apply_io_path(state, "InputPath", raw_input, context, vars)?;
        let env = Env {
            input: &effective,
            context,
            vars,
        };
        // Assign reads the result; then ResultPath merges it and OutputPath filters.
        let finish = |result: Value, vars: &mut Map<String, Value>| -> Result<Value, Failure> {
            if let Some(a) = state.field("Assign") {
                let env = Env {
                    input: &result,
                    context,
                    vars,
                };
                let assigned = eval_template(a, &env)?;
                merge_vars(vars, assigned);
            }
            let merged = apply_result_path(state.field("ResultPath"), raw_input, result)?;
            apply_io_path_owned(state, "OutputPath", merged, context, vars)
        };
        match state.ty {
            StateType::Pass => {
                let result = if let Some(r) = state.field("Result") {
                    r.clone()
                } else if let Some(p) = state.field("Parameters") {
                    eval_template(p, &env)?
                } else {
                    effective.clone().into_owned()
                };
                let out = finish(result, vars)?;
                Ok(Step { output: out, next })
            }
            StateType::Succeed => Ok(Step {
                output: apply_io_path(state, "OutputPath", &effective, context, vars)?.into_owned(),
                next: None,
            }),
            StateType::Fail => {
                let error = match (state.str_field("Error"), state.str_field("ErrorPath")) {
                    (Some(e), _) => Some(e.to_string()),
                    (None, Some(p)) => Some(fail_field(p, "ErrorPath", &env)?),
                    _ => None,
                };
                let cause = match (state.str_field("Cause"), state.str_field("CausePath")) {
                    (Some(c), _) => Some(c.to_string()),
                    (None, Some(p)) => Some(fail_field(p, "CausePath", &env)?),
                    _ => None,
                };
                Err(Failure::raw(error, cause))
            }
            StateType::Choice => {
                let choices = state
                    .field("Choices")
                    .and_then(Value::as_array)
                    .map(Vec::as_slice)
                    .unwrap_or_default();
                for rule in choices {
                    if choice::evaluate(rule, &env)? {
                        if let Some(a) = rule.get("Assign") {
                            let assigned = eval_template(a, &env)?;
                            merge_vars(vars, assigned);
                        }
                        let next = rule.get("Next").and_then(Value::as_str).map(str::to_string);
                        let out = apply_io_path(state, "OutputPath", &effective, context, vars)?
                            .into_owned();
                        return Ok(Step { output: out, next });
                    }
                }
                match state.str_field("Default") {
                    Some(d) => {
                        if let Some(a) = state.field("Assign") {
                            let assigned = eval_template(a, &env)?;
                            merge_vars(vars, assigned);
                        }
                        let out = apply_io_path(state, "OutputPath", &effective, context, vars)?
                            .into_owned();
                        Ok(Step {
                            output: out,
                            next: Some(d.to_string()),
                        })
                    }
                    None => Err(Failure::raw(
                        Some("States.NoChoiceMatched".into()),
                        Some("No Matches!".into()),
                    )),
                }
            }
            StateType::Wait => {
                let until = self.wait_target(state, &env)?;
                self.sleep_until(until).await;
                if let Some(a) = state.field("Assign") {
                    let assigned = eval_template(a, &env)?;
                    merge_vars(vars, assigned);
                }
                Ok(Step {
                    output: apply_io_path(state, "OutputPath", &effective, context, vars)?
                        .into_owned(),
                    next,
                })
            }
            StateType::Task => {
                let params = match state.field("Parameters") {
                    Some(p) => eval_template(p, &env)?,
                    None => effective.clone().into_owned(),
                };
                let timeout =
                    self.seconds_field(state, "TimeoutSeconds", "TimeoutSecondsPath", &env)?;
                let heartbeat =
                    self.seconds_field(state, "HeartbeatSeconds", "HeartbeatSecondsPath", &env)?;
                let result = self
                    .invoke_task(
                        run,
                        depth,
                        state,
                        params,
                        context.to_value(),
                        timeout,
                        heartbeat,
                    )
                    .await?;
                let result = self.select_result(state, result, context, vars)?;
                let out = finish(result, vars)?;
                Ok(Step { output: out, next })
            }
            StateType::Parallel => {
                let branch_input = match state.field("Parameters") {
                    Some(p) => eval_template(p, &env)?,
                    None => effective.clone().into_owned(),
                };
                let result = self
                    .run_parallel(run, state, branch_input, vars, depth)
                    .await?;
                let result = self.select_result(state, result, context, vars)?;
                let out = finish(result, vars)?;
                Ok(Step { output: out, next })
            }
            StateType::Map => {
                let items_v = match state.str_field("ItemsPath") {
                    Some(p) => {
                        let path = Path::parse(p).map_err(|e| Failure::runtime(e.to_string()))?;
                        path.evaluate(&effective, context, vars).map_err(|_| {
                            Failure::runtime(format!(
                                "Invalid path '{p}' : No results for path: {}",
                                path.normalized()
                            ))
                        })?
                    }
                    None => effective.clone().into_owned(),
                };
                let items = match items_v {
                    Value::Array(a) => a,
                    other => {
                        return Err(Failure::runtime(format!(
                            "Map state input must be an array but was: {}",
                            json_type_name(&other)
                        )))
                    }
                };
                let selector = state
                    .field("ItemSelector")
                    .or_else(|| state.field("Parameters"));
                let mut inputs = Vec::with_capacity(items.len());
                for (i, item) in items.into_iter().enumerate() {
                    inputs.push(match selector {
                        Some(sel) => {
                            // Only `Map` is per item; the rest of `$$` stays borrowed.
                            let ctx = ContextView {
                                base: context.base,
                                state: context.state,
                                map: Some(json!({"Item": {"Index": i, "Value": item}})),
                            };
                            eval_template(
                                sel,
                                &Env {
                                    input: &effective,
                                    context: &ctx,
                                    vars,
                                },
                            )?
                        }
                        None => item,
                    });
                }
                let limit = self.max_concurrency(state, &env)?;
                let tolerated = self.tolerance(state, &env)?;
                let result = self
                    .run_map(run, state, inputs, vars, depth, tolerated, limit)
                    .await?;
                let result = self.select_result(state, result, context, vars)?;
                let out = finish(result, vars)?;
                Ok(Step { output: out, next })
            }
        }
    }

    fn select_result(
        &self,
        state: &State,
        result: Value,
        context: &dyn ContextRoot,
        vars: &Map<String, Value>,
    ) -> Result<Value, Failure> {
        match state.field("ResultSelector") {
            Some(sel) => eval_template(
                sel,
                &Env {
                    input: &result,
                    context,
                    vars,
                },
            ),
            None => Ok(result),
        }
    }

    fn seconds_field(
        &self,
        state: &State,
        field: &str,
        path_field: &str,
        env: &Env,
    ) -> Result<Option<u64>, Failure> {
        if let Some(v) = state.field(field) {
            if let Some(s) = v.as_str().and_then(jsonata_expr) {
                let _ = s;
                return Ok(None);
            }
            return Ok(v.as_u64());
        }
        if let Some(p) = state.str_field(path_field) {
            // AWS words a missing timeout/heartbeat path like a missing InputPath, not like a
            // missing Parameters path (recorded: test_invalid_jsonpath[*SECONDSPATH]).
            let path = Path::parse(p).map_err(|e| Failure::runtime(e.to_string()))?;
            let v = path
                .evaluate(env.input, env.context, env.vars)
                .map_err(|e| match e {
                    PathError::NotFound { .. } | PathError::UnknownVariable(_) => {
                        Failure::runtime(format!(
                            "Invalid path '{p}' : No results for path: {}",
                            path.normalized()
                        ))
                    }
                    other => Failure::runtime(other.to_string()),
                })?;
            return Ok(v.as_u64());
        }
        Ok(None)
    }

    /// How many iterations may run at once; 0 = no limit.
    fn max_concurrency(&self, state: &State, env: &Env) -> Result<usize, Failure> {
        if let Some(p) = state.str_field("MaxConcurrencyPath") {
            let v = eval_expr(p, "MaxConcurrencyPath", env)?;
            return match integer_value(&v) {
                Some(n) => Ok(n.max(0) as usize),
                None => Err(Failure::runtime(format!(
                    "The MaxConcurrencyPath field refers to value \"{}\" which is not a valid integer: {p}",
                    display_value(&v)
                ))),
            };
        }
        Ok(concurrency_limit(state.field("MaxConcurrency")))
    }

    /// (tolerated failure count, tolerated percentage)
    fn tolerance(&self, state: &State, env: &Env) -> Result<(Option<i64>, Option<f64>), Failure> {
        let mut count = state.field("ToleratedFailureCount").and_then(Value::as_i64);
        if let Some(p) = state.str_field("ToleratedFailureCountPath") {
            let v = eval_expr(p, "ToleratedFailureCountPath", env)?;
            match integer_value(&v) {
                Some(n) => count = Some(n),
                None => {
                    return Err(Failure::runtime(format!(
                        "The ToleratedFailureCountPath field refers to value \"{}\" which is not a valid integer: {p}",
                        display_value(&v)
                    )))
                }
            }
        }
        if count.is_some_and(|c| c < 0) {
            return Err(Failure::runtime(
                "ToleratedFailureCount cannot be negative.",
            ));
        }
        let mut pct = state
            .field("ToleratedFailurePercentage")
            .and_then(Value::as_f64);
        if let Some(p) = state.str_field("ToleratedFailurePercentagePath") {
            let v = eval_expr(p, "ToleratedFailurePercentagePath", env)?;
            match v.as_f64().or_else(|| v.as_str().and_then(|s| s.trim().parse().ok())) {
                Some(n) => pct = Some(n),
                None => {
                    return Err(Failure::runtime(format!(
                        "The ToleratedFailurePercentagePath field refers to value \"{}\" which is not a valid float: {p}",
                        display_value(&v)
                    )))
                }
            }
        }
        if pct.is_some_and(|p| !(0.0..=100.0).contains(&p)) {
            return Err(Failure::runtime(
                "ToleratedFailurePercentage must be between 0 and 100.",
            ));
        }
        Ok((count, pct))
    }

    #[allow(clippy::too_many_arguments)]
    async fn invoke_task(
        &self,
        run: &Run<'_>,
        depth: usize,
        state: &State,
        params: Value,
        context: Value,
        timeout: Option<u64>,
        heartbeat: Option<u64>,
    ) -> Result<Value, Failure> {
        let clock = self.clock.as_ref();
        let resource = state.str_field("Resource").unwrap_or_default().to_string();
        // History names the integration as AWS does: `resourceType` + `resource`.
        let task_details = |extra: Vec<(&str, Value)>| -> Value {
            let (ty, res) = split_resource(&resource);
            let mut d = Map::with_capacity(2 + extra.len());
            d.insert("resourceType".into(), Value::String(ty.to_string()));
            d.insert("resource".into(), Value::String(res.to_string()));
            for (k, v) in extra {
                d.insert(k.to_string(), v);
            }
            Value::Object(d)
        };
        run.event(clock, "TaskScheduled", || {
            let mut extra = vec![
                ("region", json!("us-east-1")),
                ("parameters", Value::String(to_json(&params))),
            ];
            if let Some(t) = timeout {
                extra.push(("timeoutInSeconds", json!(t)));
            }
            if let Some(h) = heartbeat {
                extra.push(("heartbeatInSeconds", json!(h)));
            }
            task_details(extra)
        });
        run.event(clock, "TaskStarted", || task_details(Vec::new()));
        if let Some(m) = self.mock_result(run, depth) {
            return m;
        }
        let req = TaskRequest {
            resource: resource.clone(),
            parameters: params,
            state_name: state.name.clone(),
            context,
            timeout_seconds: timeout,
            heartbeat_seconds: heartbeat,
        };
        let before = self.clock.now();
        let outcome = self.dispatcher.invoke(req).await;
        // A task that ran longer than TimeoutSeconds (real or virtual time) timed out.
        if timeout.is_some_and(|t| self.clock.now() - before >= chrono::Duration::seconds(t as i64))
        {
            run.event(clock, "TaskTimedOut", || {
                task_details(vec![("error", json!("States.Timeout"))])
            });
            return Err(Failure::raw(
                Some("States.Timeout".into()),
                Some(String::new()),
            ));
        }
        match outcome {
            Ok(v) => {
                if payload_too_big(&v) {
                    return Err(Failure::raw(
                        Some("States.DataLimitExceeded".into()),
                        Some(format!("The state/task '{}' returned a result with a size exceeding the maximum number of bytes service limit.", state.name)),
                    ));
                }
                run.event(clock, "TaskSucceeded", || {
                    task_details(vec![
                        ("output", Value::String(to_json(&v))),
                        ("outputDetails", json!({"truncated": false})),
                    ])
                });
                Ok(v)
            }
            Err(tf) => {
                run.event(clock, "TaskFailed", || {
                    let mut extra = vec![("error", json!(tf.error))];
                    if let Some(c) = &tf.cause {
                        extra.push(("cause", json!(c)));
                    }
                    task_details(extra)
                });
                Err(Failure::raw(Some(tf.error), tf.cause))
            }
        }
    }

    /// The TestState mock for the tested state (depth 0) as a task outcome.
    fn mock_result(&self, run: &Run<'_>, depth: usize) -> Option<Result<Value, Failure>> {
        let m = run.mock.as_ref().filter(|_| depth == 0)?;
        if let Some(r) = m.get("result") {
            let text = r
                .as_str()
                .map(str::to_string)
                .unwrap_or_else(|| r.to_string());
            return Some(
                serde_json::from_str(&text)
                    .map_err(|e| Failure::raw(Some("States.Runtime".into()), Some(e.to_string()))),
            );
        }
        let e = m.get("errorOutput")?;
        Some(Err(Failure::raw(
            e.get("error").and_then(Value::as_str).map(str::to_string),
            e.get("cause").and_then(Value::as_str).map(str::to_string),
        )))
    }

    /// AWS's TestState: run one state once (no retries), with optional mock, variables and
    /// context. Returns (status, output, error, cause, next state).
    pub async fn test_state(
        &self,
        state: &State,
        req: TestStateInput,
        ctx: ExecutionContext,
        sink: &dyn HistorySink,
    ) -> TestStateOutcome {
        let TestStateInput {
            input,
            variables: mut vars,
            mock,
            context,
        } = req;
        let run = Run {
            context_base: context_base(&ctx, &input, context.as_ref()),
            ctx,
            sink,
            next_id: AtomicU64::new(0),
            last_id: AtomicU64::new(0),
            partial: Mutex::new(None),
            reuse: Mutex::new(None),
            test_mode: true,
            mock,
            test_outcome: Mutex::new(None),
            timed_out: Default::default(),
        };
        let res = self.run_state(&run, state, &input, &mut vars, 0).await;
        let outcome = run
            .test_outcome
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .take();
        match res {
            Ok(step) => TestStateOutcome {
                status: outcome.unwrap_or("SUCCEEDED").to_string(),
                output: Some(step.output),
                error: None,
                cause: None,
                next_state: step.next,
                variables: vars,
            },
            Err(f) => TestStateOutcome {
                status: outcome.unwrap_or("FAILED").to_string(),
                output: None,
                error: f.error,
                cause: f.cause,
                next_state: None,
                variables: vars,
            },
        }
    }

    fn take_reuse(&self, run: &Run<'_>, depth: usize, n: usize) -> Vec<Option<Value>> {
        let reused = if depth == 0 {
            run.reuse.lock().unwrap_or_else(|p| p.into_inner()).take()
        } else {
            None
        };
        match reused {
            Some(v) if v.len() == n => v,
            _ => vec![None; n],
        }
    }

    async fn run_parallel(
        &self,
        run: &Run<'_>,
        state: &State,
        input: Value,
        vars: &Map<String, Value>,
        depth: usize,
    ) -> Result<Value, Failure> {
        let clock = self.clock.as_ref();
        run.event(clock, "ParallelStateStarted", || Value::Null);
        if let Some(m) = self.mock_result(run, depth) {
            return m;
        }
        let mut results = self.take_reuse(run, depth, state.children.len());
        let input = &input;
        let branches: Vec<BoxFut<'_, (usize, Result<Value, Failure>)>> = state
            .children
            .iter()
            .enumerate()
            .filter(|(i, _)| results[*i].is_none())
            .map(
                |(i, branch)| -> BoxFut<'_, (usize, Result<Value, Failure>)> {
                    Box::pin(async move {
                        let mut fa = None;
                        let r = self
                            .run_machine(
                                run,
                                branch,
                                &branch.start_at,
                                input.clone(),
                                vars.clone(),
                                depth + 1,
                                &mut fa,
                            )
                            .await;
                        (i, r)
                    })
                },
            )
            .collect();
        // Branches run concurrently (all at once, as on AWS); results stay in branch order.
        let mut failure = None;
        let limit = if self.concurrent { 0 } else { 1 };
        run_bounded(branches, limit, |(i, r)| match r {
            Ok(v) => {
                results[i] = Some(v);
                true
            }
            Err(f) => {
                failure = Some(f);
                false
            }
        })
        .await;
        if let Some(f) = failure {
            run.event(clock, "ParallelStateFailed", || Value::Null);
            if depth == 0 {
                *run.partial.lock().unwrap_or_else(|p| p.into_inner()) = Some(results);
            }
            return Err(f);
        }
        run.event(clock, "ParallelStateSucceeded", || Value::Null);
        Ok(Value::Array(
            results
                .into_iter()
                .map(|r| r.unwrap_or(Value::Null))
                .collect(),
        ))
    }

    /// Run the iterations, at most `limit` at once (0 = no limit), results in item order.
    #[allow(clippy::too_many_arguments)]
    async fn run_map(
        &self,
        run: &Run<'_>,
        state: &State,
        inputs: Vec<Value>,
        vars: &Map<String, Value>,
        depth: usize,
        tolerated: (Option<i64>, Option<f64>),
        limit: usize,
    ) -> Result<Value, Failure> {
        let clock = self.clock.as_ref();
        let n = inputs.len();
        run.event(clock, "MapStateStarted", || json!({"length": n}));
        if let Some(m) = self.mock_result(run, depth) {
            return m;
        }
        let processor = &state.children[0];
        let mut results = self.take_reuse(run, depth, n);
        let tolerant = tolerated.0.is_some() || tolerated.1.is_some();
        let name = &state.name;
        let iterations: Vec<BoxFut<'_, (usize, Result<Value, Failure>)>> = inputs
            .into_iter()
            .enumerate()
            .filter(|(i, _)| results[*i].is_none())
            .map(|(i, item)| -> BoxFut<'_, (usize, Result<Value, Failure>)> {
                Box::pin(async move {
                    run.event(clock, "MapIterationStarted", || {
                        obj([("name", Value::String(name.clone())), ("index", json!(i))])
                    });
                    let mut fa = None;
                    let r = self
                        .run_machine(
                            run,
                            processor,
                            &processor.start_at,
                            item,
                            vars.clone(),
                            depth + 1,
                            &mut fa,
                        )
                        .await;
                    let ty = if r.is_ok() {
                        "MapIterationSucceeded"
                    } else {
                        "MapIterationFailed"
                    };
                    run.event(clock, ty, || {
                        obj([("name", Value::String(name.clone())), ("index", json!(i))])
                    });
                    (i, r)
                })
            })
            .collect();
        // AWS runs at most 40 iterations of an inline Map at once, whatever MaxConcurrency says.
        let limit = match limit {
            _ if !self.concurrent => 1,
            0 => INLINE_MAP_MAX_CONCURRENCY,
            n => n.min(INLINE_MAP_MAX_CONCURRENCY),
        };
        let mut failures = 0usize;
        let mut failure = None;
        run_bounded(iterations, limit, |(i, r)| match r {
            Ok(v) => {
                results[i] = Some(v);
                true
            }
            Err(f) => {
                failures += 1;
                if tolerant {
                    results[i] = Some(error_output(&f));
                    true
                } else {
                    failure = Some(f);
                    false
                }
            }
        })
        .await;
        if let Some(f) = failure {
            run.event(clock, "MapStateFailed", || Value::Null);
            if depth == 0 {
                *run.partial.lock().unwrap_or_else(|p| p.into_inner()) = Some(results);
            }
            return Err(f);
        }
        if tolerant && failures > 0 {
            let over_count = tolerated.0.map(|c| failures as i64 > c);
            let over_pct = tolerated
                .1
                .map(|p| (failures as f64) * 100.0 / (n as f64) > p);
            let exceeded = match (over_count, over_pct) {
                (Some(a), Some(b)) => a && b,
                (Some(a), None) => a,
                (None, Some(b)) => b,
                (None, None) => true,
            };
            if exceeded {
                run.event(clock, "MapStateFailed", || Value::Null);
                return Err(Failure::raw(
                    Some("States.ExceedToleratedFailureThreshold".into()),
                    Some("The specified tolerated failure threshold was exceeded".into()),
                ));
            }
        }
        run.event(clock, "MapStateSucceeded", || Value::Null);
        Ok(Value::Array(
            results
                .into_iter()
                .map(|r| r.unwrap_or(Value::Null))
                .collect(),
        ))
    }

    fn wait_target(&self, state: &State, env: &Env) -> Result<DateTime<Utc>, Failure> {
        let now = self.clock.now();
        if let Some(s) = state.field("Seconds").and_then(Value::as_i64) {
            return Ok(now + chrono::Duration::seconds(s.max(0)));
        }
        if let Some(t) = state.str_field("Timestamp") {
            return choice::parse_timestamp(t)
                .map(|t| t.with_timezone(&Utc))
                .ok_or_else(|| Failure::runtime(format!("The Timestamp parameter does not reference a valid ISO-8601 extended offset date-time format string: {t}")));
        }
        if let Some(p) = state.str_field("SecondsPath") {
            let v = eval_expr(p, "SecondsPath", env)?;
            let shown = display_value(&v);
            return match &v {
                Value::Number(n) if n.as_i64().is_some() => {
                    let s = n.as_i64().unwrap_or(0);
                    if s < 0 {
                        Err(Failure::runtime(format!(
                            "The SecondsPath parameter references a negative value: {p} == {shown}"
                        )))
                    } else {
                        Ok(now + chrono::Duration::seconds(s))
                    }
                }
                _ => Err(Failure::runtime(format!(
                    "The SecondsPath parameter cannot be parsed as a long value: {p} == {shown}"
                ))),
            };
        }
        if let Some(p) = state.str_field("TimestampPath") {
            let v = eval_expr(p, "TimestampPath", env)?;
            let shown = display_value(&v);
            return v
                .as_str()
                .and_then(choice::parse_timestamp)
                .map(|t| t.with_timezone(&Utc))
                .ok_or_else(|| {
                    Failure::runtime(format!(
                        "The TimestampPath parameter does not reference a valid ISO-8601 extended offset date-time format string: {p} == {shown}"
                    ))
                });
        }
        Ok(now)
    }

    async fn sleep_until(&self, until: DateTime<Utc>) {
        let now = self.clock.now();
        if until > now {
            if let Ok(d) = (until - now).to_std() {
                self.clock.sleep(d).await;
            }
        }
    }

    /// JSONata states: Arguments → task → Output/Assign with `$states`.
    async fn exec_jsonata(
        &self,
        run: &Run<'_>,
        state: &State,
        raw_input: &Value,
        context: &ContextView<'_>,
        vars: &mut Map<String, Value>,
        depth: usize,
    ) -> Result<Step, Failure> {
        let context = &context.to_value();
        let mut b = vars.clone();
        b.insert(
            "states".into(),
            json!({"input": raw_input, "context": context}),
        );
        let next = state.next.clone();
        let eval = |field: &str, b: &Map<String, Value>| -> Result<Option<Value>, Failure> {
            state
                .field(field)
                .map(|t| eval_jsonata_template(t, b, field))
                .transpose()
        };
        let finish = |result: Option<Value>,
                      vars: &mut Map<String, Value>,
                      b: &mut Map<String, Value>|
         -> Result<Value, Failure> {
            if let Some(r) = &result {
                b.insert(
                    "states".into(),
                    json!({"input": raw_input, "context": context, "result": r}),
                );
            }
            let assigned = eval("Assign", b)?;
            let out = match eval("Output", b)? {
                Some(o) => o,
                None => result.unwrap_or_else(|| raw_input.clone()),
            };
            if let Some(a) = assigned {
                merge_vars(vars, a);
            }
            Ok(out)
        };
        match state.ty {
            StateType::Pass | StateType::Succeed => {
                let out = finish(None, vars, &mut b)?;
                Ok(Step {
                    output: out,
                    next: if state.ty == StateType::Succeed {
                        None
                    } else {
                        next
                    },
                })
            }
            StateType::Fail => {
                let error = eval("Error", &b)?.map(|v| display_value(&v));
                let cause = eval("Cause", &b)?.map(|v| display_value(&v));
                Err(Failure::raw(error, cause))
            }
            StateType::Choice => {
                let choices = state
                    .field("Choices")
                    .and_then(Value::as_array)
                    .cloned()
                    .unwrap_or_default();
                for rule in &choices {
                    let cond = rule.get("Condition").cloned().unwrap_or(Value::Bool(false));
                    let v = eval_jsonata_template(&cond, &b, "Condition")?;
                    let expr = cond.as_str().and_then(jsonata_expr).unwrap_or("");
                    if choice::condition_result(expr, &v)? {
                        let assigned = rule
                            .get("Assign")
                            .map(|a| eval_jsonata_template(a, &b, "Assign"))
                            .transpose()?;
                        let out = match rule.get("Output") {
                            Some(o) => eval_jsonata_template(o, &b, "Output")?,
                            None => raw_input.clone(),
                        };
                        if let Some(a) = assigned {
                            merge_vars(vars, a);
                        }
                        return Ok(Step {
                            output: out,
                            next: rule.get("Next").and_then(Value::as_str).map(str::to_string),
                        });
                    }
                }
                match state.str_field("Default") {
                    Some(d) => {
                        let out = finish(None, vars, &mut b)?;
                        Ok(Step {
                            output: out,
                            next: Some(d.to_string()),
                        })
                    }
                    None => Err(Failure::raw(
                        Some("States.NoChoiceMatched".into()),
                        Some("No Matches!".into()),
                    )),
                }
            }
            StateType::Wait => {
                let now = self.clock.now();
                let until = if let Some(s) = eval("Seconds", &b)? {
                    match integer_value(&s).filter(|_| s.is_number()) {
                        Some(n) if n >= 0 => now + chrono::Duration::seconds(n),
                        _ => {
                            return Err(Failure::new(
                                "States.QueryEvaluationError",
                                format!(
                                "The Seconds field cannot be parsed as a non-negative integer: {}",
                                display_value(&s)
                            ),
                            ))
                        }
                    }
                } else if let Some(t) = eval("Timestamp", &b)? {
                    let s = display_value(&t);
                    choice::parse_timestamp(&s).map(|t| t.with_timezone(&Utc)).ok_or_else(|| {
                        Failure::new(
                            "States.QueryEvaluationError",
                            format!("The Timestamp field cannot be parsed as an ISO-8601 extended offset date-time format string: {s}"),
                        )
                    })?
                } else {
                    now
                };
                self.sleep_until(until).await;
                let out = finish(None, vars, &mut b)?;
                Ok(Step { output: out, next })
            }
            StateType::Task => {
                let args = eval("Arguments", &b)?.unwrap_or_else(|| raw_input.clone());
                let timeout = eval("TimeoutSeconds", &b)?.and_then(|v| v.as_u64());
                let heartbeat = eval("HeartbeatSeconds", &b)?.and_then(|v| v.as_u64());
                let result = self
                    .invoke_task(run, depth, state, args, context.clone(), timeout, heartbeat)
                    .await?;
                let out = finish(Some(result), vars, &mut b)?;
                Ok(Step { output: out, next })
            }
            StateType::Parallel => {
                let args = eval("Arguments", &b)?.unwrap_or_else(|| raw_input.clone());
                let result = self.run_parallel(run, state, args, vars, depth).await?;
                let out = finish(Some(result), vars, &mut b)?;
                Ok(Step { output: out, next })
            }
            StateType::Map => {
                let items_v = match state.field("Items") {
                    Some(t) => eval_jsonata_template(t, &b, "Items")?,
                    None => raw_input.clone(),
                };
                let items = match items_v {
                    Value::Array(a) => a,
                    other => {
                        let expr = state
                            .str_field("Items")
                            .and_then(jsonata_expr)
                            .unwrap_or("");
                        return Err(Failure::new(
                            "States.QueryEvaluationError",
                            format!(
                                "The JSONata expression '{expr}' specified for the field 'Items' returned an unexpected result type. Expected 'array', but was '{}' for value: {}",
                                json_type_name(&other),
                                to_json(&other)
                            ),
                        ));
                    }
                };
                let mut inputs = Vec::with_capacity(items.len());
                for (i, item) in items.iter().enumerate() {
                    inputs.push(match state.field("ItemSelector") {
                        Some(sel) => {
                            let mut ctx = context.clone();
                            ctx["Map"] = json!({"Item": {"Index": i, "Value": item}});
                            let mut bi = vars.clone();
                            bi.insert("states".into(), json!({"input": raw_input, "context": ctx}));
                            eval_jsonata_template(sel, &bi, "ItemSelector")?
                        }
                        None => item.clone(),
                    });
                }
                let count = eval("ToleratedFailureCount", &b)?.and_then(|v| v.as_i64());
                let pct = eval("ToleratedFailurePercentage", &b)?.and_then(|v| v.as_f64());
                if count.is_some_and(|c| c < 0) {
                    return Err(Failure::runtime(
                        "ToleratedFailureCount cannot be negative.",
                    ));
                }
                let limit = concurrency_limit(eval("MaxConcurrency", &b)?.as_ref());
                let result = self
                    .run_map(run, state, inputs, vars, depth, (count, pct), limit)
                    .await?;
                let out = finish(Some(result), vars, &mut b)?;
                Ok(Step { output: out, next })
            }
        }
    }
}

/// Drive `futs` with at most `limit` in flight (0 = all), starting them in order, and hand each
/// output to `done` as it completes; `done` returning false stops (the rest are dropped, i.e.
/// cancelled). Polling is in a fixed order, so with a virtual clock and a deterministic
/// dispatcher the interleaving (and the history) is reproducible.
async fn run_bounded<'a, T>(
    futs: Vec<BoxFut<'a, T>>,
    limit: usize,
    mut done: impl FnMut(T) -> bool + Send,
) {
    let limit = if limit == 0 { futs.len() } else { limit };
    let mut waiting = futs.into_iter();
    let mut active: Vec<BoxFut<'a, T>> = Vec::new();
    std::future::poll_fn(move |cx| loop {
        while active.len() < limit {
            match waiting.next() {
                Some(f) => active.push(f),
                None => break,
            }
        }
        if active.is_empty() {
            return std::task::Poll::Ready(());
        }
        let mut progressed = false;
        let mut i = 0;
        while i < active.len() {
            match active[i].as_mut().poll(cx) {
                std::task::Poll::Ready(out) => {
                    // `remove`, not `swap_remove`: keeps the start order for the next polls.
                    drop(active.remove(i));
                    progressed = true;
                    if !done(out) {
                        return std::task::Poll::Ready(());
                    }
                }
                std::task::Poll::Pending => i += 1,
            }
        }
        if !progressed {
            return std::task::Poll::Pending;
        }
    })
    .await
}

fn merge_vars(vars: &mut Map<String, Value>, assigned: Value) {
    if let Value::Object(o) = assigned {
        for (k, v) in o {
            vars.insert(k, v);
        }
    }
}

/// Fail state ErrorPath/CausePath: a path or an intrinsic whose value must be a string.
fn fail_field(expr: &str, field: &str, env: &Env) -> Result<String, Failure> {
    let v = if expr.starts_with('$') {
        let p = Path::parse(expr).map_err(|e| Failure::runtime(e.to_string()))?;
        p.evaluate(env.input, env.context, env.vars).map_err(|_| {
            Failure::runtime(format!(
                "The JSONPath '{expr}' specified for the field '{field}' could not be found in the input '{}'",
                to_json(env.input)
            ))
        })?
    } else {
        eval_expr(expr, field, env)?
    };
    Ok(display_value(&v))
}
