//! The records the recorder writes, as DynamoDB items (shared by the DynamoDB and in-memory
//! adapters, and read by the console): order-index items, and SES events kept on an email-log record.

use crate::attr::{Attr, Item};

use super::{IndexEntry, SesEvent};

/// The order index's hash key.
pub const INDEX_HASH_KEY: &str = "orderId";
/// The order index's range key.
pub const INDEX_RANGE_KEY: &str = "executionArn";
/// The order index's TTL attribute (epoch seconds).
pub const INDEX_TTL_ATTRIBUTE: &str = "expiresAt";
/// The order index's sparse global secondary index of the executions whose newest known state is
/// FAILED, by machine and start: a bulk redrive reads their errors in one Query per machine
/// instead of one DescribeExecution per candidate.
pub const FAILED_INDEX: &str = "failed-executions";
/// [`FAILED_INDEX`]'s hash key: the machine's name, set only while the execution is FAILED (a
/// later state rewrites the item without it, which takes it out of the index).
pub const FAILED_INDEX_HASH_KEY: &str = "failedMachine";
/// [`FAILED_INDEX`]'s range key: the start (RFC 3339, UTC, milliseconds: sorts as it reads).
pub const FAILED_INDEX_RANGE_KEY: &str = "startDate";
/// The email-log attribute listing the SES events of the record (a list of maps).
pub const SES_EVENTS: &str = "sesEvents";
/// The email-log attribute holding the EventBridge ids already recorded (a string set).
pub const SES_EVENT_IDS: &str = "sesEventIds";
/// The email-log attribute holding the tokens of claims a resend superseded (a string set).
pub const SUPERSEDED_TOKENS: &str = "supersededTokens";

fn s(v: &str) -> Attr {
    Attr::S(v.to_string())
}

fn n(v: impl ToString) -> Attr {
    Attr::N(v.to_string())
}

/// The state machine's name in its ARN (`...:stateMachine:NAME`).
pub fn machine_name(state_machine_arn: &str) -> &str {
    state_machine_arn
        .rsplit_once(":stateMachine:")
        .map(|(_, name)| name)
        .unwrap_or(state_machine_arn)
}

impl IndexEntry {
    /// The item in the order index.
    pub fn to_item(&self) -> Item {
        let mut item = Item::from([
            (INDEX_HASH_KEY.to_string(), s(&self.order_id)),
            (INDEX_RANGE_KEY.to_string(), s(&self.execution_arn)),
            ("stateMachineArn".to_string(), s(&self.state_machine_arn)),
            (
                "machine".to_string(),
                s(machine_name(&self.state_machine_arn)),
            ),
            ("name".to_string(), s(&self.name)),
            ("status".to_string(), s(&self.status)),
            ("startDate".to_string(), s(&self.start_date)),
            ("redriveCount".to_string(), n(self.redrive_count)),
            ("rank".to_string(), n(self.rank)),
            (INDEX_TTL_ATTRIBUTE.to_string(), n(self.expires_at)),
            ("eventId".to_string(), s(&self.event_id)),
        ]);
        let mut opt = |name: &str, value: &Option<String>| {
            if let Some(v) = value {
                item.insert(name.to_string(), s(v));
            }
        };
        opt("stopDate", &self.stop_date);
        opt("error", &self.error);
        opt("startedBy", &self.started_by);
        if self.status == "FAILED" {
            item.insert(
                FAILED_INDEX_HASH_KEY.to_string(),
                s(machine_name(&self.state_machine_arn)),
            );
        }
        if !self.stream_event_ids.is_empty() {
            item.insert(
                "streamEventIds".to_string(),
                Attr::L(self.stream_event_ids.iter().map(|e| s(e)).collect()),
            );
        }
        item
    }

