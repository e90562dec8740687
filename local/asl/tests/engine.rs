//! Engine behaviour per state type and field, including error paths, on a virtual clock.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use asl::{
    Clock, Engine, Execution, ExecutionContext, ExecutionStatus, StateMachine, TaskDispatcher,
    TaskFailure, TaskRequest, VecHistory, VirtualClock,
};
use async_trait::async_trait;
use chrono::{TimeZone, Utc};
use serde_json::{json, Value};

/// Scripted tasks: per resource, a queue of failures to return before succeeding with an echo.
#[derive(Default)]
struct Script {
    failures: Mutex<HashMap<String, Vec<TaskFailure>>>,
    calls: Mutex<Vec<(String, Value)>>,
}

impl Script {
    fn fail(&self, resource: &str, error: &str, times: usize) {
        let f = TaskFailure {
            error: error.into(),
            cause: Some(format!("{error} cause")),
        };
        self.failures
            .lock()
            .unwrap()
            .insert(resource.into(), vec![f; times]);
    }
    fn calls(&self, resource: &str) -> Vec<Value> {
        self.calls
            .lock()
            .unwrap()
            .iter()
            .filter(|(r, _)| r == resource)
            .map(|(_, p)| p.clone())
            .collect()
    }
}

#[async_trait]
impl TaskDispatcher for Script {
    async fn invoke(&self, req: TaskRequest) -> Result<Value, TaskFailure> {
        self.calls
            .lock()
            .unwrap()
            .push((req.resource.clone(), req.parameters.clone()));
        if let Some(q) = self.failures.lock().unwrap().get_mut(&req.resource) {
            if let Some(f) = q.pop() {
                return Err(f);
            }
        }
        if req.resource == "big" {
            return Ok(json!("x".repeat(300 * 1024)));
        }
        if req.resource == "fail-on-2" && req.parameters == json!(2) {
            return Err(TaskFailure {
                error: "Two".into(),
                cause: None,
            });
        }
        Ok(json!({"echo": req.parameters}))
    }
}

struct Harness {
    script: Arc<Script>,
    clock: Arc<VirtualClock>,
    engine: Engine,
}

fn start() -> chrono::DateTime<Utc> {
    Utc.with_ymd_and_hms(2024, 1, 1, 0, 0, 0).single().unwrap()
}

fn harness() -> Harness {
    let script = Arc::new(Script::default());
    let clock = Arc::new(VirtualClock::new(start()));
    let engine = Engine::new(script.clone(), clock.clone());
    Harness {
        script,
        clock,
        engine,
    }
}

impl Harness {
    async fn run(&self, def: Value, input: Value) -> Execution {
        let sm = StateMachine::from_value(def).expect("valid definition");
        self.engine
            .run(
                &sm,
                input,
                ExecutionContext::new("exec", "sm", start()),
                &VecHistory::new(),
            )
            .await
    }
}

#[tokio::test]
async fn pass_applies_input_path_parameters_result_path_output_path() {
    let h = harness();
    let def = json!({"StartAt": "P", "States": {"P": {"Type": "Pass", "InputPath": "$.in",
        "Parameters": {"v.$": "$.a", "c": 1, "name.$": "$$.Execution.Name"}, "ResultPath": "$.out", "OutputPath": "$.out", "End": true}}});
    let ex = h.run(def, json!({"in": {"a": 7}})).await;
    assert_eq!(ex.status, ExecutionStatus::Succeeded);
    assert_eq!(ex.output, Some(json!({"v": 7, "c": 1, "name": "exec"})));
}

#[tokio::test]
async fn result_path_null_keeps_input_and_missing_input_path_fails() {
    let h = harness();
    let ex = h.run(json!({"StartAt": "P", "States": {"P": {"Type": "Pass", "Result": 1, "ResultPath": null, "End": true}}}), json!({"k": 1})).await;
    assert_eq!(ex.output, Some(json!({"k": 1})));
    let ex = h.run(json!({"StartAt": "P", "States": {"P": {"Type": "Pass", "InputPath": "$.nope", "End": true}}}), json!({})).await;
    assert_eq!(ex.status, ExecutionStatus::Failed);
    assert_eq!(ex.error.as_deref(), Some("States.Runtime"));
    assert!(ex
        .cause
        .unwrap()
        .ends_with("Invalid path '$.nope' : No results for path: $['nope']"));
}

