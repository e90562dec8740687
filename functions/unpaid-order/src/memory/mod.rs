//! In-memory versions of every port, for unit tests and the offline runner: the whole state
//! (four tables as DynamoDB-JSON item lists, and an outbox of what SNS and SES would have sent) is
//! serde-serialisable, and the semantics (conditions, paid guard, claims) are the DynamoDB adapters'.

use std::cmp::Ordering;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard};

use async_trait::async_trait;
use serde::{Deserialize, Serialize};

use crate::attr::{Attr, Item};
use crate::evidence::{SesEvent, SesOutcome};
use crate::model::{
    plan_save, AttemptRecord, CheckStatus, LogOutcome, OrderData, OrderId, PaymentHeader,
    SaveOutcome, SavePlan, StoredOrder,
};
use crate::notice::{FailureNotification, OutgoingEmail};
use crate::ports::{
    status, AttemptLog, CheckStatusTable, Claim, ClaimOutcome, EmailLog, ExistingClaim, Mailer,
    Notifier, OrderTable, SendError,
};
use crate::FunctionError;

mod evidence;

/// An SNS message as it would have been published.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PublishedMessage {
    /// The id the fake SNS gave it.
    pub message_id: String,
    /// The topic it went to.
    pub topic_arn: String,
    /// The SNS subject.
    pub subject: String,
    /// The message body (JSON).
    pub message: String,
    /// The `dedupeId` message attribute: the same on every copy of one notification.
    #[serde(default)]
    pub dedupe_id: String,
}

/// An email as it would have been sent.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SentEmail {
    /// The id the fake SES gave it.
    pub message_id: String,
    /// The sender (SENDER_EMAIL).
    pub from: String,
    /// The customer's address.
    pub to: String,
    /// The subject line.
    pub subject: String,
    /// The plain-text body.
    pub text: String,
    /// The HTML body.
    pub html: String,
    /// The SES message tags it was sent with (the claim it belongs to).
    #[serde(default)]
    pub tags: Vec<(String, String)>,
}

/// What the in-memory notifier and mailer "sent", in order, for tests to check.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Outbox {
    /// Messages published to the failure topic.
    pub sns: Vec<PublishedMessage>,
    /// Customer emails sent.
    pub emails: Vec<SentEmail>,
}

/// Everything the in-memory ports hold. Tables are lists of items in DynamoDB JSON, as the
/// fixture files in `events/tables/` are.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct MemoryState {
    /// Order table: hash `orderId`.
    pub orders: Vec<Item>,
    /// Check-status table: hash `orderId`, range `created_at`.
    pub check_status: Vec<Item>,
    /// Process-unpaid-order table: hash `orderId`, range `created_at`.
    pub process_unpaid_order: Vec<Item>,
    /// Email-log table: hash `emailId`.
    pub email_log: Vec<Item>,
    /// Order index: hash `orderId`, range `executionArn` (the recorder's, from Step Functions'
    /// status-change events).
    #[serde(default)]
    pub order_index: Vec<Item>,
    /// What was sent.
    pub outbox: Outbox,
}

/// The fixture files (`events/tables/`), one per table.
pub const FIXTURE_FILES: [&str; 4] = [
    "orders.json",
    "check-status.json",
    "process-unpaid-order.json",
    "email-log.json",
];

/// Why the fixture files could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum FixtureError {
    /// A file could not be read.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The read error.
        source: std::io::Error,
    },
    /// A file is not a JSON array of DynamoDB-JSON items.
    #[error("{path}: not a JSON array of DynamoDB-JSON items: {source}")]
    Parse {
        /// The file.
        path: PathBuf,
        /// The parse error.
        source: serde_json::Error,
    },
}

impl MemoryState {
    /// Loads `orders.json` (required), `check-status.json`, `process-unpaid-order.json` and
    /// `email-log.json` (each optional: empty when absent) from a fixture directory.
    pub fn load_fixtures(dir: &Path) -> Result<MemoryState, FixtureError> {
        let read = |name: &str, required: bool| -> Result<Vec<Item>, FixtureError> {
            let path = dir.join(name);
            match std::fs::read_to_string(&path) {
                Ok(text) => serde_json::from_str(&text)
                    .map_err(|source| FixtureError::Parse { path, source }),
                Err(e) if !required && e.kind() == std::io::ErrorKind::NotFound => Ok(Vec::new()),
                Err(source) => Err(FixtureError::Io { path, source }),
            }
        };
        Ok(MemoryState {
            orders: read(FIXTURE_FILES[0], true)?,
            check_status: read(FIXTURE_FILES[1], false)?,
            process_unpaid_order: read(FIXTURE_FILES[2], false)?,
            email_log: read(FIXTURE_FILES[3], false)?,
            order_index: Vec::new(),
            outbox: Outbox::default(),
        })
    }
}

