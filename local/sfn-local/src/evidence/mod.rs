//! The evidence loop offline: AWS's own events about an order (SES's sending events, Step
//! Functions' status changes) published to a queue and delivered to `record-event` in SQS batches,
//! as the stack's evidence queue and Lambda's SQS event source mapping do (docs/evidence.md).
//!
//! `queue` is the queue in process (SQS's semantics on the runner's clock), `sqs` the same loop on
//! a real SQS queue (`--evidence-queue-url`), `ses` the events of the embedded mailer's emails and
//! the `ses-events` faults, `status` the status-change events and DescribeExecution's input,
//! `outbox` the outbox with each email's evidence (`sfn-local outbox`). The
//! delivery itself (invoking record-event through the functions back end) is the runner's
//! (`runner::evidence`).

pub mod outbox;
pub mod queue;
pub mod rules;
pub mod ses;
mod sqs;
pub mod status;

pub use outbox::{outbox_view, EmailView, OutboxView};
pub use queue::{InProcessQueue, QueueSettings, QueuedMessage};
pub use ses::{is_ses_events_fault, SesEvents, SesEventsFault, SES_EVENTS};
pub use sqs::SqsQueue;
pub use status::{status_change, StoreExecutionInputs};

use std::collections::BTreeMap;
use std::io::Write;
use std::sync::Arc;

use asl::Clock;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use unpaid_order::memory::SentEmail;

use crate::error::RunnerError;
use crate::store::{ExecutionRecord, Store};

/// The state directory's folder for the evidence queue.
pub const EVIDENCE_DIR: &str = "evidence";
/// Messages not yet delivered when a command ended, handed to the next runner on the directory.
pub const QUEUE_FILE: &str = "evidence/queue.json";
/// Messages that failed `maxReceiveCount` times: the dead-letter queue, one JSON line each.
pub const DEAD_LETTER_FILE: &str = "evidence/dead-letters.jsonl";

/// A message taken off the queue for one delivery: what the SQS event's record carries.
#[derive(Debug, Clone)]
pub struct InFlight {
    /// SQS's message id (the partial batch response names failures by it).
    pub message_id: String,
    /// This receive's handle.
    pub receipt_handle: String,
    /// The EventBridge event.
    pub body: String,
    /// `ApproximateReceiveCount`, `SentTimestamp`, ...
    pub attributes: BTreeMap<String, String>,
    /// The in-process queue's message (to delete it by its receipt).
    pub(crate) queued: Option<QueuedMessage>,
}

impl InFlight {
    fn of(m: QueuedMessage) -> InFlight {
        let millis = |t: DateTime<Utc>| t.timestamp_millis().to_string();
        let mut attributes = BTreeMap::from([
            (
                "ApproximateReceiveCount".to_string(),
                m.receive_count.to_string(),
            ),
            ("SentTimestamp".to_string(), millis(m.sent_at)),
            // The EventBridge service principal's id, as on messages a rule delivers.
            ("SenderId".to_string(), "AIDAIENQZJOLO23YVJ4VO".to_string()),
        ]);
        if let Some(t) = m.first_received_at {
            attributes.insert("ApproximateFirstReceiveTimestamp".into(), millis(t));
        }
        InFlight {
            message_id: m.message_id.clone(),
            receipt_handle: m.receipt_handle(),
            body: m.body.clone(),
            attributes,
            queued: Some(m),
        }
    }

    /// The message as a record of Lambda's SQS event (`aws_lambda_events::sqs::SqsMessage`).
    pub fn sqs_record(&self, event_source_arn: &str) -> Value {
        use md5::Digest;
        json!({
            "messageId": self.message_id,
            "receiptHandle": self.receipt_handle,
            "body": self.body,
            "attributes": self.attributes,
            "messageAttributes": {},
            "md5OfBody": hex::encode(md5::Md5::digest(self.body.as_bytes())),
            "eventSource": "aws:sqs",
            "eventSourceARN": event_source_arn,
            "awsRegion": crate::template::REGION,
        })
    }
}

/// A message the dead-letter queue holds (`evidence/dead-letters.jsonl`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DeadLetter {
    /// SQS's message id.
    pub message_id: String,
    /// The event that could not be recorded.
    pub body: String,
    /// Times it was received (the queue's `maxReceiveCount`).
    pub receive_count: u32,
    /// When it was sent to the evidence queue.
    pub sent_at: DateTime<Utc>,
    /// When the redrive policy moved it here.
    pub dead_lettered_at: DateTime<Utc>,
}