#[tokio::test]
async fn choice_routes_and_default_and_no_match() {
    let h = harness();
    let def = |default: bool| {
        let mut c = json!({"Type": "Choice", "Choices": [
            {"And": [{"Variable": "$.n", "NumericGreaterThan": 1}, {"Variable": "$.s", "StringMatches": "a*"}], "Next": "Big"}]});
        if default {
            c["Default"] = json!("Small");
        }
        json!({"StartAt": "C", "States": {"C": c, "Big": {"Type": "Pass", "Result": "big", "End": true},
            "Small": {"Type": "Pass", "Result": "small", "End": true}}})
    };
    assert_eq!(
        h.run(def(true), json!({"n": 2, "s": "abc"})).await.output,
        Some(json!("big"))
    );
    assert_eq!(
        h.run(def(true), json!({"n": 2, "s": "xbc"})).await.output,
        Some(json!("small"))
    );
    // Without Default, Small is unreachable: AWS refuses such a definition.
    assert!(StateMachine::from_value(def(false)).is_err());
}

#[tokio::test]
async fn wait_uses_the_virtual_clock_and_rejects_bad_values() {
    let h = harness();
    let ex = h.run(json!({"StartAt": "W", "States": {"W": {"Type": "Wait", "SecondsPath": "$.s", "End": true}}}), json!({"s": 3600})).await;
    assert_eq!(ex.status, ExecutionStatus::Succeeded);
    assert_eq!(h.clock.now() - start(), chrono::Duration::seconds(3600));
    let ex = h.run(json!({"StartAt": "W", "States": {"W": {"Type": "Wait", "SecondsPath": "$.s", "End": true}}}), json!({"s": -1})).await;
    assert!(ex
        .cause
        .unwrap()
        .ends_with("The SecondsPath parameter references a negative value: $.s == -1"));
    let ex = h.run(json!({"StartAt": "W", "States": {"W": {"Type": "Wait", "TimestampPath": "$.t", "End": true}}}), json!({"t": "2016-12-05 21:29:29Z"})).await;
    assert_eq!(ex.error.as_deref(), Some("States.Runtime"));
}

#[tokio::test]
async fn fail_state_error_and_cause_paths() {
    let h = harness();
    let ex = h.run(json!({"StartAt": "F", "States": {"F": {"Type": "Fail", "ErrorPath": "$.e", "CausePath": "$.c"}}}), json!({"e": "E", "c": "C"})).await;
    assert_eq!(
        (ex.error.as_deref(), ex.cause.as_deref()),
        (Some("E"), Some("C"))
    );
    let ex = h
        .run(
            json!({"StartAt": "F", "States": {"F": {"Type": "Fail"}}}),
            json!({}),
        )
        .await;
    assert_eq!(
        (ex.status, ex.error, ex.cause),
        (ExecutionStatus::Failed, None, None)
    );
}

#[tokio::test]
async fn retry_backs_off_on_virtual_time_then_succeeds() {
    let h = harness();
    h.script.fail("t", "Transient", 3);
    let def = json!({"StartAt": "T", "States": {"T": {"Type": "Task", "Resource": "t", "End": true,
        "Retry": [{"ErrorEquals": ["Transient"], "IntervalSeconds": 2, "BackoffRate": 3, "MaxAttempts": 3, "MaxDelaySeconds": 10}]}}});
    let ex = h.run(def, json!({"x": 1})).await;
    assert_eq!(ex.status, ExecutionStatus::Succeeded);
    assert_eq!(h.script.calls("t").len(), 4);
    // 2 + 6 + min(18, 10)
    assert_eq!(h.clock.now() - start(), chrono::Duration::seconds(18));
}

