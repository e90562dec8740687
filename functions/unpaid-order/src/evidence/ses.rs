//! SES sending events (Send, Delivery, Bounce, Complaint, Reject, DeliveryDelay, Rendering
//! Failure) as a configuration set publishes them to EventBridge: `detail` holds `eventType`,
//! `mail` (with `messageId`, `timestamp`, `tags`) and one object named after the event type.

use std::collections::BTreeMap;

use serde_json::Value;

use super::{ClaimTags, EvidenceError};

/// The sending event types SES publishes through a configuration set (opens and clicks are not
/// tracked for this email).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum SesEventKind {
    /// SES accepted the request and will try to deliver it.
    Send,
    /// The recipient's mail server accepted it.
    Delivery,
    /// A hard bounce (or a soft one SES gave up on): the customer never got it.
    Bounce,
    /// Delivered, then marked as spam.
    Complaint,
    /// Accepted, then rejected (a virus): never delivered.
    Reject,
    /// Delivery delayed (temporary failure); SES keeps trying.
    DeliveryDelay,
    /// A template could not be rendered: nothing was sent.
    RenderingFailure,
}

impl SesEventKind {
    /// Every kind, in the order a message lives through them.
    pub const ALL: [SesEventKind; 7] = [
        SesEventKind::Send,
        SesEventKind::Delivery,
        SesEventKind::DeliveryDelay,
        SesEventKind::Bounce,
        SesEventKind::Complaint,
        SesEventKind::Reject,
        SesEventKind::RenderingFailure,
    ];

    /// The `eventType` SES writes (`Rendering Failure` has a space in some destinations' shape).
    pub fn parse(event_type: &str) -> Option<SesEventKind> {
        Some(match event_type {
            "Send" => SesEventKind::Send,
            "Delivery" => SesEventKind::Delivery,
            "Bounce" => SesEventKind::Bounce,
            "Complaint" => SesEventKind::Complaint,
            "Reject" => SesEventKind::Reject,
            "DeliveryDelay" => SesEventKind::DeliveryDelay,
            "Rendering Failure" | "RenderingFailure" => SesEventKind::RenderingFailure,
            _ => return None,
        })
    }

    /// The `eventType` name.
    pub fn as_str(self) -> &'static str {
        match self {
            SesEventKind::Send => "Send",
            SesEventKind::Delivery => "Delivery",
            SesEventKind::Bounce => "Bounce",
            SesEventKind::Complaint => "Complaint",
            SesEventKind::Reject => "Reject",
            SesEventKind::DeliveryDelay => "DeliveryDelay",
            SesEventKind::RenderingFailure => "Rendering Failure",
        }
    }

    /// EventBridge's `detail-type` for this kind.
    pub fn detail_type(self) -> &'static str {
        match self {
            SesEventKind::Send => "Email Sent",
            SesEventKind::Delivery => "Email Delivered",
            SesEventKind::Bounce => "Email Bounced",
            SesEventKind::Complaint => "Email Complaint Received",
            SesEventKind::Reject => "Email Rejected",
            SesEventKind::DeliveryDelay => "Email Delivery Delayed",
            SesEventKind::RenderingFailure => "Email Rendering Failed",
        }
    }

    /// The member of `detail` holding this kind's own fields.
    pub fn detail_member(self) -> &'static str {
        match self {
            SesEventKind::Send => "send",
            SesEventKind::Delivery => "delivery",
            SesEventKind::Bounce => "bounce",
            SesEventKind::Complaint => "complaint",
            SesEventKind::Reject => "reject",
            SesEventKind::DeliveryDelay => "deliveryDelay",
            SesEventKind::RenderingFailure => "failure",
        }
    }

    /// Whether an event of this kind proves SES accepted the message (every kind but a
    /// rendering failure comes after the acceptance a Send event reports).
    pub fn proves_acceptance(self) -> bool {
        self != SesEventKind::RenderingFailure
    }

    /// Whether it means the customer did not (or will not) get the email.
    pub fn customer_never_heard(self) -> bool {
        matches!(
            self,
            SesEventKind::Bounce | SesEventKind::Reject | SesEventKind::RenderingFailure
        )
    }
}

