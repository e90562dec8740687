//! AWS's TestState over the engine: the request checked as AWS checks it, a lone state or a whole
//! machine's named state validated and run once ([`Engine::test_state`]), AWS's response shape.
//!
//! `asl-run --test-state` and `sfn-local serve`'s TestState both come here. The request checks'
//! wording is AWS's as LocalStack's AWS-validated tests record it; checks AWS documents without
//! recording the words say so where they are made.

use chrono::SecondsFormat;
use serde_json::{json, Map, Value};

use crate::engine::{StateConfiguration, TestStateInput};
use crate::{Engine, ExecutionContext, NoHistory, State, StateMachine, StateType};

mod mock;

pub use mock::FieldValidationMode;

/// TestState's `inspectionLevel`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum InspectionLevel {
    /// The outcome only (the default).
    #[default]
    Info,
    /// Also the data flow (`inspectionData`).
    Debug,
    /// Also an HTTP Task's request and response (none offline: as DEBUG).
    Trace,
}

impl InspectionLevel {
    /// `INFO`, `DEBUG` or `TRACE`.
    pub fn parse(s: &str) -> Option<InspectionLevel> {
        match s {
            "INFO" => Some(InspectionLevel::Info),
            "DEBUG" => Some(InspectionLevel::Debug),
            "TRACE" => Some(InspectionLevel::Trace),
            _ => None,
        }
    }
}

/// TestState's `mock`.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Mock {
    /// `result`: the state's result, JSON text.
    pub result: Option<String>,
    /// `errorOutput`: (`error`, `cause`).
    pub error_output: Option<(Option<String>, Option<String>)>,
    /// `fieldValidationMode` (default STRICT).
    pub field_validation_mode: FieldValidationMode,
}

impl Mock {
    /// The request's `mock` member: `{"result"}` or `{"errorOutput": {"error", "cause"}}`, with
    /// an optional `fieldValidationMode`.
    pub fn from_json(v: &Value) -> Result<Mock, TestStateError> {
        let bad = |m: &str| TestStateError::Validation(format!("mock: {m}"));
        let text = |v: Option<&Value>, what: &str| match v {
            None | Some(Value::Null) => Ok(None),
            Some(Value::String(s)) => Ok(Some(s.clone())),
            Some(_) => Err(bad(&format!("{what} must be a string"))),
        };
        let error_output = match v.get("errorOutput") {
            None | Some(Value::Null) => None,
            Some(e) => Some((
                text(e.get("error"), "error")?,
                text(e.get("cause"), "cause")?,
            )),
        };
        let mode = match text(v.get("fieldValidationMode"), "fieldValidationMode")? {
            None => FieldValidationMode::default(),
            Some(m) => FieldValidationMode::parse(&m)
                .ok_or_else(|| bad("fieldValidationMode must be STRICT, PRESENT or NONE"))?,
        };
        Ok(Mock {
            result: text(v.get("result"), "result")?,
            error_output,
            field_validation_mode: mode,
        })
    }
}

/// The request's `stateConfiguration` member, as JSON.
pub fn state_configuration_from_json(v: &Value) -> Result<StateConfiguration, TestStateError> {
    let bad = |m: &str| TestStateError::Validation(format!("stateConfiguration: {m}"));
    let count = |k: &str| match v.get(k) {
        None | Some(Value::Null) => Ok(None),
        Some(n) => n
            .as_u64()
            .map(Some)
            .ok_or_else(|| bad(&format!("{k} must be a non-negative integer"))),
    };
    let reader = match v.get("mapItemReaderData") {
        None | Some(Value::Null) => None,
        Some(Value::String(s)) => {
            Some(serde_json::from_str(s).map_err(|_| bad("mapItemReaderData must be JSON text"))?)
        }
        Some(_) => return Err(bad("mapItemReaderData must be a string")),
    };
    Ok(StateConfiguration {
        retrier_retry_count: count("retrierRetryCount")?,
        error_caused_by_state: v
            .get("errorCausedByState")
            .and_then(Value::as_str)
            .map(str::to_string),
        map_iteration_failure_count: count("mapIterationFailureCount")?,
        map_item_reader_data: reader,
    })
}

/// A TestState call.
#[derive(Debug, Clone, Default)]
pub struct TestStateRequest {
    /// A whole machine (with `state_name`, else its StartAt) or one state's definition.
    pub definition: Value,
    /// The state of a whole machine to test.
    pub state_name: Option<String>,
    /// The state's input.
    pub input: Value,
    /// Variables in scope.
    pub variables: Map<String, Value>,
    /// A mocked result or error.
    pub mock: Option<Mock>,
    /// Replaces top-level parts of the Context object.
    pub context: Option<Value>,
    /// How much to show.
    pub inspection_level: InspectionLevel,
    /// `stateConfiguration`.
    pub config: StateConfiguration,
    /// The role the state would run with (`$$.Execution.RoleArn`; null without).
    pub role_arn: Option<String>,
    /// `revealSecrets`.
    pub reveal_secrets: bool,
}

