//! Task states' resources: `lambda:invoke` and Lambda ARNs to the functions backend (through the
//! fault switch), `states:startExecution` (and `.sync`, `.sync:2`) as nested local executions.

use std::sync::Arc;

use asl::{TaskDispatcher, TaskFailure, TaskRequest};
use async_trait::async_trait;
use serde_json::{json, Value};

use crate::error::RunnerError;
use crate::functions::Functions;

use super::Core;

/// Resources a Task state may name locally.
pub(super) const LAMBDA_INVOKE: &str = "arn:aws:states:::lambda:invoke";
pub(super) const START_EXECUTION: &str = "arn:aws:states:::states:startExecution";
pub(super) const START_EXECUTION_SYNC: &str = "arn:aws:states:::states:startExecution.sync";
pub(super) const START_EXECUTION_SYNC2: &str = "arn:aws:states:::states:startExecution.sync:2";

impl Core {
    pub(super) async fn lambda_invoke(&self, req: &TaskRequest) -> Result<Value, TaskFailure> {
        let p = &req.parameters;
        let name = p
            .get("FunctionName")
            .and_then(Value::as_str)
            .ok_or_else(|| lambda_local::missing_function_name(&req.state_name))?;
        if let Some(t) = p
            .get("InvocationType")
            .and_then(Value::as_str)
            .filter(|t| *t != "RequestResponse")
        {
            return Err(lambda_local::invocation_type_not_supported(t));
        }
        let Some(function) = self.template.function(name) else {
            return self.other_function(req, name).await;
        };
        let payload = p.get("Payload").cloned().unwrap_or_else(|| json!({}));
        let request_id = uuid::Uuid::new_v4().to_string();
        match self.functions.invoke(&function.binary, payload).await {
            Ok(out) => Ok(json!({
                "ExecutedVersion": "$LATEST",
                "Payload": out,
                "SdkHttpMetadata": {
                    "AllHttpHeaders": {
                        "X-Amz-Executed-Version": ["$LATEST"],
                        "x-amzn-Remapped-Content-Length": ["0"],
                        "Connection": ["keep-alive"],
                        "x-amzn-RequestId": [request_id],
                        "Content-Type": ["application/json"],
                    },
                    "HttpHeaders": {
                        "Connection": "keep-alive",
                        "Content-Type": "application/json",
                        "X-Amz-Executed-Version": "$LATEST",
                        "x-amzn-Remapped-Content-Length": "0",
                        "x-amzn-RequestId": request_id,
                    },
                    "HttpStatusCode": 200
                },
                "SdkResponseMetadata": {"RequestId": request_id},
                "StatusCode": 200
            })),
            Err(e) => Err(TaskFailure {
                error: e.error().to_string(),
                cause: Some(e.cause()),
            }),
        }
    }

    /// A Lambda task naming a function the template does not have: one of `--lambda-functions`
    /// (run by lambda-local, shaped as Step Functions shapes it), else Lambda's 404.
    async fn other_function(&self, req: &TaskRequest, name: &str) -> Result<Value, TaskFailure> {
        let short = lambda_local::function_name(name);
        match &self.python {
            Some(p) if p.functions().contains(short) => p.invoke(req.clone()).await,
            _ => Err(lambda_local::function_not_found(
                &format!(
                    "arn:aws:lambda:{}:{}:function:{short}",
                    crate::template::REGION,
                    crate::template::ACCOUNT
                ),
                &uuid::Uuid::new_v4().to_string(),
            )),
        }
    }

    pub(super) async fn start_child(
        self: &Arc<Self>,
        req: &TaskRequest,
    ) -> Result<Value, TaskFailure> {
        let p = &req.parameters;
        let api = |e: RunnerError| TaskFailure {
            error: e.integration_error(),
            cause: Some(e.to_string()),
        };
        let sm = p
            .get("StateMachineArn")
            .and_then(Value::as_str)
            .ok_or_else(|| TaskFailure {
                error: "States.Runtime".into(),
                cause: Some(format!(
                    "The state '{}': startExecution needs a string StateMachineArn",
                    req.state_name
                )),
            })?;
        let input = match p.get("Input") {
            None => json!({}),
            // A string Input is the JSON text of the input, as in the API.
            Some(Value::String(s)) => serde_json::from_str(s).map_err(|e| {
                api(RunnerError::InvalidExecutionInput(format!(
                    "Input is not JSON: {e}"
                )))
            })?,
            Some(v) => v.clone(),
        };
        let name = p.get("Name").and_then(Value::as_str);
        let parent = input
            .get("AWS_STEP_FUNCTIONS_STARTED_BY_EXECUTION_ID")
            .and_then(Value::as_str)
            .map(str::to_string)
            .or_else(|| {
                req.context
                    .pointer("/Execution/Id")
                    .and_then(Value::as_str)
                    .map(str::to_string)
            });
        let child = self.start(sm, input, name, parent).await.map_err(api)?;
        match req.resource.as_str() {
            START_EXECUTION => Ok(json!({
                "ExecutionArn": child.execution_arn,
                "StartDate": child.start_date.timestamp_millis(),
            })),
            resource => {
                let mut result = child.sync2_result();
                if resource == START_EXECUTION_SYNC {
                    // .sync (version 1) gives Input and Output as JSON text.
                    for key in ["Input", "Output"] {
                        if let Some(v) = result.get(key).cloned() {
                            result[key] = Value::String(v.to_string());
                        }
                    }
                }
                if child.status == "SUCCEEDED" {
                    Ok(result)
                } else {
                    Err(TaskFailure {
                        error: "States.TaskFailed".into(),
                        cause: Some(result.to_string()),
                    })
                }
            }
        }
    }
}

#[async_trait]
impl TaskDispatcher for Core {
    async fn invoke(&self, req: TaskRequest) -> Result<Value, TaskFailure> {
        // What became due (a Wait moved the clock on) is recorded before the Task reads it: the
        // SES events a WaitForEmailEvidence waited for (15 s at least, past the 5 s batching
        // window) are on the email log when NotifyFailure asks again.
        self.pump_evidence(true).await;
        match req.resource.as_str() {
            LAMBDA_INVOKE => self.lambda_invoke(&req).await,
            START_EXECUTION | START_EXECUTION_SYNC | START_EXECUTION_SYNC2 => {
                // The dispatcher is the Core behind an Arc (see Core::engine), so get that Arc back.
                match self.self_arc() {
                    Some(core) => core.start_child(&req).await,
                    None => Err(TaskFailure {
                        error: "States.Runtime".into(),
                        cause: Some("sfn-local: runner is shutting down".into()),
                    }),
                }
            }
            r if r.starts_with("arn:aws:lambda:") => {
                let Some(function) = self.template.function(r) else {
                    return self.other_function(&req, r).await;
                };
                self.functions
                    .invoke(&function.binary, req.parameters.clone())
                    .await
                    .map_err(|e| TaskFailure {
                        error: e.error().to_string(),
                        cause: Some(e.cause()),
                    })
            }
            r => Err(lambda_local::resource_not_available(r)),
        }
    }
}