/// The in-memory store: implements every port over one [`MemoryState`]. Clones share the state.
#[derive(Debug, Clone)]
pub struct MemoryStore {
    state: Arc<Mutex<MemoryState>>,
    topic_arn: String,
    sender: String,
}

impl Default for MemoryStore {
    fn default() -> Self {
        MemoryStore::new(MemoryState::default())
    }
}

fn text_of<'a>(item: &'a Item, name: &str) -> Option<&'a str> {
    item.get(name).and_then(Attr::key_text)
}

/// DynamoDB's order of range keys: numbers by value, strings by their bytes.
fn compare_keys(a: &Attr, b: &Attr) -> Ordering {
    match (a, b) {
        (Attr::N(x), Attr::N(y)) => match (x.parse::<f64>(), y.parse::<f64>()) {
            (Ok(x), Ok(y)) => x.partial_cmp(&y).unwrap_or(Ordering::Equal),
            _ => x.cmp(y),
        },
        _ => a
            .key_text()
            .unwrap_or("")
            .as_bytes()
            .cmp(b.key_text().unwrap_or("").as_bytes()),
    }
}

impl MemoryStore {
    /// A store over this state, with a placeholder topic ARN and sender for the outbox.
    pub fn new(state: MemoryState) -> Self {
        MemoryStore {
            state: Arc::new(Mutex::new(state)),
            topic_arn: "arn:aws:sns:us-east-1:000000000000:payment3-unpaid-order-failure-local"
                .to_string(),
            sender: "payments@example.com".to_string(),
        }
    }

    /// The topic ARN and sender address the outbox records.
    pub fn with_identity(
        mut self,
        topic_arn: impl Into<String>,
        sender: impl Into<String>,
    ) -> Self {
        self.topic_arn = topic_arn.into();
        self.sender = sender.into();
        self
    }

    /// A copy of the whole state (to persist it, or to inspect it in tests).
    pub fn snapshot(&self) -> MemoryState {
        self.lock().clone()
    }

    fn lock(&self) -> MutexGuard<'_, MemoryState> {
        // A panic while holding the lock leaves consistent data (every change is one assignment).
        self.state
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

fn find_order<'a>(orders: &'a mut [Item], order_id: &OrderId) -> Option<&'a mut Item> {
    orders
        .iter_mut()
        .find(|i| text_of(i, "orderId") == Some(order_id.as_str()))
}

#[async_trait]
impl OrderTable for MemoryStore {
    async fn get(&self, order_id: &OrderId) -> Result<Option<StoredOrder>, FunctionError> {
        let mut state = self.lock();
        match find_order(&mut state.orders, order_id) {
            Some(item) => Ok(Some(StoredOrder::from_item(order_id, item)?)),
            None => Ok(None),
        }
    }

    async fn save_payment_header(
        &self,
        order_id: &OrderId,
        header: &PaymentHeader,
    ) -> Result<SaveOutcome, FunctionError> {
        let mut state = self.lock();
        let item = find_order(&mut state.orders, order_id).ok_or_else(|| {
            FunctionError::OrderNotFound {
                order_id: order_id.to_string(),
            }
        })?;
        let order = StoredOrder::from_item(order_id, item)?;
        match plan_save(&order, header)? {
            SavePlan::Unchanged => Ok(SaveOutcome::Unchanged),
            SavePlan::SetMapPayment => {
                if let OrderData::Map(mut m) = order.data {
                    m.insert("payment".to_string(), header.to_attr());
                    item.insert("data".to_string(), Attr::M(m));
                }
                Ok(SaveOutcome::Saved)
            }
            SavePlan::ReplaceJson { new, .. } => {
                item.insert("data".to_string(), Attr::S(new));
                Ok(SaveOutcome::Saved)
            }
        }
    }
}

#[async_trait]
impl CheckStatusTable for MemoryStore {
    async fn oldest(&self, order_id: &OrderId) -> Result<Option<CheckStatus>, FunctionError> {
        let state = self.lock();
        let oldest = state
            .check_status
            .iter()
            .filter(|i| {
                text_of(i, "orderId") == Some(order_id.as_str()) && i.contains_key("created_at")
            })
            .min_by(|a, b| compare_keys(&a["created_at"], &b["created_at"]));
        oldest
            .map(|item| CheckStatus::from_item(order_id, item))
            .transpose()
    }
}

