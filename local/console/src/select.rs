//! The FAILED executions a bulk redrive selects: ListExecutions(statusFilter=FAILED) per machine
//! says what is failed now; the order index's failed-executions index (one Query per machine)
//! says with which error. DescribeExecution only for a candidate the index does not know, and
//! only when an error filter needs that candidate's error.

use std::collections::HashMap;

use chrono::{DateTime, SecondsFormat, Utc};

use crate::backend::{Backend, ConsoleError};
use crate::find::{count, describe_all, MAX_BULK, MAX_DESCRIBED};
use crate::sfn::{ExecutionItem, MAX_LISTED};

/// What a bulk redrive selects: FAILED executions of the machines, started in [since, until),
/// whose error is `error` (when given).
#[derive(Debug, Clone, Default)]
pub struct FailedFilter {
    /// Machine names or ARNs; empty: every machine of the stack.
    pub machines: Vec<String>,
    /// The errorType to match; `None`: any.
    pub error: Option<String>,
    /// Started at or after.
    pub since: Option<DateTime<Utc>>,
    /// Started before.
    pub until: Option<DateTime<Utc>>,
    /// At most this many (≤ [`MAX_BULK`]).
    pub limit: usize,
}

/// One FAILED execution a bulk redrive would redrive.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Candidate {
    /// The execution's ARN.
    pub arn: String,
    /// Its machine.
    pub machine_arn: String,
    /// Its name.
    pub name: String,
    /// FAILED (as listed).
    pub status: String,
    /// Started.
    pub start: DateTime<Utc>,
    /// Times redriven.
    pub redrive_count: i32,
    /// The error it failed with, when known.
    pub error: Option<String>,
    /// Where the error comes from: `index` or `DescribeExecution`; `None` when unknown (not in
    /// the index and no error filter asked for it).
    pub error_from: Option<&'static str>,
}

impl Candidate {
    fn listed(e: ExecutionItem) -> Candidate {
        Candidate {
            arn: e.arn,
            machine_arn: e.machine_arn,
            name: e.name,
            status: e.status,
            start: e.start,
            redrive_count: e.redrive_count,
            error: None,
            error_from: None,
        }
    }
}

/// The executions a bulk redrive would redrive, newest first, and how they were selected.
#[derive(Debug, Clone, Default)]
pub struct Selection {
    /// The executions, newest first.
    pub executions: Vec<Candidate>,
    /// More matched than the limit.
    pub truncated: bool,
    /// FAILED executions listed in the time range.
    pub listed: usize,
    /// Of those, whose error the index gave.
    pub from_index: usize,
    /// Of those, described because the index did not know them and an error filter needed it.
    pub described: usize,
    /// The index table read; `None`: no index configured.
    pub index: Option<String>,
    /// The index configured does not exist (every error from DescribeExecution instead).
    pub index_missing: Option<String>,
    /// Candidates whose error stayed unknown (past the bound on descriptions): not selected.
    pub undescribed: usize,
}

impl Selection {
    /// How the selection was made, in one sentence.
    pub fn message(&self) -> String {
        let source = match (&self.index, &self.index_missing) {
            (Some(t), _) => format!(
                "errors from the order index {t} for {}, from DescribeExecution for {} it did not know",
                count(self.from_index),
                count(self.described)
            ),
            (None, Some(t)) => format!(
                "the order index {t} does not exist: errors from DescribeExecution for {}",
                count(self.described)
            ),
            (None, None) => format!(
                "no order index configured: errors from DescribeExecution for {}",
                count(self.described)
            ),
        };
        let mut m = format!(
            "{} FAILED execution(s) listed in the time range (ListExecutions, statusFilter FAILED); {source}",
            count(self.listed)
        );
        if self.undescribed > 0 {
            m.push_str(&format!(
                "; {} not described (at most {} DescribeExecution calls a run), so not selected: narrow the time range",
                count(self.undescribed),
                count(MAX_DESCRIBED)
            ));
        }
        m.push('.');
        m
    }
}

