//! TestState's extras: the `inspectionData` a tested state leaves (DEBUG and TRACE), and the
//! `stateConfiguration` it runs with (a retrier's count, Map failures, ItemReader data).

use super::*;

/// TestState's `stateConfiguration`: where the tested state stands in an execution it is not in.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct StateConfiguration {
    /// `retrierRetryCount`: how many retries the retrier that matches the error already made.
    pub retrier_retry_count: Option<u64>,
    /// `errorCausedByState`: the state inside a Map or Parallel a mocked error comes from.
    pub error_caused_by_state: Option<String>,
    /// `mapIterationFailureCount`: how many iterations of a (mocked) Map failed.
    pub map_iteration_failure_count: Option<u64>,
    /// `mapItemReaderData`: what a Map's ItemReader read (its items), parsed.
    pub map_item_reader_data: Option<Value>,
}

/// The tested state's `inspectionData`, members as AWS names them, filled as the state runs.
#[derive(Debug, Default)]
pub(super) struct Inspection(Mutex<Map<String, Value>>);

impl Inspection {
    /// Records `key` (the last value wins).
    pub(super) fn record(&self, key: &str, value: Value) {
        self.0
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(key.to_string(), value);
    }

    /// Records a member of `errorDetails` (`retryIndex`, `retryBackoffIntervalSeconds`,
    /// `catchIndex`).
    pub(super) fn error_detail(&self, key: &str, value: Value) {
        let mut m = self.0.lock().unwrap_or_else(|p| p.into_inner());
        let details = m
            .entry("errorDetails")
            .or_insert_with(|| Value::Object(Map::new()));
        if let Value::Object(d) = details {
            d.insert(key.to_string(), value);
        }
    }

    /// What was recorded.
    pub(super) fn take(&self) -> Map<String, Value> {
        std::mem::take(&mut *self.0.lock().unwrap_or_else(|p| p.into_inner()))
    }
}

impl Run<'_> {
    /// The inspection to record into: only the tested state's own (depth 0), only when asked.
    pub(super) fn inspector(&self, depth: usize) -> Option<&Inspection> {
        self.inspection.as_ref().filter(|_| depth == 0)
    }

    /// The tested Map's items as its ItemReader read them (`mapItemReaderData`), when it has one.
    pub(super) fn reader_items(&self, state: &State, depth: usize) -> Option<Vec<Value>> {
        if depth != 0 || state.field("ItemReader").is_none() {
            return None;
        }
        match self.config.map_item_reader_data.clone()? {
            Value::Array(items) => Some(items),
            other => Some(vec![other]),
        }
    }
}

/// The interval a retrier waits before retry number `count` + 1: IntervalSeconds ×
/// BackoffRate^count, at most MaxDelaySeconds (jitter aside).
pub(super) fn backoff_seconds(r: &crate::definition::Retrier, count: u64) -> f64 {
    let mut delay = r.interval_seconds * r.backoff_rate.powi(count.min(i32::MAX as u64) as i32);
    if let Some(m) = r.max_delay_seconds {
        delay = delay.min(m);
    }
    delay.max(0.0)
}

/// Whether `failures` of `n` iterations exceed what the Map tolerates (count, percentage): both
/// limits given, it fails only past both.
pub(super) fn exceeds_tolerance(
    failures: usize,
    n: usize,
    tolerated: (Option<i64>, Option<f64>),
) -> bool {
    let over_count = tolerated.0.map(|c| failures as i64 > c);
    let over_pct = tolerated
        .1
        .map(|p| (failures as f64) * 100.0 / (n.max(1) as f64) > p);
    match (over_count, over_pct) {
        (Some(a), Some(b)) => a && b,
        (Some(a), None) => a,
        (None, Some(b)) => b,
        (None, None) => true,
    }
}
