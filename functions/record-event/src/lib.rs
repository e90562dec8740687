//! The `record-event` Lambda: records AWS's own events about an order, delivered in SQS batches
//! (SES sending events on the email log, Step Functions status changes in the order index).
//!
//! Each message is one EventBridge event. A recorded, duplicate, stale or foreign event is done;
//! a malformed one or a failed write is reported back (partial batch response), so SQS delivers
//! it again and, after the queue's `maxReceiveCount`, moves it to the DLQ.

use aws_lambda_events::sqs::{BatchItemFailure, SqsBatchResponse, SqsEvent};
use tracing::Instrument;
use unpaid_order::evidence::{
    AwsEvent, EvidenceError, ExecutionStatusChange, IndexOutcome, SesEvent, SesEventKind,
    SesOutcome,
};
use unpaid_order::metrics::{self, Metric};
use unpaid_order::{EmailLog, ExecutionInputs, FunctionError, OrderIndex};

/// The ports the recorder writes to and reads from.
#[derive(Clone, Copy)]
pub struct Ports<'a> {
    /// The email log: SES events land on the record of the claim they carry.
    pub email_log: &'a dyn EmailLog,
    /// The order index.
    pub index: &'a dyn OrderIndex,
    /// DescribeExecution, for an event whose input EventBridge left out.
    pub executions: &'a dyn ExecutionInputs,
}

/// Why one message was not recorded (it is reported as a batch item failure).
#[derive(Debug, thiserror::Error)]
pub enum RecordError {
    /// Not an event of a documented shape: delivered again until the DLQ takes it.
    #[error("{0}")]
    Malformed(EvidenceError),
    /// A write or read failed (throttling, access denied, ...): delivered again.
    #[error("{0}")]
    Failed(FunctionError),
}

/// What recording one message did, for the log line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Recorded {
    /// An SES event and what it did on the email log.
    Ses(SesEventKind, SesOutcome),
    /// A status change: index items written and left (already newer).
    Execution {
        /// Items written.
        written: usize,
        /// Items that already held this state or a newer one.
        stale: usize,
    },
    /// Nothing to record (another source, a foreign SES message, an input naming no order, an
    /// execution that no longer exists).
    Ignored(String),
}

/// The parts of an email-log key (`{orderId}#{attemptId}#{channel}`; an order id may hold `#`,
/// an attempt id may not), for the log line.
fn key_parts(email_id: &str) -> (&str, &str) {
    let mut parts = email_id.rsplitn(3, '#');
    let _channel = parts.next();
    let attempt = parts.next().unwrap_or_default();
    let order = parts.next().unwrap_or_default();
    (order, attempt)
}

async fn record_ses(ports: Ports<'_>, event: &SesEvent) -> Result<Recorded, RecordError> {
    let outcome = ports
        .email_log
        .record_ses_event(event)
        .await
        .map_err(RecordError::Failed)?;
    let counted = !matches!(outcome, SesOutcome::AlreadyRecorded | SesOutcome::NotOurs);
    if counted {
        match event.kind {
            SesEventKind::Bounce => metrics::count(Metric::EmailsBounced),
            SesEventKind::Complaint => metrics::count(Metric::EmailsComplained),
            SesEventKind::Reject | SesEventKind::RenderingFailure => {
                metrics::count(Metric::EmailsRejected)
            }
            _ => {}
        }
    }
    match outcome {
        SesOutcome::NotOurs => metrics::count(Metric::UnknownEmailEvents),
        SesOutcome::SupersededClaimSent {
            first_of_its_message: true,
        } => {
            tracing::error!(messageId = %event.message_id, "an email sent again after its confirmation window had in fact gone out: the customer got two");
            metrics::count(Metric::DuplicateEmailsSent)
        }
        _ => {}
    }
    if event.kind.customer_never_heard() && counted {
        tracing::warn!(event = event.kind.as_str(), summary = %event.summary, "the customer did not get the failure email");
    }
    Ok(Recorded::Ses(event.kind, outcome))
}

async fn record_execution(
    ports: Ports<'_>,
    change: &ExecutionStatusChange,
) -> Result<Recorded, RecordError> {
    let input = match &change.input {
        Some(input) => input.clone(),
        None => match ports
            .executions
            .input_of(&change.execution_arn)
            .await
            .map_err(RecordError::Failed)?
        {
            Some(input) => input,
            None => return Ok(Recorded::Ignored("the execution no longer exists".into())),
        },
    };
    let entries = change.index_entries(&input);
    if entries.is_empty() {
        return Ok(Recorded::Ignored("its input names no order".into()));
    }
    let (mut written, mut stale) = (0, 0);
    for entry in &entries {
        match ports
            .index
            .record(entry)
            .await
            .map_err(RecordError::Failed)?
        {
            IndexOutcome::Written => written += 1,
            IndexOutcome::Stale => stale += 1,
        }
    }
    Ok(Recorded::Execution { written, stale })
}