/// What one delivery pass did.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct DeliveryReport {
    /// Batches record-event was invoked with.
    pub batches: usize,
    /// Messages recorded (deleted from the queue).
    pub delivered: usize,
    /// Messages record-event reported as failed (or whose batch failed): delivered again after
    /// the visibility timeout.
    pub failed: usize,
    /// Messages moved to the dead-letter queue.
    pub dead_lettered: usize,
}

impl DeliveryReport {
    /// Adds another pass's counts.
    pub fn add(&mut self, other: &DeliveryReport) {
        self.batches += other.batches;
        self.delivered += other.delivered;
        self.failed += other.failed;
        self.dead_lettered += other.dead_lettered;
    }
}

/// Where the events go: the queue in process, or an SQS queue.
pub enum Backend {
    /// SQS's semantics in process, on the runner's clock.
    InProcess(InProcessQueue),
    /// A real SQS queue (moto's, on the live stack).
    Sqs(SqsQueue),
}

/// The evidence queue and its publishers: what the runner, the embedded mailer and the test
/// harness publish to, and what delivery drains.
pub struct Evidence {
    backend: Backend,
    /// SES's events of the embedded mailer's emails, and their faults.
    pub ses: SesEvents,
    store: Store,
    clock: Arc<dyn Clock>,
    /// The evidence queue's ARN (the SQS event's `eventSourceARN`).
    pub event_source_arn: String,
    /// The binary the event source mapping invokes (`record-event`); `None`: the template has no
    /// evidence queue, and nothing is delivered.
    pub recorder: Option<String>,
    /// Serialises deliveries: a Task dispatched after a delivery pass sees every event that was
    /// due, even one another execution's pass had in flight.
    pub(crate) delivering: tokio::sync::Mutex<()>,
    /// The event patterns of the template's rules into the queue: a status change none of them
    /// matches never reaches the queue on AWS, so it is not published here either.
    rules: Vec<Value>,
}

impl Evidence {
    /// The evidence loop over `backend`, on `clock`, with the state directory `store`.
    pub fn new(
        backend: Backend,
        ses: SesEvents,
        store: Store,
        clock: Arc<dyn Clock>,
        event_source_arn: String,
        recorder: Option<String>,
    ) -> Self {
        Evidence {
            backend,
            ses,
            store,
            clock,
            event_source_arn,
            recorder,
            delivering: tokio::sync::Mutex::new(()),
            rules: Vec::new(),
        }
    }

    /// The rules' event patterns that status changes must match (none: every one is published).
    pub fn with_rules(mut self, rules: Vec<Value>) -> Self {
        self.rules = rules;
        self
    }

    /// The queue in process, if that is the backend.
    pub fn in_process(&self) -> Option<&InProcessQueue> {
        match &self.backend {
            Backend::InProcess(q) => Some(q),
            Backend::Sqs(_) => None,
        }
    }

    /// The SQS queue, if that is the backend.
    pub fn sqs(&self) -> Option<&SqsQueue> {
        match &self.backend {
            Backend::Sqs(q) => Some(q),
            Backend::InProcess(_) => None,
        }
    }

    /// Publishes one EventBridge event, delivered from `deliver_at` on the runner's clock.
    pub fn publish(&self, event: &Value, deliver_at: DateTime<Utc>) {
        let now = self.clock.now();
        match &self.backend {
            Backend::InProcess(q) => {
                q.publish(event.to_string(), deliver_at, now);
            }
            Backend::Sqs(q) => {
                let delay = (deliver_at - now).num_seconds();
                q.send(event.to_string(), delay.clamp(0, 900) as i32);
            }
        }
    }

    /// Publishes the status change `record` has just recorded.
    /// (Only when one of the template's rules would deliver it: the batch machine's RUNNING, say,
    /// is left out by the rule's status filter.)
    pub fn publish_status(&self, record: &ExecutionRecord) {
        let now = self.clock.now();
        let event = status_change(record, now);
        if self.rules.is_empty() || self.rules.iter().any(|p| rules::matches(p, &event)) {
            self.publish(&event, now);
        }
    }