/// One SES sending event about a message this stack sent under a claim.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SesEvent {
    /// EventBridge's event id: a redelivered event has the same one.
    pub event_id: String,
    /// What happened.
    pub kind: SesEventKind,
    /// The claim the message was sent under (its tags).
    pub claim: ClaimTags,
    /// SES's message id (`mail.messageId`).
    pub message_id: String,
    /// When the event happened (the kind's own `timestamp`, else `mail.timestamp`).
    pub at: String,
    /// A short, address-free summary of the kind's fields (bounce type, delay type, reason).
    pub summary: String,
}

/// What recording one SES event on the email log did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SesOutcome {
    /// The claim was `pending`/`sending`/`failed` and is now `sent`: this event decided it.
    Confirmed,
    /// Kept on the record (the claim was already decided).
    Recorded,
    /// This event (its EventBridge id) is on the record already: nothing written.
    AlreadyRecorded,
    /// The event is of a claim that a resend superseded: the same email went out twice.
    /// Kept on the record; counted (`DuplicateEmailsSent`) on the first event of that message.
    SupersededClaimSent {
        /// No earlier event of the same message id is on the record.
        first_of_its_message: bool,
    },
    /// No email-log record has that key (another sender using the configuration set, or a
    /// record that expired): nothing written.
    NotOurs,
}

fn text<'a>(value: &'a Value, pointer: &str) -> Option<&'a str> {
    value.pointer(pointer).and_then(Value::as_str)
}

/// The kind's fields that say what happened, never who it happened to (no addresses).
fn summary(kind: SesEventKind, own: &Value) -> String {
    let fields: &[&str] = match kind {
        SesEventKind::Bounce => &["bounceType", "bounceSubType"],
        SesEventKind::Complaint => &["complaintFeedbackType", "complaintSubType"],
        SesEventKind::Reject => &["reason"],
        SesEventKind::DeliveryDelay => &["delayType"],
        SesEventKind::RenderingFailure => &["templateName"],
        SesEventKind::Delivery => &["processingTimeMillis"],
        SesEventKind::Send => &[],
    };
    fields
        .iter()
        .filter_map(|f| match own.get(*f)? {
            Value::String(s) if !s.is_empty() => Some(format!("{f}={s}")),
            Value::Number(n) => Some(format!("{f}={n}")),
            _ => None,
        })
        .collect::<Vec<_>>()
        .join(" ")
}

impl SesEvent {
    /// Reads an `aws.ses` event's `detail`. `Ok(None)`: a well-formed event of a message
    /// without this stack's claim tags, or of a kind not tracked (Open, Click, Subscription).
    pub(crate) fn from_detail(
        event_id: &str,
        detail: &Value,
    ) -> Result<Option<SesEvent>, EvidenceError> {
        let event_type = text(detail, "/eventType")
            .ok_or_else(|| EvidenceError::new("SES event without a string detail.eventType"))?;
        let mail = detail
            .get("mail")
            .filter(|m| m.is_object())
            .ok_or_else(|| EvidenceError::new("SES event without a detail.mail object"))?;
        let message_id = text(mail, "/messageId")
            .filter(|m| !m.is_empty())
            .ok_or_else(|| EvidenceError::new("SES event without mail.messageId"))?;
        let mail_time = text(mail, "/timestamp")
            .ok_or_else(|| EvidenceError::new("SES event without mail.timestamp"))?;
        let Some(kind) = SesEventKind::parse(event_type) else {
            return Ok(None);
        };
        let tags: BTreeMap<String, Vec<String>> = match mail.get("tags") {
            None | Some(Value::Null) => BTreeMap::new(),
            Some(tags) => serde_json::from_value(tags.clone()).map_err(|e| {
                EvidenceError::new(format!("mail.tags is not a map of string lists: {e}"))
            })?,
        };
        let Some(claim) = ClaimTags::from_mail_tags(&tags) else {
            return Ok(None);
        };
        let own = detail.get(kind.detail_member()).unwrap_or(&Value::Null);
        let at = text(own, "/timestamp").unwrap_or(mail_time).to_string();
        Ok(Some(SesEvent {
            event_id: event_id.to_string(),
            kind,
            claim,
            message_id: message_id.to_string(),
            at,
            summary: summary(kind, own),
        }))
    }
}
