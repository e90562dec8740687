//! `sfn-local serve`: the Step Functions API (AWS JSON 1.0, `X-Amz-Target: AWSStepFunctions.<Op>`)
//! over HTTP/1.1 on loopback, backed by a [`Runner`], for the AWS CLI and SDKs (`--endpoint-url`).
//!
//! This module routes each operation to its handler in `operations` (TestState in `test_state`,
//! ValidateStateMachineDefinition and UpdateStateMachine in `validate`); `request` parses the body
//! into the operation's typed request (AWS's member types through `members`) and checks it first,
//! `shapes` builds the response JSON (epoch dates, pages), `arns` translates the API's ARNs and the
//! runner's, `error` is AWS's error document, `http` the server. `dynamodb` (with `key_condition`)
//! answers the DynamoDB JSON API read-only over the embedded tables.

mod arns;
mod dynamodb;
mod error;
mod http;
mod key_condition;
mod members;
mod operations;
pub mod quotas;
mod request;
mod shapes;
mod test_state;
#[cfg(test)]
mod tests;
#[cfg(test)]
mod tests_test_state;
mod validate;

pub use error::ApiError;
pub use http::{check_host, serve};

use request::parse;

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
    /// `--aws-quotas`: AWS's API throttling (None: unthrottled).
    quotas: Option<quotas::Quotas>,
}

impl Api {
    /// The API over `runner`, showing its ARNs in `options`' account and region.
    pub fn new(runner: Runner, options: ApiOptions) -> Self {
        Api {
            runner,
            options,
            quotas: None,
        }
    }

    /// The API throttled as AWS throttles it (`serve --aws-quotas`).
    pub fn with_quotas(mut self, quotas: quotas::Quotas) -> Self {
        self.quotas = Some(quotas);
        self
    }

    /// sfn-local's own operation: the quotas in force and how many calls each throttled.
    fn quota_report(&self) -> Value {
        match &self.quotas {
            None => json!({"awsQuotas": false}),
            Some(q) => json!({
                "awsQuotas": true,
                "throttled": q.throttled(),
                "quotas": q.quotas().iter().map(|(a, q)| (a.clone(), json!({"bucket": q.size, "refillPerSecond": q.refill}))).collect::<serde_json::Map<_, _>>(),
            }),
        }
    }

    /// The runner behind the API.
    pub fn runner(&self) -> &Runner {
        &self.runner
    }

    /// Runs one operation on its JSON body: the body is parsed into the operation's request
    /// (`request`) and checked before the operation (`operations`) looks at any resource.
    pub async fn call(&self, operation: &str, body: &Value) -> Result<Value, ApiError> {
        if !body.is_object() {
            return Err(ApiError::new(
                "SerializationException",
                "the request body must be a JSON object",
            ));
        }
        match operation {
            "ListStateMachines" => self.list_state_machines(parse(body)?),
            "DescribeStateMachine" => self.describe_state_machine(parse(body)?),
            "DescribeStateMachineForExecution" => {
                self.describe_state_machine_for_execution(parse(body)?)
            }
            "CreateStateMachine" => self.create_state_machine(parse(body)?),
            "StartExecution" => self.start_execution(parse(body)?).await,
            "StartSyncExecution" => {
                parse::<request::StartExecution>(body)?;
                Err(ApiError::new(
                    "StateMachineTypeNotSupported",
                    "This operation is not supported by this type of state machine",
                ))
            }
            "DescribeExecution" => self.describe_execution(parse(body)?),
            "ListExecutions" => self.list_executions(parse(body)?),
            "GetExecutionHistory" => self.get_execution_history(parse(body)?),
            "RedriveExecution" => self.redrive_execution(parse(body)?).await,
            "StopExecution" => self.stop_execution(parse(body)?).await,
            "TestState" => self.test_state(parse(body)?).await,
            "ValidateStateMachineDefinition" => {
                self.validate_state_machine_definition(parse(body)?)
            }
            "UpdateStateMachine" => self.update_state_machine(parse(body)?),
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
