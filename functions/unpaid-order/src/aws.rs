//! The ports' AWS adapters: DynamoDB (order, check-status, process-unpaid-order and email-log
//! tables), SNS (failure topic) and SESv2 (customer email), and the SDK set-up the Lambdas share.

use std::collections::HashMap;
use std::time::Duration;

use async_trait::async_trait;
use aws_config::retry::RetryConfig;
use aws_config::timeout::TimeoutConfig;
use aws_config::{BehaviorVersion, Region, SdkConfig};
use aws_sdk_dynamodb::config::{SharedCredentialsProvider, SharedHttpClient};
use aws_sdk_dynamodb::error::{DisplayErrorContext, SdkError};
use aws_sdk_dynamodb::types::{AttributeValue, ReturnValuesOnConditionCheckFailure};
use aws_smithy_http_client::tls;

use crate::attr::{item_from_sdk, item_to_sdk, Attr, Item};
use crate::config::{Config, ConfigError, Setting};
use crate::model::{
    plan_save, AttemptRecord, CheckStatus, LogOutcome, OrderId, PaymentHeader, SaveOutcome,
    SavePlan, StoredOrder,
};
use crate::notice::{FailureNotification, OutgoingEmail};
use crate::ports::{
    status, AttemptLog, CheckStatusTable, Claim, ClaimOutcome, EmailLog, Mailer, Notifier,
    OrderTable, SendError,
};
use crate::FunctionError;

/// How often save-order re-reads and retries when the order changed under it.
const SAVE_TRIES: usize = 3;

/// The SDK configuration the Lambdas use: region from `AWS_REGION` (or `AWS_DEFAULT_REGION`),
/// credentials from the environment only (Lambda provides them; no profile, IMDS or container
/// probes), `AWS_ENDPOINT_URL` if set, standard retries, the [`http_client`], and timeouts that
/// fit the functions' 10 s limit. `endpoint` overrides `AWS_ENDPOINT_URL` (the offline runner's
/// `--aws-endpoint`).
///
/// Built directly rather than with aws-config's loader: the loader reads `~/.aws/config` and
/// `~/.aws/credentials` at every cold start and links the SSO/STS/IMDS credential chain into
/// every binary, none of which a Lambda uses.
pub async fn sdk_config(endpoint: Option<&str>) -> SdkConfig {
    let region = env_var("AWS_REGION")
        .or_else(|| env_var("AWS_DEFAULT_REGION"))
        .unwrap_or_else(|| "us-east-1".to_string());
    let endpoint = endpoint
        .map(str::to_string)
        .or_else(|| env_var("AWS_ENDPOINT_URL"));
    let mut builder = SdkConfig::builder()
        .behavior_version(BehaviorVersion::latest())
        .region(Region::new(region))
        .credentials_provider(SharedCredentialsProvider::new(
            aws_config::environment::EnvironmentVariableCredentialsProvider::new(),
        ))
        .retry_config(RetryConfig::standard())
        .timeout_config(
            TimeoutConfig::builder()
                .connect_timeout(Duration::from_secs(2))
                .operation_attempt_timeout(Duration::from_secs(3))
                .operation_timeout(Duration::from_secs(8))
                .build(),
        )
        .http_client(http_client());
    builder.set_endpoint_url(endpoint);
    builder.build()
}

/// A set, non-empty environment variable (an empty one counts as unset, as in aws-config).
fn env_var(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|v| !v.is_empty())
}