    /// An index item read back; `None` for an item missing a required attribute.
    pub fn from_item(item: &Item) -> Option<IndexEntry> {
        let text = |name: &str| item.get(name).and_then(Attr::as_s).map(str::to_string);
        let number = |name: &str| match item.get(name) {
            Some(Attr::N(v)) => v.parse::<i64>().ok(),
            _ => None,
        };
        Some(IndexEntry {
            order_id: text(INDEX_HASH_KEY)?,
            execution_arn: text(INDEX_RANGE_KEY)?,
            state_machine_arn: text("stateMachineArn")?,
            name: text("name")?,
            status: text("status")?,
            start_date: text("startDate")?,
            stop_date: text("stopDate"),
            error: text("error"),
            redrive_count: number("redriveCount")?.try_into().ok()?,
            started_by: text("startedBy"),
            stream_event_ids: match item.get("streamEventIds") {
                Some(Attr::L(l)) => l
                    .iter()
                    .filter_map(Attr::as_s)
                    .map(str::to_string)
                    .collect(),
                _ => Vec::new(),
            },
            rank: number("rank")?.try_into().ok()?,
            expires_at: number(INDEX_TTL_ATTRIBUTE)?,
            event_id: text("eventId").unwrap_or_default(),
        })
    }
}

impl SesEvent {
    /// The event as kept in the record's [`SES_EVENTS`] list (no address: the tags and the
    /// summary carry none).
    pub fn to_attr(&self) -> Attr {
        Attr::M(
            [
                ("eventId".to_string(), s(&self.event_id)),
                ("type".to_string(), s(self.kind.as_str())),
                ("at".to_string(), s(&self.at)),
                ("messageId".to_string(), s(&self.message_id)),
                ("claimToken".to_string(), s(&self.claim.token)),
                ("summary".to_string(), s(&self.summary)),
            ]
            .into(),
        )
    }
}

/// One SES event as kept on an email-log record (what the console shows).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct RecordedSesEvent {
    /// `Send`, `Delivery`, `Bounce`, ...
    pub kind: String,
    /// When it happened.
    pub at: String,
    /// SES's message id.
    pub message_id: String,
    /// The claim token of the send it is about.
    pub claim_token: String,
    /// Bounce type, delay type, reason.
    pub summary: String,
}

/// The SES events kept on an email-log record, oldest first by their time.
pub fn recorded_ses_events(record: &Item) -> Vec<RecordedSesEvent> {
    let Some(Attr::L(events)) = record.get(SES_EVENTS) else {
        return Vec::new();
    };
    let mut out: Vec<RecordedSesEvent> = events
        .iter()
        .filter_map(Attr::as_m)
        .map(|m| {
            let t = |k: &str| {
                m.get(k)
                    .and_then(Attr::as_s)
                    .unwrap_or_default()
                    .to_string()
            };
            RecordedSesEvent {
                kind: t("type"),
                at: t("at"),
                message_id: t("messageId"),
                claim_token: t("claimToken"),
                summary: t("summary"),
            }
        })
        .collect();
    out.sort_by(|a, b| a.at.cmp(&b.at));
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn index_items_round_trip() {
        let entry = IndexEntry {
            order_id: "1".into(),
            execution_arn: "arn:aws:states:us-east-1:1:execution:process-unpaid-order-dev:x".into(),
            state_machine_arn: "arn:aws:states:us-east-1:1:stateMachine:process-unpaid-order-dev"
                .into(),
            name: "x".into(),
            status: "FAILED".into(),
            start_date: "2026-11-25T06:10:00.000Z".into(),
            stop_date: Some("2026-11-25T06:11:00.000Z".into()),
            error: Some("TransientError".into()),
            redrive_count: 2,
            started_by: Some("arn:batch".into()),
            stream_event_ids: vec!["e1".into()],
            rank: 10,
            expires_at: 1_772_000_000,
            event_id: "ev".into(),
        };
        let item = entry.to_item();
        assert_eq!(item["machine"], Attr::S("process-unpaid-order-dev".into()));
        assert_eq!(
            item[FAILED_INDEX_HASH_KEY],
            Attr::S("process-unpaid-order-dev".into()),
            "a FAILED execution is in the failed-executions index"
        );
        assert_eq!(IndexEntry::from_item(&item), Some(entry.clone()));
        let redriven = IndexEntry {
            status: "RUNNING".into(),
            ..entry
        };
        assert!(
            !redriven.to_item().contains_key(FAILED_INDEX_HASH_KEY),
            "any other state takes it out"
        );
    }
}