/// TestState's answer.
#[derive(Debug, Clone, PartialEq)]
pub struct TestStateResponse {
    /// SUCCEEDED, FAILED, RETRIABLE or CAUGHT_ERROR.
    pub status: String,
    /// The state's output (SUCCEEDED, CAUGHT_ERROR).
    pub output: Option<Value>,
    /// The error name.
    pub error: Option<String>,
    /// The cause.
    pub cause: Option<String>,
    /// The state it would go to.
    pub next_state: Option<String>,
    /// DEBUG/TRACE: the data flow, members as AWS names them, values as JSON.
    pub inspection_data: Option<Map<String, Value>>,
}

/// Why TestState refused the request.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum TestStateError {
    /// AWS's `InvalidDefinition`.
    #[error("{0}")]
    InvalidDefinition(String),
    /// AWS's `ValidationException`.
    #[error("{0}")]
    Validation(String),
}

/// AWS's refusal of Map and Parallel states without a mock (LocalStack: "a literal message").
const MAP_PARALLEL_NEED_A_MOCK: &str = "TestState API does not support Map or Parallel states. Supported state types include: [Task, Wait, Pass, Succeed, Fail, Choice]";

impl TestStateResponse {
    /// The answer as one JSON object with AWS's member names, values as JSON (`asl-run`'s output;
    /// the API sends `output` and the `inspectionData` members as JSON text instead).
    pub fn to_json(&self) -> Value {
        let mut r = Map::new();
        r.insert("status".into(), json!(self.status));
        if let Some(o) = &self.output {
            r.insert("output".into(), o.clone());
        }
        if let Some(e) = &self.error {
            r.insert("error".into(), json!(e));
        }
        if let Some(c) = &self.cause {
            r.insert("cause".into(), json!(c));
        }
        if let Some(n) = &self.next_state {
            r.insert("nextState".into(), json!(n));
        }
        if let Some(d) = &self.inspection_data {
            r.insert("inspectionData".into(), Value::Object(d.clone()));
        }
        Value::Object(r)
    }
}

/// Runs a TestState request.
pub async fn test_state(
    engine: &Engine,
    req: TestStateRequest,
    ctx: ExecutionContext,
) -> Result<TestStateResponse, TestStateError> {
    let (state, lone_next) = tested_state(&req)?;
    check(&req, &state)?;
    let context = req.context.clone().unwrap_or_else(|| {
        default_context(
            &ctx,
            &state,
            &req.input,
            req.role_arn.as_deref(),
            &req.config,
        )
    });
    let mock = req
        .mock
        .as_ref()
        .map(|m| match (&m.result, &m.error_output) {
            (Some(r), _) => json!({"result": r}),
            (None, Some((error, cause))) => {
                json!({"errorOutput": {"error": error, "cause": cause}})
            }
            (None, None) => json!({}),
        });
    let out = engine
        .test_state(
            &state,
            TestStateInput {
                input: req.input,
                variables: req.variables,
                mock,
                context: Some(context),
                inspect: req.inspection_level != InspectionLevel::Info,
                config: req.config,
            },
            ctx,
            &NoHistory,
        )
        .await;
    let lone_next = lone_next.filter(|_| out.status == "SUCCEEDED");
    Ok(TestStateResponse {
        next_state: out.next_state.or(lone_next),
        status: out.status,
        output: out.output,
        error: out.error,
        cause: out.cause,
        inspection_data: out.inspection_data,
    })
}

/// The state to test, validated with its machine, and (a lone state) the Next it names.
fn tested_state(req: &TestStateRequest) -> Result<(State, Option<String>), TestStateError> {
    let (machine, name, lone_next) = match (&req.state_name, req.definition.get("States")) {
        (Some(n), Some(_)) => (req.definition.clone(), n.clone(), None),
        (None, Some(_)) => {
            let start = req.definition.get("StartAt").and_then(Value::as_str);
            (
                req.definition.clone(),
                start.unwrap_or_default().to_string(),
                None,
            )
        }
        _ => {
            // A lone state is wrapped into a one-state machine so it is validated like any
            // definition; its transitions point outside it, so it is validated as an End state
            // (its Next kept for the answer) and the states its Catch and Choices name stand in.
            let mut st = req.definition.clone();
            let next = st.as_object_mut().and_then(|o| o.remove("Next"));
            if next.is_some() {
                st["End"] = json!(true);
            }
            let mut states = Map::new();
            states.insert("TestState".into(), st);
            let targets = ["Catch", "Choices"]
                .iter()
                .filter_map(|k| req.definition.get(*k).and_then(Value::as_array))
                .flatten()
                .filter_map(|c| c.get("Next").and_then(Value::as_str))
                .chain(req.definition.get("Default").and_then(Value::as_str));
            for t in targets {
                states
                    .entry(t.to_string())
                    .or_insert_with(|| json!({"Type": "Succeed"}));
            }
            let next = next.and_then(|n| n.as_str().map(str::to_string));
            (
                json!({"StartAt": "TestState", "States": states}),
                "TestState".into(),
                next,
            )
        }
    };
    let sm = StateMachine::from_value(machine)
        .map_err(|e| TestStateError::InvalidDefinition(e.to_string()))?;
    let state = find_state(&sm, &name)
        .ok_or_else(|| TestStateError::InvalidDefinition(format!("State '{name}' not found")))?;
    Ok((state, lone_next))
}

