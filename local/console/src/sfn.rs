//! The console's one back end: the Step Functions API through aws-sdk-sfn, against any endpoint
//! (`sfn-local serve`, or AWS with the default credentials chain). Every read and action is here.

use aws_sdk_sfn::error::{DisplayErrorContext, ProvideErrorMetadata};
use aws_sdk_sfn::types::{ExecutionRedriveFilter, ExecutionStatus, HistoryEvent};
use aws_sdk_sfn::Client;
use chrono::{DateTime, Utc};

/// Most executions read from one machine's list (pages of 1,000): bounds every scan.
pub const MAX_LISTED: usize = 5_000;
/// Most history events read for one execution (AWS keeps up to 25,000).
pub const MAX_EVENTS: usize = 25_000;

/// A failed API call: the operation, AWS's error code, and the SDK's message (never credentials:
/// the SDK's errors carry none).
#[derive(Debug, thiserror::Error)]
#[error("{operation}: {message}")]
pub struct SfnError {
    /// The API operation that failed.
    pub operation: &'static str,
    /// AWS's error code, when the service sent one.
    pub code: Option<String>,
    /// The SDK's message, with its context.
    pub message: String,
}

fn sfn_error<E>(operation: &'static str, e: aws_sdk_sfn::error::SdkError<E>) -> SfnError
where
    E: ProvideErrorMetadata + std::error::Error + 'static,
{
    let code = e.code().map(str::to_string);
    let message = match e.message() {
        Some(m) => format!("{} ({m})", code.as_deref().unwrap_or("error")),
        None => DisplayErrorContext(&e).to_string(),
    };
    SfnError {
        operation,
        code,
        message,
    }
}

fn date(d: &aws_smithy_types::DateTime) -> DateTime<Utc> {
    DateTime::from_timestamp(d.secs(), d.subsec_nanos()).unwrap_or_default()
}

/// One state machine (ListStateMachines).
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Machine {
    /// Its ARN.
    pub arn: String,
    /// Its name.
    pub name: String,
}

/// One ListExecutions item.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ExecutionItem {
    /// The execution's ARN.
    pub arn: String,
    /// Its state machine.
    pub machine_arn: String,
    /// Its name (any name for a hand-started one).
    pub name: String,
    /// RUNNING, SUCCEEDED, FAILED, TIMED_OUT, ABORTED or PENDING_REDRIVE.
    pub status: String,
    /// Started.
    pub start: DateTime<Utc>,
    /// Stopped; `None` while running.
    pub stop: Option<DateTime<Utc>>,
    /// Times it was redriven.
    pub redrive_count: i32,
}

/// DescribeExecution.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Execution {
    /// The execution's ARN.
    pub arn: String,
    /// Its state machine.
    pub machine_arn: String,
    /// Its name.
    pub name: String,
    /// RUNNING, SUCCEEDED, FAILED, TIMED_OUT, ABORTED or PENDING_REDRIVE.
    pub status: String,
    /// Started.
    pub start: DateTime<Utc>,
    /// Stopped; `None` while running.
    pub stop: Option<DateTime<Utc>>,
    /// The input document (`{"orderId"}` for a per-order execution).
    pub input: Option<String>,
    /// The output document, when it succeeded.
    pub output: Option<String>,
    /// The errorType it failed with.
    pub error: Option<String>,
    /// The failure's cause.
    pub cause: Option<String>,
    /// Times it was redriven.
    pub redrive_count: i32,
    /// When it was last redriven.
    pub redrive_date: Option<DateTime<Utc>>,
    /// `REDRIVABLE`, `NOT_REDRIVABLE` or `REDRIVABLE_BY_MAP_RUN`.
    pub redrive_status: Option<String>,
    /// Why it cannot be redriven, when it cannot.
    pub redrive_status_reason: Option<String>,
}

impl Execution {
    /// The input as JSON (None when absent or not JSON).
    pub fn input_json(&self) -> Option<serde_json::Value> {
        self.input
            .as_deref()
            .and_then(|i| serde_json::from_str(i).ok())
    }

    /// The output as JSON (None when absent or not JSON).
    pub fn output_json(&self) -> Option<serde_json::Value> {
        self.output
            .as_deref()
            .and_then(|o| serde_json::from_str(o).ok())
    }
}

