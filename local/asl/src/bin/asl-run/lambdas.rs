//! In-process stand-ins for the conformance corpus's trivial Lambda functions (identity, echo,
//! raise, large output, ...), registered by function name, with AWS's Lambda result/error shapes.

use std::collections::HashMap;
use std::time::Duration;

use async_trait::async_trait;
use serde_json::{json, Value};

use asl::{Clock, TaskDispatcher, TaskFailure, TaskRequest};
use std::sync::Arc;

/// What a registered function does (named after the corpus's handler files).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Handler {
    /// `id_function.py`: returns its event.
    Identity,
    /// `echo_function.py`: returns {"Return": "HelloWorld"}.
    Echo,
    /// `raise_exception.py`: raises Exception("Some exception was raised.").
    Raise,
    /// `raise_custom_exception.py`: raises CustomException.
    RaiseCustom,
    /// `large_output_string.py`: returns 257 KiB of text.
    LargeOutput,
    /// `return_bytes_str.py`: returns the bytes `"HelloWorld!"`.
    BytesStr,
    /// `wait_60_seconds.py`: sleeps 60 s, then returns its event.
    Wait60,
}

impl Handler {
    /// Map a handler file name (or a short kind name) to its behaviour.
    pub fn from_name(s: &str) -> Option<Handler> {
        let base = s.rsplit('/').next().unwrap_or(s).trim_end_matches(".py");
        Some(match base {
            "id_function" | "identity" => Handler::Identity,
            "echo_function" | "echo" => Handler::Echo,
            "raise_exception" | "raise" => Handler::Raise,
            "raise_custom_exception" | "raise_custom" => Handler::RaiseCustom,
            "large_output_string" | "large_output" => Handler::LargeOutput,
            "return_bytes_str" | "bytes_str" => Handler::BytesStr,
            "wait_60_seconds" | "wait_60" => Handler::Wait60,
            _ => return None,
        })
    }
}

/// Dispatches `arn:aws:states:::lambda:invoke` and plain Lambda ARNs to registered handlers.
pub struct LambdaHandlers {
    handlers: HashMap<String, Handler>,
    clock: Arc<dyn Clock>,
}

fn function_name(s: &str) -> &str {
    // arn:aws:lambda:region:account:function:NAME[:qualifier]
    let parts: Vec<&str> = s.split(':').collect();
    match parts.iter().position(|p| *p == "function") {
        Some(i) if i + 1 < parts.len() => parts[i + 1],
        _ => s,
    }
}

fn python_exception(kind: &str, message: &str, line: &str) -> TaskFailure {
    let cause = json!({
        "errorMessage": message,
        "errorType": kind,
        "requestId": "00000000-0000-0000-0000-000000000000",
        "stackTrace": [format!("  File \"/var/task/handler.py\", line {line}")],
    });
    TaskFailure {
        error: kind.to_string(),
        cause: Some(python_json(&cause)),
    }
}

/// JSON text as Python's `json.dumps` writes it (`", "` and `": "` separators), as Lambda's
/// Python runtime reports errors.
fn python_json(v: &Value) -> String {
    match v {
        Value::Object(o) => {
            let items: Vec<String> = o
                .iter()
                .map(|(k, x)| format!("{}: {}", Value::String(k.clone()), python_json(x)))
                .collect();
            format!("{{{}}}", items.join(", "))
        }
        Value::Array(a) => format!(
            "[{}]",
            a.iter().map(python_json).collect::<Vec<_>>().join(", ")
        ),
        other => other.to_string(),
    }
}

impl LambdaHandlers {
    pub fn new(handlers: HashMap<String, Handler>, clock: Arc<dyn Clock>) -> Self {
        LambdaHandlers { handlers, clock }
    }