/// The one HTTP client of the SDK clients: hyper 1 + rustls with ring, trusting the Mozilla
/// root certificates compiled into the binary (webpki-root-certs), so a cold start does not read
/// the system's certificate files (hundreds of them on some images, ~2 ms here). With
/// `SSL_CERT_FILE` or `SSL_CERT_DIR` set it trusts the system's roots from there instead (e.g. an
/// HTTPS emulator with its own CA). Plain `http://` endpoints (moto) need no TLS at all.
pub fn http_client() -> SharedHttpClient {
    let system = env_var("SSL_CERT_FILE").is_some() || env_var("SSL_CERT_DIR").is_some();
    let trust = if system {
        tls::TrustStore::default()
    } else {
        tls::TrustStore::empty()
            .with_native_roots(false)
            .with_pem_certificate(compiled_in_roots_pem())
    };
    let builder = aws_smithy_http_client::Builder::new().tls_provider(tls::Provider::Rustls(
        tls::rustls_provider::CryptoMode::Ring,
    ));
    match tls::TlsContext::builder().with_trust_store(trust).build() {
        Ok(context) => builder.tls_context(context).build_https(),
        // Cannot fail today (the builder only stores what it is given); the SDK's default
        // context (system roots) is the safe fallback if it ever does.
        Err(_) => builder.build_https(),
    }
}

/// webpki-root-certs' DER certificates as one PEM bundle: the form the SDK's trust store takes.
fn compiled_in_roots_pem() -> Vec<u8> {
    use base64::Engine as _;
    let mut pem = Vec::with_capacity(webpki_root_certs::TLS_SERVER_ROOT_CERTS.len() * 2048);
    for cert in webpki_root_certs::TLS_SERVER_ROOT_CERTS {
        pem.extend_from_slice(b"-----BEGIN CERTIFICATE-----\n");
        let b64 = base64::engine::general_purpose::STANDARD.encode(cert.as_ref());
        for line in b64.as_bytes().chunks(64) {
            pem.extend_from_slice(line);
            pem.push(b'\n');
        }
        pem.extend_from_slice(b"-----END CERTIFICATE-----\n");
    }
    pem
}

pub fn dynamodb_client(sdk: &SdkConfig) -> aws_sdk_dynamodb::Client {
    aws_sdk_dynamodb::Client::new(sdk)
}

/// No SDK-level retry: a retried Publish after a timeout could deliver twice; the state machine
/// retries instead, through the email-log claim.
pub fn sns_client(sdk: &SdkConfig) -> aws_sdk_sns::Client {
    let config = aws_sdk_sns::config::Builder::from(sdk)
        .retry_config(RetryConfig::disabled())
        .build();
    aws_sdk_sns::Client::from_conf(config)
}

/// No SDK-level retry, for the same reason as [`sns_client`].
pub fn sesv2_client(sdk: &SdkConfig) -> aws_sdk_sesv2::Client {
    let config = aws_sdk_sesv2::config::Builder::from(sdk)
        .retry_config(RetryConfig::disabled())
        .build();
    aws_sdk_sesv2::Client::from_conf(config)
}

/// Any AWS failure that is not a business answer: throttling, 5xx, timeouts, dispatch failures,
/// and also misconfiguration (access denied, missing table), which Retry then redrive after the
/// fix should see rather than a terminal Fail.
fn aws_error<E, R>(what: &str, err: SdkError<E, R>) -> FunctionError
where
    E: std::error::Error + 'static,
    R: std::fmt::Debug,
{
    FunctionError::transient(format!("{what}: {}", DisplayErrorContext(&err)))
}

/// A refused request (service error) sent nothing; anything else may have been delivered.
fn send_error<E, R>(what: &str, err: SdkError<E, R>) -> SendError
where
    E: std::error::Error + 'static,
    R: std::fmt::Debug,
{
    let definite = matches!(
        err,
        SdkError::ServiceError(_) | SdkError::ConstructionFailure(_)
    );
    let error = aws_error(what, err);
    if definite {
        SendError::NotSent(error)
    } else {
        SendError::Unknown(error)
    }
}

fn s(value: &str) -> AttributeValue {
    AttributeValue::S(value.to_string())
}

