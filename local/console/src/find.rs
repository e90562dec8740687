//! Finding executions: every execution of an order (matched on the execution **input's**
//! `orderId`, or a stream record of a batch holding it — never on the name), and the FAILED
//! executions a bulk redrive selects. Both are bounded scans of ListExecutions + DescribeExecution.

use std::sync::Arc;

use chrono::{DateTime, Utc};
use serde_json::Value;
use tokio::sync::Semaphore;

use crate::sfn::{Execution, ExecutionItem, Machine, Sfn, SfnError};

/// Most executions described per search (each is one DescribeExecution call).
pub const MAX_DESCRIBED: usize = 2_000;
/// DescribeExecution calls in flight at once during a search.
const PARALLEL: usize = 8;
/// Most executions one bulk redrive may select (the operator narrows the filter for more).
pub const MAX_BULK: usize = 500;

/// The order ids an execution's input names: `{"orderId": ...}` (the per-order machine, or a hand-
/// started one), or the stream records of a batch (`[record...]` or `{"Records": [...]}`, full or
/// trimmed: `dynamodb.Keys.orderId.S`).
pub fn order_ids(input: &Value) -> Vec<String> {
    let mut out = Vec::new();
    if let Some(id) = input.get("orderId").and_then(Value::as_str) {
        out.push(id.to_string());
    }
    let records = input
        .as_array()
        .or_else(|| input.get("Records").and_then(Value::as_array));
    for r in records.into_iter().flatten() {
        if let Some(id) = r
            .pointer("/dynamodb/Keys/orderId/S")
            .and_then(Value::as_str)
        {
            out.push(id.to_string());
        }
    }
    out
}

/// The batch execution that started this one (the batch passes its id in the child's input).
pub fn started_by(input: &Value) -> Option<&str> {
    input
        .get("AWS_STEP_FUNCTIONS_STARTED_BY_EXECUTION_ID")
        .and_then(Value::as_str)
}

/// DescribeExecution for each item, [`PARALLEL`] at a time, in the items' order.
pub async fn describe_all(sfn: &Sfn, items: &[ExecutionItem]) -> Result<Vec<Execution>, SfnError> {
    let gate = Arc::new(Semaphore::new(PARALLEL));
    let mut tasks = tokio::task::JoinSet::new();
    for (i, item) in items.iter().take(MAX_DESCRIBED).enumerate() {
        let (sfn, gate, arn) = (sfn.clone(), gate.clone(), item.arn.clone());
        tasks.spawn(async move {
            let _permit = gate.acquire_owned().await;
            (i, sfn.describe(&arn).await)
        });
    }
    let mut out: Vec<Option<Execution>> = vec![None; items.len().min(MAX_DESCRIBED)];
    while let Some(done) = tasks.join_next().await {
        let (i, d) = done.map_err(|e| SfnError {
            operation: "DescribeExecution",
            code: None,
            message: e.to_string(),
        })?;
        out[i] = Some(d?);
    }
    Ok(out.into_iter().flatten().collect())
}

/// One execution of an order, with the machine it ran.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Attempt {
    /// The machine's name.
    pub machine: String,
    /// The execution, described.
    #[serde(flatten)]
    pub execution: Execution,
}

/// Every execution of `order_id` on `machines` (newest first), at most [`MAX_DESCRIBED`]
/// executions looked at per machine.
pub async fn find_order(
    sfn: &Sfn,
    machines: &[Machine],
    order_id: &str,
) -> Result<Vec<Attempt>, SfnError> {
    let mut out = Vec::new();
    for m in machines {
        let items = sfn.executions(&m.arn, None, None, MAX_DESCRIBED).await?;
        for e in describe_all(sfn, &items).await? {
            if e.input_json()
                .is_some_and(|i| order_ids(&i).iter().any(|id| id == order_id))
            {
                out.push(Attempt {
                    machine: m.name.clone(),
                    execution: e,
                });
            }
        }
    }
    out.sort_by_key(|a| std::cmp::Reverse(a.execution.start));
    Ok(out)
}

