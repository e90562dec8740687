//! TestState's request handling: the four statuses with their inspectionData, the state
//! configuration, and the requests AWS refuses.

use std::sync::Arc;

use chrono::{TimeZone, Utc};
use serde_json::json;

use super::*;
use crate::{TaskDispatcher, TaskFailure, TaskRequest, VirtualClock};

/// An unmocked task answers with its resource.
struct NoTasks;

#[async_trait::async_trait]
impl TaskDispatcher for NoTasks {
    async fn invoke(&self, req: TaskRequest) -> Result<Value, TaskFailure> {
        Ok(json!({"Payload": {"sent": req.resource}}))
    }
}

fn run(req: TestStateRequest) -> Result<TestStateResponse, TestStateError> {
    let start = Utc.with_ymd_and_hms(2024, 1, 1, 0, 0, 0).unwrap();
    let engine = Engine::new(Arc::new(NoTasks), Arc::new(VirtualClock::new(start)));
    let ctx = ExecutionContext::new("run", "machine", start);
    tokio::runtime::Builder::new_current_thread()
        .build()
        .expect("runtime")
        .block_on(test_state(&engine, req, ctx))
}

fn task() -> Value {
    json!({
        "Type": "Task", "Resource": "arn:aws:states:::lambda:invoke",
        "Parameters": {"FunctionName": "f", "Payload.$": "$.order"},
        "ResultSelector": {"sent.$": "$.Payload.sent"}, "ResultPath": "$.notify",
        "Retry": [{"ErrorEquals": ["Transient"], "IntervalSeconds": 1, "BackoffRate": 2.0, "MaxAttempts": 3}],
        "Catch": [{"ErrorEquals": ["NotFound"], "ResultPath": "$.error", "Next": "Gone"}],
        "Next": "Done"
    })
}

fn error_mock(error: &str) -> Option<Mock> {
    Some(Mock {
        error_output: Some((Some(error.into()), Some("why".into()))),
        ..Default::default()
    })
}

