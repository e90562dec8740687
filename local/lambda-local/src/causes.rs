//! Every error and cause the Lambda integration and the Python runtime write, in one place, each
//! with where its wording comes from (the recorded corpus, or AWS's documentation).

use std::time::Duration;

use asl::TaskFailure;
use serde_json::{json, Value};

/// Lambda's answer when the function ran past its timeout: the sandbox is discarded. Wording:
/// Lambda's troubleshooting guide (errorType `Sandbox.Timedout`, "Task timed out after 3.00
/// seconds"); Step Functions then names the task's error after the errorType, as for any function
/// error (this project's definitions retry `Sandbox.Timedout`).
pub fn function_timed_out(request_id: &str, timeout: Duration) -> Value {
    json!({
        "errorType": "Sandbox.Timedout",
        "errorMessage": format!(
            "RequestId: {request_id} Error: Task timed out after {:.2} seconds",
            timeout.as_secs_f64()
        ),
    })
}

/// Lambda's answer when the runtime process exited during the invocation (`sys.exit`, a crash).
/// Wording: Lambda's `Runtime.ExitError` ("Runtime exited with error: exit status 1").
pub fn runtime_exited(request_id: &str, status: &str) -> Value {
    json!({
        "errorType": "Runtime.ExitError",
        "errorMessage": format!("RequestId: {request_id} Error: Runtime exited with error: {status}"),
    })
}

/// A function Lambda does not have (`lambda:invoke`). Recorded:
/// `error_handling/test_task_service_lambda.py::test_no_such_function` (cause as AWS's SDK words a
/// 404 from Lambda).
pub fn function_not_found(function_arn: &str, request_id: &str) -> TaskFailure {
    TaskFailure {
        error: "Lambda.ResourceNotFoundException".into(),
        cause: Some(format!(
            "Function not found: {function_arn}:$LATEST (Service: AWSLambda; Status Code: 404; Error Code: ResourceNotFoundException; Request ID: {request_id}; Proxy: null)"
        )),
    }
}

/// Lambda itself failed (the sandbox could not start): AWS's SDK names a 5xx from Lambda
/// `Lambda.ServiceException` (Step Functions' docs, "Handle Lambda service exceptions").
pub fn service_exception(detail: &str, request_id: &str) -> TaskFailure {
    TaskFailure {
        error: "Lambda.ServiceException".into(),
        cause: Some(format!(
            "{detail} (Service: AWSLambda; Status Code: 500; Error Code: ServiceException; Request ID: {request_id}; Proxy: null)"
        )),
    }
}

/// A function error: the task's error is the document's `errorType` (`Lambda.Unknown` when it has
/// none, Step Functions' docs), its cause the document. The `lambda:invoke` integration
/// re-serialises the document compactly; a Lambda ARN resource passes the runtime's text through
/// (both recorded: `test_task_service_lambda.py` / `test_task_lambda.py::test_raise_custom_exception`).
pub fn function_error(body: &[u8], service_integration: bool) -> TaskFailure {
    let text = String::from_utf8_lossy(body).into_owned();
    let document: Option<Value> = serde_json::from_slice(body).ok();
    let error = document
        .as_ref()
        .and_then(|d| d.get("errorType"))
        .and_then(Value::as_str)
        .filter(|e| !e.is_empty())
        .unwrap_or("Lambda.Unknown")
        .to_string();
    let cause = match document {
        Some(d @ Value::Object(_)) if service_integration => d.to_string(),
        _ => text,
    };
    TaskFailure {
        error,
        cause: Some(cause),
    }
}

/// A Task resource this dispatcher does not run (not Lambda). sfn-local's own wording: AWS would
/// call the service, which offline nothing emulates.
pub fn resource_not_available(resource: &str) -> TaskFailure {
    TaskFailure {
        error: "States.Runtime".into(),
        cause: Some(format!(
            "The resource '{resource}' is not available offline"
        )),
    }
}

/// A `lambda:invoke` task without a string `FunctionName` (AWS refuses such a definition at load
/// unless the name comes from a path; then it fails the task as Lambda's validation does).
pub fn missing_function_name(state: &str) -> TaskFailure {
    TaskFailure {
        error: "States.Runtime".into(),
        cause: Some(format!(
            "The state '{state}': lambda:invoke needs a string FunctionName"
        )),
    }
}

/// A `lambda:invoke` task asking for an Event or DryRun invocation, which sfn-local does not make.
pub fn invocation_type_not_supported(invocation_type: &str) -> TaskFailure {
    TaskFailure {
        error: "States.Runtime".into(),
        cause: Some(format!(
            "InvocationType {invocation_type} is not supported by sfn-local (RequestResponse only)"
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn function_errors_are_named_by_their_error_type() {
        let body = br#"{"errorMessage": "boom", "errorType": "Exception", "requestId": "r"}"#;
        let service = function_error(body, true);
        assert_eq!(service.error, "Exception");
        assert_eq!(
            service.cause.as_deref(),
            Some(r#"{"errorMessage":"boom","errorType":"Exception","requestId":"r"}"#)
        );
        let legacy = function_error(body, false);
        assert_eq!(
            legacy.cause.as_deref(),
            Some(std::str::from_utf8(body).unwrap_or_default())
        );
        assert_eq!(function_error(b"{}", true).error, "Lambda.Unknown");
        assert_eq!(
            function_error(b"not json", true).cause.as_deref(),
            Some("not json")
        );
    }

    #[test]
    fn a_timeout_names_the_function_timeout() {
        let d = function_timed_out("r1", Duration::from_secs(8));
        assert_eq!(d["errorType"], "Sandbox.Timedout");
        assert_eq!(
            d["errorMessage"],
            "RequestId: r1 Error: Task timed out after 8.00 seconds"
        );
    }
}