/// Puts items as they are (fixtures into a real or emulated table).
pub async fn put_items(
    client: &aws_sdk_dynamodb::Client,
    table: &str,
    items: &[Item],
) -> Result<(), FunctionError> {
    for item in items {
        client
            .put_item()
            .table_name(table)
            .set_item(Some(item_to_sdk(item)?))
            .send()
            .await
            .map_err(|e| aws_error(&format!("DynamoDB PutItem {table}"), e))?;
    }
    Ok(())
}

/// The order table on DynamoDB.
#[derive(Debug, Clone)]
pub struct DynamoOrderTable {
    client: aws_sdk_dynamodb::Client,
    table: String,
}

impl DynamoOrderTable {
    pub fn new(client: aws_sdk_dynamodb::Client, table: impl Into<String>) -> Self {
        DynamoOrderTable {
            client,
            table: table.into(),
        }
    }

    fn key(order_id: &OrderId) -> HashMap<String, AttributeValue> {
        HashMap::from([("orderId".to_string(), s(order_id.as_str()))])
    }

    /// Runs a planned write; `Ok(false)` when its condition failed (the order changed since the
    /// plan was made). [`OrderTable::save_payment_header`] plans, applies and re-plans on `false`.
    pub async fn apply(
        &self,
        order_id: &OrderId,
        header: &PaymentHeader,
        plan: &SavePlan,
    ) -> Result<bool, FunctionError> {
        let update = self
            .client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(Self::key(order_id)))
            .expression_attribute_names("#data", "data");
        let update = match plan {
            SavePlan::Unchanged => return Ok(true),
            // Only data.payment is written; the condition re-checks, atomically, what the plan
            // was made from: the order exists, data is still a map and not paid.
            SavePlan::SetMapPayment => update
                .update_expression("SET #data.#payment = :header")
                .condition_expression(
                    "attribute_exists(orderId) AND attribute_type(#data, :map) AND \
                     (attribute_not_exists(#data.#payment.#isPaid) OR #data.#payment.#isPaid <> :true)",
                )
                .expression_attribute_names("#payment", "payment")
                .expression_attribute_names("#isPaid", "isPaid")
                .expression_attribute_values(":header", header.to_attr().to_sdk()?)
                .expression_attribute_values(":map", s("M"))
                .expression_attribute_values(":true", AttributeValue::Bool(true)),
            // Optimistic concurrency: the string is replaced only if nobody changed it since.
            SavePlan::ReplaceJson { old, new } => update
                .update_expression("SET #data = :new")
                .condition_expression("#data = :old")
                .expression_attribute_values(":new", s(new))
                .expression_attribute_values(":old", s(old)),
        };
        match update.send().await {
            Ok(_) => Ok(true),
            Err(e)
                if e.as_service_error()
                    .is_some_and(|e| e.is_conditional_check_failed_exception()) =>
            {
                Ok(false)
            }
            Err(e) => Err(aws_error(&format!("DynamoDB UpdateItem {}", self.table), e)),
        }
    }
}

#[async_trait]
impl OrderTable for DynamoOrderTable {
    async fn get(&self, order_id: &OrderId) -> Result<Option<StoredOrder>, FunctionError> {
        let out = self
            .client
            .get_item()
            .table_name(&self.table)
            .set_key(Some(Self::key(order_id)))
            .consistent_read(true)
            .send()
            .await
            .map_err(|e| aws_error(&format!("DynamoDB GetItem {}", self.table), e))?;
        match out.item {
            Some(item) => Ok(Some(StoredOrder::from_item(
                order_id,
                &item_from_sdk(&item)?,
            )?)),
            None => Ok(None),
        }
    }

    async fn save_payment_header(
        &self,
        order_id: &OrderId,
        header: &PaymentHeader,
    ) -> Result<SaveOutcome, FunctionError> {
        for _ in 0..SAVE_TRIES {
            let order = self
                .get(order_id)
                .await?
                .ok_or_else(|| FunctionError::OrderNotFound {
                    order_id: order_id.to_string(),
                })?;
            let plan = plan_save(&order, header)?;
            if plan == SavePlan::Unchanged {
                return Ok(SaveOutcome::Unchanged);
            }
            if self.apply(order_id, header, &plan).await? {
                return Ok(SaveOutcome::Saved);
            }
            tracing::warn!(table = %self.table, "order changed while saving the payment header; reading it again");
        }
        Err(FunctionError::transient(format!(
            "order {order_id} kept changing while saving the payment header ({SAVE_TRIES} tries)"
        )))
    }
}

