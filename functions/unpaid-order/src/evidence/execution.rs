//! Step Functions "Execution Status Change" events and the order-index items they become: one
//! item per (orderId, execution), ranked so that a late or repeated event never overwrites a
//! newer state (redrive count first, then RUNNING below the end states).

use chrono::{DateTime, TimeZone, Utc};
use serde_json::Value;

use super::EvidenceError;

/// Days an index item outlives its execution's stop: Step Functions keeps closed executions for
/// 90 days, and the index points at them.
pub const INDEX_RETENTION_DAYS: i64 = 90;
/// A Standard execution runs at most a year: a RUNNING item expires after that plus the retention.
const MAX_RUN_DAYS: i64 = 365;

/// One "Step Functions Execution Status Change" event (EventBridge `detail`).
#[derive(Debug, Clone, PartialEq)]
pub struct ExecutionStatusChange {
    /// EventBridge's event id.
    pub event_id: String,
    /// The execution.
    pub execution_arn: String,
    /// Its state machine.
    pub state_machine_arn: String,
    /// The execution's name.
    pub name: String,
    /// RUNNING, SUCCEEDED, FAILED, TIMED_OUT, ABORTED or PENDING_REDRIVE.
    pub status: String,
    /// Start, epoch milliseconds.
    pub start_date: i64,
    /// Stop, epoch milliseconds (`None` while running).
    pub stop_date: Option<i64>,
    /// The execution's input (JSON text); `None` when EventBridge left it out
    /// (`inputDetails.included: false`, an input too large): DescribeExecution has it.
    pub input: Option<String>,
    /// The error it failed with.
    pub error: Option<String>,
    /// Times it was redriven.
    pub redrive_count: u32,
}

fn opt_text(detail: &Value, name: &str) -> Option<String> {
    detail.get(name).and_then(Value::as_str).map(str::to_string)
}

fn millis(detail: &Value, name: &str) -> Result<Option<i64>, EvidenceError> {
    match detail.get(name) {
        None | Some(Value::Null) => Ok(None),
        Some(v) => v
            .as_i64()
            .map(Some)
            .ok_or_else(|| EvidenceError::new(format!("detail.{name} is not epoch milliseconds"))),
    }
}

impl ExecutionStatusChange {
    pub(crate) fn from_detail(
        event_id: &str,
        detail: &Value,
    ) -> Result<ExecutionStatusChange, EvidenceError> {
        let required = |name: &str| {
            opt_text(detail, name)
                .filter(|v| !v.is_empty())
                .ok_or_else(|| EvidenceError::new(format!("no string detail.{name}")))
        };
        let status = required("status")?;
        if !STATUSES.contains(&status.as_str()) {
            return Err(EvidenceError::new(format!(
                "detail.status `{status}` is not an execution status"
            )));
        }
        let included = detail
            .pointer("/inputDetails/included")
            .and_then(Value::as_bool)
            .unwrap_or(true);
        let input = opt_text(detail, "input").filter(|_| included);
        Ok(ExecutionStatusChange {
            event_id: event_id.to_string(),
            execution_arn: required("executionArn")?,
            state_machine_arn: required("stateMachineArn")?,
            name: required("name")?,
            status,
            start_date: millis(detail, "startDate")?
                .ok_or_else(|| EvidenceError::new("no detail.startDate"))?,
            stop_date: millis(detail, "stopDate")?,
            input,
            error: opt_text(detail, "error"),
            redrive_count: detail
                .get("redriveCount")
                .and_then(Value::as_u64)
                .unwrap_or(0)
                .try_into()
                .unwrap_or(u32::MAX),
        })
    }

    /// The index items this event becomes, one per order its input names (`input` is the
    /// event's, or DescribeExecution's when the event left it out). Empty: an input that names
    /// no order (nothing to index).
    pub fn index_entries(&self, input: &str) -> Vec<IndexEntry> {
        let Ok(input) = serde_json::from_str::<Value>(input) else {
            return Vec::new();
        };
        let started_by = input
            .get("AWS_STEP_FUNCTIONS_STARTED_BY_EXECUTION_ID")
            .and_then(Value::as_str)
            .map(str::to_string);
        order_ids_of_input(&input)
            .into_iter()
            .map(|(order_id, stream_event_ids)| IndexEntry {
                order_id,
                execution_arn: self.execution_arn.clone(),
                state_machine_arn: self.state_machine_arn.clone(),
                name: self.name.clone(),
                status: self.status.clone(),
                start_date: iso(self.start_date),
                stop_date: self.stop_date.map(iso),
                error: self.error.clone(),
                redrive_count: self.redrive_count,
                started_by: started_by.clone(),
                stream_event_ids,
                rank: rank(self.redrive_count, &self.status),
                expires_at: expires_at(self.start_date, self.stop_date),
                event_id: self.event_id.clone(),
            })
            .collect()
    }
}

