//! The AWS CLI's JSON shapes of an execution (describe-execution, list-executions, the
//! `startExecution.sync:2` result) and its date format; the API turns the dates into epochs.

use chrono::{DateTime, SecondsFormat, Utc};
use serde_json::{json, Value};

use crate::store::{ExecutionRecord, ExecutionSummary};

/// AWS CLI's date format (`2026-11-25T06:10:00.123000+00:00`).
pub fn cli_date(d: &DateTime<Utc>) -> String {
    d.to_rfc3339_opts(SecondsFormat::Micros, false)
}

impl ExecutionSummary {
    /// The fields describe-execution and list-executions share, in the AWS CLI's order.
    fn fields(&self) -> serde_json::Map<String, Value> {
        let mut m = fields(json!({
            "executionArn": self.execution_arn,
            "stateMachineArn": self.state_machine_arn,
            "name": self.name,
            "status": self.status,
            "startDate": cli_date(&self.start_date),
        }));
        if let Some(d) = &self.stop_date {
            m.insert("stopDate".into(), json!(cli_date(d)));
        }
        m
    }

    /// One item of `aws stepfunctions list-executions`.
    pub fn list_item(&self) -> Value {
        let mut m = self.fields();
        m.insert("redriveCount".into(), json!(self.redrive_count));
        if let Some(d) = &self.redrive_date {
            m.insert("redriveDate".into(), json!(cli_date(d)));
        }
        Value::Object(m)
    }
}

impl ExecutionRecord {
    fn summary(&self) -> serde_json::Map<String, Value> {
        ExecutionSummary::from(self).fields()
    }

    /// `aws stepfunctions describe-execution` output.
    pub fn describe(&self) -> Value {
        let mut m = self.summary();
        m.insert("input".into(), json!(self.input.to_string()));
        m.insert("inputDetails".into(), json!({"included": true}));
        if let Some(o) = &self.output {
            m.insert("output".into(), json!(o.to_string()));
            m.insert("outputDetails".into(), json!({"included": true}));
        }
        if let Some(e) = &self.error {
            m.insert("error".into(), json!(e));
        }
        if let Some(c) = &self.cause {
            m.insert("cause".into(), json!(c));
        }
        m.insert("redriveCount".into(), json!(self.redrive_count));
        if let Some(d) = &self.redrive_date {
            m.insert("redriveDate".into(), json!(cli_date(d)));
        }
        if self.redrivable() {
            m.insert("redriveStatus".into(), json!("REDRIVABLE"));
        } else {
            m.insert("redriveStatus".into(), json!("NOT_REDRIVABLE"));
            let reason = if self.is_running() {
                "Execution is RUNNING and cannot be redriven"
            } else {
                "Execution is SUCCEEDED and cannot be redriven"
            };
            m.insert("redriveStatusReason".into(), json!(reason));
        }
        Value::Object(m)
    }

    /// One item of `aws stepfunctions list-executions`.
    pub fn list_item(&self) -> Value {
        ExecutionSummary::from(self).list_item()
    }

    /// What `states:startExecution.sync:2` returns (DescribeExecution in PascalCase, with Input and
    /// Output as JSON rather than strings; dates as epoch milliseconds, as the integration gives them).
    pub fn sync2_result(&self) -> Value {
        let mut m = fields(json!({
            "ExecutionArn": self.execution_arn,
            "Input": self.input,
            "InputDetails": {"Included": true},
            "Name": self.name,
            "RedriveCount": self.redrive_count,
            "RedriveStatus": if self.redrivable() { "REDRIVABLE" } else { "NOT_REDRIVABLE" },
            "StartDate": self.start_date.timestamp_millis(),
            "StateMachineArn": self.state_machine_arn,
            "Status": self.status,
        }));
        if let Some(d) = &self.stop_date {
            m.insert("StopDate".into(), json!(d.timestamp_millis()));
        }
        if let Some(o) = &self.output {
            m.insert("Output".into(), o.clone());
            m.insert("OutputDetails".into(), json!({"Included": true}));
        }
        if let Some(e) = &self.error {
            m.insert("Error".into(), json!(e));
        }
        if let Some(c) = &self.cause {
            m.insert("Cause".into(), json!(c));
        }
        Value::Object(m)
    }
}

/// The members of a `json!` object literal (the literal is always an object).
fn fields(v: Value) -> serde_json::Map<String, Value> {
    match v {
        Value::Object(m) => m,
        _ => serde_json::Map::new(),
    }
}
