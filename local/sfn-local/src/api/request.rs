//! Each operation's request as a typed struct, parsed once from the body and checked against
//! AWS's constraints (required members, lengths, ranges, enums) before any handler runs.
//!
//! Precedence, as AWS's JSON services apply it: a member of the wrong JSON type
//! (SerializationException) before any constraint (ValidationException), and both before the
//! operation looks at a resource (InvalidArn, StateMachineDoesNotExist, ExecutionDoesNotExist,
//! InvalidToken, ...): AWS deserializes and validates the input shape before the service code
//! runs. Unknown members are ignored and `null` is absent, as on AWS. Members sfn-local accepts
//! and ignores are still type-checked when they are scalars (`traceHeader`, `clientToken`, ...);
//! structure and list members it ignores (`tags`, `loggingConfiguration`, ...) are not read.

use serde::de::DeserializeOwned;
use serde::Deserialize;
use serde_json::Value;

use super::members::{self, Required, Violations};
use super::{ApiError, MAX_INPUT_CHARS};

/// ListExecutions and GetExecutionHistory page size when `maxResults` is absent or 0.
pub(super) const DEFAULT_PAGE: usize = 100;
/// The largest `maxResults` AWS accepts.
pub(super) const MAX_PAGE: usize = 1000;

use crate::runner::EXECUTION_STATUSES;
use crate::store::Position;
const REDRIVE_FILTERS: [&str; 2] = ["REDRIVEN", "NOT_REDRIVEN"];
const INCLUDED_DATA: [&str; 2] = ["ALL_DATA", "METADATA_ONLY"];
const STATE_MACHINE_TYPES: [&str; 2] = ["STANDARD", "EXPRESS"];

/// A request's constraints, checked after it deserialized.
pub(super) trait Check {
    /// Records each constraint the request fails.
    fn check(&self, v: &mut Violations);
}

/// The body as the operation's request: SerializationException for a member of the wrong type,
/// then ValidationException listing every constraint it fails.
pub(super) fn parse<T: DeserializeOwned + Check>(body: &Value) -> Result<T, ApiError> {
    let request =
        T::deserialize(body).map_err(|e| ApiError::new("SerializationException", e.to_string()))?;
    let mut violations = Violations::default();
    request.check(&mut violations);
    violations.finish()?;
    Ok(request)
}

/// `maxResults` and `nextToken` of a List/Get operation.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct Page {
    /// Page size; 0 or absent: [`DEFAULT_PAGE`].
    #[serde(default, deserialize_with = "members::integer")]
    pub max_results: Option<i64>,
    /// A token this API issued (`sfn-local:<offset>`).
    #[serde(default, deserialize_with = "members::string")]
    pub next_token: Option<String>,
}

impl Check for Page {
    fn check(&self, v: &mut Violations) {
        v.range("maxResults", self.max_results, 0, MAX_PAGE as i64);
    }
}

impl Page {
    /// The page size (checked in range by [`Check`]).
    pub(super) fn size(&self) -> usize {
        match self.max_results {
            None | Some(0) => DEFAULT_PAGE,
            Some(n) => usize::try_from(n).unwrap_or(DEFAULT_PAGE),
        }
    }

    /// ListExecutions' token: where the last page stopped in the newest-first order (a start
    /// time and a name, which cannot hold `:`), so a page costs itself, not the offset before it.
    pub(super) fn token_at(p: &Position) -> String {
        let nanos = p.0 .0.timestamp_nanos_opt().unwrap_or(i64::MAX);
        format!("sfn-local:at:{nanos}:{}", p.1 .0)
    }

