//! AWS's own events about an order, as EventBridge delivers them (one event per SQS message
//! body): SES sending events (`aws.ses`) and Step Functions execution status changes (`aws.states`).
//!
//! Parsing is strict about what the recorder acts on and lenient about the rest: an event of a
//! type we do not record is [`AwsEvent::Ignored`], a body that is not an event at all is
//! [`EvidenceError`] (logged, and left to the queue's redrive policy, which moves it to the DLQ).

mod execution;
pub mod items;
pub mod publish;
mod ses;
mod tags;

pub use execution::{
    order_ids_of_input, rank, ExecutionStatusChange, IndexEntry, IndexOutcome,
    INDEX_RETENTION_DAYS, STATUSES,
};
pub use ses::{SesEvent, SesEventKind, SesOutcome};
pub use tags::{ClaimTags, CLAIM_TOKEN_TAG, EMAIL_LOG_KEY_TAG};

use serde_json::Value;

/// EventBridge's `source` of SES sending events.
pub const SES_SOURCE: &str = "aws.ses";
/// EventBridge's `source` of Step Functions events.
pub const STATES_SOURCE: &str = "aws.states";
/// The `detail-type` of a Step Functions execution status change.
pub const EXECUTION_STATUS_CHANGE: &str = "Step Functions Execution Status Change";

/// Why a message body cannot be recorded: it is not an EventBridge event of the shape AWS
/// documents. Not retried by the recorder (the queue's redrive policy takes it to the DLQ).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("malformed event: {0}")]
pub struct EvidenceError(pub String);

impl EvidenceError {
    pub(crate) fn new(message: impl Into<String>) -> Self {
        EvidenceError(message.into())
    }
}

/// One event from the evidence queue.
#[derive(Debug, Clone, PartialEq)]
pub enum AwsEvent {
    /// An SES sending event of a message this stack tagged (or tried to: see [`ClaimTags`]).
    Ses(SesEvent),
    /// A Step Functions execution status change.
    Execution(ExecutionStatusChange),
    /// A well-formed event the recorder has nothing to do with (another source or type, an
    /// SES event without this stack's claim tags): acknowledged, logged, counted.
    Ignored {
        /// EventBridge's event id.
        id: String,
        /// Why it is not recorded.
        reason: String,
    },
}

impl AwsEvent {
    /// Parses one SQS message body: an EventBridge event (`version`, `id`, `detail-type`,
    /// `source`, `time`, `detail`).
    pub fn parse(body: &str) -> Result<AwsEvent, EvidenceError> {
        let event: Value = serde_json::from_str(body)
            .map_err(|e| EvidenceError::new(format!("the body is not JSON: {e}")))?;
        let text = |name: &str| -> Result<&str, EvidenceError> {
            event
                .get(name)
                .and_then(Value::as_str)
                .ok_or_else(|| EvidenceError::new(format!("no string `{name}` in the event")))
        };
        let id = text("id")?.to_string();
        let source = text("source")?;
        let detail_type = text("detail-type")?;
        let detail = event
            .get("detail")
            .filter(|d| d.is_object())
            .ok_or_else(|| EvidenceError::new("no `detail` object in the event"))?;
        match source {
            SES_SOURCE => match SesEvent::from_detail(&id, detail)? {
                Some(ses) => Ok(AwsEvent::Ses(ses)),
                None => Ok(AwsEvent::Ignored {
                    id,
                    reason: format!("SES `{detail_type}` event without this stack's claim tags"),
                }),
            },
            STATES_SOURCE if detail_type == EXECUTION_STATUS_CHANGE => Ok(AwsEvent::Execution(
                ExecutionStatusChange::from_detail(&id, detail)?,
            )),
            _ => Ok(AwsEvent::Ignored {
                id,
                reason: format!("`{source}` `{detail_type}` events are not recorded"),
            }),
        }
    }

    /// EventBridge's id of the event (duplicates of one delivery share it).
    pub fn id(&self) -> &str {
        match self {
            AwsEvent::Ses(e) => &e.event_id,
            AwsEvent::Execution(e) => &e.event_id,
            AwsEvent::Ignored { id, .. } => id,
        }
    }
}

#[cfg(test)]
mod tests;