fn iso(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Millis, true)
}

/// The FAILED executions a bulk redrive with `filter` would redrive (the dry run and its
/// confirmation both use it).
pub async fn select_failed(
    backend: &Backend,
    filter: &FailedFilter,
) -> Result<Selection, ConsoleError> {
    let limit = filter.limit.clamp(1, MAX_BULK);
    let records = backend.records().await?;
    let machines: Vec<_> = backend
        .machines()
        .await?
        .into_iter()
        .filter(|m| {
            filter.machines.is_empty()
                || filter.machines.iter().any(|f| *f == m.name || *f == m.arn)
        })
        .collect();
    let mut selection = Selection {
        index: records.tables.index.clone(),
        ..Selection::default()
    };
    let mut candidates = Vec::new();
    for m in &machines {
        let listed: Vec<Candidate> = backend
            .sfn
            .executions(&m.arn, Some("FAILED"), None, MAX_LISTED)
            .await?
            .into_iter()
            .filter(|e| filter.since.is_none_or(|s| e.start >= s))
            .filter(|e| filter.until.is_none_or(|u| e.start < u))
            .map(Candidate::listed)
            .collect();
        if listed.is_empty() {
            continue;
        }
        let since = filter.since.map(iso);
        let until = filter.until.map(iso);
        let indexed = match records
            .failed_of(&m.name, since.as_deref(), until.as_deref())
            .await
        {
            Ok(entries) => entries.unwrap_or_default(),
            // A stack deployed before the index: every error from DescribeExecution, as without one.
            Err(e) if e.table_missing() => {
                selection.index_missing = selection.index.take();
                Vec::new()
            }
            Err(e) => return Err(e.into()),
        };
        let known: HashMap<String, (Option<String>, u32)> = indexed
            .into_iter()
            .map(|e| (e.execution_arn, (e.error, e.redrive_count)))
            .collect();
        for mut c in listed {
            // The index's FAILED state of the same round (redrive count) is this failure's.
            if let Some((error, _)) = known
                .get(&c.arn)
                .filter(|(_, rounds)| i64::from(*rounds) == i64::from(c.redrive_count))
            {
                c.error = error.clone();
                c.error_from = Some("index");
                selection.from_index += 1;
            }
            candidates.push(c);
        }
    }
    selection.listed = candidates.len();
    if filter.error.is_some() {
        let unknown: Vec<ExecutionItem> = candidates
            .iter()
            .filter(|c| c.error_from.is_none())
            .take(MAX_DESCRIBED)
            .map(|c| ExecutionItem {
                arn: c.arn.clone(),
                machine_arn: c.machine_arn.clone(),
                name: c.name.clone(),
                status: c.status.clone(),
                start: c.start,
                stop: None,
                redrive_count: c.redrive_count,
            })
            .collect();
        let described: HashMap<String, _> = describe_all(&backend.sfn, &unknown)
            .await?
            .into_iter()
            .map(|e| (e.arn.clone(), e))
            .collect();
        selection.described = described.len();
        selection.undescribed = candidates
            .iter()
            .filter(|c| c.error_from.is_none())
            .count()
            .saturating_sub(described.len());
        for c in candidates.iter_mut().filter(|c| c.error_from.is_none()) {
            if let Some(e) = described.get(&c.arn) {
                c.error = e.error.clone();
                c.error_from = Some("DescribeExecution");
                // Redriven since it was listed: no longer a candidate.
                c.status = e.status.clone();
            }
        }
    }
    for c in candidates {
        if c.status != "FAILED" {
            continue;
        }
        if let Some(want) = &filter.error {
            if c.error.as_deref() != Some(want.as_str()) {
                continue;
            }
        }
        if selection.executions.len() == limit {
            selection.truncated = true;
            break;
        }
        selection.executions.push(c);
    }
    Ok(selection)
}
