//! Finding an order through the order index: one Query (any history size, no ListExecutions),
//! then DescribeExecution for the executions found only; the scan when there is no index.

use std::sync::Arc;

use chrono::{DateTime, Utc};
use tokio::sync::Semaphore;
use unpaid_order::evidence::items::machine_name;
use unpaid_order::evidence::IndexEntry;

use crate::backend::{Backend, ConsoleError};
use crate::find::{self, Attempt, Found, Searched};
use crate::sfn::{Execution, Sfn, SfnError};

/// Most executions of one order described (an order has a handful: its batch, its per-order
/// execution, the ones started by hand); the rest are shown as the index holds them.
pub const MAX_DESCRIBED: usize = 100;
/// DescribeExecution calls in flight at once.
const PARALLEL: usize = 8;

/// An RFC 3339 date of an index item.
pub fn index_date(text: &str) -> Option<DateTime<Utc>> {
    DateTime::parse_from_rfc3339(text)
        .ok()
        .map(|d| d.with_timezone(&Utc))
}

/// The execution as the index last saw it (no input, output or cause: those are Step
/// Functions').
pub fn execution_of(entry: &IndexEntry) -> Execution {
    Execution {
        arn: entry.execution_arn.clone(),
        machine_arn: entry.state_machine_arn.clone(),
        name: entry.name.clone(),
        status: entry.status.clone(),
        start: index_date(&entry.start_date).unwrap_or_default(),
        stop: entry.stop_date.as_deref().and_then(index_date),
        input: None,
        output: None,
        error: entry.error.clone(),
        cause: None,
        redrive_count: i32::try_from(entry.redrive_count).unwrap_or(i32::MAX),
        redrive_date: None,
        redrive_status: None,
        redrive_status_reason: None,
    }
}

/// DescribeExecution of each entry, [`PARALLEL`] at a time; an execution Step Functions no
/// longer has is shown from its entry, marked gone.
async fn describe_entries(sfn: &Sfn, entries: &[IndexEntry]) -> Result<Vec<Attempt>, SfnError> {
    let gate = Arc::new(Semaphore::new(PARALLEL));
    let mut tasks = tokio::task::JoinSet::new();
    for (i, entry) in entries.iter().enumerate() {
        let (sfn, gate, arn) = (sfn.clone(), gate.clone(), entry.execution_arn.clone());
        tasks.spawn(async move {
            let _permit = gate.acquire_owned().await;
            (i, sfn.describe(&arn).await)
        });
    }
    let mut out: Vec<Option<Attempt>> = vec![None; entries.len()];
    while let Some(done) = tasks.join_next().await {
        let (i, described) = done.map_err(|e| SfnError {
            operation: "DescribeExecution",
            code: None,
            message: e.to_string(),
        })?;
        let entry = &entries[i];
        let machine = machine_name(&entry.state_machine_arn).to_string();
        out[i] = Some(match described {
            Ok(execution) => Attempt {
                machine,
                execution,
                gone: false,
            },
            Err(e) if e.code.as_deref() == Some("ExecutionDoesNotExist") => Attempt {
                machine,
                execution: execution_of(entry),
                gone: true,
            },
            Err(e) => return Err(e),
        });
    }
    Ok(out.into_iter().flatten().collect())
}

/// An order's executions and how they were found, with the index's items of the order (empty
/// when it scanned): through the index when the stack has one (unless `scan`), else by scanning.
pub async fn find_order(
    backend: &Backend,
    order_id: &str,
    scan: bool,
) -> Result<(Found, Vec<IndexEntry>), ConsoleError> {
    let records = backend.records().await?;
    // The index to query, or why the order is searched by a scan instead.
    let table = match (&records.tables.index, scan) {
        (Some(t), false) => Ok(t.clone()),
        (Some(_), true) => Err("a scan was asked for instead of the order index".to_string()),
        (None, _) => {
            let mut r = "no order index configured: pass --branch or --index-table".to_string();
            if let Some(note) = &backend.stack().await?.note {
                r.push_str(&format!("; {note}"));
            }
            Err(r)
        }
    };
    let entries = match &table {
        Ok(t) => match records.executions_of(order_id).await {
            Ok(entries) => Ok(entries.unwrap_or_default()),
            // A stack deployed before the index (or a wrong name): say so, and scan.
            Err(e) if e.table_missing() => Err(format!(
                "the order index {t} does not exist (a stack deployed before it, or another name: --index-table)"
            )),
            Err(e) => return Err(e.into()),
        },
        Err(reason) => Err(reason.clone()),
    };
    let mut entries = match entries {
        Ok(entries) => entries,
        Err(reason) => {
            let machines = backend.machines().await?;
            let found = find::find_order(
                &backend.sfn,
                &machines,
                order_id,
                backend.scan_limit,
                &reason,
            )
            .await?;
            return Ok((found, Vec::new()));
        }
    };
    // Newest first, as the page lists them (RFC 3339 in one format sorts as it reads).
    entries.sort_by(|a, b| {
        b.start_date
            .cmp(&a.start_date)
            .then_with(|| b.execution_arn.cmp(&a.execution_arn))
    });
    let described = entries.len().min(MAX_DESCRIBED);
    let mut executions = describe_entries(&backend.sfn, &entries[..described]).await?;
    executions.extend(entries[described..].iter().map(|e| Attempt {
        machine: machine_name(&e.state_machine_arn).to_string(),
        execution: execution_of(e),
        gone: false,
    }));
    executions.sort_by_key(|a| std::cmp::Reverse(a.execution.start));
    Ok((
        Found {
            searched: Searched::Index {
                table: table.unwrap_or_default(),
                found: entries.len(),
                described,
            },
            executions,
        },
        entries,
    ))
}
