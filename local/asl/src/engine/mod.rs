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

use crate::causes;
use crate::choice;
use crate::clock::Clock;
use crate::definition::{Catcher, IoPath, PathField, ResultPath, State, StateMachine, StateType};
use crate::error::Failure;
use crate::history::{HistoryEvent, HistorySink};
use crate::path::{set_at, ContextRoot};
use crate::template::{jsonata_expr, to_json, Env, JsonataTemplate, Payload};
pub use crate::value::json_type_name;

mod body;
mod context;
mod dataflow;
mod inspect;
mod jsonata_flow;
mod jsonpath;
mod map;
mod parallel;
mod retry;
mod task;
mod wait;

pub use context::TaskContext;
use context::*;
use dataflow::*;
pub use inspect::StateConfiguration;
use inspect::*;
use parallel::*;
use retry::*;
pub use task::split_resource;

/// AWS's cap on concurrent iterations of an inline Map state.
pub const INLINE_MAP_MAX_CONCURRENCY: usize = 40;

/// AWS's payload quota: 256 KiB.
pub const MAX_PAYLOAD_BYTES: usize = 256 * 1024;

/// What a Task state asks its dispatcher to do.
#[derive(Debug, Clone, PartialEq)]
pub struct TaskRequest {
    /// The state's `Resource` ARN.
    pub resource: String,
    /// The effective input after Parameters/Arguments.
    pub parameters: Value,
    /// The Task state's name.
    pub state_name: String,
    /// The Context object (`$$`), built on demand.
    pub context: TaskContext,
    /// `TimeoutSeconds`, if set.
    pub timeout_seconds: Option<u64>,
    /// `HeartbeatSeconds`, if set.
    pub heartbeat_seconds: Option<u64>,
}

/// A task's failure, named as AWS names it (`Lambda.ServiceException`, a function's errorType, ...).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TaskFailure {
    /// The error name.
    pub error: String,
    /// The cause text.
    pub cause: Option<String>,
}

impl From<Failure> for TaskFailure {
    fn from(f: Failure) -> Self {
        TaskFailure {
            error: f.error.unwrap_or_default(),
            cause: f.cause,
        }
    }
}

/// Runs Task states' resources; the engine itself knows no AWS service.
#[async_trait]
pub trait TaskDispatcher: Send + Sync {
    /// Run one task; a failure is caught and retried like any state error. A dispatcher that
    /// enforces the task's `timeout_seconds` itself (in real time) fails it with
    /// [`causes::TIMEOUT`]: the engine then records the task as timed out.
    async fn invoke(&self, req: TaskRequest) -> Result<Value, TaskFailure>;
}

/// Identity of one execution, from which the Context object is built.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ExecutionContext {
    /// `$$.Execution.Id`.
    pub execution_arn: String,
    /// `$$.Execution.Name`.
    pub execution_name: String,
    /// `$$.Execution.StartTime`.
    pub start_time: DateTime<Utc>,
    /// `$$.StateMachine.Id`.
    pub state_machine_arn: String,
    /// `$$.StateMachine.Name`.
    pub state_machine_name: String,
    /// `$$.Execution.RoleArn`.
    pub role_arn: String,
    /// `$$.Execution.RedriveCount`.
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
    /// Ended at a Succeed state or an End.
    Succeeded,
    /// Ended with an uncaught error.
    Failed,
    /// The machine's `TimeoutSeconds` elapsed.
    TimedOut,
    /// Stopped from outside.
    Aborted,
}

/// Where a failed execution stopped, enough to redrive it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
pub struct Checkpoint {
    /// The execution input.
    pub input: Value,
    /// The top-level state that failed, with the input it was entered with.
    pub failed_state: Option<String>,
    /// The input the failed state was entered with.
    pub failed_state_input: Option<Value>,
    /// The variables when the failed state was entered.
    pub variables: Map<String, Value>,
    /// For a failed Map/Parallel: the outputs of the iterations/branches that succeeded.
    pub completed_children: Option<Vec<Option<Value>>>,
}

/// The outcome of a run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Execution {
    /// How the run ended.
    pub status: ExecutionStatus,
    /// The output, when it succeeded.
    pub output: Option<Value>,
    /// The error name, when it failed.
    pub error: Option<String>,
    /// The cause, when it failed.
    pub cause: Option<String>,
    /// Where to redrive from.
    pub checkpoint: Checkpoint,
}

