//! The evidence queue on SQS (`--evidence-queue-url`, the live local stack on moto): status
//! changes are sent to it, and it is polled as Lambda's event source mapping polls (long polling,
//! batches, delete on success, failures left to the visibility timeout and the queue's redrive
//! policy).

use std::collections::BTreeMap;
use std::sync::Mutex;

use aws_sdk_sqs::types::{DeleteMessageBatchRequestEntry, MessageSystemAttributeName};

use crate::error::RunnerError;

use super::InFlight;

/// An SQS queue by URL, through the SDK.
pub struct SqsQueue {
    client: aws_sdk_sqs::Client,
    url: String,
    batch_size: i32,
    /// SendMessage calls still in flight: a command waits for them before it exits.
    sends: Mutex<Vec<tokio::task::JoinHandle<()>>>,
}

fn sqs_error(what: &str, e: impl std::fmt::Display) -> RunnerError {
    RunnerError::Backend(format!("SQS {what}: {e}"))
}

impl SqsQueue {
    /// The queue at `url`, batches of `batch_size` (at most SQS's 10).
    pub fn new(client: aws_sdk_sqs::Client, url: String, batch_size: usize) -> Self {
        SqsQueue {
            client,
            url,
            batch_size: batch_size.clamp(1, 10) as i32,
            sends: Mutex::new(Vec::new()),
        }
    }

    /// The queue's URL.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// SendMessage of `body`, delivered after `delay_secs` (SQS's DelaySeconds, 0..=900), in the
    /// background (the caller may not be async); [`SqsQueue::settle_sends`] waits for them.
    pub fn send(&self, body: String, delay_secs: i32) {
        let Ok(runtime) = tokio::runtime::Handle::try_current() else {
            tracing::error!("evidence event not sent to SQS: no async runtime");
            return;
        };
        let request = self
            .client
            .send_message()
            .queue_url(&self.url)
            .message_body(body)
            .delay_seconds(delay_secs.clamp(0, 900));
        let handle = runtime.spawn(async move {
            if let Err(e) = request.send().await {
                tracing::error!(error = %aws_sdk_sqs::error::DisplayErrorContext(&e), "evidence event not sent to SQS");
            }
        });
        let mut sends = self.sends.lock().unwrap_or_else(|p| p.into_inner());
        sends.retain(|h| !h.is_finished());
        sends.push(handle);
    }

    /// Waits for every SendMessage started so far.
    pub async fn settle_sends(&self) {
        let sends = std::mem::take(&mut *self.sends.lock().unwrap_or_else(|p| p.into_inner()));
        for s in sends {
            let _ = s.await;
        }
    }

    /// ReceiveMessage: up to a batch, waiting up to `wait_secs` for one (long polling).
    pub async fn receive(&self, wait_secs: i32) -> Result<Vec<InFlight>, RunnerError> {
        let wait_secs = wait_secs.clamp(0, 20);
        // A long poll takes up to `wait_secs` by design: past the client's usual timeouts.
        let patience = std::time::Duration::from_secs(wait_secs as u64 + 5);
        let timeouts = aws_sdk_sqs::config::Builder::default().timeout_config(
            aws_config::timeout::TimeoutConfig::builder()
                .operation_timeout(patience)
                .operation_attempt_timeout(patience)
                .build(),
        );
        let out = self
            .client
            .receive_message()
            .queue_url(&self.url)
            .max_number_of_messages(self.batch_size)
            .wait_time_seconds(wait_secs)
            .message_system_attribute_names(MessageSystemAttributeName::All)
            .customize()
            .config_override(timeouts)
            .send()
            .await
            .map_err(|e| sqs_error("ReceiveMessage", aws_sdk_sqs::error::DisplayErrorContext(e)))?;
        Ok(out
            .messages
            .unwrap_or_default()
            .into_iter()
            .map(|m| {
                let attributes: BTreeMap<String, String> = m
                    .attributes
                    .unwrap_or_default()
                    .into_iter()
                    .map(|(k, v)| (k.as_str().to_string(), v))
                    .collect();
                InFlight {
                    message_id: m.message_id.unwrap_or_default(),
                    receipt_handle: m.receipt_handle.unwrap_or_default(),
                    body: m.body.unwrap_or_default(),
                    attributes,
                    queued: None,
                }
            })
            .collect())
    }

    /// DeleteMessageBatch of the messages recorded.
    pub async fn delete(&self, done: &[InFlight]) -> Result<(), RunnerError> {
        if done.is_empty() {
            return Ok(());
        }
        let entries = done
            .iter()
            .enumerate()
            .map(|(i, m)| {
                DeleteMessageBatchRequestEntry::builder()
                    .id(i.to_string())
                    .receipt_handle(&m.receipt_handle)
                    .build()
                    .map_err(|e| sqs_error("DeleteMessageBatch", e))
            })
            .collect::<Result<Vec<_>, _>>()?;
        let out = self
            .client
            .delete_message_batch()
            .queue_url(&self.url)
            .set_entries(Some(entries))
            .send()
            .await
            .map_err(|e| {
                sqs_error(
                    "DeleteMessageBatch",
                    aws_sdk_sqs::error::DisplayErrorContext(e),
                )
            })?;
        if !out.failed.is_empty() {
            // Delivered again after the visibility timeout; record-event is idempotent.
            tracing::warn!(
                failed = out.failed.len(),
                "some evidence messages were not deleted"
            );
        }
        Ok(())
    }
}
