//! Step Functions' Lambda integration: `arn:aws:states:::lambda:invoke` (the request payload, the
//! invoke result with its HTTP metadata) and Lambda function ARNs (the payload itself), the
//! payload quota, and function errors as the task's error and cause.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use asl::causes::data_limit_exceeded;
use asl::{Clock, TaskDispatcher, TaskFailure, TaskRequest, MAX_PAYLOAD_BYTES};
use async_trait::async_trait;
use base64::Engine as _;
use serde_json::{json, Map, Value};

use crate::{causes, Invoke, LambdaError};

/// The optimised integration's resource (`.waitForTaskToken` and the like share its prefix).
const LAMBDA_INVOKE: &str = "arn:aws:states:::lambda:invoke";

/// Whether a Task resource is a Lambda one: the `lambda:invoke` integration or a function ARN.
pub fn is_lambda_resource(resource: &str) -> bool {
    resource.starts_with(LAMBDA_INVOKE) || resource.starts_with("arn:aws:lambda:")
}

/// A function's name from what a task names it by: its name, its ARN
/// (`arn:aws:lambda:REGION:ACCOUNT:function:NAME[:QUALIFIER]`) or a partial ARN
/// (`ACCOUNT:function:NAME`).
pub fn function_name(s: &str) -> &str {
    let parts: Vec<&str> = s.split(':').collect();
    match parts.iter().position(|p| *p == "function") {
        Some(i) if i + 1 < parts.len() => parts[i + 1],
        _ => s,
    }
}

/// Where invocation request ids come from.
#[derive(Debug)]
pub enum RequestIds {
    /// A random UUID each (as Lambda).
    Random,
    /// `00000000-0000-0000-0000-<n>`, n = 1, 2, ... (reproducible runs).
    Sequential(AtomicU64),
}

impl RequestIds {
    fn next(&self) -> String {
        match self {
            RequestIds::Random => uuid::Uuid::new_v4().to_string(),
            RequestIds::Sequential(n) => {
                format!(
                    "00000000-0000-0000-0000-{:012}",
                    n.fetch_add(1, Ordering::SeqCst) + 1
                )
            }
        }
    }
}

/// Runs Lambda tasks on `functions` as Step Functions does; any other resource fails with
/// [`causes::resource_not_available`].
pub struct LambdaTasks<I> {
    functions: I,
    clock: Arc<dyn Clock>,
    region: String,
    account: String,
    request_ids: RequestIds,
}

impl<I: Invoke> LambdaTasks<I> {
    /// The integration over `functions`, in us-east-1 / 111111111111, dating responses on `clock`.
    pub fn new(functions: I, clock: Arc<dyn Clock>) -> Self {
        LambdaTasks {
            functions,
            clock,
            region: "us-east-1".into(),
            account: "111111111111".into(),
            request_ids: RequestIds::Random,
        }
    }

    /// The account and region function ARNs are shown in.
    pub fn in_account(mut self, account: &str, region: &str) -> Self {
        self.account = account.to_string();
        self.region = region.to_string();
        self
    }

    /// Where request ids come from (default: random).
    pub fn with_request_ids(mut self, ids: RequestIds) -> Self {
        self.request_ids = ids;
        self
    }

    /// The functions behind it.
    pub fn functions(&self) -> &I {
        &self.functions
    }

    /// Invokes the function, as a task: within the task's TimeoutSeconds (real time), the
    /// response body and its length, or the failure Step Functions reports.
    async fn call(
        &self,
        name: &str,
        payload: &str,
        timeout: Option<u64>,
        service_integration: bool,
        request_id: &str,
    ) -> Result<Vec<u8>, TaskFailure> {
        let call = self.functions.invoke(name, payload, request_id);
        let invocation = match timeout {
            Some(t) => tokio::time::timeout(Duration::from_secs(t), call)
                .await
                .map_err(|_| TaskFailure::from(asl::causes::timeout(Some(String::new()))))?,
            None => call.await,
        };
        match invocation {
            Ok(i) if i.function_error => Err(causes::function_error(&i.body, service_integration)),
            Ok(i) => Ok(i.body),
            Err(LambdaError::NotFound) => Err(causes::function_not_found(
                &format!(
                    "arn:aws:lambda:{}:{}:function:{name}",
                    self.region, self.account
                ),
                request_id,
            )),
            Err(LambdaError::Service(detail)) => {
                Err(causes::service_exception(&detail, request_id))
            }
        }
    }
}

/// The request body a `lambda:invoke` task sends: no Payload is `{}`, a string Payload is the
/// body itself when it is JSON text (so `"0.0"` arrives as the number 0.0), any other value its
/// JSON text. Recorded: `test_lambda_task_service.py::test_invoke_json_values`.
pub fn request_body(payload: Option<&Value>) -> String {
    match payload {
        None | Some(Value::Null) => "{}".into(),
        Some(Value::String(s)) if serde_json::from_str::<Value>(s).is_ok() => s.clone(),
        Some(v) => v.to_string(),
    }
}

/// The response body as the task's result: its JSON, or (not JSON) its text as a string.
fn response_value(body: &[u8]) -> Value {
    serde_json::from_slice(body)
        .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(body).into_owned()))
}

