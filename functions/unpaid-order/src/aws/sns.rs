//! The failure topic on SNS: one Publish per call, no SDK retry (a retried Publish after a lost
//! reply could deliver twice), its failure told apart as "not sent" or "maybe sent".

use async_trait::async_trait;

use super::errors::send_error;
use super::RECORD_RESERVE;
use crate::notice::FailureNotification;
use crate::ports::{Notifier, SendError};

/// The call's timeouts: all the deadline leaves after recording the outcome.
fn send_budget() -> aws_sdk_sns::config::Builder {
    let mut b = aws_sdk_sns::config::Builder::default();
    b.set_timeout_config(super::send_timeouts(RECORD_RESERVE));
    b
}

/// The failure topic on SNS.
#[derive(Debug, Clone)]
pub struct SnsNotifier {
    client: aws_sdk_sns::Client,
    topic_arn: String,
}

impl SnsNotifier {
    /// Publishes to the failure topic `topic_arn`.
    pub fn new(client: aws_sdk_sns::Client, topic_arn: impl Into<String>) -> Self {
        SnsNotifier {
            client,
            topic_arn: topic_arn.into(),
        }
    }
}

#[async_trait]
impl Notifier for SnsNotifier {
    fn topic(&self) -> &str {
        &self.topic_arn
    }

    async fn publish(&self, notification: &FailureNotification) -> Result<String, SendError> {
        let out = self
            .client
            .publish()
            .topic_arn(&self.topic_arn)
            .subject(&notification.subject)
            .message(&notification.message)
            .message_attributes(
                crate::notice::DEDUPE_ATTRIBUTE,
                aws_sdk_sns::types::MessageAttributeValue::builder()
                    .data_type("String")
                    .string_value(&notification.dedupe_id)
                    .build()
                    .map_err(|e| {
                        SendError::NotSent(crate::FunctionError::invalid(format!(
                            "message attribute: {e}"
                        )))
                    })?,
            )
            .customize()
            .config_override(send_budget())
            .send()
            .await
            .map_err(|e| send_error("SNS Publish", e))?;
        Ok(out.message_id.unwrap_or_default())
    }
}