#[tokio::test]
async fn retries_exhausted_then_catch_with_result_path() {
    let h = harness();
    h.script.fail("t", "Boom", 5);
    let def = json!({"StartAt": "T", "States": {
        "T": {"Type": "Task", "Resource": "t", "Next": "Done",
              "Retry": [{"ErrorEquals": ["States.ALL"], "MaxAttempts": 1}],
              "Catch": [{"ErrorEquals": ["States.TaskFailed"], "ResultPath": "$.err", "Next": "Handled"}]},
        "Done": {"Type": "Succeed"},
        "Handled": {"Type": "Pass", "End": true}}});
    let ex = h.run(def, json!({"x": 1})).await;
    assert_eq!(
        ex.output,
        Some(json!({"x": 1, "err": {"Error": "Boom", "Cause": "Boom cause"}}))
    );
    assert_eq!(h.script.calls("t").len(), 2);
}

#[tokio::test]
async fn runtime_errors_are_not_caught_by_states_all() {
    let h = harness();
    let def = json!({"StartAt": "T", "States": {
        "T": {"Type": "Task", "Resource": "t", "Parameters": {"v.$": "$.missing"}, "End": true,
              "Catch": [{"ErrorEquals": ["States.ALL"], "Next": "H"}]},
        "H": {"Type": "Succeed"}}});
    let ex = h.run(def, json!({})).await;
    assert_eq!(ex.error.as_deref(), Some("States.Runtime"));
    assert!(ex
        .cause
        .unwrap()
        .contains("The JSONPath '$.missing' specified for the field 'v.$' could not be found"));
}

#[tokio::test]
async fn a_missing_timeout_or_heartbeat_path_fails_as_an_invalid_path() {
    let h = harness();
    for field in ["TimeoutSecondsPath", "HeartbeatSecondsPath"] {
        let def = json!({"StartAt": "T", "States": {
            "T": {"Type": "Task", "Resource": "t", field: "$.nope", "End": true}}});
        let ex = h.run(def, json!({"a": 1})).await;
        assert_eq!(ex.error.as_deref(), Some("States.Runtime"), "{field}");
        assert!(
            ex.cause
                .as_deref()
                .unwrap_or_default()
                .ends_with("Invalid path '$.nope' : No results for path: $['nope']"),
            "{field}: {:?}",
            ex.cause
        );
    }
}

#[tokio::test]
async fn oversized_result_is_data_limit_exceeded() {
    let h = harness();
    let ex = h.run(json!({"StartAt": "T", "States": {"T": {"Type": "Task", "Resource": "big", "End": true}}}), json!({})).await;
    assert_eq!(ex.error.as_deref(), Some("States.DataLimitExceeded"));
}

#[tokio::test]
async fn parallel_collects_branch_outputs_in_order() {
    let h = harness();
    let def = json!({"StartAt": "P", "States": {"P": {"Type": "Parallel", "End": true, "Branches": [
        {"StartAt": "A", "States": {"A": {"Type": "Pass", "Result": "a", "End": true}}},
        {"StartAt": "B", "States": {"B": {"Type": "Pass", "End": true}}}]}}});
    assert_eq!(h.run(def, json!(5)).await.output, Some(json!(["a", 5])));
}

#[tokio::test]
async fn map_item_selector_and_tolerated_failures() {
    let h = harness();
    let def = |tolerated: u64| {
        json!({"StartAt": "M", "States": {"M": {"Type": "Map", "ItemsPath": "$.items",
        "ItemSelector": {"i.$": "$$.Map.Item.Index", "v.$": "$$.Map.Item.Value"}, "ToleratedFailureCount": tolerated,
        "ItemProcessor": {"StartAt": "T", "States": {"T": {"Type": "Task", "Resource": "fail-on-2", "InputPath": "$.v", "End": true}}},
        "End": true}}})
    };
    let ex = h.run(def(1), json!({"items": [1, 2, 3]})).await;
    assert_eq!(ex.status, ExecutionStatus::Succeeded);
    assert_eq!(
        ex.output,
        Some(json!([{"echo": 1}, {"Error": "Two"}, {"echo": 3}]))
    );
    let ex = h.run(def(0), json!({"items": [1, 2, 3]})).await;
    assert_eq!(
        ex.error.as_deref(),
        Some("States.ExceedToleratedFailureThreshold")
    );
}