/// What a bulk redrive selects: FAILED executions of the machines, started in [since, until),
/// whose error is `error` (when given).
#[derive(Debug, Clone, Default)]
pub struct FailedFilter {
    /// Machine names or ARNs; empty: every machine.
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

/// The executions a bulk redrive would redrive, newest first; `truncated` when more matched.
#[derive(Debug, Clone)]
pub struct Selection {
    /// The executions, newest first.
    pub executions: Vec<Execution>,
    /// More matched than the limit.
    pub truncated: bool,
}

/// The FAILED executions a bulk redrive with `filter` would redrive (the dry run and its confirmation both use it).
pub async fn select_failed(sfn: &Sfn, filter: &FailedFilter) -> Result<Selection, SfnError> {
    let limit = filter.limit.clamp(1, MAX_BULK);
    let machines: Vec<Machine> = sfn
        .machines()
        .await?
        .into_iter()
        .filter(|m| {
            filter.machines.is_empty()
                || filter.machines.iter().any(|f| *f == m.name || *f == m.arn)
        })
        .collect();
    let mut executions = Vec::new();
    let mut truncated = false;
    for m in &machines {
        let items: Vec<ExecutionItem> = sfn
            .executions(&m.arn, Some("FAILED"), None, MAX_DESCRIBED)
            .await?
            .into_iter()
            .filter(|e| filter.since.is_none_or(|s| e.start >= s))
            .filter(|e| filter.until.is_none_or(|u| e.start < u))
            .collect();
        for e in describe_all(sfn, &items).await? {
            // Re-checked on the description: it may have been redriven since it was listed.
            if e.status != "FAILED" {
                continue;
            }
            if filter
                .error
                .as_deref()
                .is_some_and(|want| e.error.as_deref() != Some(want))
            {
                continue;
            }
            if executions.len() == limit {
                truncated = true;
                break;
            }
            executions.push(e);
        }
    }
    Ok(Selection {
        executions,
        truncated,
    })
}

/// The outcome of one redrive of a bulk redrive.
#[derive(Debug, Clone, serde::Serialize)]
pub struct RedriveResult {
    /// The execution redriven.
    pub execution_arn: String,
    /// Whether RedriveExecution accepted it.
    pub ok: bool,
    /// `redriven`, or the API's refusal.
    pub message: String,
}

/// Redrives each ARN in turn, at most `per_second` calls a second (the API's own limit is shared
/// with the running workflows: a bulk redrive must not starve them), one result each.
pub async fn redrive_each(sfn: &Sfn, arns: &[String], per_second: u32) -> Vec<RedriveResult> {
    let period = std::time::Duration::from_secs_f64(1.0 / f64::from(per_second.clamp(1, 50)));
    let mut tick = tokio::time::interval(period);
    let mut out = Vec::new();
    for arn in arns.iter().take(MAX_BULK) {
        tick.tick().await;
        let r = sfn.redrive(arn).await;
        tracing::info!(execution = %arn, ok = r.is_ok(), "redrive");
        out.push(RedriveResult {
            execution_arn: arn.clone(),
            ok: r.is_ok(),
            message: match r {
                Ok(()) => "redriven".into(),
                Err(e) => e.message,
            },
        });
    }
    out
}

/// A new execution name for an order started by hand: `console-<hash of the order id>-<time>`,
/// always valid (≤ 80 of [A-Za-z0-9-_]) whatever the order id holds.
pub fn attempt_name(order_id: &str, now: DateTime<Utc>) -> String {
    use sha2::Digest;
    let hash = hex::encode(&sha2::Sha256::digest(order_id.as_bytes())[..6]);
    format!("console-{hash}-{}", now.format("%Y%m%dT%H%M%S%3fZ"))
}

/// `2h`, `30m`, `7d`, `90s` ago, or an RFC 3339 instant.
pub fn parse_since(text: &str, now: DateTime<Utc>) -> Result<DateTime<Utc>, String> {
    let text = text.trim();
    if let Ok(d) = DateTime::parse_from_rfc3339(text) {
        return Ok(d.with_timezone(&Utc));
    }
    let split = text.len().saturating_sub(1);
    let (n, unit) = text.split_at(split);
    let n: i64 = n
        .parse()
        .map_err(|_| format!("'{text}': expected e.g. 2h, 30m, 7d or an RFC 3339 time"))?;
    let d = match unit {
        "s" => chrono::Duration::seconds(n),
        "m" => chrono::Duration::minutes(n),
        "h" => chrono::Duration::hours(n),
        "d" => chrono::Duration::days(n),
        _ => return Err(format!("'{text}': the unit is one of s, m, h, d")),
    };
    Ok(now - d)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn order_ids_from_every_input_shape() {
        assert_eq!(order_ids(&json!({"orderId": "1"})), ["1"]);
        let record = json!({"eventID": "e", "dynamodb": {"Keys": {"orderId": {"S": "2"}}}});
        assert_eq!(order_ids(&json!([record.clone()])), ["2"]);
        assert_eq!(order_ids(&json!({"Records": [record]})), ["2"]);
        assert!(order_ids(&json!({"order": "3"})).is_empty());
        assert!(order_ids(&json!("x")).is_empty());
    }

    #[test]
    fn attempt_names_are_valid_whatever_the_id() {
        let now = DateTime::parse_from_rfc3339("2026-12-01T10:00:00.5Z")
            .unwrap()
            .with_timezone(&Utc);
        let name = attempt_name("<script>alert(1)</script> ünïcode", now);
        assert!(name.len() <= 80, "{name}");
        assert!(
            name.chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_'),
            "{name}"
        );
        assert_ne!(name, attempt_name("other", now));
    }

    #[test]
    fn since_takes_durations_and_instants() {
        let now = Utc::now();
        assert_eq!(
            parse_since("2h", now).unwrap(),
            now - chrono::Duration::hours(2)
        );
        assert_eq!(
            parse_since("7d", now).unwrap(),
            now - chrono::Duration::days(7)
        );
        assert_eq!(
            parse_since("2026-12-01T10:00:00Z", now)
                .unwrap()
                .to_rfc3339(),
            "2026-12-01T10:00:00+00:00"
        );
        assert!(parse_since("2w", now).is_err());
        assert!(parse_since("soon", now).is_err());
    }
}
