//! `sfn-local serve`: the Step Functions API (AWS JSON 1.0, `X-Amz-Target: AWSStepFunctions.<Op>`)
//! over HTTP/1.1 on loopback, backed by a [`Runner`], for the AWS CLI and SDKs (`--endpoint-url`).
//!
//! This module routes each operation to the runner; `request` reads the request fields, `shapes`
//! builds the response JSON (epoch dates, pages), `arns` translates the API's ARNs and the runner's,
//! `error` is AWS's error document, `http` the server.

mod arns;
mod error;
mod http;
mod request;
mod shapes;
#[cfg(test)]
mod tests;

pub use error::ApiError;
pub use http::{check_host, serve};

use request::{page, redrive_filter, required, string_field};
use shapes::{epoch, epoch_dates, page_of};

use chrono::Utc;
use serde_json::{json, Value};

use crate::functions::Fault;
use crate::runner::Runner;
use crate::template::{ACCOUNT, REGION};

/// Largest request body the API accepts (AWS: 1 MiB per request).
pub const MAX_REQUEST_BYTES: usize = 1024 * 1024;
/// Largest execution input (AWS: 262,144 characters).
pub const MAX_INPUT_CHARS: usize = 262_144;

/// The ARNs the API shows: the runner names everything in its own account and region; the API
/// shows (and accepts) `account` and `region` instead.
#[derive(Debug, Clone)]
pub struct ApiOptions {
    /// The account id the API's ARNs show.
    pub account: String,
    /// The region the API's ARNs show.
    pub region: String,
}

impl Default for ApiOptions {
    fn default() -> Self {
        ApiOptions {
            account: ACCOUNT.into(),
            region: REGION.into(),
        }
    }
}

/// The API over one runner.
pub struct Api {
    runner: Runner,
    options: ApiOptions,
}

impl Api {
    /// The API over `runner`, showing its ARNs in `options`' account and region.
    pub fn new(runner: Runner, options: ApiOptions) -> Self {
        Api { runner, options }
    }

    /// The runner behind the API.
    pub fn runner(&self) -> &Runner {
        &self.runner
    }

