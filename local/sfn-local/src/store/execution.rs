//! An execution as the store keeps it: what DescribeExecution and GetExecutionHistory report, the
//! engine's checkpoint for a redrive, and the runner that owns it while it runs.

use asl::Checkpoint;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;

/// An execution as the store keeps it: what DescribeExecution and GetExecutionHistory report, plus
/// the engine's checkpoint for a redrive.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ExecutionRecord {
    pub execution_arn: String,
    pub state_machine_arn: String,
    pub state_machine_name: String,
    pub name: String,
    /// RUNNING, SUCCEEDED, FAILED, TIMED_OUT, ABORTED.
    pub status: String,
    pub input: Value,
    pub output: Option<Value>,
    pub error: Option<String>,
    pub cause: Option<String>,
    pub start_date: DateTime<Utc>,
    pub stop_date: Option<DateTime<Utc>>,
    pub redrive_count: u32,
    pub redrive_date: Option<DateTime<Utc>>,
    /// GetExecutionHistory's events, oldest first, as AWS shapes them.
    pub history: Vec<Value>,
    pub checkpoint: Option<Checkpoint>,
    /// The execution that started this one (`states:startExecution.sync:2`).
    pub parent_execution_arn: Option<String>,
    /// The runner that runs it while RUNNING (its lease in `owners/`): a RUNNING execution whose
    /// owner is gone was cut off by a crash, and the next runner to open the directory ends it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub owner: Option<String>,
}

impl ExecutionRecord {
    pub fn is_running(&self) -> bool {
        self.status == "RUNNING"
    }

    /// Whether RedriveExecution accepts it: ended unsuccessfully, with a checkpoint.
    pub fn redrivable(&self) -> bool {
        matches!(self.status.as_str(), "FAILED" | "TIMED_OUT" | "ABORTED")
            && self.checkpoint.is_some()
    }
}
