//! The runner's side of the evidence loop: status changes published as they are recorded, and
//! due messages delivered to record-event through the functions back end, as Lambda's SQS event
//! source mapping does (batches, partial batch responses, redelivery); the library API for tests
//! and harnesses (`publish_evidence`, `deliver_due_evidence`).

use std::sync::Arc;

use chrono::{DateTime, Utc};
use serde_json::{json, Value};

use crate::error::RunnerError;
use crate::evidence::{DeadLetter, DeliveryReport, InFlight, QueuedMessage};
use crate::functions::Functions;

use super::{Core, Runner};

/// How long one SQS receive waits for a message (long polling) in `serve`'s poller.
const LONG_POLL_SECS: i32 = 10;
/// How often `serve` looks for due messages on the queue in process (real time).
const POLL_EVERY: std::time::Duration = std::time::Duration::from_millis(500);

impl Core {
    /// Delivers one batch to record-event and deletes what it recorded; the rest stays for the
    /// visibility timeout (a failed invocation: the whole batch, as Lambda does).
    async fn deliver_batch(&self, batch: Vec<InFlight>, report: &mut DeliveryReport) {
        let Some(recorder) = self.evidence.recorder.clone() else {
            return;
        };
        let records: Vec<Value> = batch
            .iter()
            .map(|m| m.sqs_record(&self.evidence.event_source_arn))
            .collect();
        report.batches += 1;
        let failed: Vec<String> = match self
            .functions
            .invoke(&recorder, json!({ "Records": records }))
            .await
        {
            Ok(response) => match response.get("batchItemFailures") {
                Some(Value::Array(items)) => items
                    .iter()
                    .filter_map(|i| i.get("itemIdentifier").and_then(Value::as_str))
                    .map(str::to_string)
                    .collect(),
                // No partial batch response: every message was recorded.
                None | Some(Value::Null) => Vec::new(),
                // An answer the mapping cannot read fails the whole batch, as on AWS.
                Some(_) => batch.iter().map(|m| m.message_id.clone()).collect(),
            },
            Err(e) => {
                tracing::warn!(error = e.error(), cause = %e.cause(), "record-event failed: the batch is delivered again after the visibility timeout");
                batch.iter().map(|m| m.message_id.clone()).collect()
            }
        };
        let (done, kept): (Vec<InFlight>, Vec<InFlight>) = batch
            .into_iter()
            .partition(|m| !failed.contains(&m.message_id));
        report.delivered += done.len();
        report.failed += kept.len();
        if let Err(e) = self.evidence.delete(&done).await {
            tracing::warn!(error = %e, "recorded evidence not deleted: it is delivered again");
        }
    }

    /// Delivers the messages of the queue in process that are due on the runner's clock, batch by
    /// batch (one pass at a time: a Task dispatched after it sees every event that was due).
    /// With `gather`, as the event source mapping: a batch goes when it is full or its first
    /// message has waited the batching window; without, everything due goes now.
    pub(super) async fn deliver_due(&self, gather: bool) -> Result<DeliveryReport, RunnerError> {
        let mut report = DeliveryReport::default();
        if self.evidence.recorder.is_none() || self.evidence.in_process().is_none() {
            return Ok(report);
        }
        let _one_pass = self.evidence.delivering.lock().await;
        loop {
            let (batch, dead) = self.evidence.receive_due(gather).await?;
            report.dead_lettered += dead;
            if batch.is_empty() {
                // Dead-lettered ones left room: look again until nothing is due.
                if dead > 0 {
                    continue;
                }
                return Ok(report);
            }
            self.deliver_batch(batch, &mut report).await;
        }
    }

    /// Delivers what is due and logs what could not be (before a Task, after a run: never the
    /// execution's failure). `gather`: respect the batching window (before a Task, in `serve`);
    /// without, everything due goes (when a caller's execution has ended).
    pub(super) async fn pump_evidence(&self, gather: bool) {
        if let Err(e) = self.deliver_due(gather).await {
            tracing::warn!(error = %e, "evidence not delivered");
        }
    }