    /// Runs one operation on its JSON body.
    pub async fn call(&self, operation: &str, body: &Value) -> Result<Value, ApiError> {
        if !body.is_object() {
            return Err(ApiError::new(
                "SerializationException",
                "the request body must be a JSON object",
            ));
        }
        match operation {
            "ListStateMachines" => {
                let (start, size) = page(body)?;
                let items = self
                    .runner
                    .template()
                    .state_machines
                    .iter()
                    .map(|m| {
                        json!({"stateMachineArn": m.arn, "name": m.name, "type": "STANDARD",
                               "creationDate": epoch(&self.runner.opened_at())})
                    })
                    .collect();
                Ok(page_of("stateMachines", items, start, size))
            }
            "DescribeStateMachine" => {
                let name = self.state_machine(required(body, "stateMachineArn")?)?;
                let template = self.runner.template();
                let m = template
                    .state_machine(&name)
                    .ok_or_else(|| ApiError::new("StateMachineDoesNotExist", name.clone()))?;
                let definition = template.definition(m)?;
                Ok(json!({
                    "stateMachineArn": m.arn,
                    "name": m.name,
                    "status": "ACTIVE",
                    "definition": definition,
                    "roleArn": format!("arn:aws:iam::{ACCOUNT}:role/sfn-local"),
                    "type": "STANDARD",
                    "creationDate": epoch(&self.runner.opened_at()),
                    "loggingConfiguration": {"level": "OFF", "includeExecutionData": false},
                    "tracingConfiguration": {"enabled": false},
                }))
            }
            "DescribeStateMachineForExecution" => {
                let arn = self.execution(required(body, "executionArn")?)?;
                let record = self.runner.describe_execution(&arn)?;
                let template = self.runner.template();
                let m = template
                    .state_machine(&record.state_machine_name)
                    .ok_or_else(|| {
                        ApiError::new(
                            "StateMachineDoesNotExist",
                            record.state_machine_name.clone(),
                        )
                    })?;
                Ok(json!({
                    "stateMachineArn": m.arn,
                    "name": m.name,
                    "definition": template.definition(m)?,
                    "roleArn": format!("arn:aws:iam::{ACCOUNT}:role/sfn-local"),
                    "updateDate": epoch(&self.runner.opened_at()),
                    "loggingConfiguration": {"level": "OFF", "includeExecutionData": false},
                    "tracingConfiguration": {"enabled": false},
                }))
            }
            "CreateStateMachine" => {
                let name = required(body, "name")?;
                let definition = required(body, "definition")?;
                required(body, "roleArn")?;
                if let Some(t) = string_field(body, "type")?.filter(|t| *t != "STANDARD") {
                    return Err(ApiError::validation(format!(
                        "sfn-local runs STANDARD state machines only, not {t}"
                    )));
                }
                let template = self.runner.template();
                let m = template.state_machines.iter().find(|m| m.name == name).ok_or_else(|| {
                    ApiError::validation(format!(
                        "sfn-local serves the template's state machines ({}); it cannot create {name}",
                        template.state_machines.iter().map(|m| m.name.as_str()).collect::<Vec<_>>().join(", ")
                    ))
                })?;
                let same = match (
                    serde_json::from_str::<Value>(definition),
                    serde_json::from_str::<Value>(&template.definition(m)?),
                ) {
                    (Ok(a), Ok(b)) => a == b,
                    (Err(e), _) => {
                        return Err(ApiError::new(
                            "InvalidDefinition",
                            format!("Invalid State Machine Definition: '{e}'"),
                        ))
                    }
                    (Ok(_), Err(_)) => false,
                };
                if !same {
                    return Err(ApiError::new(
                        "StateMachineAlreadyExists",
                        format!("State Machine Already Exists: '{}'", m.arn),
                    ));
                }
                // AWS: creating the same machine again returns it.
                Ok(
                    json!({"stateMachineArn": m.arn, "creationDate": epoch(&self.runner.opened_at())}),
                )
            }
            "StartExecution" => {
                let machine = self.state_machine(required(body, "stateMachineArn")?)?;
                let input_text = string_field(body, "input")?.unwrap_or("{}");
                if input_text.chars().count() > MAX_INPUT_CHARS {
                    return Err(ApiError::validation(format!(
                        "1 validation error detected: Value at 'input' failed to satisfy constraint: Member must have length less than or equal to {MAX_INPUT_CHARS}"
                    )));
                }
                let input: Value = serde_json::from_str(input_text).map_err(|e| {
                    ApiError::new(
                        "InvalidExecutionInput",
                        format!("Invalid State Machine Execution Input: '{e}'"),
                    )
                })?;
                let name = string_field(body, "name")?;
                let r = self
                    .runner
                    .start_execution_detached(&machine, input, name)
                    .await?;
                Ok(json!({"executionArn": r.execution_arn, "startDate": epoch(&r.start_date)}))
            }
            "StartSyncExecution" => Err(ApiError::new(
                "StateMachineTypeNotSupported",
                "This operation is not supported by this type of state machine",
            )),
            "DescribeExecution" => {
                let arn = self.execution(required(body, "executionArn")?)?;
                Ok(self.describe(&self.runner.describe_execution(&arn)?))
            }
            "ListExecutions" => {
                let machine = self.state_machine(required(body, "stateMachineArn")?)?;
                let (start, size) = page(body)?;
                let status = string_field(body, "statusFilter")?;
                let redriven = redrive_filter(string_field(body, "redriveFilter")?)?;
                let items = self
                    .runner
                    .list_executions(&machine, status)?
                    .iter()
                    .filter(|r| redriven.is_none_or(|want| (r.redrive_count > 0) == want))
                    .map(|r| {
                        let mut v = r.list_item();
                        epoch_dates(&mut v);
                        v
                    })
                    .collect();
                Ok(page_of("executions", items, start, size))
            }
            "GetExecutionHistory" => {
                let arn = self.execution(required(body, "executionArn")?)?;
                let (start, size) = page(body)?;
                let reverse = body
                    .get("reverseOrder")
                    .and_then(Value::as_bool)
                    .unwrap_or(false);
                let events = self
                    .runner
                    .get_execution_history(&arn, reverse)?
                    .into_iter()
                    .map(|mut e| {
                        epoch_dates(&mut e);
                        e
                    })
                    .collect();
                Ok(page_of("events", events, start, size))
            }
            "RedriveExecution" => {
                let arn = self.execution(required(body, "executionArn")?)?;
                let r = self.runner.redrive_execution_detached(&arn).await?;
                let date = r.redrive_date.unwrap_or(r.start_date);
                Ok(json!({ "redriveDate": epoch(&date) }))
            }
            "StopExecution" => {
                let arn = self.execution(required(body, "executionArn")?)?;
                let error = string_field(body, "error")?.map(str::to_string);
                let cause = string_field(body, "cause")?.map(str::to_string);
                let r = self.runner.stop_execution(&arn, error, cause).await?;
                let date = r.stop_date.unwrap_or_else(Utc::now);
                Ok(json!({ "stopDate": epoch(&date) }))
            }
            other => Err(ApiError::new(
                "UnknownOperationException",
                format!("sfn-local does not implement the operation {other}"),
            )),
        }
    }

    /// sfn-local's own operation (not AWS's): replaces the fault switch, e.g. to end an outage.
    /// Body: `{"faults": ["notify-failure=TransientError:always", ...]}` (empty: no faults).
    fn set_faults(&self, body: &Value) -> Result<Value, ApiError> {
        let specs = body
            .get("faults")
            .and_then(Value::as_array)
            .ok_or_else(|| {
                ApiError::validation("expected {\"faults\": [\"NAME=ErrorType:N|always\", ...]}")
            })?;
        let mut faults = Vec::new();
        for s in specs {
            let s = s
                .as_str()
                .ok_or_else(|| ApiError::validation("each fault is a string"))?;
            faults.push(s.parse::<Fault>()?);
        }
        self.runner.set_faults(faults)?;
        Ok(json!({ "faults": specs }))
    }
}
