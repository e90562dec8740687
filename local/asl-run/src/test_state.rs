//! The conformance CLI's TestState request: a whole machine or a lone state's definition is
//! wrapped, validated and handed to [`Engine::test_state`] with AWS's default Context object.

use asl::engine::TestStateInput;
use asl::{Engine, ExecutionContext, NoHistory, State, StateMachine, StateType};
use chrono::SecondsFormat;
use serde_json::{json, Map, Value};

/// A TestState call.
#[derive(Debug, Clone)]
pub struct TestStateRequest {
    /// A whole machine (with `state_name`) or one state's definition.
    pub definition: Value,
    pub state_name: Option<String>,
    pub input: Value,
    pub variables: Map<String, Value>,
    pub mock: Option<Value>,
    pub context: Option<Value>,
}

/// Run a TestState request; the result is `{status, output|error/cause, nextState}`.
pub async fn test_state(engine: &Engine, req: TestStateRequest, ctx: ExecutionContext) -> Value {
    // A lone state is wrapped into a one-state machine so it is validated like any definition.
    let (machine, name) = match (&req.state_name, req.definition.get("States")) {
        (Some(n), Some(_)) => (req.definition.clone(), n.clone()),
        (None, Some(_)) => {
            let start = req
                .definition
                .get("StartAt")
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_string();
            (req.definition.clone(), start)
        }
        _ => {
            let mut st = req.definition.clone();
            // Transitions of a lone state point outside it: validate as an End state, keep Next.
            let next = st.as_object_mut().and_then(|o| o.remove("Next"));
            if next.is_some() {
                st["End"] = json!(true);
            }
            let mut m = json!({"StartAt": "TestState", "States": {"TestState": st}});
            if let Some(Value::Array(cs)) = req.definition.get("Catch") {
                let mut states = Map::new();
                for c in cs {
                    if let Some(n) = c.get("Next").and_then(Value::as_str) {
                        states.insert(n.to_string(), json!({"Type": "Succeed"}));
                    }
                }
                strip_catch_targets(&mut m, states);
            }
            if let Some(Value::Array(cs)) = req.definition.get("Choices") {
                let mut states = Map::new();
                for c in cs {
                    if let Some(n) = c.get("Next").and_then(Value::as_str) {
                        states.insert(n.to_string(), json!({"Type": "Succeed"}));
                    }
                }
                if let Some(d) = req.definition.get("Default").and_then(Value::as_str) {
                    states.insert(d.to_string(), json!({"Type": "Succeed"}));
                }
                strip_catch_targets(&mut m, states);
            }
            (
                m,
                format!(
                    "TestState\u{0}{}",
                    next.and_then(|n| n.as_str().map(str::to_string))
                        .unwrap_or_default()
                ),
            )
        }
    };
    let (name, lone_next) = match name.split_once('\u{0}') {
        Some((n, next)) => (
            n.to_string(),
            if next.is_empty() {
                None
            } else {
                Some(next.to_string())
            },
        ),
        None => (name, None),
    };
    let sm = match StateMachine::from_value(machine) {
        Ok(sm) => sm,
        Err(e) => {
            return json!({"status": "INVALID_DEFINITION", "error": "States.Runtime", "cause": e.to_string()})
        }
    };
    let Some(state) = find_state(&sm, &name) else {
        return json!({"status": "INVALID_DEFINITION", "error": "States.Runtime", "cause": format!("State '{name}' not found")});
    };
    let context = req
        .context
        .unwrap_or_else(|| default_context(&ctx, &state, &req.input));
    let out = engine
        .test_state(
            &state,
            TestStateInput {
                input: req.input,
                variables: req.variables,
                mock: req.mock,
                context: Some(context),
            },
            ctx,
            &NoHistory,
        )
        .await;
    let mut r = Map::new();
    r.insert("status".into(), json!(out.status));
    if let Some(o) = out.output {
        r.insert("output".into(), o);
    }
    if let Some(e) = out.error {
        r.insert("error".into(), json!(e));
    }
    if let Some(c) = out.cause {
        r.insert("cause".into(), json!(c));
    }
    let lone_next = lone_next.filter(|_| out.status == "SUCCEEDED");
    if let Some(n) = out.next_state.or(lone_next) {
        r.insert("nextState".into(), json!(n));
    }
    Value::Object(r)
}

/// The Context object AWS's TestState gives a state when the request brings none: the run is an
/// express-like execution (express ARN, no RedriveCount), the state is called "StateName", and
/// only states that can retry (Task, Map, Parallel) carry a RetryCount.
fn default_context(ctx: &ExecutionContext, state: &State, input: &Value) -> Value {
    let now = ctx.start_time.to_rfc3339_opts(SecondsFormat::Millis, true);
    let mut st = json!({"Name": "StateName", "EnteredTime": now});
    if matches!(
        state.ty,
        StateType::Task | StateType::Map | StateType::Parallel
    ) {
        st["RetryCount"] = json!(0);
    }
    json!({
        "Execution": {
            "Id": format!(
                "arn:aws:states:us-east-1:111111111111:express:{}:{}",
                ctx.state_machine_name, ctx.execution_name
            ),
            "Input": input,
            "Name": ctx.execution_name,
            "RoleArn": ctx.role_arn,
            "StartTime": now,
        },
        "StateMachine": {"Id": ctx.state_machine_arn, "Name": ctx.state_machine_name},
        "State": st,
    })
}

/// Add placeholder target states so a lone state's Catch/Choice transitions validate.
fn strip_catch_targets(m: &mut Value, states: Map<String, Value>) {
    if let Some(o) = m.get_mut("States").and_then(Value::as_object_mut) {
        for (k, v) in states {
            o.entry(k).or_insert(v);
        }
    }
}

/// Find a state by name anywhere in the machine (including Map/Parallel children).
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
mod tests {
    use super::*;
    use chrono::{TimeZone, Utc};

    fn state_of(def: Value) -> State {
        let sm = StateMachine::from_value(json!({"StartAt": "S", "States": {"S": def}}))
            .expect("valid machine");
        find_state(&sm, "S").expect("state S")
    }

    #[test]
    fn default_context_is_aws_teststate_shape() {
        let start = Utc.with_ymd_and_hms(2024, 1, 1, 0, 0, 0).unwrap();
        let ctx = ExecutionContext::new("run", "machine", start);
        let pass = state_of(json!({"Type": "Pass", "End": true}));
        let c = default_context(&ctx, &pass, &json!({"a": 1}));
        assert_eq!(
            c["Execution"]["Id"],
            json!("arn:aws:states:us-east-1:111111111111:express:machine:run")
        );
        assert!(c["Execution"].get("RedriveCount").is_none());
        assert_eq!(c["Execution"]["Input"], json!({"a": 1}));
        assert_eq!(c["State"]["Name"], json!("StateName"));
        assert!(c["State"].get("RetryCount").is_none());
        let task = state_of(
            json!({"Type": "Task", "Resource": "arn:aws:states:::lambda:invoke",
            "End": true}),
        );
        assert_eq!(
            default_context(&ctx, &task, &json!({}))["State"]["RetryCount"],
            json!(0)
        );
    }
}