/// The statuses an execution status change carries.
pub const STATUSES: [&str; 6] = [
    "RUNNING",
    "SUCCEEDED",
    "FAILED",
    "TIMED_OUT",
    "ABORTED",
    "PENDING_REDRIVE",
];

/// Orders the states of one execution: each redrive starts a new round; within a round,
/// PENDING_REDRIVE < RUNNING < an end state.
pub fn rank(redrive_count: u32, status: &str) -> u64 {
    let within = match status {
        "PENDING_REDRIVE" => 0,
        "RUNNING" => 1,
        _ => 2,
    };
    u64::from(redrive_count) * 4 + within
}

fn iso(epoch_ms: i64) -> String {
    Utc.timestamp_millis_opt(epoch_ms)
        .single()
        .unwrap_or(DateTime::<Utc>::MIN_UTC)
        .to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}

fn expires_at(start_ms: i64, stop_ms: Option<i64>) -> i64 {
    let day = 86_400;
    match stop_ms {
        Some(stop) => stop / 1000 + INDEX_RETENTION_DAYS * day,
        None => start_ms / 1000 + (MAX_RUN_DAYS + INDEX_RETENTION_DAYS) * day,
    }
}

/// The orders an execution's input names, each with the stream records (eventIDs) that named it:
/// `{"orderId"}` (the per-order machine, or one started by hand), or a batch of stream records
/// (`[record...]` or `{"Records": [...]}`, full or trimmed to `dynamodb.Keys.orderId.S`).
pub fn order_ids_of_input(input: &Value) -> Vec<(String, Vec<String>)> {
    let mut out: Vec<(String, Vec<String>)> = Vec::new();
    let mut add = |id: &str, event_id: Option<&str>| {
        if id.is_empty() {
            return;
        }
        let at = match out.iter().position(|(o, _)| o == id) {
            Some(at) => at,
            None => {
                out.push((id.to_string(), Vec::new()));
                out.len() - 1
            }
        };
        if let Some(e) = event_id {
            if !out[at].1.iter().any(|x| x == e) {
                out[at].1.push(e.to_string());
            }
        }
    };
    if let Some(id) = input.get("orderId").and_then(Value::as_str) {
        add(id, None);
    }
    let records = input
        .as_array()
        .or_else(|| input.get("Records").and_then(Value::as_array));
    for record in records.into_iter().flatten() {
        if let Some(id) = record
            .pointer("/dynamodb/Keys/orderId/S")
            .and_then(Value::as_str)
        {
            add(id, record.get("eventID").and_then(Value::as_str));
        }
    }
    out
}

/// One order-index item: an execution that named the order, in its latest known state.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IndexEntry {
    /// The order (hash key).
    pub order_id: String,
    /// The execution (range key).
    pub execution_arn: String,
    /// Its state machine.
    pub state_machine_arn: String,
    /// The execution's name.
    pub name: String,
    /// Its status as of the newest event recorded.
    pub status: String,
    /// Started (RFC 3339).
    pub start_date: String,
    /// Stopped (RFC 3339), when it has.
    pub stop_date: Option<String>,
    /// The error it failed with.
    pub error: Option<String>,
    /// Times it was redriven.
    pub redrive_count: u32,
    /// The batch execution that started it (per-order executions the Pipe's batch started).
    pub started_by: Option<String>,
    /// For a batch execution: the stream records (eventIDs) that named this order.
    pub stream_event_ids: Vec<String>,
    /// [`rank`] of the state it holds: a write only lands over a lower one.
    pub rank: u64,
    /// DynamoDB TTL (epoch seconds): 90 days after the stop.
    pub expires_at: i64,
    /// The EventBridge event this state came from.
    pub event_id: String,
}

/// What writing one index item did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IndexOutcome {
    /// Written: it is the newest state known.
    Written,
    /// Not written: the item already holds this state or a newer one (a duplicate, or an
    /// event that arrived out of order).
    Stale,
}