#[tokio::test]
async fn redrive_reruns_only_the_failed_state_and_failed_iterations() {
    let h = harness();
    let def = json!({"StartAt": "Before", "States": {
        "Before": {"Type": "Task", "Resource": "before", "ResultPath": "$.b", "Next": "M"},
        "M": {"Type": "Map", "ItemsPath": "$.items", "End": true,
              "ItemProcessor": {"StartAt": "T", "States": {"T": {"Type": "Task", "Resource": "item", "End": true}}}}}});
    h.script.fail("item", "Down", 1);
    let sm = StateMachine::from_value(def).unwrap();
    let ctx = ExecutionContext::new("exec", "sm", start());
    // The first item's call fails once; items are run in order, so item 0 fails.
    let first = h
        .engine
        .run(
            &sm,
            json!({"items": [1, 2]}),
            ctx.clone(),
            &VecHistory::new(),
        )
        .await;
    assert_eq!(first.status, ExecutionStatus::Failed);
    assert_eq!(first.checkpoint.failed_state.as_deref(), Some("M"));
    let checkpoint: asl::Checkpoint =
        serde_json::from_str(&serde_json::to_string(&first.checkpoint).unwrap()).unwrap();
    let mut again = ctx;
    again.redrive_count = 1;
    let history = VecHistory::new();
    let second = h.engine.redrive(&sm, &checkpoint, again, &history).await;
    assert_eq!(second.status, ExecutionStatus::Succeeded);
    assert_eq!(
        h.script.calls("before").len(),
        1,
        "successful states are not re-run"
    );
    assert_eq!(h.script.calls("item").len(), 3, "item 0 twice, item 1 once");
    assert_eq!(history.events()[0].r#type, "ExecutionRedriven");
}

#[tokio::test]
async fn history_events_are_numbered_like_aws() {
    let h = harness();
    let sm = StateMachine::from_value(
        json!({"StartAt": "P", "States": {"P": {"Type": "Pass", "End": true}}}),
    )
    .unwrap();
    let history = VecHistory::new();
    h.engine
        .run(
            &sm,
            json!({}),
            ExecutionContext::new("e", "sm", start()),
            &history,
        )
        .await;
    let ev = serde_json::to_value(history.events()).unwrap();
    let types: Vec<&str> = ev
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["type"].as_str().unwrap())
        .collect();
    assert_eq!(
        types,
        [
            "ExecutionStarted",
            "PassStateEntered",
            "PassStateExited",
            "ExecutionSucceeded"
        ]
    );
    assert_eq!(ev[1]["id"], json!(2));
    assert_eq!(ev[1]["previousEventId"], json!(1));
    assert_eq!(ev[1]["stateEnteredEventDetails"]["name"], json!("P"));
}

#[test]
fn validation_names_state_and_field() {
    let e = StateMachine::from_value(
        json!({"StartAt": "P", "States": {"P": {"Type": "Pass", "Bogus": 1, "End": true}}}),
    )
    .unwrap_err();
    assert!(
        e.to_string().contains("'Bogus'") && e.to_string().contains("'P'"),
        "{e}"
    );
    let e = StateMachine::from_value(
        json!({"StartAt": "P", "States": {"P": {"Type": "Pass", "Next": "Nope"}}}),
    )
    .unwrap_err();
    assert_eq!(e.code, "MISSING_TRANSITION_TARGET");
    let e = StateMachine::from_value(json!({"StartAt": "P", "States": {"P": {"Type": "Pass", "End": true}, "Q": {"Type": "Succeed"}}})).unwrap_err();
    assert_eq!(e.code, "UNREACHABLE_STATE");
    assert!(
        StateMachine::from_value(json!({"StartAt": "P", "States": {"P": {"Type": "Pass"}}}))
            .is_err()
    );
}

#[tokio::test]
async fn virtual_clock_sleep_takes_no_real_time() {
    let c = VirtualClock::new(start());
    let t0 = std::time::Instant::now();
    c.sleep(Duration::from_secs(86_400)).await;
    assert!(t0.elapsed() < Duration::from_secs(1));
    assert_eq!(c.now() - start(), chrono::Duration::days(1));
}
