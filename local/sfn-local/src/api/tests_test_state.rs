//! TestState, ValidateStateMachineDefinition and the definition checks of Create/UpdateStateMachine,
//! through the API's typed requests on the project's runner.

use serde_json::{json, Value};

use super::{Api, ApiError, ApiOptions};

const MACHINE: &str = "arn:aws:states:us-east-1:123456789012:stateMachine:process-unpaid-order-dev";
const ROLE: &str = "arn:aws:iam::123456789012:role/test";

async fn api(dir: &std::path::Path, functions: Vec<lambda_local::FunctionDef>) -> Api {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let mut options = crate::runner::RunnerOptions::new(root, dir);
    options.lambda_functions = functions;
    let runner = crate::runner::Runner::open(options)
        .await
        .expect("open the runner");
    Api::new(runner, ApiOptions::default())
}

fn task() -> String {
    json!({
        "Type": "Task", "Resource": "arn:aws:states:::lambda:invoke",
        "Parameters": {"FunctionName": "f", "Payload.$": "$"},
        "Retry": [{"ErrorEquals": ["Transient"], "MaxAttempts": 2}],
        "Catch": [{"ErrorEquals": ["Gone"], "Next": "Handle"}],
        "Next": "After"
    })
    .to_string()
}

#[tokio::test]
async fn test_state_answers_each_status_in_aws_shape() {
    let dir = tempfile::tempdir().expect("temp dir");
    let api = api(dir.path(), Vec::new()).await;
    let call = |body: Value| {
        let api = &api;
        async move { api.call("TestState", &body).await }
    };
    let ok = call(
        json!({"definition": task(), "input": "{\"a\": 1}", "inspectionLevel": "DEBUG",
        "mock": {"result": "{\"Payload\": {\"b\": 2}}"}}),
    )
    .await
    .expect("answered");
    assert_eq!(ok["status"], "SUCCEEDED");
    assert_eq!(
        ok["output"], "{\"Payload\":{\"b\":2}}",
        "output is JSON text"
    );
    assert_eq!(ok["nextState"], "After");
    assert_eq!(
        ok["inspectionData"]["afterParameters"],
        "{\"FunctionName\":\"f\",\"Payload\":{\"a\":1}}"
    );
    let mocked = |error: &str| {
        json!({"definition": task(), "inspectionLevel": "TRACE",
               "mock": {"errorOutput": {"error": error, "cause": "why"}}})
    };
    let retriable = call(mocked("Transient")).await.expect("answered");
    assert_eq!(
        (&retriable["status"], &retriable["error"]),
        (&json!("RETRIABLE"), &json!("Transient"))
    );
    assert_eq!(
        retriable["inspectionData"]["errorDetails"],
        json!({"retryIndex": 0, "retryBackoffIntervalSeconds": 1})
    );
    let caught = call(mocked("Gone")).await.expect("answered");
    assert_eq!(
        (&caught["status"], &caught["nextState"], &caught["cause"]),
        (&json!("CAUGHT_ERROR"), &json!("Handle"), &json!("why"))
    );
    let failed = call(mocked("Other")).await.expect("answered");
    assert_eq!(failed["status"], "FAILED");
    assert!(failed.get("output").is_none());
}

#[tokio::test]
async fn test_state_refuses_what_aws_refuses() {
    let dir = tempfile::tempdir().expect("temp dir");
    let api = api(dir.path(), Vec::new()).await;
    let kind = |r: Result<Value, ApiError>| r.expect_err("refused");
    let e = kind(api.call("TestState", &json!({})).await);
    assert_eq!(e.kind, "ValidationException");
    assert!(e.message.contains("'definition'"), "{}", e.message);
    let e = kind(api.call("TestState", &json!({"definition": "{"})).await);
    assert_eq!(e.kind, "InvalidDefinition");
    let e = kind(
        api.call(
            "TestState",
            &json!({"definition": task(), "input": "nope", "roleArn": ROLE}),
        )
        .await,
    );
    assert_eq!(e.kind, "InvalidExecutionInput");
    let e = kind(api.call("TestState", &json!({"definition": task()})).await);
    assert_eq!(
        (e.kind, e.message.as_str()),
        (
            "ValidationException",
            "RoleArn must be specified when testing a Task state"
        )
    );
    let e = kind(
        api.call(
            "TestState",
            &json!({"definition": task(), "inspectionLevel": "ALL"}),
        )
        .await,
    );
    assert!(e.message.contains("[INFO, DEBUG, TRACE]"), "{}", e.message);
    let e = kind(
        api.call(
            "TestState",
            &json!({"definition": task(), "mock": "not a structure"}),
        )
        .await,
    );
    assert_eq!(e.kind, "SerializationException");
}

