//! Finding an order's executions without an index: a bounded scan of ListExecutions +
//! DescribeExecution, matched on the execution **input's** `orderId` (or a stream record of a
//! batch holding it — never on the name), which says how much it searched; and the helpers the
//! index search and the bulk redrive share (descriptions, names, times, rate-limited redrives).

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
    /// The execution, described (or, when Step Functions no longer has it, as the index last saw it).
    #[serde(flatten)]
    pub execution: Execution,
    /// In the order index, but Step Functions no longer has it (DescribeExecution: does not exist).
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub gone: bool,
}

/// How one machine was scanned.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct MachineScan {
    /// The machine's name.
    pub machine: String,
    /// Executions listed and described (the newest ones).
    pub searched: usize,
    /// The machine has older executions than those: they were not searched.
    pub older_not_searched: bool,
}

/// How an order's executions were found: what the page and the CLI say under the list.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[serde(tag = "method", rename_all = "camelCase")]
pub enum Searched {
    /// One Query of the order index.
    #[serde(rename_all = "camelCase")]
    Index {
        /// The index table.
        table: String,
        /// Executions it holds for the order.
        found: usize,
        /// Of those, described through Step Functions.
        described: usize,
    },
    /// A scan of each machine's newest executions (no index configured, or asked for).
    #[serde(rename_all = "camelCase")]
    Scan {
        /// Per machine: how many were searched, and whether older ones were left.
        machines: Vec<MachineScan>,
        /// Why it scanned (no index table, or the operator asked).
        reason: String,
    },
}

/// `1,234`: counts as the pages show them.
pub fn count(n: usize) -> String {
    let digits = n.to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(c);
    }
    out
}

impl Searched {
    /// One sentence: what was searched and what was not (never a silent "no executions").
    pub fn message(&self) -> String {
        match self {
            Searched::Index {
                table,
                found,
                described,
            } => {
                let mut m = format!(
                    "Found {} execution(s) in the order index {table} (one Query, whatever the history's size)",
                    count(*found)
                );
                if described < found {
                    m.push_str(&format!(
                        "; {} described through Step Functions, the others shown as the index last saw them",
                        count(*described)
                    ));
                }
                m.push_str(". The index holds the executions whose status changes were recorded since it was deployed, for 90 days after they stopped.");
                m
            }
            Searched::Scan { machines, reason } => {
                let parts: Vec<String> = machines
                    .iter()
                    .map(|m| {
                        if m.older_not_searched {
                            format!(
                                "the newest {} executions of {}",
                                count(m.searched),
                                m.machine
                            )
                        } else if m.searched == 0 {
                            format!("{}, which has none", m.machine)
                        } else {
                            format!("all {} executions of {}", count(m.searched), m.machine)
                        }
                    })
                    .collect();
                let total: usize = machines.iter().map(|m| m.searched).sum();
                let older = machines.iter().any(|m| m.older_not_searched);
                format!(
                    "Searched {} executions ({}){} ({reason}).",
                    count(total),
                    if parts.is_empty() {
                        "no machine".to_string()
                    } else {
                        parts.join(", ")
                    },
                    if older {
                        "; older ones were not searched: an order whose executions are older is not found this way"
                    } else {
                        "; that is every execution Step Functions still keeps"
                    }
                )
            }
        }
    }

    /// Whether executions of the order may exist that were not searched.
    pub fn incomplete(&self) -> bool {
        matches!(self, Searched::Scan { machines, .. } if machines.iter().any(|m| m.older_not_searched))
    }
}

/// An order's executions (newest first) and how they were found.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Found {
    /// The executions, newest first.
    pub executions: Vec<Attempt>,
    /// What was searched.
    pub searched: Searched,
}

/// Every execution of `order_id` on `machines` (newest first), scanning the newest `limit`
/// (≤ [`MAX_DESCRIBED`]) executions of each machine, and how many were searched.
pub async fn find_order(
    sfn: &Sfn,
    machines: &[Machine],
    order_id: &str,
    limit: usize,
    reason: &str,
) -> Result<Found, SfnError> {
    let limit = limit.clamp(1, MAX_DESCRIBED);
    let mut out = Vec::new();
    let mut scans = Vec::new();
    for m in machines {
        let (items, more) = sfn.executions_bounded(&m.arn, None, None, limit).await?;
        scans.push(MachineScan {
            machine: m.name.clone(),
            searched: items.len(),
            older_not_searched: more,
        });
        for e in describe_all(sfn, &items).await? {
            if e.input_json()
                .is_some_and(|i| order_ids(&i).iter().any(|id| id == order_id))
            {
                out.push(Attempt {
                    machine: m.name.clone(),
                    execution: e,
                    gone: false,
                });
            }
        }
    }
    out.sort_by_key(|a| std::cmp::Reverse(a.execution.start));
    Ok(Found {
        executions: out,
        searched: Searched::Scan {
            machines: scans,
            reason: reason.to_string(),
        },
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

#[cfg(test)]
mod searched_tests {
    use super::*;

    #[test]
    fn the_scan_says_how_many_it_searched_and_that_older_ones_were_not() {
        let scan = Searched::Scan {
            machines: vec![
                MachineScan {
                    machine: "process-unpaid-order-dev".into(),
                    searched: 2_000,
                    older_not_searched: true,
                },
                MachineScan {
                    machine: "process-unpaid-orders-dev".into(),
                    searched: 12,
                    older_not_searched: false,
                },
            ],
            reason: "no order index configured".into(),
        };
        assert_eq!(
            scan.message(),
            "Searched 2,012 executions (the newest 2,000 executions of process-unpaid-order-dev, \
             all 12 executions of process-unpaid-orders-dev); older ones were not searched: an \
             order whose executions are older is not found this way (no order index configured)."
        );
        assert!(scan.incomplete());
        let index = Searched::Index {
            table: "idx".into(),
            found: 3,
            described: 2,
        };
        assert!(index
            .message()
            .starts_with("Found 3 execution(s) in the order index idx"));
        assert!(index.message().contains("2 described"));
        assert!(!index.incomplete());
        assert_eq!(
            (count(0), count(999), count(1_234_567)),
            ("0".into(), "999".into(), "1,234,567".into())
        );
    }
}
