//! The email log's evidence writes on DynamoDB: an SES event recorded once per EventBridge id
//! (and, when it decides the current claim, the claim confirmed `sent`), and a claim whose send
//! stayed unknown superseded by a new one. Every write is conditional.

use std::collections::HashMap;

use aws_sdk_dynamodb::operation::update_item::UpdateItemError;
use aws_sdk_dynamodb::types::{AttributeValue, ReturnValuesOnConditionCheckFailure};

use super::errors::aws_error;
use super::{dynamodb_budget, s};
use crate::attr::{item_from_sdk, Attr};
use crate::evidence::items::{recorded_ses_events, SES_EVENTS, SES_EVENT_IDS, SUPERSEDED_TOKENS};
use crate::evidence::{SesEvent, SesOutcome};
use crate::ports::{status, Claim};
use crate::FunctionError;

type OldItem = HashMap<String, AttributeValue>;

/// The item a failed condition returned (ALL_OLD); `None` when there was no item.
fn failed_condition(
    err: &aws_sdk_dynamodb::error::SdkError<
        UpdateItemError,
        aws_sdk_dynamodb::config::http::HttpResponse,
    >,
) -> Option<Option<OldItem>> {
    match err.as_service_error() {
        Some(UpdateItemError::ConditionalCheckFailedException(c)) => Some(c.item().cloned()),
        _ => None,
    }
}

fn text<'a>(item: &'a OldItem, name: &str) -> Option<&'a str> {
    item.get(name)
        .and_then(|v| v.as_s().ok())
        .map(String::as_str)
}

fn set_contains(item: &OldItem, name: &str, value: &str) -> bool {
    item.get(name)
        .and_then(|v| v.as_ss().ok())
        .is_some_and(|set| set.iter().any(|x| x == value))
}

fn event_list(event: &SesEvent) -> Result<AttributeValue, FunctionError> {
    Attr::L(vec![event.to_attr()]).to_sdk()
}

/// `sending` (superseded token) -> `pending` (the new claim), the old token added to
/// `supersededTokens`. A retried call whose first attempt landed finds the new claim: `true`.
pub(super) async fn supersede(
    client: &aws_sdk_dynamodb::Client,
    table: &str,
    superseded_token: &str,
    claim: &Claim,
) -> Result<bool, FunctionError> {
    let result = client
        .update_item()
        .table_name(table)
        .key("emailId", s(&claim.email_id()))
        .condition_expression("#status = :sending AND #token = :old")
        .update_expression(
            "SET #status = :pending, #token = :new, #claimed = :at ADD #superseded :olds",
        )
        .expression_attribute_names("#status", "status")
        .expression_attribute_names("#token", "claimToken")
        .expression_attribute_names("#claimed", "claimedAt")
        .expression_attribute_names("#superseded", SUPERSEDED_TOKENS)
        .expression_attribute_values(":sending", s(status::SENDING))
        .expression_attribute_values(":pending", s(status::PENDING))
        .expression_attribute_values(":old", s(superseded_token))
        .expression_attribute_values(":new", s(&claim.token))
        .expression_attribute_values(":at", s(&claim.claimed_at))
        .expression_attribute_values(
            ":olds",
            AttributeValue::Ss(vec![superseded_token.to_string()]),
        )
        .return_values_on_condition_check_failure(ReturnValuesOnConditionCheckFailure::AllOld)
        .customize()
        .config_override(dynamodb_budget(client))
        .send()
        .await;
    match result {
        Ok(_) => Ok(true),
        Err(err) => match failed_condition(&err) {
            Some(old) => {
                let old = old.unwrap_or_default();
                Ok(text(&old, "claimToken") == Some(claim.token.as_str())
                    && text(&old, "status") == Some(status::PENDING))
            }
            None => Err(aws_error(&format!("DynamoDB UpdateItem {table}"), err)),
        },
    }
}

