//! The outbox as people read it (`sfn-local outbox`): each email with the email-log record of the
//! claim it was sent under, SES's events recorded for it, and whether it was a second copy (a
//! resend after the confirmation window).

use std::collections::BTreeMap;

use serde::Serialize;
use unpaid_order::evidence::items::{recorded_ses_events, RecordedSesEvent};
use unpaid_order::evidence::ClaimTags;
use unpaid_order::memory::{MemoryState, PublishedMessage, SentEmail};
use unpaid_order::Attr;

/// One email and what is known of it.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct EmailView {
    /// The email as sent.
    #[serde(flatten)]
    pub email: SentEmail,
    /// The email-log key its tags name.
    pub email_log_key: Option<String>,
    /// That record's status now (`sent`, `sending`, ...).
    pub email_log_status: Option<String>,
    /// What confirmed it (`ses:Send`, ...) when SES's events did.
    pub confirmed_by: Option<String>,
    /// SES's events recorded for this message, oldest first.
    pub ses_events: Vec<RecordedSesEvent>,
    /// The message id of an earlier email of the same record: this one is a second copy, sent
    /// again after the window under a new claim (the customer may have both).
    pub duplicate_of: Option<String>,
}

/// The outbox with each email's evidence.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct OutboxView {
    /// Messages published to the failure topic.
    pub sns: Vec<PublishedMessage>,
    /// Customer emails, in the order they were sent.
    pub emails: Vec<EmailView>,
}

/// The outbox of `state` with each email's record and events.
pub fn outbox_view(state: &MemoryState) -> OutboxView {
    let text = |item: &unpaid_order::Item, name: &str| {
        item.get(name).and_then(Attr::as_s).map(str::to_string)
    };
    let mut first_of_key: BTreeMap<String, String> = BTreeMap::new();
    let emails = state
        .outbox
        .emails
        .iter()
        .map(|email| {
            let tags = email
                .tags
                .iter()
                .map(|(k, v)| (k.clone(), vec![v.clone()]))
                .collect();
            let key = ClaimTags::from_mail_tags(&tags).map(|c| c.email_id);
            let record = key.as_ref().and_then(|k| {
                state
                    .email_log
                    .iter()
                    .find(|i| text(i, "emailId").as_deref() == Some(k.as_str()))
            });
            let duplicate_of = key.as_ref().and_then(|k| {
                let first = first_of_key
                    .entry(k.clone())
                    .or_insert_with(|| email.message_id.clone());
                (*first != email.message_id).then(|| first.clone())
            });
            EmailView {
                email: email.clone(),
                email_log_status: record.and_then(|r| text(r, "status")),
                confirmed_by: record.and_then(|r| text(r, "confirmedBy")),
                ses_events: record
                    .map(recorded_ses_events)
                    .unwrap_or_default()
                    .into_iter()
                    .filter(|e| e.message_id == email.message_id)
                    .collect(),
                email_log_key: key,
                duplicate_of,
            }
        })
        .collect();
    OutboxView {
        sns: state.outbox.sns.clone(),
        emails,
    }
}
