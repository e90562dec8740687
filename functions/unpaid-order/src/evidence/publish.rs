//! The events as AWS publishes them to EventBridge, for whatever stands in for AWS offline: the
//! offline runner's mailer and executions, and the test harness's proxy in front of moto (which
//! publishes none). One place, so that every stand-in speaks the documented shape.

use chrono::{DateTime, SecondsFormat, Utc};
use serde_json::{json, Value};

use super::{SesEventKind, EXECUTION_STATUS_CHANGE, SES_SOURCE, STATES_SOURCE};

/// The account and region the offline events name.
#[derive(Debug, Clone)]
pub struct Origin {
    /// The 12-digit account id.
    pub account: String,
    /// The region.
    pub region: String,
}

impl Default for Origin {
    fn default() -> Self {
        Origin {
            account: "123456789012".into(),
            region: "us-east-1".into(),
        }
    }
}

/// A message SES accepted, as the events describe it.
#[derive(Debug, Clone)]
pub struct AcceptedEmail {
    /// SES's message id (what SendEmail answered).
    pub message_id: String,
    /// The From address.
    pub from: String,
    /// The recipients.
    pub to: Vec<String>,
    /// The subject line.
    pub subject: String,
    /// The message tags passed with SendEmail (`EmailTags`).
    pub tags: Vec<(String, String)>,
    /// The configuration set named in SendEmail, if any (only then are events published).
    pub configuration_set: Option<String>,
    /// When SES accepted it.
    pub sent_at: DateTime<Utc>,
}

fn ts(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Millis, true)
}

/// What SES's mailbox simulator does with a message to `address`, as the events it publishes
/// (every accepted message first gets a Send): `bounce@`, `complaint@`, `suppressionlist@` and
/// `ooto@`/`success@` of `simulator.amazonses.com`; any other address is delivered.
pub fn simulated_events(address: &str) -> Vec<SesEventKind> {
    let lower = address.to_ascii_lowercase();
    let simulator = |local: &str| {
        lower == format!("{local}@simulator.amazonses.com")
            || lower.starts_with(&format!("{local}+"))
                && lower.ends_with("@simulator.amazonses.com")
    };
    if simulator("bounce") || simulator("suppressionlist") {
        vec![SesEventKind::Send, SesEventKind::Bounce]
    } else if simulator("complaint") {
        vec![
            SesEventKind::Send,
            SesEventKind::Delivery,
            SesEventKind::Complaint,
        ]
    } else {
        vec![SesEventKind::Send, SesEventKind::Delivery]
    }
}

/// The kind's own member of `detail`, for a message to `to` at `at`.
fn own_detail(kind: SesEventKind, to: &[String], at: &str) -> Value {
    let suppressed = to
        .iter()
        .any(|a| a.to_ascii_lowercase().starts_with("suppressionlist"));
    match kind {
        SesEventKind::Send => json!({}),
        SesEventKind::Delivery => json!({
            "timestamp": at, "processingTimeMillis": 546, "recipients": to,
            "smtpResponse": "250 2.6.0 Message received", "reportingMTA": "a8-70.smtp-out.amazonses.com",
        }),
        SesEventKind::Bounce => json!({
            "bounceType": "Permanent",
            "bounceSubType": if suppressed { "OnAccountSuppressionList" } else { "General" },
            "bouncedRecipients": to.iter().map(|a| json!({"emailAddress": a, "action": "failed", "status": "5.1.1", "diagnosticCode": "smtp; 550 5.1.1 user unknown"})).collect::<Vec<_>>(),
            "timestamp": at, "feedbackId": "0100017f-offline-bounce", "reportingMTA": "dsn; a8-70.smtp-out.amazonses.com",
        }),
        SesEventKind::Complaint => json!({
            "complainedRecipients": to.iter().map(|a| json!({"emailAddress": a})).collect::<Vec<_>>(),
            "timestamp": at, "feedbackId": "0100017f-offline-complaint", "complaintFeedbackType": "abuse",
        }),
        SesEventKind::Reject => json!({"reason": "Bad content"}),
        SesEventKind::DeliveryDelay => json!({
            "delayType": "TransientCommunicationFailure", "timestamp": at,
            "delayedRecipients": to.iter().map(|a| json!({"emailAddress": a, "status": "4.4.1"})).collect::<Vec<_>>(),
        }),
        SesEventKind::RenderingFailure => {
            json!({"errorMessage": "Attribute 'name' is not present in the rendering data.", "templateName": "none"})
        }
    }
}