#[test]
fn a_mocked_result_flows_through_the_state_and_debug_shows_each_step() {
    let r = run(TestStateRequest {
        definition: task(),
        input: json!({"order": {"id": 1}}),
        mock: Some(Mock {
            result: Some(r#"{"Payload": {"sent": true}, "StatusCode": 200}"#.into()),
            ..Default::default()
        }),
        inspection_level: InspectionLevel::Debug,
        ..Default::default()
    })
    .expect("answered");
    assert_eq!(r.status, "SUCCEEDED");
    assert_eq!(
        r.output,
        Some(json!({"order": {"id": 1}, "notify": {"sent": true}}))
    );
    assert_eq!(r.next_state.as_deref(), Some("Done"));
    let d = r.inspection_data.expect("DEBUG shows the data flow");
    assert_eq!(d["input"], json!({"order": {"id": 1}}));
    assert_eq!(d["afterInputPath"], json!({"order": {"id": 1}}));
    assert_eq!(
        d["afterParameters"],
        json!({"FunctionName": "f", "Payload": {"id": 1}})
    );
    assert_eq!(
        d["result"],
        json!({"Payload": {"sent": true}, "StatusCode": 200})
    );
    assert_eq!(d["afterResultSelector"], json!({"sent": true}));
    assert_eq!(
        d["afterResultPath"],
        json!({"order": {"id": 1}, "notify": {"sent": true}})
    );
}

#[test]
fn a_mocked_error_is_retriable_caught_or_failed_as_the_handlers_say() {
    let base = || TestStateRequest {
        definition: task(),
        input: json!({"order": {}}),
        inspection_level: InspectionLevel::Trace,
        ..Default::default()
    };
    let retried = run(TestStateRequest {
        mock: error_mock("Transient"),
        config: StateConfiguration {
            retrier_retry_count: Some(2),
            ..Default::default()
        },
        ..base()
    })
    .expect("answered");
    assert_eq!(retried.status, "RETRIABLE");
    assert_eq!(retried.error.as_deref(), Some("Transient"));
    assert_eq!(
        retried.inspection_data.expect("data")["errorDetails"],
        json!({"retryIndex": 0, "retryBackoffIntervalSeconds": 4})
    );
    let exhausted = run(TestStateRequest {
        mock: error_mock("Transient"),
        config: StateConfiguration {
            retrier_retry_count: Some(3),
            ..Default::default()
        },
        ..base()
    })
    .expect("answered");
    assert_eq!(exhausted.status, "FAILED");
    let caught = run(TestStateRequest {
        mock: error_mock("NotFound"),
        ..base()
    })
    .expect("answered");
    assert_eq!(caught.status, "CAUGHT_ERROR");
    assert_eq!(
        (caught.error.as_deref(), caught.cause.as_deref()),
        (Some("NotFound"), Some("why"))
    );
    assert_eq!(caught.next_state.as_deref(), Some("Gone"));
    assert_eq!(
        caught.output,
        Some(json!({"order": {}, "error": {"Error": "NotFound", "Cause": "why"}}))
    );
    assert_eq!(
        caught.inspection_data.expect("data")["errorDetails"],
        json!({"catchIndex": 0})
    );
    let info = run(TestStateRequest {
        mock: error_mock("Other"),
        inspection_level: InspectionLevel::Info,
        ..base()
    })
    .expect("answered");
    assert_eq!(info.status, "FAILED");
    assert_eq!(info.inspection_data, None);
}

#[test]
fn a_mocked_map_fails_past_its_tolerance_with_the_configured_failures() {
    let map = json!({
        "Type": "Map", "ToleratedFailureCount": 1, "End": true,
        "ItemProcessor": {"StartAt": "P", "States": {"P": {"Type": "Pass", "End": true}}}
    });
    let with = |failed: u64| TestStateRequest {
        definition: map.clone(),
        input: json!([1, 2, 3]),
        mock: Some(Mock {
            result: Some("[1, 2, 3]".into()),
            ..Default::default()
        }),
        config: StateConfiguration {
            map_iteration_failure_count: Some(failed),
            ..Default::default()
        },
        inspection_level: InspectionLevel::Debug,
        ..Default::default()
    };
    let ok = run(with(1)).expect("answered");
    assert_eq!(ok.status, "SUCCEEDED");
    let d = ok.inspection_data.expect("data");
    assert_eq!(
        (
            d["maxConcurrency"].clone(),
            d["toleratedFailureCount"].clone()
        ),
        (json!(0), json!(1))
    );
    let over = run(with(2)).expect("answered");
    assert_eq!(
        over.error.as_deref(),
        Some("States.ExceedToleratedFailureThreshold")
    );
}

#[test]
fn requests_aws_refuses_are_refused_with_its_error() {
    let pass = json!({"Type": "Pass", "End": true});
    let mocked_pass = run(TestStateRequest {
        definition: pass.clone(),
        mock: error_mock("E"),
        ..Default::default()
    });
    assert_eq!(
        mocked_pass,
        Err(TestStateError::Validation(
            "State type 'Pass' is not supported when a mock is specified".into()
        ))
    );
    let map = json!({"Type": "Map", "End": true,
        "ItemProcessor": {"StartAt": "P", "States": {"P": {"Type": "Pass", "End": true}}}});
    assert_eq!(
        run(TestStateRequest {
            definition: map,
            ..Default::default()
        }),
        Err(TestStateError::InvalidDefinition(
            MAP_PARALLEL_NEED_A_MOCK.into()
        ))
    );
    let unmocked_task = run(TestStateRequest {
        definition: task(),
        ..Default::default()
    });
    assert!(
        matches!(unmocked_task, Err(TestStateError::Validation(m)) if m.starts_with("RoleArn"))
    );
    let both = Some(Mock {
        result: Some("{}".into()),
        error_output: Some((None, None)),
        ..Default::default()
    });
    assert!(run(TestStateRequest {
        definition: task(),
        mock: both,
        ..Default::default()
    })
    .is_err());
    let invalid = run(TestStateRequest {
        definition: json!({"Type": "Pass", "Unknown": 3, "End": true}),
        ..Default::default()
    });
    assert!(matches!(invalid, Err(TestStateError::InvalidDefinition(_))));
    let with_role = run(TestStateRequest {
        definition: task(),
        input: json!({"order": 1}),
        role_arn: Some("arn:aws:iam::111111111111:role/r".into()),
        ..Default::default()
    })
    .expect("an unmocked task runs with a role");
    assert_eq!(with_role.status, "SUCCEEDED");
    assert_eq!(
        with_role.output,
        Some(json!({"order": 1, "notify": {"sent": "arn:aws:states:::lambda:invoke"}}))
    );
}

#[test]
fn default_context_is_aws_teststate_shape() {
    let start = Utc.with_ymd_and_hms(2024, 1, 1, 0, 0, 0).unwrap();
    let ctx = ExecutionContext::new("run", "machine", start);
    let sm = StateMachine::from_value(json!({"StartAt": "S", "States": {
        "S": task(), "Done": {"Type": "Succeed"}, "Gone": {"Type": "Succeed"}}}));
    let Ok(Some(task_state)) = sm.map(|m| m.state("S").cloned()) else {
        panic!("a valid machine");
    };
    let config = StateConfiguration {
        retrier_retry_count: Some(2),
        ..Default::default()
    };
    let c = default_context(&ctx, &task_state, &json!({"a": 1}), None, &config);
    assert_eq!(
        c["Execution"]["Id"],
        json!("arn:aws:states:us-east-1:111111111111:express:machine:run")
    );
    assert!(c["Execution"].get("RedriveCount").is_none());
    assert_eq!(c["Execution"]["RoleArn"], Value::Null);
    assert_eq!(
        c["State"],
        json!({"Name": "StateName", "EnteredTime": "2024-01-01T00:00:00.000Z", "RetryCount": 2})
    );
}