    /// Publishes SES's events for emails the embedded mailer has just sent (accepted now).
    pub fn publish_emails(&self, emails: &[SentEmail]) {
        let now = self.clock.now();
        for email in emails {
            for (event, at) in self.ses.events_of(email, now) {
                self.publish(&event, at);
            }
        }
    }

    /// Takes the next batch of due messages off the in-process queue (moving exhausted ones to
    /// the dead-letter file); empty when none is due (with `gather`: or while the batching window
    /// gathers them).
    pub(crate) async fn receive_due(
        &self,
        gather: bool,
    ) -> Result<(Vec<InFlight>, usize), RunnerError> {
        let Some(q) = self.in_process() else {
            return Ok((Vec::new(), 0));
        };
        let received = q.receive(self.clock.now(), gather);
        let dead = received.dead.len();
        if dead > 0 {
            self.dead_letter(received.dead).await?;
        }
        Ok((received.batch.into_iter().map(InFlight::of).collect(), dead))
    }

    /// Deletes recorded messages.
    pub(crate) async fn delete(&self, done: &[InFlight]) -> Result<(), RunnerError> {
        match &self.backend {
            Backend::InProcess(q) => {
                for m in done {
                    if let Some(queued) = &m.queued {
                        q.delete(queued);
                    }
                }
                Ok(())
            }
            Backend::Sqs(q) => q.delete(done).await,
        }
    }

    async fn dead_letter(&self, messages: Vec<QueuedMessage>) -> Result<(), RunnerError> {
        let now = self.clock.now();
        let path = self.store.root().join(DEAD_LETTER_FILE);
        let mut lines = Vec::new();
        for m in messages {
            tracing::error!(messageId = %m.message_id, receiveCount = m.receive_count, "evidence message moved to the dead-letter queue");
            let letter = DeadLetter {
                message_id: m.message_id,
                body: m.body,
                receive_count: m.receive_count,
                sent_at: m.sent_at,
                dead_lettered_at: now,
            };
            let mut line = serde_json::to_vec(&letter).map_err(|e| RunnerError::store(&path, e))?;
            line.push(b'\n');
            lines.extend(line);
        }
        let _lock = self.store.lock().await?;
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir).map_err(|e| RunnerError::store(dir, e))?;
        }
        let mut f = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&path)
            .map_err(|e| RunnerError::store(&path, e))?;
        f.write_all(&lines)
            .and_then(|()| f.sync_data())
            .map_err(|e| RunnerError::store(&path, e))
    }

    /// The dead-letter queue's messages, oldest first.
    pub fn dead_letters(&self) -> Result<Vec<DeadLetter>, RunnerError> {
        let path = self.store.root().join(DEAD_LETTER_FILE);
        let text = match std::fs::read_to_string(&path) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(e) => return Err(RunnerError::store(&path, e)),
        };
        // A line cut by a crash is dropped, as in the tables' journal.
        Ok(text
            .lines()
            .filter_map(|l| serde_json::from_str(l).ok())
            .collect())
    }

    /// Takes over the messages another runner left in the state directory (`QUEUE_FILE`).
    pub async fn adopt(&self) -> Result<usize, RunnerError> {
        let Some(q) = self.in_process() else {
            return Ok(0);
        };
        let path = self.store.root().join(QUEUE_FILE);
        if !path.exists() {
            return Ok(0);
        }
        let _lock = self.store.lock().await?;
        let messages: Vec<QueuedMessage> = self.store.read(QUEUE_FILE)?.unwrap_or_default();
        match std::fs::remove_file(&path) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(RunnerError::store(&path, e)),
        }
        let n = messages.len();
        q.adopt(messages);
        Ok(n)
    }

    /// Hands the messages not delivered yet to the state directory, for the next runner (the
    /// end of a command); an SQS queue keeps its own, but sends still in flight are waited for.
    pub async fn hand_over(&self) -> Result<usize, RunnerError> {
        let q = match &self.backend {
            Backend::InProcess(q) => q,
            Backend::Sqs(q) => {
                q.settle_sends().await;
                return Ok(0);
            }
        };
        let mine = q.drain();
        if mine.is_empty() {
            return Ok(0);
        }
        let _lock = self.store.lock().await?;
        let mut all: Vec<QueuedMessage> = self.store.read(QUEUE_FILE)?.unwrap_or_default();
        let n = mine.len();
        all.extend(mine);
        self.store.write(QUEUE_FILE, &all)?;
        Ok(n)
    }
}
