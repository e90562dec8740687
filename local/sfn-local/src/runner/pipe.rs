//! `sfn-local pipe`: a records file filtered and transformed as the Pipe does, the batch machine
//! started once per BatchSize records, and the report of what each batch and order did.

use serde::Serialize;
use serde_json::{json, Value};

use crate::error::RunnerError;

use super::Runner;

/// One batch the Pipe started.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct PipeBatch {
    /// The batch machine's execution.
    pub execution_arn: String,
    /// Its status when `pipe` returned (SUCCEEDED, FAILED, ...).
    pub status: String,
    /// The indexes (in the records file) of the records in this batch, in order.
    pub record_indexes: Vec<usize>,
    /// The batch summary, when the batch succeeded.
    pub output: Option<Value>,
    /// The error it ended with (e.g. `RecordsNeedAnOperator`).
    pub error: Option<String>,
    /// The error's cause.
    pub cause: Option<String>,
}

/// The error a batch ends with when a record needs an operator (malformed, or its child could
/// not be started); its cause is the batch summary.
pub const RECORDS_NEED_AN_OPERATOR: &str = "RecordsNeedAnOperator";

impl PipeBatch {
    /// The batch summary `{records, processed, ..., outcomes}`: the output of a succeeded batch,
    /// the cause of one that failed with [`RECORDS_NEED_AN_OPERATOR`].
    pub fn summary(&self) -> Option<Value> {
        summary_of(
            self.output.as_ref(),
            self.error.as_deref(),
            self.cause.as_deref(),
        )
    }
}

fn summary_of(output: Option<&Value>, error: Option<&str>, cause: Option<&str>) -> Option<Value> {
    match (output, error) {
        (Some(o), _) => Some(o.clone()),
        (None, Some(RECORDS_NEED_AN_OPERATOR)) => cause.and_then(|c| serde_json::from_str(c).ok()),
        _ => None,
    }
}

/// A record the Pipe's FilterCriteria dropped (on AWS it would never reach the workflow).
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct FilteredRecord {
    /// The record's index in the records file.
    pub index: usize,
    /// The record's `eventID`.
    pub event_id: Option<String>,
    /// The record's `eventName` (INSERT, MODIFY, REMOVE).
    pub event_name: Option<String>,
    /// Why the Pipe dropped it (no FilterCriteria pattern matched).
    pub reason: String,
}

/// What `pipe` did with a records file.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct PipeReport {
    /// How many records the file held.
    pub records: usize,
    /// The Pipe's BatchSize.
    pub batch_size: usize,
    /// The batches started, in order.
    pub batches: Vec<PipeBatch>,
    /// The records the filter dropped.
    pub filtered: Vec<FilteredRecord>,
    /// One line per record: its order, what happened, the child execution.
    pub orders: Vec<Value>,
}
impl Runner {
    /// The Pipe: filters `records` (a JSON array of stream records, or `{"Records": [...]}`) with
    /// the template's FilterCriteria and starts the batch machine once per BatchSize records.
    pub async fn pipe(&self, records: Value) -> Result<PipeReport, RunnerError> {
        let pipe = self
            .core
            .template
            .pipe
            .clone()
            .ok_or_else(|| RunnerError::Template {
                path: self.core.template.path.clone(),
                message: "no AWS::Pipes::Pipe resource".into(),
            })?;
        let records =
            match records {
                Value::Array(a) => a,
                Value::Object(mut m) => match m.remove("Records") {
                    Some(Value::Array(a)) => a,
                    _ => return Err(RunnerError::argument(
                        "--records",
                        "expected a JSON array of DynamoDB stream records or {\"Records\": [...]}",
                    )),
                },
                _ => {
                    return Err(RunnerError::argument(
                        "--records",
                        "expected a JSON array of DynamoDB stream records or {\"Records\": [...]}",
                    ))
                }
            };
        // The InputTemplate applies to each record of a batch on its own; the target gets the
        // array of transformed records.
        let cx = crate::pipe::context(&pipe);
        let mut targets = vec![Value::Null; records.len()];
        let mut passed = Vec::new();
        let mut filtered = Vec::new();
        for (index, record) in records.iter().enumerate() {
            let ok = crate::pipe::passes(&pipe, record).map_err(|m| RunnerError::Template {
                path: self.core.template.path.clone(),
                message: format!("pipe {} FilterCriteria: {m}", pipe.logical_id),
            })?;
            if ok {
                targets[index] = crate::pipe::transform(&pipe, record, &cx).map_err(|e| {
                    RunnerError::InvalidExecutionInput(format!(
                        "record {index}: pipe {}: {e} (on AWS this batch fails, is retried and goes to the DLQ)",
                        pipe.logical_id
                    ))
                })?;
                passed.push(index);
            } else {
                filtered.push(FilteredRecord {
                    index,
                    event_id: record.get("eventID").and_then(Value::as_str).map(str::to_string),
                    event_name: record.get("eventName").and_then(Value::as_str).map(str::to_string),
                    reason: "does not match the Pipe's FilterCriteria (AWS drops it before the workflow)".into(),
                });
            }
        }
        let mut batches = Vec::new();
        let mut orders = Vec::new();
        for chunk in passed.chunks(pipe.batch_size) {
            let input = Value::Array(chunk.iter().map(|i| targets[*i].clone()).collect());
            let record = self.core.start(&pipe.target, input, None, None).await?;
            // The summary: the output of a succeeded batch, the cause of one that failed because a
            // record needs an operator (RecordsNeedAnOperator).
            let summary = summary_of(
                record.output.as_ref(),
                record.error.as_deref(),
                record.cause.as_deref(),
            );
            if let Some(outcomes) = summary
                .as_ref()
                .and_then(|o| o.get("outcomes"))
                .and_then(Value::as_array)
            {
                for o in outcomes {
                    let mut line = o.clone();
                    let batch_index = o.get("index").and_then(Value::as_u64).unwrap_or(0) as usize;
                    if let Some(m) = line.as_object_mut() {
                        m.insert("record".into(), json!(chunk.get(batch_index)));
                        m.remove("index");
                        // The child's ARN: in the result when it succeeded, in the cause (its
                        // DescribeExecution) when it failed.
                        let failed_child: Option<Value> = o
                            .get("cause")
                            .and_then(Value::as_str)
                            .and_then(|c| serde_json::from_str(c).ok());
                        let child = o
                            .get("executionArn")
                            .or_else(|| o.pointer("/child/executionArn"))
                            .or_else(|| failed_child.as_ref().and_then(|c| c.get("ExecutionArn")))
                            .and_then(Value::as_str)
                            .map(str::to_string);
                        if let Some(c) = child.and_then(|arn| self.describe_execution(&arn).ok()) {
                            m.insert("childExecutionArn".into(), json!(c.execution_arn));
                            m.insert("childStatus".into(), json!(c.status));
                            if let Some(e) = &c.error {
                                m.insert("childError".into(), json!(e));
                            }
                            if c.output.as_ref().and_then(|o| o.get("skipped")).is_some() {
                                m.insert(
                                    "childSkipped".into(),
                                    json!(crate::project::ALREADY_PAID),
                                );
                            }
                        }
                    }
                    orders.push(line);
                }
            }
            batches.push(PipeBatch {
                execution_arn: record.execution_arn,
                status: record.status,
                record_indexes: chunk.to_vec(),
                output: record.output,
                error: record.error,
                cause: record.cause,
            });
        }
        self.flush().await?;
        Ok(PipeReport {
            records: records.len(),
            batch_size: pipe.batch_size,
            batches,
            filtered,
            orders,
        })
    }
}
