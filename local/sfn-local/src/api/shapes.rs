//! Response JSON: dates as epoch seconds, one page of a list with its `nextToken`, an execution as
//! DescribeExecution returns it.

use chrono::{DateTime, Utc};
use serde_json::{json, Value};

use crate::store::ExecutionRecord;

use super::Api;

/// AWS JSON dates: epoch seconds (with milliseconds).
pub(super) fn epoch(d: &DateTime<Utc>) -> Value {
    json!(d.timestamp_millis() as f64 / 1000.0)
}

/// The runner's documents carry dates as RFC 3339 text (the CLI's form): the API sends epochs.
pub(super) fn epoch_dates(v: &mut Value) {
    if let Value::Object(m) = v {
        for key in ["startDate", "stopDate", "redriveDate", "timestamp"] {
            if let Some(Value::String(s)) = m.get(key) {
                if let Ok(d) = DateTime::parse_from_rfc3339(s) {
                    m.insert(key.into(), epoch(&d.with_timezone(&Utc)));
                }
            }
        }
    }
}

/// One page of `items` and the token of the next one.
pub(super) fn paginate(
    items: Vec<Value>,
    start: usize,
    size: usize,
) -> (Vec<Value>, Option<String>) {
    let total = items.len();
    let end = start.saturating_add(size).min(total);
    let page: Vec<Value> = items
        .into_iter()
        .skip(start)
        .take(end.saturating_sub(start))
        .collect();
    let next = (end < total).then(|| format!("sfn-local:{end}"));
    (page, next)
}

/// A List/Get response: one page of `items` under `key`, and `nextToken` when more follow.
pub(super) fn page_of(key: &str, items: Vec<Value>, start: usize, size: usize) -> Value {
    let (items, next) = paginate(items, start, size);
    let mut out = json!({ key: items });
    if let Some(t) = next {
        out["nextToken"] = json!(t);
    }
    out
}

impl Api {
    pub(super) fn describe(&self, r: &ExecutionRecord) -> Value {
        let mut v = r.describe();
        epoch_dates(&mut v);
        v
    }
}
