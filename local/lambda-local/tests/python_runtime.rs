//! The Python runtime against real handler files: warm reuse, Lambda's error document, prints kept
//! off the protocol, the function timeout, a runtime that exits, init errors, and the integration.

use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use asl::{TaskDispatcher, TaskRequest, VirtualClock};
use lambda_local::{
    load_functions, FunctionDef, Invoke, LambdaError, LambdaTasks, PythonFunctions, RequestIds,
};
use serde_json::{json, Value};

const HANDLER: &str = r#"
import os, sys, time
calls = 0

class CustomException(Exception):
    def __init__(self):
        self.message = "not the message"

def handler(event, context):
    global calls
    calls += 1
    print("a line for the log, not for the answer")
    if event == "raise":
        raise CustomException()
    if event == "bytes":
        return b'"HelloWorld!"'
    if event == "sleep":
        time.sleep(30)
    if event == "exit":
        sys.stdout.flush()
        os._exit(3)
    return {"calls": calls, "event": event, "name": context.function_name,
            "remaining": context.get_remaining_time_in_millis() > 0, "text": "é"}
"#;

fn def(dir: &Path, name: &str, source: &str, timeout: u64) -> FunctionDef {
    let path = dir.join(format!("{name}.py"));
    std::fs::write(&path, source).expect("write handler");
    FunctionDef {
        name: name.into(),
        source: path,
        handler: "handler.handler".into(),
        runtime: "python3.12".into(),
        timeout: Duration::from_secs(timeout),
        memory_mb: 128,
    }
}

async fn call(f: &PythonFunctions, name: &str, payload: &str) -> (Value, bool) {
    let i = f.invoke(name, payload, "req-1").await.expect("invoked");
    let body: Value = serde_json::from_slice(&i.body).expect("JSON body");
    (body, i.function_error)
}