/// One history event, flattened to what the console shows.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Event {
    /// The event's id in the history.
    pub id: i64,
    /// The event it follows.
    pub previous_id: i64,
    /// When it happened.
    pub timestamp: DateTime<Utc>,
    /// Its type (`TaskStateEntered`, `LambdaFunctionFailed`, ...).
    pub kind: String,
    /// StateEntered/StateExited: the state's name.
    pub state: Option<String>,
    /// The input, on an entered event.
    pub input: Option<String>,
    /// The output, on an exited or succeeded event.
    pub output: Option<String>,
    /// The error, on a failed event.
    pub error: Option<String>,
    /// The cause, on a failed event.
    pub cause: Option<String>,
}

fn event(e: &HistoryEvent) -> Event {
    let mut out = Event {
        id: e.id(),
        previous_id: e.previous_event_id(),
        timestamp: date(e.timestamp()),
        kind: e.r#type().as_str().to_string(),
        state: None,
        input: None,
        output: None,
        error: None,
        cause: None,
    };
    let own = |s: Option<&str>| s.map(str::to_string);
    if let Some(d) = e.state_entered_event_details() {
        out.state = Some(d.name().to_string());
        out.input = own(d.input());
    }
    if let Some(d) = e.state_exited_event_details() {
        out.state = Some(d.name().to_string());
        out.output = own(d.output());
    }
    if let Some(d) = e.execution_started_event_details() {
        out.input = own(d.input());
    }
    if let Some(d) = e.execution_succeeded_event_details() {
        out.output = own(d.output());
    }
    if let Some(d) = e.task_scheduled_event_details() {
        out.input = Some(d.parameters().to_string());
    }
    if let Some(d) = e.task_succeeded_event_details() {
        out.output = own(d.output());
    }
    if let Some(d) = e.task_submitted_event_details() {
        out.output = own(d.output());
    }
    let failures = [
        e.task_failed_event_details()
            .map(|d| (d.error(), d.cause())),
        e.task_timed_out_event_details()
            .map(|d| (d.error(), d.cause())),
        e.task_start_failed_event_details()
            .map(|d| (d.error(), d.cause())),
        e.task_submit_failed_event_details()
            .map(|d| (d.error(), d.cause())),
        e.lambda_function_failed_event_details()
            .map(|d| (d.error(), d.cause())),
        e.lambda_function_timed_out_event_details()
            .map(|d| (d.error(), d.cause())),
        e.execution_failed_event_details()
            .map(|d| (d.error(), d.cause())),
        e.execution_aborted_event_details()
            .map(|d| (d.error(), d.cause())),
        e.execution_timed_out_event_details()
            .map(|d| (d.error(), d.cause())),
        e.map_iteration_failed_event_details()
            .map(|d| (None, d.name())),
    ];
    if let Some((error, cause)) = failures.into_iter().flatten().next() {
        out.error = own(error);
        out.cause = own(cause);
    }
    out
}

/// Whether `url` is a loopback endpoint (`sfn-local serve`, moto).
pub fn is_loopback(url: &str) -> bool {
    ["http://127.0.0.1:", "http://localhost:", "http://[::1]:"]
        .iter()
        .any(|p| url.starts_with(p))
}

/// Attempts per call (the SDK's default is 3): enough to ride out a throttled burst. A retry
/// that succeeds gives its retry-quota tokens back, so eight calls in flight never drain it.
pub const MAX_ATTEMPTS: u32 = 10;