/// The request's checks, in AWS's order: what a mock may accompany, then the mock itself.
fn check(req: &TestStateRequest, state: &State) -> Result<(), TestStateError> {
    let validation = |m: String| Err(TestStateError::Validation(m));
    let resource = state.literals.resource.as_deref().unwrap_or_default();
    if let Some(n) = &req.config.error_caused_by_state {
        // sfn-local's wording: the state a mocked error comes from is inside the tested one.
        if !state.children.iter().any(|c| find_state(c, n).is_some()) {
            return validation(format!(
                "errorCausedByState '{n}' is not a state inside the state '{}'",
                state.name
            ));
        }
    }
    let Some(mock) = &req.mock else {
        if matches!(state.ty, StateType::Map | StateType::Parallel) {
            return Err(TestStateError::InvalidDefinition(
                MAP_PARALLEL_NEED_A_MOCK.into(),
            ));
        }
        if req.context.is_some() {
            // AWS's reference: "This field may only be specified if a mock is specified".
            return validation("context may only be specified when a mock is specified".into());
        }
        if state.ty == StateType::Task && mock::needs_a_mock(resource) {
            // AWS's reference: "TestState only supports the following when a mock is
            // specified: Activity tasks, .sync or .waitForTaskToken service integration patterns".
            return validation(format!(
                "TestState supports the resource '{resource}' only when a mock is specified"
            ));
        }
        if state.ty == StateType::Task && req.role_arn.is_none() {
            return validation("RoleArn must be specified when testing a Task state".into());
        }
        return Ok(());
    };
    if !matches!(
        state.ty,
        StateType::Task | StateType::Map | StateType::Parallel
    ) {
        return validation(format!(
            "State type '{}' is not supported when a mock is specified",
            state_type_name(state.ty)
        ));
    }
    if req.reveal_secrets {
        return validation(
            "TestState does not support RevealSecrets when a mock is specified.".into(),
        );
    }
    if mock.result.is_some() && mock.error_output.is_some() {
        return validation(
            "A test mock should have only one of the following fields: [result, errorOutput]."
                .into(),
        );
    }
    let Some(text) = &mock.result else {
        return Ok(());
    };
    let result: Value = serde_json::from_str(text)
        .map_err(|_| TestStateError::Validation("Mocked result must be valid JSON".into()))?;
    if state.ty == StateType::Map {
        let writer = state.field("ResultWriter").is_some();
        if writer && !result.is_object() {
            return validation("Mocked result must be a JSON object.".into());
        }
        if !writer && !result.is_array() {
            return validation("Mocked result must be an array.".into());
        }
    }
    if state.ty == StateType::Task {
        mock::check_result(resource, &result, mock.field_validation_mode)
            .map_err(TestStateError::Validation)?;
    }
    Ok(())
}

fn state_type_name(ty: StateType) -> &'static str {
    match ty {
        StateType::Pass => "Pass",
        StateType::Task => "Task",
        StateType::Choice => "Choice",
        StateType::Wait => "Wait",
        StateType::Succeed => "Succeed",
        StateType::Fail => "Fail",
        StateType::Parallel => "Parallel",
        StateType::Map => "Map",
    }
}

/// The Context object AWS's TestState gives a state when the request brings none: the run is an
/// express-like execution (express ARN, no RedriveCount), the state is called "StateName", and
/// only states that can retry (Task, Map, Parallel) carry a RetryCount (`retrierRetryCount`).
fn default_context(
    ctx: &ExecutionContext,
    state: &State,
    input: &Value,
    role_arn: Option<&str>,
    config: &StateConfiguration,
) -> Value {
    let now = ctx.start_time.to_rfc3339_opts(SecondsFormat::Millis, true);
    let mut st = json!({"Name": "StateName", "EnteredTime": now});
    if matches!(
        state.ty,
        StateType::Task | StateType::Map | StateType::Parallel
    ) {
        st["RetryCount"] = json!(config.retrier_retry_count.unwrap_or(0));
    }
    let (arn_prefix, _) = ctx
        .state_machine_arn
        .split_once(":stateMachine:")
        .unwrap_or(("arn:aws:states:us-east-1:111111111111", ""));
    json!({
        "Execution": {
            "Id": format!("{arn_prefix}:express:{}:{}", ctx.state_machine_name, ctx.execution_name),
            "Input": input,
            "Name": ctx.execution_name,
            "RoleArn": role_arn,
            "StartTime": now,
        },
        "StateMachine": {"Id": ctx.state_machine_arn, "Name": ctx.state_machine_name},
        "State": st,
    })
}

/// Finds a state by name anywhere in the machine (including Map/Parallel children).
fn find_state(sm: &StateMachine, name: &str) -> Option<State> {
    if let Some(s) = sm.state(name) {
        return Some(s.clone());
    }
    sm.states
        .values()
        .flat_map(|s| s.children.iter())
        .find_map(|c| find_state(c, name))
}

#[cfg(test)]
mod tests;