#[tokio::test]
#[cfg_attr(
    not(feature = "emulator"),
    ignore = "needs python3: run by tests/run.sh, or --features emulator"
)]
async fn a_warm_sandbox_serves_results_and_errors_as_lambda_does() {
    let dir = tempfile::tempdir().expect("tempdir");
    let f = PythonFunctions::new(vec![def(dir.path(), "fn", HANDLER, 5)]);
    let (first, err) = call(&f, "fn", r#"{"a": 1}"#).await;
    assert!(!err);
    assert_eq!(
        first,
        json!({"calls": 1, "event": {"a": 1}, "name": "fn", "remaining": true, "text": "é"})
    );
    // The same process answers again: module state survives, as in a warm sandbox.
    let (second, _) = call(&f, "fn", "[]").await;
    assert_eq!(second["calls"], 2);
    let (error, err) = call(&f, "fn", r#""raise""#).await;
    assert!(err);
    assert_eq!(
        error,
        json!({"errorMessage": "", "errorType": "CustomException", "requestId": "req-1",
               "stackTrace": ["  File \"/var/task/handler.py\", line 14, in handler\n    raise CustomException()\n"]})
    );
    let bytes = f.invoke("fn", r#""bytes""#, "r").await.expect("invoked");
    assert_eq!(bytes.body, br#""HelloWorld!""#);
    assert_eq!(
        f.invoke("nope", "{}", "r").await,
        Err(LambdaError::NotFound)
    );
}

#[tokio::test]
#[cfg_attr(
    not(feature = "emulator"),
    ignore = "needs python3: run by tests/run.sh, or --features emulator"
)]
async fn the_function_timeout_and_a_crash_end_the_sandbox_and_the_next_call_starts_afresh() {
    let dir = tempfile::tempdir().expect("tempdir");
    let f = PythonFunctions::new(vec![def(dir.path(), "fn", HANDLER, 1)]);
    let started = Instant::now();
    let (timed_out, err) = call(&f, "fn", r#""sleep""#).await;
    assert!(err);
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "{:?}",
        started.elapsed()
    );
    assert_eq!(
        timed_out,
        json!({"errorType": "Sandbox.Timedout",
               "errorMessage": "RequestId: req-1 Error: Task timed out after 1.00 seconds"})
    );
    assert_eq!(call(&f, "fn", "{}").await.0["calls"], 1, "a fresh sandbox");
    let (exited, err) = call(&f, "fn", r#""exit""#).await;
    assert!(err);
    assert_eq!(exited["errorType"], "Runtime.ExitError");
    assert_eq!(
        exited["errorMessage"],
        "RequestId: req-1 Error: Runtime exited with error: exit status 3"
    );
    assert_eq!(call(&f, "fn", "{}").await.0["calls"], 1, "a fresh sandbox");
}

#[tokio::test]
#[cfg_attr(
    not(feature = "emulator"),
    ignore = "needs python3: run by tests/run.sh, or --features emulator"
)]
async fn import_errors_are_reported_on_every_invocation() {
    let dir = tempfile::tempdir().expect("tempdir");
    let f = PythonFunctions::new(vec![
        def(dir.path(), "syntax", "def handler(:\n", 3),
        def(dir.path(), "missing", "def other(e, c):\n    return 1\n", 3),
    ]);
    for _ in 0..2 {
        let (e, err) = call(&f, "syntax", "{}").await;
        assert!(err);
        assert_eq!(e["errorType"], "Runtime.UserCodeSyntaxError");
    }
    let (e, _) = call(&f, "missing", "{}").await;
    assert_eq!(
        e,
        json!({"errorMessage": "Handler 'handler' missing on module 'handler'",
               "errorType": "Runtime.HandlerNotFound", "requestId": "req-1", "stackTrace": []})
    );
}

#[tokio::test]
#[cfg_attr(
    not(feature = "emulator"),
    ignore = "needs python3: run by tests/run.sh, or --features emulator"
)]
async fn the_integration_wraps_results_and_names_errors() {
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::write(dir.path().join("fn.py"), HANDLER).expect("write");
    std::fs::write(
        dir.path().join("functions.json"),
        r#"{"fn": {"source": "fn.py", "timeout": 5}}"#,
    )
    .expect("write registry");
    let defs = load_functions(&dir.path().join("functions.json")).expect("registry");
    let clock = Arc::new(VirtualClock::new(chrono::DateTime::UNIX_EPOCH));
    let tasks = LambdaTasks::new(PythonFunctions::new(defs), clock)
        .with_request_ids(RequestIds::Sequential(Default::default()));
    let task = |resource: &str, parameters: Value| TaskRequest {
        resource: resource.into(),
        parameters,
        state_name: "S".into(),
        context: json!({}).into(),
        timeout_seconds: None,
        heartbeat_seconds: None,
    };
    let ok = tasks
        .invoke(task(
            "arn:aws:states:::lambda:invoke",
            json!({"FunctionName": "arn:aws:lambda:us-east-1:111111111111:function:fn", "Payload": "\"bytes\""}),
        ))
        .await
        .expect("result");
    assert_eq!(ok["Payload"], "HelloWorld!");
    assert_eq!(ok["SdkHttpMetadata"]["HttpHeaders"]["Content-Length"], "13");
    assert_eq!(
        ok["SdkResponseMetadata"]["RequestId"],
        "00000000-0000-0000-0000-000000000001"
    );
    let failed = tasks
        .invoke(task(
            "arn:aws:lambda:us-east-1:111111111111:function:fn",
            json!("raise"),
        ))
        .await
        .expect_err("a function error");
    assert_eq!(failed.error, "CustomException");
    assert!(failed
        .cause
        .as_deref()
        .unwrap_or_default()
        .starts_with(r#"{"errorMessage": "", "errorType": "CustomException""#));
    let missing = tasks
        .invoke(task(
            "arn:aws:states:::lambda:invoke",
            json!({"FunctionName": "other"}),
        ))
        .await
        .expect_err("no such function");
    assert_eq!(missing.error, "Lambda.ResourceNotFoundException");
    let mut slow = task(
        "arn:aws:lambda:us-east-1:111111111111:function:fn",
        json!("sleep"),
    );
    slow.timeout_seconds = Some(1);
    let timed_out = tasks.invoke(slow).await.expect_err("the task's timeout");
    assert_eq!(timed_out.error, "States.Timeout");
}
