//! `sfn-local serve`: the Step Functions API (AWS JSON 1.0, `X-Amz-Target: AWSStepFunctions.<Op>`)
//! over HTTP/1.1 on loopback, backed by a [`Runner`], for the AWS CLI and SDKs (`--endpoint-url`).

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;

use chrono::{DateTime, Utc};
use http_body_util::{BodyExt, Full, Limited};
use hyper::body::{Bytes, Incoming};
use hyper::{Request, Response, StatusCode};
use serde_json::{json, Value};

use crate::error::RunnerError;
use crate::functions::Fault;
use crate::runner::{parse_execution_arn, Runner};
use crate::store::ExecutionRecord;
use crate::template::{ACCOUNT, REGION};

/// Largest request body the API accepts (AWS: 1 MiB per request).
pub const MAX_REQUEST_BYTES: usize = 1024 * 1024;
/// Largest execution input (AWS: 262,144 characters).
pub const MAX_INPUT_CHARS: usize = 262_144;
/// ListExecutions and GetExecutionHistory page size when `maxResults` is absent or 0.
const DEFAULT_PAGE: usize = 100;
const MAX_PAGE: usize = 1000;

/// The ARNs the API shows: the runner names everything in its own account and region; the API
/// shows (and accepts) `account` and `region` instead.
#[derive(Debug, Clone)]
pub struct ApiOptions {
    pub account: String,
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

/// An API error as AWS sends it: `{"__type", "message"}` with an HTTP status.
#[derive(Debug, Clone, PartialEq)]
pub struct ApiError {
    pub status: StatusCode,
    pub kind: &'static str,
    pub message: String,
}

impl ApiError {
    fn new(kind: &'static str, message: impl Into<String>) -> Self {
        ApiError {
            status: StatusCode::BAD_REQUEST,
            kind,
            message: message.into(),
        }
    }

    fn validation(message: impl Into<String>) -> Self {
        ApiError::new("ValidationException", message)
    }
}

impl From<RunnerError> for ApiError {
    fn from(e: RunnerError) -> Self {
        let message = e.to_string();
        // The runner's messages start with the error's name; AWS's do not.
        let strip = |name: &str| -> String {
            message
                .strip_prefix(name)
                .and_then(|m| m.strip_prefix(": "))
                .unwrap_or(&message)
                .to_string()
        };
        match &e {
            RunnerError::StateMachineDoesNotExist(_) => ApiError::new(
                "StateMachineDoesNotExist",
                strip("StateMachineDoesNotExist"),
            ),
            RunnerError::ExecutionDoesNotExist(_) => {
                ApiError::new("ExecutionDoesNotExist", strip("ExecutionDoesNotExist"))
            }
            RunnerError::ExecutionAlreadyExists(_) => {
                ApiError::new("ExecutionAlreadyExists", strip("ExecutionAlreadyExists"))
            }
            RunnerError::InvalidName(_) => ApiError::new("InvalidName", strip("InvalidName")),
            RunnerError::ExecutionNotRedrivable(_) => {
                ApiError::new("ExecutionNotRedrivable", strip("ExecutionNotRedrivable"))
            }
            RunnerError::InvalidExecutionInput(_) => {
                ApiError::new("InvalidExecutionInput", strip("InvalidExecutionInput"))
            }
            RunnerError::Argument { .. } => ApiError::validation(message),
            _ => ApiError {
                status: StatusCode::INTERNAL_SERVER_ERROR,
                kind: "InternalServerError",
                message,
            },
        }
    }
}

/// The API over one runner.
pub struct Api {
    runner: Runner,
    options: ApiOptions,
}

/// AWS JSON dates: epoch seconds (with milliseconds).
fn epoch(d: &DateTime<Utc>) -> Value {
    json!(d.timestamp_millis() as f64 / 1000.0)
}

/// The runner's documents carry dates as RFC 3339 text (the CLI's form): the API sends epochs.
fn epoch_dates(v: &mut Value) {
    if let Value::Object(m) = v {
        for key in ["startDate", "stopDate", "redriveDate", "timestamp"] {
            if let Some(Value::String(s)) = m.get(key) {
                if let Ok(d) = DateTime::parse_from_rfc3339(s) {
                    m.insert(key.into(), epoch(&d.with_timezone(&Utc)));
                }
            }
        }
    }
}

fn string_field<'a>(body: &'a Value, name: &str) -> Result<Option<&'a str>, ApiError> {
    match body.get(name) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s)),
        Some(_) => Err(ApiError::validation(format!(
            "1 validation error detected: Value at '{name}' failed to satisfy constraint: Member must be a string"
        ))),
    }
}

