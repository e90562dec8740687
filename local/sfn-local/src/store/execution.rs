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
    /// The execution's ARN (`arn:aws:states:...:execution:<machine>:<name>`).
    pub execution_arn: String,
    /// The state machine's ARN.
    pub state_machine_arn: String,
    /// The state machine's name (the folder under `executions/`).
    pub state_machine_name: String,
    /// The execution's name.
    pub name: String,
    /// RUNNING, SUCCEEDED, FAILED, TIMED_OUT, ABORTED.
    pub status: String,
    /// The execution's input.
    pub input: Value,
    /// The output, once SUCCEEDED.
    pub output: Option<Value>,
    /// The error it FAILED with (e.g. `States.TaskFailed`, `OrderNotFound`).
    pub error: Option<String>,
    /// The error's cause.
    pub cause: Option<String>,
    /// When it started.
    pub start_date: DateTime<Utc>,
    /// When it ended (None while RUNNING).
    pub stop_date: Option<DateTime<Utc>>,
    /// How many times it was redriven.
    pub redrive_count: u32,
    /// When it was last redriven.
    pub redrive_date: Option<DateTime<Utc>>,
    /// GetExecutionHistory's events, oldest first, as AWS shapes them.
    pub history: Vec<Value>,
    /// Where a redrive resumes: the engine's state when the execution ended.
    pub checkpoint: Option<Checkpoint>,
    /// The execution that started this one (`states:startExecution.sync:2`).
    pub parent_execution_arn: Option<String>,
    /// The runner that runs it while RUNNING (its lease in `owners/`): a RUNNING execution whose
    /// owner is gone was cut off by a crash, and the next runner to open the directory ends it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub owner: Option<String>,
}

impl ExecutionRecord {
    /// Whether it is still RUNNING (not ended, nor cut off by a crash yet).
    pub fn is_running(&self) -> bool {
        self.status == "RUNNING"
    }

    /// Whether RedriveExecution accepts it: ended unsuccessfully, with a checkpoint.
    pub fn redrivable(&self) -> bool {
        matches!(self.status.as_str(), "FAILED" | "TIMED_OUT" | "ABORTED")
            && self.checkpoint.is_some()
    }
}