/// The console's SDK configuration, shared by its Step Functions and DynamoDB clients: the
/// default chain (environment, profile, SSO, IMDS...), the endpoint (`sfn-local serve`) when
/// given; region from `region` or the chain.
pub async fn sdk_config(
    endpoint: Option<&str>,
    region: Option<&str>,
    profile: Option<&str>,
) -> aws_config::SdkConfig {
    // ThrottlingException is retried with the SDK's exponential backoff (1 s doubling, jittered,
    // capped at 20 s), up to MAX_ATTEMPTS: a search past DescribeExecution's burst of 300 then
    // proceeds at the 15 a second AWS refills, instead of failing. (Adaptive mode also paces
    // itself, but measured here it settles far below the refill rate: 24 describes took 40 s.)
    let retry = aws_config::retry::RetryConfig::standard().with_max_attempts(MAX_ATTEMPTS);
    let mut loader =
        aws_config::defaults(aws_config::BehaviorVersion::latest()).retry_config(retry);
    if let Some(r) = region {
        loader = loader.region(aws_config::Region::new(r.to_string()));
    }
    if let Some(p) = profile {
        loader = loader.profile_name(p);
    }
    if let Some(e) = endpoint {
        loader = loader.endpoint_url(e);
        // sfn-local checks no signature: on a loopback endpoint with no credentials in the
        // environment, sign with placeholders instead of probing profiles and IMDS.
        if is_loopback(e) && std::env::var_os("AWS_ACCESS_KEY_ID").is_none() {
            loader = loader.credentials_provider(aws_sdk_sfn::config::Credentials::new(
                "sfn-local",
                "sfn-local",
                None,
                None,
                "sfn-console-loopback",
            ));
        }
        if region.is_none()
            && std::env::var_os("AWS_REGION").is_none()
            && std::env::var_os("AWS_DEFAULT_REGION").is_none()
        {
            loader = loader.region(aws_config::Region::new("us-east-1"));
        }
    }
    loader.load().await
}

/// The Step Functions client the console uses.
#[derive(Clone)]
pub struct Sfn {
    client: Client,
}

impl Sfn {
    /// The console's back end over a configured aws-sdk-sfn client.
    pub fn new(client: Client) -> Self {
        Sfn { client }
    }

    /// A client from the default chain (environment, profile, SSO, IMDS...), with an endpoint
    /// (`sfn-local serve`) when given; region from `region` or the chain.
    pub async fn from_env(
        endpoint: Option<&str>,
        region: Option<&str>,
        profile: Option<&str>,
    ) -> Self {
        let sdk = sdk_config(endpoint, region, profile).await;
        Sfn::new(Client::new(&sdk))
    }

    /// The region the client signs for ("" when none is set).
    pub fn region(&self) -> String {
        self.client
            .config()
            .region()
            .map(|r| r.to_string())
            .unwrap_or_default()
    }

    /// Every state machine (ListStateMachines, all pages).
    pub async fn machines(&self) -> Result<Vec<Machine>, SfnError> {
        let mut out = Vec::new();
        let mut token = None;
        loop {
            let page = self
                .client
                .list_state_machines()
                .max_results(1000)
                .set_next_token(token)
                .send()
                .await
                .map_err(|e| sfn_error("ListStateMachines", e))?;
            out.extend(page.state_machines().iter().map(|m| Machine {
                arn: m.state_machine_arn().to_string(),
                name: m.name().to_string(),
            }));
            token = page.next_token().map(str::to_string);
            if token.is_none() || out.len() >= MAX_LISTED {
                return Ok(out);
            }
        }
    }

    /// ListExecutions, newest first, every page up to `limit` (≤ [`MAX_LISTED`]).
    pub async fn executions(
        &self,
        machine_arn: &str,
        status: Option<&str>,
        redriven: Option<bool>,
        limit: usize,
    ) -> Result<Vec<ExecutionItem>, SfnError> {
        Ok(self
            .executions_bounded(machine_arn, status, redriven, limit)
            .await?
            .0)
    }