fn required<'a>(body: &'a Value, name: &str) -> Result<&'a str, ApiError> {
    string_field(body, name)?.ok_or_else(|| {
        ApiError::validation(format!(
            "1 validation error detected: Value null at '{name}' failed to satisfy constraint: Member must not be null"
        ))
    })
}

/// `maxResults` (0 or absent: the default page) and `nextToken` (an offset this API issued).
fn page(body: &Value) -> Result<(usize, usize), ApiError> {
    let size = match body.get("maxResults") {
        None | Some(Value::Null) => DEFAULT_PAGE,
        Some(v) => match v.as_u64() {
            Some(0) => DEFAULT_PAGE,
            Some(n) if n as usize <= MAX_PAGE => n as usize,
            _ => {
                return Err(ApiError::validation(format!(
                    "1 validation error detected: Value '{v}' at 'maxResults' failed to satisfy constraint: Member must have value less than or equal to {MAX_PAGE}"
                )))
            }
        },
    };
    let start = match string_field(body, "nextToken")? {
        None => 0,
        Some(t) => t
            .strip_prefix("sfn-local:")
            .and_then(|n| n.parse::<usize>().ok())
            .ok_or_else(|| ApiError::new("InvalidToken", format!("Invalid Token: '{t}'")))?,
    };
    Ok((start, size))
}

/// One page of `items` and the token of the next one.
fn paginate(items: Vec<Value>, start: usize, size: usize) -> (Vec<Value>, Option<String>) {
    let total = items.len();
    let end = start.saturating_add(size).min(total);
    let page: Vec<Value> = items
        .into_iter()
        .skip(start)
        .take(end.saturating_sub(start))
        .collect();
    let next = (end < total).then(|| format!("sfn-local:{end}"));
    (page, next)
}

/// ListExecutions' `redriveFilter`: `REDRIVEN` (redriven at least once) → Some(true),
/// `NOT_REDRIVEN` → Some(false), absent → None (both, as AWS).
fn redrive_filter(filter: Option<&str>) -> Result<Option<bool>, ApiError> {
    match filter {
        None => Ok(None),
        Some("REDRIVEN") => Ok(Some(true)),
        Some("NOT_REDRIVEN") => Ok(Some(false)),
        Some(other) => Err(ApiError::validation(format!(
            "1 validation error detected: Value '{other}' at 'redriveFilter' failed to satisfy constraint: Member must satisfy enum value set: [REDRIVEN, NOT_REDRIVEN]"
        ))),
    }
}

/// A List/Get response: one page of `items` under `key`, and `nextToken` when more follow.
fn page_of(key: &str, items: Vec<Value>, start: usize, size: usize) -> Value {
    let (items, next) = paginate(items, start, size);
    let mut out = json!({ key: items });
    if let Some(t) = next {
        out["nextToken"] = json!(t);
    }
    out
}

impl Api {
    pub fn new(runner: Runner, options: ApiOptions) -> Self {
        Api { runner, options }
    }

    pub fn runner(&self) -> &Runner {
        &self.runner
    }

    /// The runner's ARN prefixes and the API's.
    fn prefixes(&self) -> [(String, String); 3] {
        let (a, r) = (&self.options.account, &self.options.region);
        [
            (
                format!("arn:aws:states:{REGION}:{ACCOUNT}:"),
                format!("arn:aws:states:{r}:{a}:"),
            ),
            (
                format!("arn:aws:lambda:{REGION}:{ACCOUNT}:"),
                format!("arn:aws:lambda:{r}:{a}:"),
            ),
            (
                format!("arn:aws:iam::{ACCOUNT}:"),
                format!("arn:aws:iam::{a}:"),
            ),
        ]
    }

    /// An ARN of the API → the runner's; an ARN of another account or region → None.
    fn to_runner_arn(&self, arn: &str) -> Option<String> {
        let [(runner, api), ..] = self.prefixes();
        arn.strip_prefix(&api).map(|rest| format!("{runner}{rest}"))
    }

