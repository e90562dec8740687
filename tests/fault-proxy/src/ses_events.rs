//! SES's sending events for the emails moto accepted (moto publishes none): the SESv2 SendEmail
//! request the proxy forwarded and moto's 2xx answer, read back as the message SES accepted
//! ([`AcceptedEmail`]), and the events SES would publish for it through its configuration set.
//!
//! A request that never reached moto, or that moto refused, is no [`AcceptedEmail`]: a test
//! cannot invent evidence. Whoever registers [`crate::FaultProxy::on_accepted_send`] decides
//! where the events go (the local stack's binary: the SQS evidence queue; a test harness:
//! `sfn_local::Runner::publish_evidence`).

use chrono::{DateTime, Duration, Utc};
use serde_json::Value;
pub use unpaid_order::evidence::publish::AcceptedEmail;
use unpaid_order::evidence::publish::{self, Origin};
use unpaid_order::evidence::SesEventKind;

/// When each kind of event follows the acceptance, as SES's mailbox simulator answers.
const DELIVERED_AFTER: i64 = 2;
const COMPLAINED_AFTER: i64 = 4;

/// The message a SESv2 SendEmail request (JSON: `FromEmailAddress`, `Destination`,
/// `Content.Simple.Subject`, `EmailTags`, `ConfigurationSetName`) describes, with the
/// `MessageId` of moto's answer; `None` for anything else (another operation, no message id).
pub fn accepted_email(request: &[u8], reply: &[u8], at: DateTime<Utc>) -> Option<AcceptedEmail> {
    let request: Value = serde_json::from_slice(request).ok()?;
    let reply: Value = serde_json::from_slice(reply).ok()?;
    let message_id = reply.get("MessageId")?.as_str()?.to_string();
    let texts = |v: Option<&Value>| -> Vec<String> {
        v.and_then(Value::as_array)
            .map(|a| {
                a.iter()
                    .filter_map(Value::as_str)
                    .map(str::to_string)
                    .collect()
            })
            .unwrap_or_default()
    };
    let destination = request.get("Destination");
    let mut to = Vec::new();
    for field in ["ToAddresses", "CcAddresses", "BccAddresses"] {
        to.extend(texts(destination.and_then(|d| d.get(field))));
    }
    let tags = request
        .get("EmailTags")
        .and_then(Value::as_array)
        .map(|a| {
            a.iter()
                .filter_map(|t| {
                    Some((
                        t.get("Name")?.as_str()?.to_string(),
                        t.get("Value")?.as_str()?.to_string(),
                    ))
                })
                .collect()
        })
        .unwrap_or_default();
    Some(AcceptedEmail {
        message_id,
        from: request
            .get("FromEmailAddress")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_string(),
        to,
        subject: request
            .pointer("/Content/Simple/Subject/Data")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_string(),
        tags,
        configuration_set: request
            .get("ConfigurationSetName")
            .and_then(Value::as_str)
            .map(str::to_string),
        sent_at: at,
    })
}

/// The EventBridge events SES publishes for `email` and when (on the caller's clock, the
/// acceptance being `email.sent_at`): Send at once, then what the mailbox simulator does with
/// the first recipient (Delivery, Bounce, Complaint). None without a configuration set, as SES.
/// Each event's id is derived from the message id and the kind: a redelivery repeats it.
pub fn ses_events_of(email: &AcceptedEmail) -> Vec<(Value, DateTime<Utc>)> {
    if email.configuration_set.is_none() {
        return Vec::new();
    }
    let Some(first) = email.to.first() else {
        return Vec::new();
    };
    publish::simulated_events(first)
        .into_iter()
        .map(|kind| {
            let after = match kind {
                SesEventKind::Send => 0,
                SesEventKind::Complaint => COMPLAINED_AFTER,
                _ => DELIVERED_AFTER,
            };
            let at = email.sent_at + Duration::seconds(after);
            let id = uuid::Uuid::new_v5(
                &uuid::Uuid::NAMESPACE_OID,
                format!("ses:{}:{}", email.message_id, kind.as_str()).as_bytes(),
            )
            .to_string();
            (
                publish::ses_event(kind, email, &id, at, &Origin::default()),
                at,
            )
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_send_email_request_and_its_answer_are_the_accepted_message() {
        let request = serde_json::json!({
            "FromEmailAddress": "payments@example.com",
            "Destination": {"ToAddresses": ["bounce@simulator.amazonses.com"]},
            "Content": {"Simple": {"Subject": {"Data": "Payment failed"}, "Body": {"Text": {"Data": "x"}}}},
            "EmailTags": [{"Name": "emailLogKey", "Value": "1_23a_23email"}, {"Name": "claimToken", "Value": "t"}],
            "ConfigurationSetName": "set",
        });
        let at = Utc::now();
        let email = accepted_email(
            request.to_string().as_bytes(),
            br#"{"MessageId": "m-1"}"#,
            at,
        )
        .unwrap();
        assert_eq!(email.message_id, "m-1");
        assert_eq!(email.to, ["bounce@simulator.amazonses.com"]);
        assert_eq!(email.tags.len(), 2);
        let events = ses_events_of(&email);
        let kinds: Vec<&str> = events
            .iter()
            .map(|(e, _)| e["detail"]["eventType"].as_str().unwrap())
            .collect();
        assert_eq!(kinds, ["Send", "Bounce"]);
        assert_eq!(events[1].1 - events[0].1, Duration::seconds(2));
        // Not an accepted message: a refusal's body, or another operation's.
        assert!(
            accepted_email(request.to_string().as_bytes(), b"{\"message\":\"no\"}", at).is_none()
        );
        assert!(accepted_email(b"not json", br#"{"MessageId": "m"}"#, at).is_none());
        let mut without_set = email.clone();
        without_set.configuration_set = None;
        assert!(ses_events_of(&without_set).is_empty());
    }
}