    async fn call(&self, name: &str, event: Value) -> Result<Value, TaskFailure> {
        let h = self.handlers.get(function_name(name)).copied().ok_or_else(|| TaskFailure {
            error: "Lambda.ResourceNotFoundException".into(),
            cause: Some(format!(
                "Function not found: arn:aws:lambda:us-east-1:111111111111:function:{}:$LATEST (Service: AWSLambda; Status Code: 404; Error Code: ResourceNotFoundException; Request ID: 00000000-0000-0000-0000-000000000000; Proxy: null)",
                function_name(name)
            )),
        })?;
        match h {
            Handler::Identity => Ok(event),
            Handler::Echo => Ok(json!({"Return": "HelloWorld"})),
            Handler::Raise => Err(python_exception(
                "Exception",
                "Some exception was raised.",
                "2, in handler\n    raise Exception(\"Some exception was raised.\")\n",
            )),
            Handler::RaiseCustom => Err(python_exception(
                "CustomException",
                "",
                "9, in handler\n    raise CustomException()\n",
            )),
            Handler::LargeOutput => Ok(Value::String("a".repeat(257 * 1024))),
            Handler::BytesStr => Ok(json!("HelloWorld!")),
            Handler::Wait60 => {
                self.clock.sleep(Duration::from_secs(60)).await;
                Ok(event)
            }
        }
    }
}

/// AWS's limit on a state's result (256 KiB).
const MAX_RESULT_BYTES: usize = 256 * 1024;

/// The payload a `lambda:invoke` request sends: a string parameter is the request body itself (so
/// `"0.0"` arrives as the number 0.0), and no payload arrives as `{}`, as Lambda's Python
/// runtime sees them.
fn request_event(payload: Option<&Value>) -> Value {
    match payload {
        None | Some(Value::Null) => json!({}),
        Some(Value::String(s)) => serde_json::from_str(s).unwrap_or_else(|_| json!(s)),
        Some(v) => v.clone(),
    }
}

/// A function error as Step Functions reports it: the service integration serialises Lambda's
/// error document compactly, the legacy Lambda resource passes the runtime's text through.
fn service_failure(f: TaskFailure) -> TaskFailure {
    let cause = f.cause.map(|c| match serde_json::from_str::<Value>(&c) {
        Ok(v @ Value::Object(_)) => v.to_string(),
        _ => c,
    });
    TaskFailure {
        error: f.error,
        cause,
    }
}

fn data_limit_exceeded(task: &str) -> TaskFailure {
    TaskFailure {
        error: "States.DataLimitExceeded".into(),
        cause: Some(format!("The state/task '{task}' returned a result with a size exceeding the maximum number of bytes service limit.")),
    }
}

/// `lambda:invoke`'s result: the function's response document plus the HTTP metadata of the
/// Invoke call (headers as Lambda sends them; Content-Length is the response body's length).
/// `LogType: Tail` asks Lambda for the end of the invocation's log, base64-encoded.
fn log_tail(request_id: &str) -> String {
    use base64::Engine as _;
    let log = format!(
        "START RequestId: {request_id} Version: $LATEST\nEND RequestId: {request_id}\nREPORT RequestId: {request_id}\tDuration: 1.00 ms\tBilled Duration: 1 ms\tMemory Size: 128 MB\tMax Memory Used: 32 MB\t\n"
    );
    base64::engine::general_purpose::STANDARD.encode(log)
}

fn invoke_result(
    payload: Value,
    body_len: usize,
    date: &str,
    request_id: &str,
    log_result: Option<&str>,
) -> Value {
    let len = body_len.to_string();
    let trace = "Root=1-00000000-000000000000000000000000;Parent=0000000000000000;Sampled=0;Lineage=1:00000000:0";
    let headers = [
        ("Connection", "keep-alive"),
        ("Content-Length", len.as_str()),
        ("Content-Type", "application/json"),
        ("Date", date),
        ("X-Amz-Executed-Version", "$LATEST"),
        ("x-amzn-Remapped-Content-Length", "0"),
        ("x-amzn-RequestId", request_id),
        ("X-Amzn-Trace-Id", trace),
    ];
    let mut headers = headers.to_vec();
    if let Some(l) = log_result {
        headers.push(("X-Amz-Log-Result", l));
    }
    let all: serde_json::Map<String, Value> = headers
        .iter()
        .map(|(k, v)| (k.to_string(), json!([v])))
        .collect();
    let single: serde_json::Map<String, Value> = headers
        .iter()
        .map(|(k, v)| (k.to_string(), json!(v)))
        .collect();
    let mut result = json!({
        "ExecutedVersion": "$LATEST",
        "Payload": payload,
        "SdkHttpMetadata": {"AllHttpHeaders": all, "HttpHeaders": single, "HttpStatusCode": 200},
        "SdkResponseMetadata": {"RequestId": request_id},
        "StatusCode": 200,
    });
    if let Some(l) = log_result {
        result["LogResult"] = json!(l);
    }
    result
}

