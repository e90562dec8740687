//! Execution history events shaped as elements of AWS GetExecutionHistory's `events`.

use std::sync::Mutex;

use chrono::{DateTime, Utc};
use serde::ser::SerializeMap;
use serde::{Serialize, Serializer};
use serde_json::Value;

/// One history event; serialises as `{timestamp, type, id, previousEventId, <type>EventDetails}`.
#[derive(Debug, Clone, PartialEq)]
pub struct HistoryEvent {
    /// When it happened (on the engine's clock).
    pub timestamp: DateTime<Utc>,
    /// `ExecutionStarted`, `TaskStateEntered`, ...
    pub r#type: String,
    /// 1-based, in order.
    pub id: u64,
    /// The id of the event before it (0 for the first).
    pub previous_event_id: u64,
    /// The details object, stored under `<lowerCamel type>EventDetails`; `Value::Null` for none.
    pub details: Value,
}

impl HistoryEvent {
    /// The AWS key of the details object, e.g. `TaskStateEntered` → `stateEnteredEventDetails`.
    pub fn details_key(&self) -> String {
        let t = self.r#type.as_str();
        let base = if t.ends_with("StateEntered") {
            "stateEntered".to_string()
        } else if t.ends_with("StateExited") {
            "stateExited".to_string()
        } else {
            let mut c = t.chars();
            match c.next() {
                Some(f) => f.to_lowercase().collect::<String>() + c.as_str(),
                None => String::new(),
            }
        };
        format!("{base}EventDetails")
    }
}

impl Serialize for HistoryEvent {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut m = s.serialize_map(None)?;
        m.serialize_entry(
            "timestamp",
            &self
                .timestamp
                .to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
        )?;
        m.serialize_entry("type", &self.r#type)?;
        m.serialize_entry("id", &self.id)?;
        m.serialize_entry("previousEventId", &self.previous_event_id)?;
        if !self.details.is_null() {
            m.serialize_entry(&self.details_key(), &self.details)?;
        }
        m.end()
    }
}

/// Where the engine reports events as they happen.
pub trait HistorySink: Send + Sync {
    /// Keep one event.
    fn record(&self, event: HistoryEvent);
    /// Whether events are kept at all: when not, the engine skips building their details
    /// (the JSON text of every state's input and output).
    fn enabled(&self) -> bool {
        true
    }
}

/// Keeps events in memory (tests, asl-run, the runner's store before persisting).
#[derive(Debug, Default)]
pub struct VecHistory {
    events: Mutex<Vec<HistoryEvent>>,
}

impl VecHistory {
    /// An empty history.
    pub fn new() -> Self {
        // Room for a short execution's events without regrowing.
        VecHistory {
            events: Mutex::new(Vec::with_capacity(64)),
        }
    }
    /// The events so far.
    pub fn events(&self) -> Vec<HistoryEvent> {
        self.events
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }
}

impl HistorySink for VecHistory {
    fn record(&self, event: HistoryEvent) {
        self.events
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .push(event);
    }
}

/// Discards events.
#[derive(Debug, Default)]
pub struct NoHistory;

impl HistorySink for NoHistory {
    fn record(&self, _event: HistoryEvent) {}
    fn enabled(&self) -> bool {
        false
    }
}