/// The check-status table on DynamoDB.
#[derive(Debug, Clone)]
pub struct DynamoCheckStatusTable {
    client: aws_sdk_dynamodb::Client,
    table: String,
}

impl DynamoCheckStatusTable {
    pub fn new(client: aws_sdk_dynamodb::Client, table: impl Into<String>) -> Self {
        DynamoCheckStatusTable {
            client,
            table: table.into(),
        }
    }
}

#[async_trait]
impl CheckStatusTable for DynamoCheckStatusTable {
    async fn oldest(&self, order_id: &OrderId) -> Result<Option<CheckStatus>, FunctionError> {
        let out = self
            .client
            .query()
            .table_name(&self.table)
            .key_condition_expression("#orderId = :orderId")
            .expression_attribute_names("#orderId", "orderId")
            .expression_attribute_values(":orderId", s(order_id.as_str()))
            .scan_index_forward(true)
            .limit(1)
            .consistent_read(true)
            .send()
            .await
            .map_err(|e| aws_error(&format!("DynamoDB Query {}", self.table), e))?;
        match out.items.unwrap_or_default().first() {
            Some(item) => Ok(Some(CheckStatus::from_item(
                order_id,
                &item_from_sdk(item)?,
            )?)),
            None => Ok(None),
        }
    }
}

/// The process-unpaid-order table on DynamoDB.
#[derive(Debug, Clone)]
pub struct DynamoAttemptLog {
    client: aws_sdk_dynamodb::Client,
    table: String,
}

impl DynamoAttemptLog {
    pub fn new(client: aws_sdk_dynamodb::Client, table: impl Into<String>) -> Self {
        DynamoAttemptLog {
            client,
            table: table.into(),
        }
    }

    /// Puts the item unless its key exists; returns the existing item when it does.
    async fn put_if_absent(&self, item: &Item) -> Result<Option<Item>, FunctionError> {
        let what = || format!("DynamoDB PutItem {}", self.table);
        let result = self
            .client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(item_to_sdk(item)?))
            .condition_expression("attribute_not_exists(orderId)")
            .return_values_on_condition_check_failure(ReturnValuesOnConditionCheckFailure::AllOld)
            .send()
            .await;
        let err = match result {
            Ok(_) => return Ok(None),
            Err(err) => err,
        };
        let Some(service) = err
            .as_service_error()
            .filter(|e| e.is_conditional_check_failed_exception())
        else {
            return Err(aws_error(&what(), err));
        };
        if let aws_sdk_dynamodb::operation::put_item::PutItemError::ConditionalCheckFailedException(c) = service {
            if let Some(old) = c.item() {
                return Ok(Some(item_from_sdk(old)?));
            }
        }
        // The old item did not come back with the failure: read it.
        let key: HashMap<String, AttributeValue> = ["orderId", "created_at"]
            .iter()
            .filter_map(|k| Some((k.to_string(), item.get(*k)?.to_sdk().ok()?)))
            .collect();
        let out = self
            .client
            .get_item()
            .table_name(&self.table)
            .set_key(Some(key))
            .consistent_read(true)
            .send()
            .await
            .map_err(|e| aws_error(&format!("DynamoDB GetItem {}", self.table), e))?;
        Ok(Some(item_from_sdk(&out.item.unwrap_or_default())?))
    }
}

fn attempt_of(item: &Item) -> Option<&str> {
    item.get("attemptId").and_then(Attr::as_s)
}