impl MemoryStore {
    fn put_attempt_if_absent(state: &mut MemoryState, item: Item) -> Option<Item> {
        let key = |i: &Item| {
            (
                text_of(i, "orderId").map(str::to_string),
                text_of(i, "created_at").map(str::to_string),
            )
        };
        let wanted = key(&item);
        match state.process_unpaid_order.iter().find(|i| key(i) == wanted) {
            Some(existing) => Some(existing.clone()),
            None => {
                state.process_unpaid_order.push(item);
                None
            }
        }
    }
}

#[async_trait]
impl AttemptLog for MemoryStore {
    async fn record(&self, attempt: &AttemptRecord) -> Result<LogOutcome, FunctionError> {
        let mut state = self.lock();
        let ours = attempt.attempt_id.as_str();
        match Self::put_attempt_if_absent(&mut state, attempt.to_item(&attempt.timestamp)) {
            None => {
                return Ok(LogOutcome {
                    created_at: attempt.timestamp.clone(),
                    logged: true,
                })
            }
            Some(old) if old.get("attemptId").and_then(Attr::as_s) == Some(ours) => {
                return Ok(LogOutcome {
                    created_at: attempt.timestamp.clone(),
                    logged: false,
                })
            }
            Some(_) => {}
        }
        let created_at = attempt.disambiguated_created_at();
        let existing = Self::put_attempt_if_absent(&mut state, attempt.to_item(&created_at));
        Ok(LogOutcome {
            created_at,
            logged: existing.is_none(),
        })
    }
}

#[async_trait]
impl EmailLog for MemoryStore {
    async fn claim(&self, claim: &Claim) -> Result<ClaimOutcome, FunctionError> {
        let mut state = self.lock();
        let id = claim.email_id();
        let record = Item::from([
            ("emailId".to_string(), Attr::s(&id)),
            ("orderId".to_string(), Attr::s(claim.order_id.as_str())),
            ("attemptId".to_string(), Attr::s(claim.attempt_id.as_str())),
            ("channel".to_string(), Attr::s(claim.channel.as_str())),
            ("recipient".to_string(), Attr::s(&claim.recipient)),
            ("status".to_string(), Attr::s(status::PENDING)),
            ("claimToken".to_string(), Attr::s(&claim.token)),
            ("claimedAt".to_string(), Attr::s(&claim.claimed_at)),
        ]);
        match state
            .email_log
            .iter_mut()
            .find(|i| text_of(i, "emailId") == Some(id.as_str()))
        {
            None => {
                state.email_log.push(record);
                Ok(ClaimOutcome::Claimed)
            }
            Some(existing) => {
                let current = text_of(existing, "status").unwrap_or("unknown").to_string();
                if current == status::FAILED || current == status::PENDING {
                    *existing = record;
                    Ok(ClaimOutcome::Claimed)
                } else {
                    let text = |name: &str| text_of(existing, name).map(str::to_string);
                    Ok(ClaimOutcome::AlreadyClaimed(ExistingClaim {
                        status: current,
                        token: text("claimToken"),
                        claimed_at: text("claimedAt"),
                    }))
                }
            }
        }
    }

    async fn begin_send(&self, claim: &Claim) -> Result<bool, FunctionError> {
        Ok(self.transition(claim, status::PENDING, status::SENDING, &[]))
    }

    async fn mark_sent(
        &self,
        claim: &Claim,
        message_id: &str,
        sent_at: &str,
    ) -> Result<(), FunctionError> {
        self.transition(
            claim,
            status::SENDING,
            status::SENT,
            &[("messageId", message_id), ("sentAt", sent_at)],
        );
        Ok(())
    }

    async fn mark_failed(&self, claim: &Claim, reason: &str) -> Result<(), FunctionError> {
        self.transition(
            claim,
            status::SENDING,
            status::FAILED,
            &[("failure", &crate::notice::redacted(reason))],
        );
        Ok(())
    }

    async fn supersede(
        &self,
        superseded_token: &str,
        claim: &Claim,
    ) -> Result<bool, FunctionError> {
        Ok(evidence::supersede(
            &mut self.lock(),
            superseded_token,
            claim,
        ))
    }