/// The EventBridge event SES publishes for `kind` of `email`, happening at `at`, with
/// EventBridge id `event_id` (a redelivery repeats the id).
pub fn ses_event(
    kind: SesEventKind,
    email: &AcceptedEmail,
    event_id: &str,
    at: DateTime<Utc>,
    origin: &Origin,
) -> Value {
    let mut tags = serde_json::Map::new();
    if let Some(set) = &email.configuration_set {
        tags.insert("ses:configuration-set".into(), json!([set]));
    }
    tags.insert("ses:operation".into(), json!(["SendEmail"]));
    tags.insert("ses:source-ip".into(), json!(["127.0.0.1"]));
    let domain = email.from.rsplit('@').next().unwrap_or_default();
    tags.insert("ses:from-domain".into(), json!([domain]));
    tags.insert(
        "ses:caller-identity".into(),
        json!(["process-unpaid-order-notify-failure"]),
    );
    for (name, value) in &email.tags {
        tags.insert(name.clone(), json!([value]));
    }
    let at = ts(at);
    let mut detail = json!({
        "eventType": kind.as_str(),
        "mail": {
            "timestamp": ts(email.sent_at),
            "source": email.from,
            "sourceArn": format!("arn:aws:ses:{}:{}:identity/{}", origin.region, origin.account, email.from),
            "sendingAccountId": origin.account,
            "messageId": email.message_id,
            "destination": email.to,
            "headersTruncated": false,
            "commonHeaders": {"from": [email.from], "to": email.to, "messageId": email.message_id, "subject": email.subject},
            "tags": tags,
        },
    });
    detail[kind.detail_member()] = own_detail(kind, &email.to, &at);
    let resources = match &email.configuration_set {
        Some(set) => vec![format!(
            "arn:aws:ses:{}:{}:configuration-set/{set}",
            origin.region, origin.account
        )],
        None => Vec::new(),
    };
    json!({
        "version": "0",
        "id": event_id,
        "detail-type": kind.detail_type(),
        "source": SES_SOURCE,
        "account": origin.account,
        "time": at,
        "region": origin.region,
        "resources": resources,
        "detail": detail,
    })
}

/// One execution's status, as a status-change event reports it.
#[derive(Debug, Clone)]
pub struct ExecutionState<'a> {
    /// The execution.
    pub execution_arn: &'a str,
    /// Its state machine.
    pub state_machine_arn: &'a str,
    /// Its name.
    pub name: &'a str,
    /// RUNNING, SUCCEEDED, ...
    pub status: &'a str,
    /// Started.
    pub start_date: DateTime<Utc>,
    /// Stopped.
    pub stop_date: Option<DateTime<Utc>>,
    /// Its input (JSON text).
    pub input: &'a str,
    /// Its output (JSON text), once it succeeded.
    pub output: Option<&'a str>,
    /// The error it failed with.
    pub error: Option<&'a str>,
    /// The cause.
    pub cause: Option<&'a str>,
    /// Times redriven.
    pub redrive_count: u32,
    /// When it was last redriven.
    pub redrive_date: Option<DateTime<Utc>>,
}

/// EventBridge's limit on an input and output in a status-change event (escaped, combined).
pub const EVENT_PAYLOAD_LIMIT: usize = 248 * 1024;