#[async_trait]
impl AttemptLog for DynamoAttemptLog {
    async fn record(&self, attempt: &AttemptRecord) -> Result<LogOutcome, FunctionError> {
        let ours = attempt.attempt_id.as_str();
        match self
            .put_if_absent(&attempt.to_item(&attempt.timestamp))
            .await?
        {
            None => {
                return Ok(LogOutcome {
                    created_at: attempt.timestamp.clone(),
                    logged: true,
                })
            }
            Some(old) if attempt_of(&old) == Some(ours) => {
                return Ok(LogOutcome {
                    created_at: attempt.timestamp.clone(),
                    logged: false,
                })
            }
            Some(_) => {}
        }
        // Another attempt started at the same instant holds the plain timestamp.
        let created_at = attempt.disambiguated_created_at();
        let existing = self.put_if_absent(&attempt.to_item(&created_at)).await?;
        Ok(LogOutcome {
            created_at,
            logged: existing.is_none(),
        })
    }
}

/// The email-log table on DynamoDB (hash key `emailId`).
#[derive(Debug, Clone)]
pub struct DynamoEmailLog {
    client: aws_sdk_dynamodb::Client,
    table: String,
}

impl DynamoEmailLog {
    pub fn new(client: aws_sdk_dynamodb::Client, table: impl Into<String>) -> Self {
        DynamoEmailLog {
            client,
            table: table.into(),
        }
    }

    /// pending -> `to`, with extra attributes; a record no longer pending is left as it is.
    async fn finish(
        &self,
        claim: &Claim,
        to: &str,
        extra: &[(&str, &str)],
    ) -> Result<(), FunctionError> {
        let mut update = self
            .client
            .update_item()
            .table_name(&self.table)
            .key("emailId", s(&claim.email_id()))
            .condition_expression("#status = :pending")
            .expression_attribute_names("#status", "status")
            .expression_attribute_values(":pending", s(status::PENDING))
            .expression_attribute_values(":to", s(to));
        let mut set = vec!["#status = :to".to_string()];
        for (i, (name, value)) in extra.iter().enumerate() {
            set.push(format!("#a{i} = :a{i}"));
            update = update
                .expression_attribute_names(format!("#a{i}"), *name)
                .expression_attribute_values(format!(":a{i}"), s(value));
        }
        match update
            .update_expression(format!("SET {}", set.join(", ")))
            .send()
            .await
        {
            Ok(_) => Ok(()),
            Err(e)
                if e.as_service_error()
                    .is_some_and(|e| e.is_conditional_check_failed_exception()) =>
            {
                tracing::warn!(emailId = %claim.email_id(), to, "email-log record was no longer pending");
                Ok(())
            }
            Err(e) => Err(aws_error(&format!("DynamoDB UpdateItem {}", self.table), e)),
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
            ("claimedAt".to_string(), s(&claim.claimed_at)),
        ]);
        let result = self
            .client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(item))
            .condition_expression("attribute_not_exists(emailId) OR #status = :failed")
            .expression_attribute_names("#status", "status")
            .expression_attribute_values(":failed", s(status::FAILED))
            .return_values_on_condition_check_failure(ReturnValuesOnConditionCheckFailure::AllOld)
            .send()
            .await;
        match result {
            Ok(_) => Ok(ClaimOutcome::Claimed),
            Err(e) => match e.as_service_error() {
                Some(aws_sdk_dynamodb::operation::put_item::PutItemError::ConditionalCheckFailedException(c)) => {
                    let status = c
                        .item()
                        .and_then(|old| old.get("status"))
                        .and_then(|v| v.as_s().ok())
                        .cloned()
                        .unwrap_or_else(|| "unknown".to_string());
                    Ok(ClaimOutcome::AlreadyClaimed { status })
                }
                _ => Err(aws_error(&format!("DynamoDB PutItem {}", self.table), e)),
            },
        }
    }

    async fn mark_sent(
        &self,
        claim: &Claim,
        message_id: &str,
        sent_at: &str,
    ) -> Result<(), FunctionError> {
        self.finish(
            claim,
            status::SENT,
            &[("messageId", message_id), ("sentAt", sent_at)],
        )
        .await
    }

    async fn mark_failed(&self, claim: &Claim, reason: &str) -> Result<(), FunctionError> {
        self.finish(claim, status::FAILED, &[("failure", reason)])
            .await
    }
}