#[async_trait]
impl TaskDispatcher for LambdaHandlers {
    async fn invoke(&self, req: TaskRequest) -> Result<Value, TaskFailure> {
        let request_id = "00000000-0000-0000-0000-000000000000";
        if req.resource.starts_with("arn:aws:states:::lambda:invoke") {
            let name = req
                .parameters
                .get("FunctionName")
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_string();
            let event = request_event(req.parameters.get("Payload"));
            let out = self.call(&name, event).await.map_err(service_failure)?;
            // The response body as the Python runtime writes it.
            let body_len = python_json(&out).len();
            if body_len > MAX_RESULT_BYTES {
                return Err(data_limit_exceeded("lambda"));
            }
            let date = self
                .clock
                .now()
                .format("%a, %d %b %Y %H:%M:%S GMT")
                .to_string();
            let tail = req.parameters.get("LogType").and_then(Value::as_str) == Some("Tail");
            let log = tail.then(|| log_tail(request_id));
            return Ok(invoke_result(
                out,
                body_len,
                &date,
                request_id,
                log.as_deref(),
            ));
        }
        if req.resource.starts_with("arn:aws:lambda:") {
            let out = self.call(&req.resource, req.parameters).await?;
            if python_json(&out).len() > MAX_RESULT_BYTES {
                return Err(data_limit_exceeded(&req.resource));
            }
            return Ok(out);
        }
        Err(TaskFailure {
            error: "States.Runtime".into(),
            cause: Some(format!(
                "The resource '{}' is not available offline",
                req.resource
            )),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn string_payload_is_the_request_body_and_none_is_an_empty_object() {
        assert_eq!(request_event(Some(&json!("0.0"))), json!(0.0));
        assert_eq!(request_event(Some(&json!("\"Hi\""))), json!("Hi"));
        assert_eq!(request_event(Some(&json!("not json"))), json!("not json"));
        assert_eq!(request_event(None), json!({}));
        assert_eq!(request_event(Some(&Value::Null)), json!({}));
    }

    #[test]
    fn service_integration_reports_function_errors_compactly() {
        let f = python_exception("Exception", "boom", "2, in handler\n");
        assert!(f
            .cause
            .as_deref()
            .unwrap_or_default()
            .contains("\"errorMessage\": \"boom\""));
        let s = service_failure(f);
        assert!(s
            .cause
            .as_deref()
            .unwrap_or_default()
            .starts_with("{\"errorMessage\":\"boom\","));
    }

    #[test]
    fn invoke_result_carries_the_body_length() {
        let r = invoke_result(json!({}), 2, "Mon, 01 Jan 2024 00:00:00 GMT", "id", None);
        assert!(r.get("LogResult").is_none());
        let t = invoke_result(json!({}), 2, "d", "id", Some("TG9n"));
        assert_eq!(t["LogResult"], json!("TG9n"));
        assert_eq!(
            t["SdkHttpMetadata"]["HttpHeaders"]["X-Amz-Log-Result"],
            json!("TG9n")
        );
        assert_eq!(
            r["SdkHttpMetadata"]["HttpHeaders"]["Content-Length"],
            json!("2")
        );
        assert_eq!(
            r["SdkHttpMetadata"]["AllHttpHeaders"]["Content-Length"],
            json!(["2"])
        );
        assert_eq!(r["Payload"], json!({}));
    }
}