/// Records `event` on its email-log record: kept on the record once per EventBridge id (one
/// write: the common case, an email already `sent`), then, when it is the current claim's and
/// the claim is still undecided, the claim confirmed `sent` (a second write, only for an email
/// whose outcome was unknown). A redelivered event whose first delivery was kept but not yet
/// confirmed (a crash between the two) is confirmed then.
pub(super) async fn record_ses_event(
    client: &aws_sdk_dynamodb::Client,
    table: &str,
    event: &SesEvent,
) -> Result<SesOutcome, FunctionError> {
    let what = format!("DynamoDB UpdateItem {table}");
    let keep = client
        .update_item()
        .table_name(table)
        .key("emailId", s(&event.claim.email_id))
        .condition_expression("attribute_exists(emailId) AND NOT contains(#ids, :id)")
        .update_expression(
            "SET #events = list_append(if_not_exists(#events, :none), :events) ADD #ids :ids",
        )
        .expression_attribute_names("#ids", SES_EVENT_IDS)
        .expression_attribute_names("#events", SES_EVENTS)
        .expression_attribute_values(":id", s(&event.event_id))
        .expression_attribute_values(":none", AttributeValue::L(Vec::new()))
        .expression_attribute_values(":events", event_list(event)?)
        .expression_attribute_values(":ids", AttributeValue::Ss(vec![event.event_id.clone()]))
        .return_values(aws_sdk_dynamodb::types::ReturnValue::AllOld)
        .return_values_on_condition_check_failure(ReturnValuesOnConditionCheckFailure::AllOld)
        .customize()
        .config_override(dynamodb_budget(client))
        .send()
        .await;
    let (old, kept_now) = match keep {
        Ok(out) => (out.attributes.unwrap_or_default(), true),
        Err(err) => match failed_condition(&err) {
            // Kept before (a redelivery, or our own retried write whose reply was lost).
            Some(Some(old)) => (old, false),
            Some(None) => return Ok(SesOutcome::NotOurs),
            None => return Err(aws_error(&what, err)),
        },
    };
    let ours = text(&old, "claimToken") == Some(event.claim.token.as_str());
    let undecided = matches!(
        text(&old, "status"),
        Some(status::PENDING | status::SENDING | status::FAILED)
    );
    if ours && undecided && event.kind.proves_acceptance() {
        return confirm(client, table, event).await;
    }
    if !kept_now {
        return Ok(SesOutcome::AlreadyRecorded);
    }
    if !ours && set_contains(&old, SUPERSEDED_TOKENS, &event.claim.token) {
        let before = item_from_sdk(&old)?;
        let first_of_its_message = !recorded_ses_events(&before)
            .iter()
            .any(|e| e.message_id == event.message_id);
        return Ok(SesOutcome::SupersededClaimSent {
            first_of_its_message,
        });
    }
    Ok(SesOutcome::Recorded)
}

/// The current claim's `pending`/`sending`/`failed` -> `sent`, decided by `event`.
async fn confirm(
    client: &aws_sdk_dynamodb::Client,
    table: &str,
    event: &SesEvent,
) -> Result<SesOutcome, FunctionError> {
    let result = client
        .update_item()
        .table_name(table)
        .key("emailId", s(&event.claim.email_id))
        .condition_expression("#token = :token AND #status IN (:pending, :sending, :failed)")
        .update_expression("SET #status = :sent, messageId = :mid, sentAt = :at, confirmedBy = :by")
        .expression_attribute_names("#token", "claimToken")
        .expression_attribute_names("#status", "status")
        .expression_attribute_values(":token", s(&event.claim.token))
        .expression_attribute_values(":pending", s(status::PENDING))
        .expression_attribute_values(":sending", s(status::SENDING))
        .expression_attribute_values(":failed", s(status::FAILED))
        .expression_attribute_values(":sent", s(status::SENT))
        .expression_attribute_values(":mid", s(&event.message_id))
        .expression_attribute_values(":at", s(&event.at))
        .expression_attribute_values(":by", s(&format!("ses:{}", event.kind.as_str())))
        .return_values_on_condition_check_failure(ReturnValuesOnConditionCheckFailure::AllOld)
        .customize()
        .config_override(dynamodb_budget(client))
        .send()
        .await;
    match result {
        Ok(_) => Ok(SesOutcome::Confirmed),
        // Decided meanwhile (another event, or our own retried write whose reply was lost).
        Err(err) if failed_condition(&err).is_some() => Ok(SesOutcome::Recorded),
        Err(err) => Err(aws_error(&format!("DynamoDB UpdateItem {table}"), err)),
    }
}