/// The failure topic on SNS.
#[derive(Debug, Clone)]
pub struct SnsNotifier {
    client: aws_sdk_sns::Client,
    topic_arn: String,
}

impl SnsNotifier {
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
            .send()
            .await
            .map_err(|e| send_error("SNS Publish", e))?;
        Ok(out.message_id.unwrap_or_default())
    }
}

/// The customer email on SESv2 (Simple content: subject, text and HTML parts, UTF-8).
#[derive(Debug, Clone)]
pub struct SesMailer {
    client: aws_sdk_sesv2::Client,
    sender: String,
}

impl SesMailer {
    pub fn new(client: aws_sdk_sesv2::Client, sender: impl Into<String>) -> Self {
        SesMailer {
            client,
            sender: sender.into(),
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
        use aws_sdk_sesv2::types::{Body, Destination, EmailContent, Message};
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
            .send()
            .await
            .map_err(|e| send_error("SESv2 SendEmail", e))?;
        Ok(out.message_id.unwrap_or_default())
    }
}

/// Every adapter, built once from an SDK configuration and the table/topic/sender settings
/// (all of [`Setting::ALL`] must be in `config`).
#[derive(Debug, Clone)]
pub struct AwsPorts {
    pub orders: DynamoOrderTable,
    pub check_status: DynamoCheckStatusTable,
    pub attempts: DynamoAttemptLog,
    pub email_log: DynamoEmailLog,
    pub notifier: SnsNotifier,
    pub mailer: SesMailer,
}

impl AwsPorts {
    pub fn new(sdk: &SdkConfig, config: &Config) -> Result<AwsPorts, ConfigError> {
        let dynamodb = dynamodb_client(sdk);
        Ok(AwsPorts {
            orders: DynamoOrderTable::new(dynamodb.clone(), config.get(Setting::OrderTable)?),
            check_status: DynamoCheckStatusTable::new(
                dynamodb.clone(),
                config.get(Setting::CheckStatusTable)?,
            ),
            attempts: DynamoAttemptLog::new(
                dynamodb.clone(),
                config.get(Setting::ProcessUnpaidOrderTable)?,
            ),
            email_log: DynamoEmailLog::new(dynamodb, config.get(Setting::EmailLogTable)?),
            notifier: SnsNotifier::new(sns_client(sdk), config.get(Setting::FailureTopicArn)?),
            mailer: SesMailer::new(sesv2_client(sdk), config.get(Setting::SenderEmail)?),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use base64::Engine as _;

    /// The trust store gets back exactly the DER certificates webpki-root-certs ships.
    #[test]
    fn compiled_in_roots_round_trip_through_pem() {
        let pem = String::from_utf8(compiled_in_roots_pem()).expect("PEM is ASCII");
        let decoded: Vec<Vec<u8>> = pem
            .split("-----END CERTIFICATE-----\n")
            .filter(|block| !block.is_empty())
            .map(|block| {
                let body = block
                    .strip_prefix("-----BEGIN CERTIFICATE-----\n")
                    .expect("each block starts with BEGIN");
                assert!(body.lines().all(|line| line.len() <= 64));
                base64::engine::general_purpose::STANDARD
                    .decode(body.replace('\n', ""))
                    .expect("valid base64")
            })
            .collect();
        let shipped: Vec<&[u8]> = webpki_root_certs::TLS_SERVER_ROOT_CERTS
            .iter()
            .map(|c| c.as_ref())
            .collect();
        assert!(shipped.len() > 100);
        assert_eq!(decoded, shipped);
    }
}