/// `LogType: Tail`: the end of the invocation's log, base64, as Lambda returns it.
fn log_tail(request_id: &str) -> String {
    let log = format!(
        "START RequestId: {request_id} Version: $LATEST\nEND RequestId: {request_id}\nREPORT RequestId: {request_id}\tDuration: 1.00 ms\tBilled Duration: 1 ms\tMemory Size: 128 MB\tMax Memory Used: 32 MB\t\n"
    );
    base64::engine::general_purpose::STANDARD.encode(log)
}

/// `lambda:invoke`'s result: the function's response plus the Invoke call's HTTP metadata
/// (headers as Lambda sends them; Content-Length is the response body's length). Recorded:
/// `test_lambda_task_service.py::test_invoke*`.
pub fn invoke_result(
    payload: Value,
    body_len: usize,
    date: &str,
    request_id: &str,
    log_result: Option<&str>,
) -> Value {
    let len = body_len.to_string();
    let trace = "Root=1-00000000-000000000000000000000000;Parent=0000000000000000;Sampled=0;Lineage=1:00000000:0";
    let mut headers = vec![
        ("Connection", "keep-alive"),
        ("Content-Length", len.as_str()),
        ("Content-Type", "application/json"),
        ("Date", date),
        ("X-Amz-Executed-Version", "$LATEST"),
        ("x-amzn-Remapped-Content-Length", "0"),
        ("x-amzn-RequestId", request_id),
        ("X-Amzn-Trace-Id", trace),
    ];
    if let Some(l) = log_result {
        headers.push(("X-Amz-Log-Result", l));
    }
    let all: Map<String, Value> = headers
        .iter()
        .map(|(k, v)| (k.to_string(), json!([v])))
        .collect();
    let single: Map<String, Value> = headers
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
impl<I: Invoke> TaskDispatcher for LambdaTasks<I> {
    async fn invoke(&self, req: TaskRequest) -> Result<Value, TaskFailure> {
        let request_id = self.request_ids.next();
        if req.resource.starts_with(LAMBDA_INVOKE) {
            let name = req
                .parameters
                .get("FunctionName")
                .and_then(Value::as_str)
                .ok_or_else(|| causes::missing_function_name(&req.state_name))?;
            let payload = request_body(req.parameters.get("Payload"));
            let body = self
                .call(
                    function_name(name),
                    &payload,
                    req.timeout_seconds,
                    true,
                    &request_id,
                )
                .await?;
            if body.len() > MAX_PAYLOAD_BYTES {
                return Err(data_limit_exceeded("lambda").into());
            }
            let date = self
                .clock
                .now()
                .format("%a, %d %b %Y %H:%M:%S GMT")
                .to_string();
            let tail = req.parameters.get("LogType").and_then(Value::as_str) == Some("Tail");
            let log = tail.then(|| log_tail(&request_id));
            return Ok(invoke_result(
                response_value(&body),
                body.len(),
                &date,
                &request_id,
                log.as_deref(),
            ));
        }
        if req.resource.starts_with("arn:aws:lambda:") {
            let payload = req.parameters.to_string();
            let body = self
                .call(
                    function_name(&req.resource),
                    &payload,
                    req.timeout_seconds,
                    false,
                    &request_id,
                )
                .await?;
            if body.len() > MAX_PAYLOAD_BYTES {
                return Err(data_limit_exceeded(&req.resource).into());
            }
            return Ok(response_value(&body));
        }
        Err(causes::resource_not_available(&req.resource))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn string_payload_is_the_request_body_and_none_is_an_empty_object() {
        assert_eq!(request_body(Some(&json!("0.0"))), "0.0");
        assert_eq!(request_body(Some(&json!("\"Hi\""))), "\"Hi\"");
        assert_eq!(request_body(Some(&json!("not json"))), "\"not json\"");
        assert_eq!(request_body(None), "{}");
        assert_eq!(request_body(Some(&Value::Null)), "{}");
        assert_eq!(request_body(Some(&json!({"a": [1]}))), r#"{"a":[1]}"#);
    }

    #[test]
    fn function_names_come_from_names_and_arns() {
        assert_eq!(function_name("f"), "f");
        assert_eq!(function_name("arn:aws:lambda:us-east-1:1:function:f"), "f");
        assert_eq!(
            function_name("arn:aws:lambda:us-east-1:1:function:f:$LATEST"),
            "f"
        );
        assert_eq!(function_name("1:function:f"), "f");
    }

    #[test]
    fn invoke_result_carries_the_body_length_and_the_log_tail() {
        let r = invoke_result(json!({}), 2, "Mon, 01 Jan 2024 00:00:00 GMT", "id", None);
        assert!(r.get("LogResult").is_none());
        assert_eq!(
            r["SdkHttpMetadata"]["HttpHeaders"]["Content-Length"],
            json!("2")
        );
        assert_eq!(
            r["SdkHttpMetadata"]["AllHttpHeaders"]["Content-Length"],
            json!(["2"])
        );
        let t = invoke_result(json!({}), 2, "d", "id", Some("TG9n"));
        assert_eq!(t["LogResult"], json!("TG9n"));
        assert_eq!(
            t["SdkHttpMetadata"]["HttpHeaders"]["X-Amz-Log-Result"],
            json!("TG9n")
        );
    }

    #[test]
    fn a_body_that_is_not_json_is_kept_as_text() {
        assert_eq!(response_value(b"\"a\""), json!("a"));
        assert_eq!(response_value(b"aaa"), json!("aaa"));
    }
}