/// The EventBridge event Step Functions publishes when `state` begins. Like AWS, it leaves the
/// output out when it is over the limit, and the input when both together are
/// (`inputDetails.included: false`).
pub fn execution_status_change(
    state: &ExecutionState<'_>,
    event_id: &str,
    at: DateTime<Utc>,
    origin: &Origin,
) -> Value {
    let escaped = |s: &str| serde_json::to_string(s).map_or(0, |e| e.len());
    let output_len = state.output.map_or(0, escaped);
    let output_included = output_len <= EVENT_PAYLOAD_LIMIT;
    let input_included =
        escaped(state.input) + if output_included { output_len } else { 0 } <= EVENT_PAYLOAD_LIMIT;
    let millis = |t: DateTime<Utc>| json!(t.timestamp_millis());
    json!({
        "version": "0",
        "id": event_id,
        "detail-type": EXECUTION_STATUS_CHANGE,
        "source": STATES_SOURCE,
        "account": origin.account,
        "time": at.to_rfc3339_opts(SecondsFormat::Secs, true),
        "region": origin.region,
        "resources": [state.execution_arn],
        "detail": {
            "executionArn": state.execution_arn,
            "stateMachineArn": state.state_machine_arn,
            "name": state.name,
            "status": state.status,
            "startDate": millis(state.start_date),
            "stopDate": state.stop_date.map(millis),
            "input": if input_included { json!(state.input) } else { Value::Null },
            "output": match state.output { Some(o) if output_included => json!(o), _ => Value::Null },
            "inputDetails": {"included": input_included},
            "outputDetails": state.output.map(|_| json!({"included": output_included})),
            "error": state.error,
            "cause": state.cause,
            "redriveCount": state.redrive_count,
            "redriveDate": state.redrive_date.map(millis),
            "redriveStatus": if state.stop_date.is_some() && state.status != "SUCCEEDED" { "REDRIVABLE" } else { "NOT_REDRIVABLE" },
        },
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::evidence::{AwsEvent, ClaimTags};

    #[test]
    fn published_ses_events_parse_back_to_their_claim() {
        let claim = ClaimTags {
            email_id: "1#a#email".into(),
            token: "t-1".into(),
        };
        let email = AcceptedEmail {
            message_id: "m-1".into(),
            from: "payments@example.com".into(),
            to: vec!["bounce@simulator.amazonses.com".into()],
            subject: "s".into(),
            tags: claim.to_tags(),
            configuration_set: Some("set".into()),
            sent_at: Utc::now(),
        };
        let kinds = simulated_events(&email.to[0]);
        assert_eq!(kinds, [SesEventKind::Send, SesEventKind::Bounce]);
        for kind in kinds {
            let event = ses_event(kind, &email, "ev", Utc::now(), &Origin::default());
            let AwsEvent::Ses(parsed) = AwsEvent::parse(&event.to_string()).unwrap() else {
                panic!("{event}")
            };
            assert_eq!((parsed.kind, &parsed.claim), (kind, &claim));
        }
        assert_eq!(
            simulated_events("success@simulator.amazonses.com"),
            [SesEventKind::Send, SesEventKind::Delivery]
        );
        assert_eq!(
            simulated_events("complaint@simulator.amazonses.com").len(),
            3
        );
    }

    #[test]
    fn a_large_input_is_left_out_as_aws_does() {
        let big = format!(
            "{{\"orderId\": \"1\", \"pad\": \"{}\"}}",
            "x".repeat(EVENT_PAYLOAD_LIMIT)
        );
        let state = ExecutionState {
            execution_arn: "arn:aws:states:us-east-1:123456789012:execution:m:x",
            state_machine_arn: "arn:aws:states:us-east-1:123456789012:stateMachine:m",
            name: "x",
            status: "RUNNING",
            start_date: Utc::now(),
            stop_date: None,
            input: &big,
            output: None,
            error: None,
            cause: None,
            redrive_count: 0,
            redrive_date: None,
        };
        let event = execution_status_change(&state, "ev", Utc::now(), &Origin::default());
        assert_eq!(event["detail"]["inputDetails"]["included"], false);
        let AwsEvent::Execution(parsed) = AwsEvent::parse(&event.to_string()).unwrap() else {
            panic!()
        };
        assert_eq!(parsed.input, None);
        let small = ExecutionState {
            input: "{\"orderId\": \"1\"}",
            ..state
        };
        let event = execution_status_change(&small, "ev", Utc::now(), &Origin::default());
        let AwsEvent::Execution(parsed) = AwsEvent::parse(&event.to_string()).unwrap() else {
            panic!()
        };
        assert_eq!(
            parsed.index_entries(parsed.input.as_deref().unwrap())[0].order_id,
            "1"
        );
    }
}