    /// Where a ListExecutions page starts: the first, or just after a [`Page::token_at`] token.
    pub(super) fn position(&self) -> Result<Option<Position>, ApiError> {
        let Some(t) = &self.next_token else {
            return Ok(None);
        };
        let invalid = || ApiError::new("InvalidToken", format!("Invalid Token: '{t}'"));
        let rest = t.strip_prefix("sfn-local:at:").ok_or_else(invalid)?;
        let (nanos, name) = rest.split_once(':').ok_or_else(invalid)?;
        let nanos: i64 = nanos.parse().map_err(|_| invalid())?;
        let at = chrono::DateTime::from_timestamp_nanos(nanos);
        Ok(Some((
            std::cmp::Reverse(at),
            std::cmp::Reverse(name.to_string()),
        )))
    }

    /// Where the page starts: 0, or the offset in a token this API issued. A service-side check
    /// (InvalidToken), so callers decode it after looking up the resource, as AWS does.
    pub(super) fn start(&self) -> Result<usize, ApiError> {
        match &self.next_token {
            None => Ok(0),
            Some(t) => t
                .strip_prefix("sfn-local:")
                .and_then(|n| n.parse::<usize>().ok())
                .ok_or_else(|| ApiError::new("InvalidToken", format!("Invalid Token: '{t}'"))),
        }
    }
}

/// ListStateMachines.
#[derive(Debug, Deserialize)]
pub(super) struct ListStateMachines {
    /// The page asked for.
    #[serde(flatten)]
    pub page: Page,
}

impl Check for ListStateMachines {
    fn check(&self, v: &mut Violations) {
        self.page.check(v);
    }
}

/// DescribeStateMachine.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct DescribeStateMachine {
    /// The machine.
    #[serde(default)]
    pub state_machine_arn: Required,
    /// Accepted and ignored: sfn-local always returns all data.
    #[serde(default, deserialize_with = "members::string")]
    pub included_data: Option<String>,
}

impl Check for DescribeStateMachine {
    fn check(&self, v: &mut Violations) {
        v.required("stateMachineArn", &self.state_machine_arn);
        v.one_of(
            "includedData",
            self.included_data.as_deref(),
            &INCLUDED_DATA,
        );
    }
}

/// DescribeExecution, DescribeStateMachineForExecution and RedriveExecution: one execution.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct ExecutionRequest {
    /// The execution.
    #[serde(default)]
    pub execution_arn: Required,
    /// Accepted and ignored (Describe*): sfn-local always returns all data.
    #[serde(default, deserialize_with = "members::string")]
    pub included_data: Option<String>,
    /// Accepted and ignored (RedriveExecution): a redrive is idempotent on its own here.
    #[serde(default, rename = "clientToken", deserialize_with = "members::string")]
    _client_token: Option<String>,
}

impl Check for ExecutionRequest {
    fn check(&self, v: &mut Violations) {
        v.required("executionArn", &self.execution_arn);
        v.one_of(
            "includedData",
            self.included_data.as_deref(),
            &INCLUDED_DATA,
        );
    }
}

/// CreateStateMachine (sfn-local only confirms the template's machines).
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct CreateStateMachine {
    /// The machine's name.
    #[serde(default)]
    pub name: Required,
    /// Its ASL definition, as text.
    #[serde(default)]
    pub definition: Required,
    /// Required by AWS; not used here.
    #[serde(default)]
    pub role_arn: Required,
    /// STANDARD or EXPRESS (sfn-local runs STANDARD only).
    #[serde(default, rename = "type", deserialize_with = "members::string")]
    pub machine_type: Option<String>,
    /// Accepted and ignored.
    #[serde(default, rename = "publish", deserialize_with = "members::boolean")]
    _publish: Option<bool>,
    /// Accepted and ignored.
    #[serde(
        default,
        rename = "versionDescription",
        deserialize_with = "members::string"
    )]
    _version_description: Option<String>,
}

impl Check for CreateStateMachine {
    fn check(&self, v: &mut Violations) {
        v.required("name", &self.name);
        v.required("definition", &self.definition);
        v.required("roleArn", &self.role_arn);
        v.one_of("type", self.machine_type.as_deref(), &STATE_MACHINE_TYPES);
    }
}

