//! Step Functions' "Execution Status Change" events for the statuses the runner records (RUNNING
//! at the start and on a redrive, each end state, ABORTED, FAILED on recovery), in AWS's shape, and
//! DescribeExecution's input for the recorder, from the runner's own execution store.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use serde_json::Value;
use unpaid_order::evidence::publish::{self, ExecutionState, Origin};
use unpaid_order::{ExecutionInputs, FunctionError};

use crate::runner::{parse_execution_arn, validate_execution_name};
use crate::store::{ExecutionRecord, Store};

/// The event Step Functions publishes when `record` takes its current status, at `at`. The id is
/// the same for the same (execution, status, redrive count): one status change is one event.
pub fn status_change(record: &ExecutionRecord, at: DateTime<Utc>) -> Value {
    let input = record.input.to_string();
    let output = record.output.as_ref().map(Value::to_string);
    let state = ExecutionState {
        execution_arn: &record.execution_arn,
        state_machine_arn: &record.state_machine_arn,
        name: &record.name,
        status: &record.status,
        start_date: record.start_date,
        stop_date: record.stop_date,
        input: &input,
        output: output.as_deref(),
        error: record.error.as_deref(),
        cause: record.cause.as_deref(),
        redrive_count: record.redrive_count,
        redrive_date: record.redrive_date,
    };
    let id = uuid::Uuid::new_v5(
        &uuid::Uuid::NAMESPACE_OID,
        format!(
            "states:{}:{}:{}",
            record.execution_arn, record.status, record.redrive_count
        )
        .as_bytes(),
    )
    .to_string();
    publish::execution_status_change(&state, &id, at, &Origin::default())
}

/// DescribeExecution's input, from the state directory: what record-event asks for a status
/// change whose input EventBridge left out (over 248 KB).
pub struct StoreExecutionInputs {
    store: Store,
    /// The machines of the template (an ARN of another one names no execution here).
    machines: Vec<String>,
}

impl StoreExecutionInputs {
    /// The executions of `machines` in `store`.
    pub fn new(store: Store, machines: Vec<String>) -> Self {
        StoreExecutionInputs { store, machines }
    }
}

#[async_trait]
impl ExecutionInputs for StoreExecutionInputs {
    async fn input_of(&self, execution_arn: &str) -> Result<Option<String>, FunctionError> {
        // An ARN that is not one of ours (or not an ARN) names no execution: as AWS's
        // ExecutionDoesNotExist, not an error that would keep the event in the queue.
        let Ok((machine, name)) = parse_execution_arn(execution_arn) else {
            return Ok(None);
        };
        if !self.machines.contains(&machine) || validate_execution_name(&name).is_err() {
            return Ok(None);
        }
        self.store
            .get_execution(&machine, &name)
            .map(|r| r.map(|r| r.input.to_string()))
            .map_err(|e| FunctionError::transient(format!("DescribeExecution: {e}")))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;
    use unpaid_order::evidence::AwsEvent;

    #[tokio::test]
    async fn status_changes_parse_back_and_inputs_come_from_the_store() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path()).unwrap();
        let big = "x".repeat(300 * 1024);
        let record = ExecutionRecord {
            execution_arn: "arn:aws:states:us-east-1:123456789012:execution:m:run-1".into(),
            state_machine_arn: "arn:aws:states:us-east-1:123456789012:stateMachine:m".into(),
            state_machine_name: "m".into(),
            name: "run-1".into(),
            status: "RUNNING".into(),
            input: json!({"orderId": "1", "pad": big}),
            output: None,
            error: None,
            cause: None,
            start_date: Utc::now(),
            stop_date: None,
            redrive_count: 0,
            redrive_date: None,
            history: vec![],
            checkpoint: None,
            parent_execution_arn: None,
            owner: None,
        };
        store.put_execution(&record).unwrap();
        let event = status_change(&record, Utc::now());
        let AwsEvent::Execution(change) = AwsEvent::parse(&event.to_string()).unwrap() else {
            panic!()
        };
        assert_eq!(change.input, None, "over the limit: left out, as AWS does");
        let inputs = StoreExecutionInputs::new(store, vec!["m".into()]);
        let input = inputs
            .input_of(&change.execution_arn)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(change.index_entries(&input)[0].order_id, "1");
        for other in [
            "arn:aws:states:us-east-1:123456789012:execution:other:run-1",
            "arn:aws:states:us-east-1:123456789012:execution:m:..",
            "nonsense",
        ] {
            assert_eq!(inputs.input_of(other).await.unwrap(), None, "{other}");
        }
        let again = status_change(&record, Utc::now());
        assert_eq!(again["id"], event["id"], "one status change, one id");
    }
}