    /// Publishes the status change `record` has just recorded.
    pub(super) fn status_changed(&self, record: &crate::store::ExecutionRecord) {
        self.evidence.publish_status(record);
    }
}

impl Runner {
    /// Publishes one EventBridge event (an SES sending event, a status change, or anything: a
    /// malformed body is a test of the dead-letter queue) to the evidence queue, delivered to
    /// record-event from `deliver_at` on the runner's clock. The test harness's SES stand-ins
    /// (the fault proxy over moto) publish here; so do the runner and its embedded mailer.
    pub fn publish_evidence(&self, event: Value, deliver_at: DateTime<Utc>) {
        self.core.evidence.publish(&event, deliver_at);
    }

    /// Delivers every evidence message due now on the runner's clock to record-event (through
    /// the functions back end: embedded, AWS adapters or a Lambda endpoint), in SQS batches,
    /// without waiting for the batching window;
    /// failed ones come back after the queue's visibility timeout, and after `maxReceiveCount`
    /// receives go to the dead-letter file. With `--evidence-queue-url`: receives from that
    /// queue until it is empty. The runner also does this before each Task and at each
    /// execution's end; a test calls it after moving a virtual clock on.
    pub async fn deliver_due_evidence(&self) -> Result<DeliveryReport, RunnerError> {
        self.core.evidence.adopt().await?;
        if let Some(q) = self.core.evidence.sqs() {
            let mut report = DeliveryReport::default();
            loop {
                let batch = q.receive(0).await?;
                if batch.is_empty() {
                    return Ok(report);
                }
                self.core.deliver_batch(batch, &mut report).await;
            }
        }
        self.core.deliver_due(false).await
    }

    /// The messages in the queue in process (not yet recorded), in delivery order.
    pub fn pending_evidence(&self) -> Vec<QueuedMessage> {
        self.core
            .evidence
            .in_process()
            .map(|q| q.pending())
            .unwrap_or_default()
    }

    /// The dead-letter queue (`evidence/dead-letters.jsonl`).
    pub fn dead_letters(&self) -> Result<Vec<DeadLetter>, RunnerError> {
        self.core.evidence.dead_letters()
    }

    /// Hands the evidence not delivered yet to the state directory for the next runner (the CLI
    /// does this as a command ends; with an SQS queue, waits for the sends in flight).
    pub async fn hand_over_evidence(&self) -> Result<usize, RunnerError> {
        self.core.evidence.hand_over().await
    }

    /// `serve`'s delivery loop, until aborted: the queue in process is looked at twice a second
    /// (and takes over what other runners on the directory handed over); an SQS queue is long
    /// polled and each batch delivered as it arrives.
    pub fn spawn_evidence_poller(&self) -> tokio::task::JoinHandle<()> {
        let core = self.core.clone();
        tokio::spawn(async move {
            loop {
                if let Some(q) = core.evidence.sqs() {
                    match q.receive(LONG_POLL_SECS).await {
                        Ok(batch) if !batch.is_empty() => {
                            let mut report = DeliveryReport::default();
                            core.deliver_batch(batch, &mut report).await;
                        }
                        Ok(_) => {}
                        Err(e) => {
                            tracing::warn!(error = %e, "evidence queue not polled");
                            tokio::time::sleep(POLL_EVERY).await;
                        }
                    }
                    continue;
                }
                if let Err(e) = core.evidence.adopt().await {
                    tracing::warn!(error = %e, "evidence handed over by another runner not read");
                }
                core.pump_evidence(true).await;
                tokio::time::sleep(POLL_EVERY).await;
            }
        })
    }

    /// The evidence queue and its publishers.
    pub fn evidence(&self) -> &Arc<crate::evidence::Evidence> {
        &self.core.evidence
    }
}

impl Runner {
    /// The outbox with each email's email-log record and SES events (embedded store only).
    pub async fn outbox_view(&self) -> Result<Option<crate::evidence::OutboxView>, RunnerError> {
        Ok(self
            .tables()
            .await?
            .map(|t| crate::evidence::outbox_view(&t)))
    }
}