    /// The response document with the API's account and region in every ARN.
    fn to_api_text(&self, v: &Value) -> String {
        let mut text = v.to_string();
        if self.options.account != ACCOUNT || self.options.region != REGION {
            for (runner, api) in self.prefixes() {
                text = text.replace(&runner, &api);
            }
        }
        text
    }

    /// `stateMachineArn` → the template machine's name.
    fn state_machine(&self, arn: &str) -> Result<String, ApiError> {
        let parts: Vec<&str> = arn.split(':').collect();
        if !matches!(parts.as_slice(), ["arn", "aws", "states", _, _, "stateMachine", n] if !n.is_empty())
        {
            return Err(ApiError::new("InvalidArn", format!("Invalid Arn: '{arn}'")));
        }
        let missing = || {
            ApiError::new(
                "StateMachineDoesNotExist",
                format!("State Machine Does Not Exist: '{arn}'"),
            )
        };
        let runner_arn = self.to_runner_arn(arn).ok_or_else(missing)?;
        self.runner
            .template()
            .state_machines
            .iter()
            .find(|m| m.arn == runner_arn)
            .map(|m| m.name.clone())
            .ok_or_else(missing)
    }

    /// `executionArn` → the runner's ARN of that execution.
    fn execution(&self, arn: &str) -> Result<String, ApiError> {
        let parts: Vec<&str> = arn.split(':').collect();
        if !matches!(parts.as_slice(), ["arn", "aws", "states", _, _, "execution", m, n] if !m.is_empty() && !n.is_empty())
        {
            return Err(ApiError::new("InvalidArn", format!("Invalid Arn: '{arn}'")));
        }
        let missing = || {
            ApiError::new(
                "ExecutionDoesNotExist",
                format!("Execution Does Not Exist: '{arn}'"),
            )
        };
        let runner_arn = self.to_runner_arn(arn).ok_or_else(missing)?;
        let (machine, _) = parse_execution_arn(&runner_arn).map_err(|_| missing())?;
        if self.runner.template().state_machine(&machine).is_none() {
            return Err(missing());
        }
        Ok(runner_arn)
    }

    fn describe(&self, r: &ExecutionRecord) -> Value {
        let mut v = r.describe();
        epoch_dates(&mut v);
        v
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

    /// One HTTP request → one HTTP response (never an HTTP-level failure).
    pub async fn handle(&self, request: Request<Incoming>) -> Response<Full<Bytes>> {
        let request_id = uuid::Uuid::new_v4().to_string();
        let result = self.handle_inner(request).await;
        let (status, text) = match result {
            Ok(v) => (StatusCode::OK, self.to_api_text(&v)),
            Err(e) => {
                tracing::info!(error = e.kind, message = %e.message, "API request refused");
                (
                    e.status,
                    self.to_api_text(&json!({"__type": e.kind, "message": e.message})),
                )
            }
        };
        let mut response = Response::new(Full::new(Bytes::from(text)));
        *response.status_mut() = status;
        let headers = response.headers_mut();
        headers.insert(
            hyper::header::CONTENT_TYPE,
            hyper::header::HeaderValue::from_static("application/x-amz-json-1.0"),
        );
        if let Ok(v) = hyper::header::HeaderValue::from_str(&request_id) {
            headers.insert("x-amzn-RequestId", v);
        }
        response
    }

    async fn handle_inner(&self, request: Request<Incoming>) -> Result<Value, ApiError> {
        if request.method() != hyper::Method::POST {
            return Err(ApiError::new(
                "UnknownOperationException",
                "the Step Functions API takes POST / with an X-Amz-Target header",
            ));
        }
        let too_big = || {
            ApiError::validation(format!(
                "the request body is over the API's {MAX_REQUEST_BYTES}-byte limit"
            ))
        };
        if let Some(len) = request
            .headers()
            .get(hyper::header::CONTENT_LENGTH)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse::<u64>().ok())
        {
            if len > MAX_REQUEST_BYTES as u64 {
                return Err(too_big());
            }
        }
        let target = request
            .headers()
            .get("x-amz-target")
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .to_string();
        let bytes = Limited::new(request.into_body(), MAX_REQUEST_BYTES)
            .collect()
            .await
            .map_err(|_| too_big())?
            .to_bytes();
        let body: Value = if bytes.is_empty() {
            json!({})
        } else {
            serde_json::from_slice(&bytes).map_err(|e| {
                ApiError::new(
                    "SerializationException",
                    format!("the request body is not JSON: {e}"),
                )
            })?
        };
        if let Some(op) = target.strip_prefix("AWSStepFunctions.") {
            let op = op.to_string();
            tracing::debug!(operation = %op, "API request");
            self.call(&op, &body).await
        } else if target == "SfnLocal.SetFaults" {
            self.set_faults(&body)
        } else {
            Err(ApiError::new(
                "UnknownOperationException",
                format!("unknown X-Amz-Target '{target}' (expected AWSStepFunctions.<Operation>)"),
            ))
        }
    }
}