    /// [`Sfn::executions`], and whether the machine has more (older) executions than those.
    pub async fn executions_bounded(
        &self,
        machine_arn: &str,
        status: Option<&str>,
        redriven: Option<bool>,
        limit: usize,
    ) -> Result<(Vec<ExecutionItem>, bool), SfnError> {
        let limit = limit.min(MAX_LISTED);
        let mut out = Vec::new();
        let mut token = None;
        loop {
            // Asks for one more than the limit on the last page: its presence says older
            // executions exist, without a second call.
            let want = (limit + 1).saturating_sub(out.len()).clamp(1, 1000);
            let page = self
                .client
                .list_executions()
                .state_machine_arn(machine_arn)
                .set_status_filter(status.map(ExecutionStatus::from))
                .set_redrive_filter(redriven.map(|r| {
                    if r {
                        ExecutionRedriveFilter::Redriven
                    } else {
                        ExecutionRedriveFilter::NotRedriven
                    }
                }))
                .max_results(want as i32)
                .set_next_token(token)
                .send()
                .await
                .map_err(|e| sfn_error("ListExecutions", e))?;
            out.extend(page.executions().iter().map(|e| ExecutionItem {
                arn: e.execution_arn().to_string(),
                machine_arn: e.state_machine_arn().to_string(),
                name: e.name().to_string(),
                status: e.status().as_str().to_string(),
                start: date(e.start_date()),
                stop: e.stop_date().map(date),
                redrive_count: e.redrive_count().unwrap_or(0),
            }));
            token = page.next_token().map(str::to_string);
            if out.len() > limit {
                out.truncate(limit);
                return Ok((out, true));
            }
            if token.is_none() {
                return Ok((out, false));
            }
        }
    }

    /// DescribeExecution.
    pub async fn describe(&self, arn: &str) -> Result<Execution, SfnError> {
        let d = self
            .client
            .describe_execution()
            .execution_arn(arn)
            .send()
            .await
            .map_err(|e| sfn_error("DescribeExecution", e))?;
        Ok(Execution {
            arn: d.execution_arn().to_string(),
            machine_arn: d.state_machine_arn().to_string(),
            name: d.name().unwrap_or_default().to_string(),
            status: d.status().as_str().to_string(),
            start: date(d.start_date()),
            stop: d.stop_date().map(date),
            input: d.input().map(str::to_string),
            output: d.output().map(str::to_string),
            error: d.error().map(str::to_string),
            cause: d.cause().map(str::to_string),
            redrive_count: d.redrive_count().unwrap_or(0),
            redrive_date: d.redrive_date().map(date),
            redrive_status: d.redrive_status().map(|s| s.as_str().to_string()),
            redrive_status_reason: d.redrive_status_reason().map(str::to_string),
        })
    }

    /// GetExecutionHistory, oldest first, every page (≤ [`MAX_EVENTS`]).
    pub async fn history(&self, arn: &str) -> Result<Vec<Event>, SfnError> {
        let mut out = Vec::new();
        let mut token = None;
        loop {
            let page = self
                .client
                .get_execution_history()
                .execution_arn(arn)
                .max_results(1000)
                .set_next_token(token)
                .send()
                .await
                .map_err(|e| sfn_error("GetExecutionHistory", e))?;
            out.extend(page.events().iter().map(event));
            token = page.next_token().map(str::to_string);
            if token.is_none() || out.len() >= MAX_EVENTS {
                return Ok(out);
            }
        }
    }

    /// The definition the execution ran (DescribeStateMachineForExecution).
    pub async fn definition_for(&self, arn: &str) -> Result<String, SfnError> {
        let d = self
            .client
            .describe_state_machine_for_execution()
            .execution_arn(arn)
            .send()
            .await
            .map_err(|e| sfn_error("DescribeStateMachineForExecution", e))?;
        Ok(d.definition().to_string())
    }

    /// StartExecution with `name` and `input`; the new execution's ARN.
    pub async fn start(
        &self,
        machine_arn: &str,
        name: &str,
        input: &str,
    ) -> Result<String, SfnError> {
        let r = self
            .client
            .start_execution()
            .state_machine_arn(machine_arn)
            .name(name)
            .input(input)
            .send()
            .await
            .map_err(|e| sfn_error("StartExecution", e))?;
        Ok(r.execution_arn().to_string())
    }

    /// RedriveExecution: re-runs a failed execution from the state that failed.
    pub async fn redrive(&self, arn: &str) -> Result<(), SfnError> {
        self.client
            .redrive_execution()
            .execution_arn(arn)
            .send()
            .await
            .map_err(|e| sfn_error("RedriveExecution", e))?;
        Ok(())
    }

    /// StopExecution with `cause`.
    pub async fn stop(&self, arn: &str, cause: &str) -> Result<(), SfnError> {
        self.client
            .stop_execution()
            .execution_arn(arn)
            .error("OperatorStop")
            .cause(cause)
            .send()
            .await
            .map_err(|e| sfn_error("StopExecution", e))?;
        Ok(())
    }
}
