//! The customer email on SESv2: one SendEmail per call, no SDK retry, its failure told apart as
//! "not sent" or "maybe sent". SES takes 7-bit ASCII addresses only (domain in Punycode).

use async_trait::async_trait;

use super::errors::send_error;
use super::RECORD_RESERVE;
use crate::notice::OutgoingEmail;
use crate::ports::{Mailer, SendError};
use crate::FunctionError;

/// The call's timeouts: all the deadline leaves after recording the outcome (a slow SES is
/// not an ambiguous one), not the SDK's per-attempt limit.
fn send_budget() -> aws_sdk_sesv2::config::Builder {
    let mut b = aws_sdk_sesv2::config::Builder::default();
    b.set_timeout_config(super::send_timeouts(RECORD_RESERVE));
    b
}

/// The customer email on SESv2 (Simple content: subject, text and HTML parts, UTF-8).
#[derive(Debug, Clone)]
pub struct SesMailer {
    client: aws_sdk_sesv2::Client,
    sender: String,
    configuration_set: String,
}

impl SesMailer {
    /// Sends from `sender` (SENDER_EMAIL, a verified SES identity) through `configuration_set`
    /// (SES_CONFIGURATION_SET: its event destination publishes the sending events).
    pub fn new(
        client: aws_sdk_sesv2::Client,
        sender: impl Into<String>,
        configuration_set: impl Into<String>,
    ) -> Self {
        SesMailer {
            client,
            sender: sender.into(),
            configuration_set: configuration_set.into(),
        }
    }
}

fn content(data: &str) -> Result<aws_sdk_sesv2::types::Content, SendError> {
    aws_sdk_sesv2::types::Content::builder()
        .data(data)
        .charset("UTF-8")
        .build()
        .map_err(|e| SendError::NotSent(FunctionError::invalid(format!("email content: {e}"))))
}

#[async_trait]
impl Mailer for SesMailer {
    async fn send(&self, email: &OutgoingEmail) -> Result<String, SendError> {
        use aws_sdk_sesv2::types::{Body, Destination, EmailContent, Message, MessageTag};
        let message = Message::builder()
            .subject(content(&email.subject)?)
            .body(
                Body::builder()
                    .text(content(&email.text)?)
                    .html(content(&email.html)?)
                    .build(),
            )
            .build();
        let out = self
            .client
            .send_email()
            .from_email_address(&self.sender)
            .destination(Destination::builder().to_addresses(&email.to).build())
            .content(EmailContent::builder().simple(message).build())
            .configuration_set_name(&self.configuration_set)
            .set_email_tags(Some(
                email
                    .tags
                    .iter()
                    .map(|(name, value)| MessageTag::builder().name(name).value(value).build())
                    .collect::<Result<Vec<_>, _>>()
                    .map_err(|e| {
                        SendError::NotSent(FunctionError::invalid(format!("email tags: {e}")))
                    })?,
            ))
            .customize()
            .config_override(send_budget())
            .send()
            .await
            .map_err(|e| send_error("SESv2 SendEmail", e))?;
        Ok(out.message_id.unwrap_or_default())
    }
}
