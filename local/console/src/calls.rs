//! The console's AWS call log: one JSON line per call it sends (IAM action and resource), for
//! the check of the operator's least-privilege policy against what the console really calls.
//!
//! On when `CONSOLE_CALL_LOG_DIR` is set (tests/run.sh sets it): each process appends to
//! `<dir>/<pid>.jsonl`. The calls are read off the wire (X-Amz-Target and the JSON body), so a call
//! added to the console is recorded without anyone listing it.

use std::fs::File;
use std::io::Write;
use std::sync::{Arc, Mutex};

use aws_smithy_runtime_api::box_error::BoxError;
use aws_smithy_runtime_api::client::interceptors::context::BeforeTransmitInterceptorContextRef;
use aws_smithy_runtime_api::client::interceptors::Intercept;
use aws_smithy_runtime_api::client::runtime_components::RuntimeComponents;
use aws_smithy_types::config_bag::ConfigBag;
use serde_json::{json, Value};

/// The environment variable naming the call log's directory.
pub const CALL_LOG_DIR_VAR: &str = "CONSOLE_CALL_LOG_DIR";

/// One recorded call: the IAM action and what it acts on.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Call {
    /// `states` or `dynamodb`.
    pub service: String,
    /// The IAM action (`states:DescribeExecution`, `dynamodb:Query`).
    pub action: String,
    /// A Step Functions ARN (`*` for ListStateMachines), or a DynamoDB table name.
    pub resource: String,
    /// The secondary index a DynamoDB Query reads, if any.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub index: Option<String>,
}

/// The calls one request makes, read from its `X-Amz-Target` and JSON body (several for a
/// BatchGetItem over several tables). Empty for a request that is not AWS JSON.
pub fn identify(target: &str, body: &[u8]) -> Vec<Call> {
    let Some((prefix, operation)) = target.split_once('.') else {
        return Vec::new();
    };
    let body: Value = serde_json::from_slice(body).unwrap_or(Value::Null);
    let text = |name: &str| body.get(name).and_then(Value::as_str).map(str::to_string);
    match prefix {
        "AWSStepFunctions" => {
            let resource = text("executionArn")
                .or_else(|| text("stateMachineArn"))
                .unwrap_or_else(|| "*".into());
            vec![Call {
                service: "states".into(),
                action: format!("states:{operation}"),
                resource,
                index: None,
            }]
        }
        p if p.starts_with("DynamoDB_") => {
            let action = format!("dynamodb:{operation}");
            let tables: Vec<String> = match body.get("RequestItems").and_then(Value::as_object) {
                Some(items) => items.keys().cloned().collect(),
                None => text("TableName").into_iter().collect(),
            };
            tables
                .into_iter()
                .map(|table| Call {
                    service: "dynamodb".into(),
                    action: action.clone(),
                    resource: table,
                    index: text("IndexName"),
                })
                .collect()
        }
        _ => Vec::new(),
    }
}

/// The interceptor that writes the log (added to every client the console builds).
#[derive(Debug, Clone)]
pub struct CallLog {
    file: Arc<Mutex<File>>,
}

impl CallLog {
    /// The log of this process, when `CONSOLE_CALL_LOG_DIR` is set (and writable).
    pub fn from_env() -> Option<CallLog> {
        let dir = std::env::var_os(CALL_LOG_DIR_VAR)?;
        let dir = std::path::PathBuf::from(dir);
        let opened = std::fs::create_dir_all(&dir).and_then(|()| {
            std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(dir.join(format!("{}.jsonl", std::process::id())))
        });
        match opened {
            Ok(file) => Some(CallLog {
                file: Arc::new(Mutex::new(file)),
            }),
            Err(e) => {
                tracing::warn!(error = %e, "cannot open the call log: calls are not recorded");
                None
            }
        }
    }

    fn write(&self, call: &Call) {
        let line = json!(call).to_string();
        let mut file = self.file.lock().unwrap_or_else(|p| p.into_inner());
        if let Err(e) = writeln!(file, "{line}") {
            tracing::warn!(error = %e, "cannot write the call log");
        }
    }
}

impl Intercept for CallLog {
    fn name(&self) -> &'static str {
        "sfn-console call log"
    }

    fn read_before_transmit(
        &self,
        context: &BeforeTransmitInterceptorContextRef<'_>,
        _runtime_components: &RuntimeComponents,
        _cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        let request = context.request();
        let target = request.headers().get("x-amz-target").unwrap_or_default();
        let body = request.body().bytes().unwrap_or_default();
        for call in identify(target, body) {
            self.write(&call);
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn calls_are_named_by_their_iam_action_and_resource() {
        let c = identify(
            "AWSStepFunctions.DescribeExecution",
            br#"{"executionArn": "arn:aws:states:us-east-1:1:execution:m:x"}"#,
        );
        assert_eq!(c[0].action, "states:DescribeExecution");
        assert_eq!(c[0].resource, "arn:aws:states:us-east-1:1:execution:m:x");
        assert_eq!(
            identify("AWSStepFunctions.ListStateMachines", b"{}")[0].resource,
            "*"
        );
        let q = identify(
            "DynamoDB_20120810.Query",
            br#"{"TableName": "t", "IndexName": "failed-executions"}"#,
        );
        assert_eq!(
            (
                q[0].action.as_str(),
                q[0].resource.as_str(),
                q[0].index.as_deref()
            ),
            ("dynamodb:Query", "t", Some("failed-executions"))
        );
        let b = identify(
            "DynamoDB_20120810.BatchGetItem",
            br#"{"RequestItems": {"a": {}, "b": {}}}"#,
        );
        assert_eq!(b.len(), 2);
        assert!(identify("", b"").is_empty());
    }
}