    async fn record_ses_event(&self, event: &SesEvent) -> Result<SesOutcome, FunctionError> {
        Ok(evidence::record_ses_event(&mut self.lock(), event))
    }
}

impl MemoryStore {
    /// `from` (with this claim's token) -> `to`; `true` if it is (now or already) `to` and ours.
    fn transition(&self, claim: &Claim, from: &str, to: &str, extra: &[(&str, &str)]) -> bool {
        let mut state = self.lock();
        let id = claim.email_id();
        let Some(item) = state
            .email_log
            .iter_mut()
            .find(|i| text_of(i, "emailId") == Some(id.as_str()))
        else {
            return false;
        };
        if text_of(item, "claimToken") != Some(claim.token.as_str()) {
            return false;
        }
        match text_of(item, "status") {
            Some(s) if s == to => true,
            Some(s) if s == from => {
                item.insert("status".to_string(), Attr::s(to));
                for (name, value) in extra {
                    item.insert(name.to_string(), Attr::s(*value));
                }
                true
            }
            _ => false,
        }
    }
}

/// A message id unique across runs, as SNS and SES give (`memory-sns-<uuid>`).
fn message_id(channel: &str) -> String {
    format!("memory-{channel}-{}", uuid::Uuid::new_v4())
}

#[async_trait]
impl Notifier for MemoryStore {
    fn topic(&self) -> &str {
        &self.topic_arn
    }

    async fn publish(&self, notification: &FailureNotification) -> Result<String, SendError> {
        let mut state = self.lock();
        let message_id = message_id("sns");
        state.outbox.sns.push(PublishedMessage {
            message_id: message_id.clone(),
            topic_arn: self.topic_arn.clone(),
            subject: notification.subject.clone(),
            message: notification.message.clone(),
            dedupe_id: notification.dedupe_id.clone(),
        });
        Ok(message_id)
    }
}

#[async_trait]
impl Mailer for MemoryStore {
    async fn send(&self, email: &OutgoingEmail) -> Result<String, SendError> {
        // SES refuses what is not a 7-bit ASCII address (BadRequestException): so does this.
        if !email.to.is_ascii() || !self.sender.is_ascii() {
            return Err(SendError::NotSent(FunctionError::invalid(
                "SESv2 SendEmail: BadRequestException: addresses must be 7-bit ASCII \
                 (domain in Punycode)",
            )));
        }
        let mut state = self.lock();
        let message_id = message_id("email");
        state.outbox.emails.push(SentEmail {
            message_id: message_id.clone(),
            from: self.sender.clone(),
            to: email.to.clone(),
            subject: email.subject.clone(),
            text: email.text.clone(),
            html: email.html.clone(),
            tags: email.tags.clone(),
        });
        Ok(message_id)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn temp_dir(name: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!("unpaid-order-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        dir
    }

    #[test]
    fn fixtures_need_orders_and_well_formed_items() {
        let dir = temp_dir("fixtures");
        assert!(matches!(
            MemoryState::load_fixtures(&dir),
            Err(FixtureError::Io { .. })
        ));
        std::fs::write(
            dir.join("orders.json"),
            r#"[{"orderId": {"S": "1"}, "data": {"M": {}}}]"#,
        )
        .unwrap();
        let state = MemoryState::load_fixtures(&dir).unwrap();
        assert_eq!(state.orders.len(), 1);
        assert!(state.check_status.is_empty() && state.email_log.is_empty());
        std::fs::write(
            dir.join("check-status.json"),
            r#"[{"orderId": {"X": "1"}}]"#,
        )
        .unwrap();
        let err = MemoryState::load_fixtures(&dir).unwrap_err();
        assert!(err.to_string().contains("check-status.json"), "{err}");
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[tokio::test]
    async fn numeric_range_keys_sort_by_value() {
        let check = |created_at: &str, charge: &str| -> Item {
            serde_json::from_value(serde_json::json!({"orderId": {"S": "1"}, "created_at": {"N": created_at},
                "chargeId": {"S": charge}, "paymentMethod": {"S": "card"}, "status": {"S": "failed"}}))
            .unwrap()
        };
        let store = MemoryStore::new(MemoryState {
            check_status: vec![check("100", "late"), check("99", "early")],
            ..MemoryState::default()
        });
        let oldest = store
            .oldest(&OrderId::parse("1").unwrap())
            .await
            .unwrap()
            .unwrap();
        assert_eq!(oldest.charge_id, "early");
    }
}
