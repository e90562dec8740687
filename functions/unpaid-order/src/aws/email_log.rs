//! The email-log table on DynamoDB (hash key `emailId`): the claim / hand-over / record protocol
//! of [`EmailLog`], every step conditional on the status and this invocation's token.

use std::collections::HashMap;

use async_trait::async_trait;
use aws_sdk_dynamodb::types::{AttributeValue, ReturnValuesOnConditionCheckFailure};

use super::errors::{aws_error, redacted};
use super::{dynamodb_budget, s};
use crate::evidence::{SesEvent, SesOutcome};
use crate::ports::{status, Claim, ClaimOutcome, EmailLog, ExistingClaim};
use crate::FunctionError;

/// The email-log table on DynamoDB.
#[derive(Debug, Clone)]
pub struct DynamoEmailLog {
    client: aws_sdk_dynamodb::Client,
    table: String,
}

type OldItem = HashMap<String, AttributeValue>;

fn text<'a>(item: &'a OldItem, name: &str) -> Option<&'a str> {
    item.get(name)
        .and_then(|v| v.as_s().ok())
        .map(String::as_str)
}

impl DynamoEmailLog {
    /// The email log in `table`.
    pub fn new(client: aws_sdk_dynamodb::Client, table: impl Into<String>) -> Self {
        DynamoEmailLog {
            client,
            table: table.into(),
        }
    }

    /// `from` (ours) -> `to`, with extra attributes. `Ok(true)` when the record is (now, or
    /// already: our own earlier write of this step) in `to` with our token; `Ok(false)` when
    /// another invocation owns it or it is in another state.
    async fn transition(
        &self,
        claim: &Claim,
        from: &str,
        to: &str,
        extra: &[(&str, &str)],
    ) -> Result<bool, FunctionError> {
        let mut update = self
            .client
            .update_item()
            .table_name(&self.table)
            .key("emailId", s(&claim.email_id()))
            .condition_expression("#status = :from AND #token = :token")
            .expression_attribute_names("#status", "status")
            .expression_attribute_names("#token", "claimToken")
            .expression_attribute_values(":from", s(from))
            .expression_attribute_values(":token", s(&claim.token))
            .expression_attribute_values(":to", s(to))
            .return_values_on_condition_check_failure(ReturnValuesOnConditionCheckFailure::AllOld);
        let mut set = vec!["#status = :to".to_string()];
        for (i, (name, value)) in extra.iter().enumerate() {
            set.push(format!("#a{i} = :a{i}"));
            update = update
                .expression_attribute_names(format!("#a{i}"), *name)
                .expression_attribute_values(format!(":a{i}"), s(value));
        }
        let result = update
            .update_expression(format!("SET {}", set.join(", ")))
            .customize()
            .config_override(dynamodb_budget(&self.client))
            .send()
            .await;
        let err = match result {
            Ok(_) => return Ok(true),
            Err(err) => err,
        };
        match err.as_service_error() {
            Some(aws_sdk_dynamodb::operation::update_item::UpdateItemError::ConditionalCheckFailedException(c)) => {
                let old = c.item().cloned().unwrap_or_default();
                let ours = text(&old, "claimToken") == Some(claim.token.as_str());
                let current = text(&old, "status").unwrap_or("absent");
                if ours && current == to {
                    return Ok(true);
                }
                tracing::warn!(
                    emailId = %claim.email_id(), from, to, current, ours,
                    "email-log record was not ours to move"
                );
                Ok(false)
            }
            _ => Err(aws_error(
                &format!("DynamoDB UpdateItem {}", self.table),
                err,
            )),
        }
    }
}

#[async_trait]
impl EmailLog for DynamoEmailLog {
    async fn claim(&self, claim: &Claim) -> Result<ClaimOutcome, FunctionError> {
        let item = HashMap::from([
            ("emailId".to_string(), s(&claim.email_id())),
            ("orderId".to_string(), s(claim.order_id.as_str())),
            ("attemptId".to_string(), s(claim.attempt_id.as_str())),
            ("channel".to_string(), s(claim.channel.as_str())),
            ("recipient".to_string(), s(&claim.recipient)),
            ("status".to_string(), s(status::PENDING)),
            ("claimToken".to_string(), s(&claim.token)),
            ("claimedAt".to_string(), s(&claim.claimed_at)),
        ]);
        // A retried put whose first attempt landed finds our own `pending` record and
        // overwrites it with the same item: it succeeds, as it should.
        let result = self
            .client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(item))
            .condition_expression(
                "attribute_not_exists(emailId) OR #status = :pending OR #status = :failed",
            )
            .expression_attribute_names("#status", "status")
            .expression_attribute_values(":pending", s(status::PENDING))
            .expression_attribute_values(":failed", s(status::FAILED))
            .return_values_on_condition_check_failure(ReturnValuesOnConditionCheckFailure::AllOld)
            .customize()
            .config_override(dynamodb_budget(&self.client))
            .send()
            .await;
        match result {
            Ok(_) => Ok(ClaimOutcome::Claimed),
            Err(e) => match e.as_service_error() {
                Some(aws_sdk_dynamodb::operation::put_item::PutItemError::ConditionalCheckFailedException(c)) => {
                    let old = c.item().cloned().unwrap_or_default();
                    let text = |name: &str| text(&old, name).map(str::to_string);
                    Ok(ClaimOutcome::AlreadyClaimed(ExistingClaim {
                        status: text("status").unwrap_or_else(|| "unknown".to_string()),
                        token: text("claimToken"),
                        claimed_at: text("claimedAt"),
                    }))
                }
                _ => Err(aws_error(&format!("DynamoDB PutItem {}", self.table), e)),
            },
        }
    }

    async fn begin_send(&self, claim: &Claim) -> Result<bool, FunctionError> {
        self.transition(claim, status::PENDING, status::SENDING, &[])
            .await
    }

    async fn mark_sent(
        &self,
        claim: &Claim,
        message_id: &str,
        sent_at: &str,
    ) -> Result<(), FunctionError> {
        self.transition(
            claim,
            status::SENDING,
            status::SENT,
            &[("messageId", message_id), ("sentAt", sent_at)],
        )
        .await
        .map(drop)
    }

    async fn mark_failed(&self, claim: &Claim, reason: &str) -> Result<(), FunctionError> {
        self.transition(
            claim,
            status::SENDING,
            status::FAILED,
            &[("failure", &redacted(reason))],
        )
        .await
        .map(drop)
    }

    async fn supersede(
        &self,
        superseded_token: &str,
        claim: &Claim,
    ) -> Result<bool, FunctionError> {
        super::email_evidence::supersede(&self.client, &self.table, superseded_token, claim).await
    }

    async fn record_ses_event(&self, event: &SesEvent) -> Result<SesOutcome, FunctionError> {
        super::email_evidence::record_ses_event(&self.client, &self.table, event).await
    }
}