/// What [`Engine::test_state`] runs the state with.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct TestStateInput {
    /// The state input.
    pub input: Value,
    /// Variables in scope.
    pub variables: Map<String, Value>,
    /// `{"result": "<json text>"}` or `{"errorOutput": {"error", "cause"}}`.
    pub mock: Option<Value>,
    /// Replaces top-level parts of the Context object.
    pub context: Option<Value>,
    /// Record the state's `inspectionData` (inspectionLevel DEBUG or TRACE).
    pub inspect: bool,
    /// TestState's `stateConfiguration`.
    pub config: StateConfiguration,
}

/// The result of [`Engine::test_state`]: status is SUCCEEDED, FAILED, RETRIABLE or CAUGHT_ERROR.
#[derive(Debug, Clone, PartialEq)]
pub struct TestStateOutcome {
    /// SUCCEEDED, FAILED, RETRIABLE or CAUGHT_ERROR.
    pub status: String,
    /// The state output, when it succeeded.
    pub output: Option<Value>,
    /// The error name, when it failed.
    pub error: Option<String>,
    /// The cause, when it failed.
    pub cause: Option<String>,
    /// The state it would go to next.
    pub next_state: Option<String>,
    /// The variables after the state.
    pub variables: Map<String, Value>,
    /// `inspectionData`, when asked for: members as AWS names them, values as JSON.
    pub inspection_data: Option<Map<String, Value>>,
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

impl Engine {
    /// An engine dispatching Task states to `dispatcher`, timing waits and retries on `clock`.
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

    /// The clock waits and retries run on.
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
        // The input lives in the Context object (`$$.Execution.Input`) for the run, and is
        // taken back for the checkpoint at the end: one copy, not three.
        let mut run = Run {
            context_base: context_base(&ctx, input, None),
            ctx,
            sink,
            next_id: AtomicU64::new(0),
            last_id: AtomicU64::new(0),
            partial: Mutex::new(None),
            reuse: Mutex::new(from.and_then(|c| c.completed_children.clone())),
            test_mode: false,
            mock: None,
            test_outcome: Mutex::new(None),
            test_caught: Mutex::new(None),
            timed_out: Default::default(),
            inspection: None,
            config: StateConfiguration::default(),
        };
        let clock = self.clock.as_ref();
        let input = &run.context_base["Execution"]["Input"];
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
                || json!({"input": to_json(input), "inputDetails": {"truncated": false}, "roleArn": run.ctx.role_arn}),
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
            input: take_input(&mut run.context_base),
            ..Default::default()
        };
        match result {
            Ok(out) if payload_too_big(&out) => {
                let f = causes::data_limit_exceeded("ExecutionSucceeded");
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
                    .ok_or_else(|| Failure::runtime(causes::missing_state(&cur)))?;
                // Only the top level reports where it failed (for redrive); the input stays owned
                // here, so only the variables need a copy, and only there.
                let saved_vars = (depth == 0).then(|| vars.clone());
                match self.run_state(run, state, &input, &mut vars, depth).await {
                    Ok(step) => {
                        if deadline.is_some_and(|d| self.clock.now() > d) {
                            return Err(causes::timeout(None));
                        }
                        match step.next {
                            Some(n) => {
                                cur = n;
                                if let Some(out) = step.output {
                                    input = out;
                                }
                            }
                            None => return Ok(step.output.unwrap_or(input)),
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
            inspect,
            config,
        } = req;
        let run = Run {
            context_base: context_base(&ctx, input.clone(), context.as_ref()),
            ctx,
            sink,
            next_id: AtomicU64::new(0),
            last_id: AtomicU64::new(0),
            partial: Mutex::new(None),
            reuse: Mutex::new(None),
            test_mode: true,
            mock,
            test_outcome: Mutex::new(None),
            test_caught: Mutex::new(None),
            timed_out: Default::default(),
            inspection: inspect.then(Inspection::default),
            config,
        };
        let res = self.run_state(&run, state, &input, &mut vars, 0).await;
        let outcome = run
            .test_outcome
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .take();
        let inspection_data = run.inspection.as_ref().map(|i| {
            if !vars.is_empty() {
                i.record("variables", Value::Object(vars.clone()));
            }
            i.take()
        });
        let caught = run
            .test_caught
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .take();
        match res {
            Ok(step) => TestStateOutcome {
                status: outcome.unwrap_or("SUCCEEDED").to_string(),
                output: Some(step.output.unwrap_or(input)),
                error: caught.as_ref().and_then(|f| f.error.clone()),
                cause: caught.and_then(|f| f.cause),
                next_state: step.next,
                variables: vars,
                inspection_data,
            },
            Err(f) => TestStateOutcome {
                status: outcome.unwrap_or("FAILED").to_string(),
                output: None,
                error: f.error,
                cause: f.cause,
                next_state: None,
                variables: vars,
                inspection_data,
            },
        }
    }
}