/// Serves `api` on `listener` until `shutdown` resolves.
pub async fn serve(
    listener: tokio::net::TcpListener,
    api: Arc<Api>,
    shutdown: impl std::future::Future<Output = ()>,
) -> Result<(), RunnerError> {
    tokio::pin!(shutdown);
    loop {
        let (stream, peer): (tokio::net::TcpStream, SocketAddr) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(a) => a,
                Err(e) => {
                    // A transient accept error (e.g. out of descriptors) must not end the server.
                    tracing::warn!(error = %e, "accept failed");
                    continue;
                }
            },
            () = &mut shutdown => return Ok(()),
        };
        let api = api.clone();
        tokio::spawn(async move {
            let service = hyper::service::service_fn(move |req| {
                let api = api.clone();
                async move { Ok::<_, Infallible>(api.handle(req).await) }
            });
            if let Err(e) = hyper::server::conn::http1::Builder::new()
                .serve_connection(hyper_util::rt::TokioIo::new(stream), service)
                .await
            {
                tracing::debug!(peer = %peer, error = %e, "connection ended with an error");
            }
        });
    }
}

/// Whether the server may listen on `host` (loopback only unless `allow_remote`).
pub fn check_host(host: &str, allow_remote: bool) -> Result<(), RunnerError> {
    let loopback = host == "localhost"
        || host
            .parse::<std::net::IpAddr>()
            .map(|ip| ip.is_loopback())
            .unwrap_or(false);
    if loopback || allow_remote {
        Ok(())
    } else {
        Err(RunnerError::argument(
            "--host",
            format!("{host} is not a loopback address: the API has no authentication; pass --allow-remote to listen there anyway"),
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pages_and_tokens() {
        let items: Vec<Value> = (0..5).map(|i| json!(i)).collect();
        let (p, next) = paginate(items.clone(), 0, 2);
        assert_eq!(p, vec![json!(0), json!(1)]);
        assert_eq!(next.as_deref(), Some("sfn-local:2"));
        let (p, next) = paginate(items, 4, 2);
        assert_eq!(p, vec![json!(4)]);
        assert_eq!(next, None);
        let err = page(&json!({"nextToken": "bogus"})).unwrap_err();
        assert_eq!(err.kind, "InvalidToken");
        assert_eq!(page(&json!({"maxResults": 0})).unwrap(), (0, DEFAULT_PAGE));
        assert_eq!(
            page(&json!({"maxResults": 1001})).unwrap_err().kind,
            "ValidationException"
        );
    }

    #[test]
    fn redrive_filter_names() {
        assert_eq!(redrive_filter(None).unwrap(), None);
        assert_eq!(redrive_filter(Some("REDRIVEN")).unwrap(), Some(true));
        assert_eq!(redrive_filter(Some("NOT_REDRIVEN")).unwrap(), Some(false));
        assert_eq!(
            redrive_filter(Some("redriven")).unwrap_err().kind,
            "ValidationException"
        );
    }

    #[test]
    fn loopback_only_unless_allowed() {
        assert!(check_host("127.0.0.1", false).is_ok());
        assert!(check_host("::1", false).is_ok());
        assert!(check_host("localhost", false).is_ok());
        let err = check_host("0.0.0.0", false).unwrap_err().to_string();
        assert!(err.contains("--allow-remote"), "{err}");
        assert!(check_host("0.0.0.0", true).is_ok());
    }

    #[test]
    fn dates_become_epoch_seconds() {
        let mut v = json!({"startDate": "2026-11-25T06:10:00.123000+00:00", "name": "x"});
        epoch_dates(&mut v);
        assert_eq!(v["startDate"], json!(1795587000.123));
        assert_eq!(v["name"], "x");
    }
}