/// The orders one message body names, as [`record`] would write them: an SES event's order (from
/// the claim in its tags), every order a status change's input names (DescribeExecution's when
/// the event left it out). A malformed or foreign body names none. For a store that runs one
/// invocation on those orders' records alone (the offline runner's embedded tables).
pub async fn orders_named(
    executions: &dyn ExecutionInputs,
    body: &str,
) -> Result<Vec<String>, FunctionError> {
    Ok(match AwsEvent::parse(body) {
        Ok(AwsEvent::Ses(event)) => vec![key_parts(&event.claim.email_id).0.to_string()],
        Ok(AwsEvent::Execution(change)) => {
            let input = match &change.input {
                Some(input) => Some(input.clone()),
                None => executions.input_of(&change.execution_arn).await?,
            };
            input
                .map(|i| {
                    change
                        .index_entries(&i)
                        .into_iter()
                        .map(|e| e.order_id)
                        .collect()
                })
                .unwrap_or_default()
        }
        Ok(AwsEvent::Ignored { .. }) | Err(_) => Vec::new(),
    })
}

/// Records one message body.
pub async fn record(ports: Ports<'_>, body: &str) -> Result<Recorded, RecordError> {
    match AwsEvent::parse(body).map_err(RecordError::Malformed)? {
        AwsEvent::Ses(event) => {
            let (order, attempt) = key_parts(&event.claim.email_id);
            let span = tracing::info_span!("ses-event", orderId = %order, executionName = %attempt, eventId = %event.event_id);
            record_ses(ports, &event).instrument(span).await
        }
        AwsEvent::Execution(change) => {
            let span = tracing::info_span!("execution-event", executionName = %change.name, status = %change.status, eventId = %change.event_id);
            record_execution(ports, &change).instrument(span).await
        }
        AwsEvent::Ignored { reason, .. } => Ok(Recorded::Ignored(reason)),
    }
}

/// Records every message of the batch; the ones that failed are named in the response (SQS
/// deletes the others).
pub async fn handle(ports: Ports<'_>, batch: SqsEvent) -> SqsBatchResponse {
    let mut failures = Vec::new();
    for message in batch.records {
        let id = message.message_id.clone().unwrap_or_default();
        let body = message.body.as_deref().unwrap_or_default();
        match record(ports, body).await {
            Ok(recorded) => tracing::info!(messageId = %id, outcome = ?recorded, "recorded"),
            Err(RecordError::Malformed(e)) => {
                // Never the body itself: it may quote addresses.
                tracing::error!(messageId = %id, error = %e, "malformed event: not recorded; SQS delivers it again until the DLQ takes it");
                metrics::count(Metric::MalformedEvents);
                failures.push(id);
            }
            Err(RecordError::Failed(e)) => {
                tracing::warn!(messageId = %id, errorType = e.error_type(), error = %e, "not recorded; SQS delivers it again");
                failures.push(id);
            }
        }
    }
    let mut response = SqsBatchResponse::default();
    response.batch_item_failures = failures
        .into_iter()
        .map(|item_identifier| {
            let mut failure = BatchItemFailure::default();
            failure.item_identifier = item_identifier;
            failure
        })
        .collect();
    response
}

#[cfg(test)]
mod tests {
    use super::*;
    use unpaid_order::evidence::publish::{self, AcceptedEmail, ExecutionState, Origin};
    use unpaid_order::evidence::ClaimTags;
    use unpaid_order::MemoryStore;

    fn now() -> chrono::DateTime<chrono::Utc> {
        chrono::DateTime::parse_from_rfc3339("2026-11-25T06:10:00Z")
            .unwrap()
            .with_timezone(&chrono::Utc)
    }

    #[tokio::test]
    async fn the_orders_a_body_names_are_the_ones_it_records() {
        let store = MemoryStore::default();
        let claim = ClaimTags {
            email_id: "A#1#B#attempt-1#email".into(),
            token: "t".into(),
        };
        let email = AcceptedEmail {
            message_id: "m".into(),
            from: "payments@example.com".into(),
            to: vec!["success@simulator.amazonses.com".into()],
            subject: "s".into(),
            tags: claim.to_tags(),
            configuration_set: Some("set".into()),
            sent_at: now(),
        };
        let ses = publish::ses_event(SesEventKind::Send, &email, "e1", now(), &Origin::default());
        assert_eq!(
            orders_named(&store, &ses.to_string()).await.unwrap(),
            ["A#1#B"]
        );
        let batch = serde_json::json!([
            {"eventID": "r1", "dynamodb": {"Keys": {"orderId": {"S": "1"}}}},
            {"eventID": "r2", "dynamodb": {"Keys": {"orderId": {"S": "2"}}}},
        ])
        .to_string();
        let state = ExecutionState {
            execution_arn: "arn:aws:states:us-east-1:123456789012:execution:b:x",
            state_machine_arn: "arn:aws:states:us-east-1:123456789012:stateMachine:b",
            name: "x",
            status: "RUNNING",
            start_date: now(),
            stop_date: None,
            input: &batch,
            output: None,
            error: None,
            cause: None,
            redrive_count: 0,
            redrive_date: None,
        };
        let change = publish::execution_status_change(&state, "e2", now(), &Origin::default());
        assert_eq!(
            orders_named(&store, &change.to_string()).await.unwrap(),
            ["1", "2"]
        );
        for foreign in [
            "not json",
            r#"{"id":"x","source":"aws.s3","detail-type":"d","detail":{}}"#,
        ] {
            assert!(orders_named(&store, foreign).await.unwrap().is_empty());
        }
    }
}
