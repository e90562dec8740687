//! `sfn-local seed-executions`: a history of finished per-order executions spread over past days,
//! written straight into the store with the order index the recorder would have built from their
//! status changes, so that scale (100,000 executions, 90 days) can be measured without running
//! them. Test data: nothing is sent, no table but the index is touched.

use chrono::{DateTime, Duration, Utc};
use serde::Serialize;
use serde_json::{json, Value};
use unpaid_order::evidence::AwsEvent;

use super::Runner;
use crate::error::RunnerError;
use crate::evidence::status_change;
use crate::store::{cli_date, ExecutionRecord};
use crate::template::{ACCOUNT, REGION};

/// What to seed.
#[derive(Debug, Clone)]
pub struct SeedPlan {
    /// The machine (name or ARN) the executions ran.
    pub state_machine: String,
    /// How many executions.
    pub count: usize,
    /// Spread evenly over this many days before `now`, the first (oldest) `days` ago.
    pub days: u32,
    /// Every `failed_every`-th execution FAILED (0: none), the rest SUCCEEDED.
    pub failed_every: usize,
    /// The errors the failed ones end with, in turn.
    pub errors: Vec<String>,
    /// Order ids are `<prefix><n>` (n from 0, oldest first); names `<prefix><n>-seeded`.
    pub prefix: String,
    /// The end of the spread.
    pub now: DateTime<Utc>,
}

/// What was seeded.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct SeedReport {
    /// The machine.
    pub state_machine_arn: String,
    /// Executions written.
    pub executions: usize,
    /// Of which FAILED.
    pub failed: usize,
    /// Order index items written.
    pub index_items: usize,
    /// The oldest execution's order id (the hardest to find by a scan).
    pub oldest_order_id: Option<String>,
    /// The newest's.
    pub newest_order_id: Option<String>,
}

/// Executions written per batch (files, summaries): bounds the memory a seed holds.
const CHUNK: usize = 5_000;

impl Runner {
    /// Seeds `plan`'s executions and their index items (see the module doc).
    pub async fn seed_executions(&self, plan: &SeedPlan) -> Result<SeedReport, RunnerError> {
        if plan.count == 0 {
            return Err(RunnerError::argument(
                "--count",
                "seed at least one execution",
            ));
        }
        if plan.failed_every > 0 && plan.errors.is_empty() {
            return Err(RunnerError::argument(
                "--error",
                "failed executions need an error",
            ));
        }
        let machine = self.core.machine(&plan.state_machine)?;
        let (name, arn) = (machine.name.clone(), machine.arn.clone());
        let span = Duration::days(i64::from(plan.days));
        let step = span
            .num_milliseconds()
            .checked_div(plan.count as i64)
            .unwrap_or(0);
        let mut report = SeedReport {
            state_machine_arn: arn.clone(),
            executions: 0,
            failed: 0,
            index_items: 0,
            oldest_order_id: None,
            newest_order_id: None,
        };
        let mut index_items = Vec::new();
        let mut records = Vec::with_capacity(CHUNK.min(plan.count));
        let _lock = self.core.store.lock().await?;
        for n in 0..plan.count {
            let start = plan.now - span + Duration::milliseconds(step * n as i64);
            let failed = plan.failed_every > 0 && n % plan.failed_every == 0;
            let error =
                failed.then(|| plan.errors[(n / plan.failed_every) % plan.errors.len()].clone());
            let order_id = format!("{}{n}", plan.prefix);
            let record = seeded(&name, &arn, &order_id, start, error);
            // The index items the recorder makes of its last status change (the RUNNING one
            // before it is outranked by it).
            let event = status_change(&record, record.stop_date.unwrap_or(start));
            if let Ok(AwsEvent::Execution(change)) = AwsEvent::parse(&event.to_string()) {
                let entries = change.index_entries(&record.input.to_string());
                index_items.extend(entries.iter().map(|e| e.to_item()));
            }
            report.failed += usize::from(failed);
            report
                .oldest_order_id
                .get_or_insert_with(|| order_id.clone());
            report.newest_order_id = Some(order_id);
            records.push(record);
            if records.len() == CHUNK {
                self.core.store.put_executions_unsynced(&records)?;
                report.executions += records.len();
                records.clear();
            }
        }
        self.core.store.put_executions_unsynced(&records)?;
        report.executions += records.len();
        drop(_lock);
        report.index_items = index_items.len();
        if let Some(embedded) = &self.core.embedded {
            embedded
                .bulk_insert(crate::project::tables::ORDER_INDEX_POSITION, index_items)
                .await?;
        }
        Ok(report)
    }
}

/// A finished execution of `order_id`: SUCCEEDED, or FAILED with `error` (redrivable from the
/// start, as a run that failed in its first state).
fn seeded(
    machine: &str,
    machine_arn: &str,
    order_id: &str,
    start: DateTime<Utc>,
    error: Option<String>,
) -> ExecutionRecord {
    let name = format!("{order_id}-seeded");
    let input = json!({ "orderId": order_id });
    let stop = start + Duration::milliseconds(840);
    let (status, end): (&str, Value) = match &error {
        Some(e) => (
            "FAILED",
            json!({"type": "ExecutionFailed", "executionFailedEventDetails": {"error": e, "cause": "seeded"}}),
        ),
        None => (
            "SUCCEEDED",
            json!({"type": "ExecutionSucceeded", "executionSucceededEventDetails": {"output": input.to_string(), "outputDetails": {"truncated": false}}}),
        ),
    };
    let mut ended = end;
    ended["id"] = json!(2);
    ended["previousEventId"] = json!(1);
    ended["timestamp"] = json!(cli_date(&stop));
    let history = vec![
        json!({"timestamp": cli_date(&start), "type": "ExecutionStarted", "id": 1, "previousEventId": 0,
               "executionStartedEventDetails": {"input": input.to_string(), "inputDetails": {"truncated": false},
                                                "roleArn": format!("arn:aws:iam::{ACCOUNT}:role/sfn-local")}}),
        ended,
    ];
    ExecutionRecord {
        execution_arn: format!("arn:aws:states:{REGION}:{ACCOUNT}:execution:{machine}:{name}"),
        state_machine_arn: machine_arn.to_string(),
        state_machine_name: machine.to_string(),
        name,
        status: status.into(),
        input: input.clone(),
        output: error.is_none().then(|| input.clone()),
        cause: error.as_ref().map(|_| "seeded".to_string()),
        checkpoint: error.as_ref().map(|_| asl::Checkpoint {
            input: input.clone(),
            ..Default::default()
        }),
        error,
        start_date: start,
        stop_date: Some(stop),
        redrive_count: 0,
        redrive_date: None,
        history,
        parent_execution_arn: None,
        owner: None,
    }
}
