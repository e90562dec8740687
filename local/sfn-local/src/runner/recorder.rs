//! The history recorder: an execution's events kept in memory while it runs (live history) and the
//! progress line, renumbered after a redrive so the ids go on from the earlier events.

use std::sync::Mutex;

use asl::{HistoryEvent, HistorySink};
use serde_json::Value;

/// Records history into memory (and the progress line), renumbering after a redrive so the ids go
/// on from the execution's earlier events, as on AWS.
pub(super) struct Recorder {
    pub(super) events: Mutex<Vec<Value>>,
    pub(super) offset: u64,
    pub(super) label: Option<String>,
}

impl HistorySink for Recorder {
    fn record(&self, mut event: HistoryEvent) {
        event.id += self.offset;
        event.previous_event_id += self.offset;
        if let Some(label) = &self.label {
            let t = event.r#type.as_str();
            let state = event
                .details
                .get("name")
                .and_then(Value::as_str)
                .unwrap_or("");
            if t == "TaskStateEntered" {
                eprintln!("sfn-local: {label} {state}");
            } else if t == "WaitStateEntered" {
                // A wait the definition takes (e.g. for SES's events), not a stuck execution.
                eprintln!("sfn-local: {label} {state} (Wait)");
            } else if t == "TaskFailed" {
                eprintln!(
                    "sfn-local: {label}   failed: {}",
                    event
                        .details
                        .get("error")
                        .and_then(Value::as_str)
                        .unwrap_or("")
                );
            }
        }
        match serde_json::to_value(&event) {
            Ok(v) => self
                .events
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .push(v),
            Err(e) => tracing::error!(error = %e, "history event not serialisable"),
        }
    }
}