/// StartExecution and StartSyncExecution.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct StartExecution {
    /// The machine to run.
    #[serde(default)]
    pub state_machine_arn: Required,
    /// The execution's name (absent: a UUID).
    #[serde(default, deserialize_with = "members::string")]
    pub name: Option<String>,
    /// The input as JSON text (absent: `{}`).
    #[serde(default, deserialize_with = "members::string")]
    pub input: Option<String>,
    /// Accepted and ignored: sfn-local has no X-Ray.
    #[serde(default, rename = "traceHeader", deserialize_with = "members::string")]
    _trace_header: Option<String>,
    /// Accepted and ignored (StartSyncExecution).
    #[serde(default, deserialize_with = "members::string")]
    pub included_data: Option<String>,
}

impl Check for StartExecution {
    fn check(&self, v: &mut Violations) {
        v.required("stateMachineArn", &self.state_machine_arn);
        v.max_chars("input", self.input.as_deref(), MAX_INPUT_CHARS);
        v.one_of(
            "includedData",
            self.included_data.as_deref(),
            &INCLUDED_DATA,
        );
    }
}

/// ListExecutions.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct ListExecutions {
    /// The machine whose executions to list (AWS: this or `mapRunArn`; sfn-local has no map runs).
    #[serde(default)]
    pub state_machine_arn: Required,
    /// Only executions in this status.
    #[serde(default, deserialize_with = "members::string")]
    pub status_filter: Option<String>,
    /// `REDRIVEN` or `NOT_REDRIVEN` (absent: both).
    #[serde(default, deserialize_with = "members::string")]
    pub redrive_filter: Option<String>,
    /// Accepted and ignored: sfn-local has no Distributed Map runs.
    #[serde(default, rename = "mapRunArn", deserialize_with = "members::string")]
    _map_run_arn: Option<String>,
    /// The page asked for.
    #[serde(flatten)]
    pub page: Page,
}

impl Check for ListExecutions {
    fn check(&self, v: &mut Violations) {
        v.required("stateMachineArn", &self.state_machine_arn);
        v.one_of(
            "statusFilter",
            self.status_filter.as_deref(),
            &EXECUTION_STATUSES,
        );
        v.one_of(
            "redriveFilter",
            self.redrive_filter.as_deref(),
            &REDRIVE_FILTERS,
        );
        self.page.check(v);
    }
}

impl ListExecutions {
    /// `redriveFilter`: REDRIVEN (redriven at least once) → Some(true), NOT_REDRIVEN →
    /// Some(false), absent → None (both, as AWS).
    pub(super) fn redriven(&self) -> Option<bool> {
        self.redrive_filter.as_deref().map(|f| f == "REDRIVEN")
    }
}

/// GetExecutionHistory.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct GetExecutionHistory {
    /// The execution.
    #[serde(default)]
    pub execution_arn: Required,
    /// Newest event first.
    #[serde(default, deserialize_with = "members::boolean")]
    pub reverse_order: Option<bool>,
    /// Accepted and ignored: events always carry their data.
    #[serde(
        default,
        rename = "includeExecutionData",
        deserialize_with = "members::boolean"
    )]
    _include_execution_data: Option<bool>,
    /// The page asked for.
    #[serde(flatten)]
    pub page: Page,
}

impl Check for GetExecutionHistory {
    fn check(&self, v: &mut Violations) {
        v.required("executionArn", &self.execution_arn);
        self.page.check(v);
    }
}

/// StopExecution.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct StopExecution {
    /// The execution.
    #[serde(default)]
    pub execution_arn: Required,
    /// The error the stop records.
    #[serde(default, deserialize_with = "members::string")]
    pub error: Option<String>,
    /// Its cause.
    #[serde(default, deserialize_with = "members::string")]
    pub cause: Option<String>,
}

impl Check for StopExecution {
    fn check(&self, v: &mut Violations) {
        v.required("executionArn", &self.execution_arn);
    }
}
