//! In-process stand-ins for the conformance corpus's trivial Lambda functions (identity, echo,
//! raise, large output, ...), registered by function name, with AWS's Lambda result/error shapes.

use std::collections::HashMap;
use std::time::Duration;

use async_trait::async_trait;
use serde_json::{json, Value};

use crate::clock::Clock;
use crate::engine::{TaskDispatcher, TaskFailure, TaskRequest};
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

#[async_trait]
impl TaskDispatcher for LambdaHandlers {
    async fn invoke(&self, req: TaskRequest) -> Result<Value, TaskFailure> {
        if req.resource.starts_with("arn:aws:states:::lambda:invoke") {
            let name = req
                .parameters
                .get("FunctionName")
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_string();
            let payload = req
                .parameters
                .get("Payload")
                .cloned()
                .unwrap_or(Value::Null);
            let out = self.call(&name, payload).await?;
            return Ok(json!({
                "ExecutedVersion": "$LATEST",
                "Payload": out,
                "SdkHttpMetadata": {"AllHttpHeaders": {}, "HttpHeaders": {}, "HttpStatusCode": 200},
                "SdkResponseMetadata": {"RequestId": "00000000-0000-0000-0000-000000000000"},
                "StatusCode": 200,
            }));
        }
        if req.resource.starts_with("arn:aws:lambda:") {
            return self.call(&req.resource, req.parameters).await;
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