#[tokio::test]
#[cfg_attr(
    not(feature = "emulator"),
    ignore = "needs python3: run by tests/run.sh, or --features emulator"
)]
async fn an_unmocked_lambda_task_runs_the_registered_handler_or_gets_lambdas_404() {
    let dir = tempfile::tempdir().expect("temp dir");
    let source = dir.path().join("echo.py");
    std::fs::write(
        &source,
        "def handler(event, context):\n    return {'got': event}\n",
    )
    .expect("write handler");
    let def = lambda_local::FunctionDef {
        name: "f".into(),
        source,
        handler: "handler.handler".into(),
        runtime: "python3.12".into(),
        timeout: std::time::Duration::from_secs(5),
        memory_mb: 128,
    };
    let api = api(&dir.path().join("state"), vec![def]).await;
    let ran = api
        .call(
            "TestState",
            &json!({"definition": task(), "input": "{\"a\": 1}", "roleArn": ROLE}),
        )
        .await
        .expect("answered");
    let output: Value =
        serde_json::from_str(ran["output"].as_str().unwrap_or_default()).expect("JSON output");
    assert_eq!(output["Payload"], json!({"got": {"a": 1}}));
    assert_eq!(output["StatusCode"], 200);
    let other = task().replace("\"f\"", "\"nope\"");
    let missing = api
        .call("TestState", &json!({"definition": other, "roleArn": ROLE}))
        .await
        .expect("answered");
    assert_eq!(missing["error"], "Lambda.ResourceNotFoundException");
    assert!(missing["cause"].as_str().unwrap_or_default().starts_with(
        "Function not found: arn:aws:lambda:us-east-1:123456789012:function:nope:$LATEST"
    ));
}

#[tokio::test]
async fn validation_and_create_update_share_the_engines_validator() {
    let dir = tempfile::tempdir().expect("temp dir");
    let api = api(dir.path(), Vec::new()).await;
    let bad = r#"{"StartAt": "A", "States": {"A": {"Type": "Pass", "Next": "B"}}}"#;
    let v = api
        .call(
            "ValidateStateMachineDefinition",
            &json!({"definition": bad}),
        )
        .await
        .expect("answered");
    assert_eq!(v["result"], "FAIL");
    assert_eq!(v["diagnostics"][0]["code"], "MISSING_TRANSITION_TARGET");
    assert_eq!(v["truncated"], false);
    let ok = api
        .call(
            "ValidateStateMachineDefinition",
            &json!({"definition": r#"{"StartAt": "A", "States": {"A": {"Type": "Succeed"}}}"#}),
        )
        .await
        .expect("answered");
    assert_eq!(
        ok,
        json!({"result": "OK", "diagnostics": [], "truncated": false})
    );
    let create = api
        .call(
            "CreateStateMachine",
            &json!({"name": "process-unpaid-order-dev", "definition": bad, "roleArn": ROLE}),
        )
        .await
        .expect_err("refused");
    assert_eq!(create.kind, "InvalidDefinition");
    assert!(
        create
            .message
            .starts_with("Invalid State Machine Definition: 'MISSING_TRANSITION_TARGET: "),
        "{}",
        create.message
    );
    let update = api
        .call(
            "UpdateStateMachine",
            &json!({"stateMachineArn": MACHINE, "definition": bad}),
        )
        .await
        .expect_err("refused");
    assert_eq!(update.kind, "InvalidDefinition");
    let described = api
        .call("DescribeStateMachine", &json!({"stateMachineArn": MACHINE}))
        .await
        .expect("describe");
    let same = api
        .call(
            "UpdateStateMachine",
            &json!({"stateMachineArn": MACHINE, "definition": described["definition"]}),
        )
        .await
        .expect("the same definition is accepted");
    assert!(same["updateDate"].is_number());
    let nothing = api
        .call("UpdateStateMachine", &json!({"stateMachineArn": MACHINE}))
        .await
        .expect_err("nothing to update");
    assert_eq!(nothing.kind, "MissingRequiredParameter");
}
