//! The ports' AWS adapters, one module per port (DynamoDB tables, the SNS topic, SESv2), and the
//! SDK set-up the Lambdas share: one HTTP client, timeouts bounded by the invocation's deadline.

mod attempt_log;
mod check_status;
mod email_evidence;
mod email_log;
mod errors;
mod executions;
mod order_index;
mod order_table;
mod ses;
mod sns;

use std::time::Duration;

use aws_config::retry::RetryConfig;
use aws_config::timeout::TimeoutConfig;
use aws_config::{BehaviorVersion, Region, SdkConfig};
use aws_sdk_dynamodb::config::{SharedCredentialsProvider, SharedHttpClient};
use aws_sdk_dynamodb::types::AttributeValue;
use aws_smithy_http_client::tls;

pub use attempt_log::DynamoAttemptLog;
pub use check_status::DynamoCheckStatusTable;
pub use email_log::DynamoEmailLog;
pub use errors::{redacted, AwsErrorClass};
pub use executions::SfnExecutionInputs;
pub use order_index::DynamoOrderIndex;
pub use order_table::DynamoOrderTable;
pub use ses::SesMailer;
pub use sns::SnsNotifier;

use crate::attr::{item_to_sdk, Item};
use crate::config::{Config, ConfigError, Setting};
use crate::FunctionError;

/// The SDK's own limits per call, when the invocation's deadline leaves more than that.
const ATTEMPT_TIMEOUT: Duration = Duration::from_secs(3);
const OPERATION_TIMEOUT: Duration = Duration::from_secs(8);
/// Kept back from every call's budget so the function can still answer (with a typed error)
/// before Lambda cuts it off.
const ANSWER_MARGIN: Duration = Duration::from_millis(300);
/// Kept back from a send's budget: the time to record its outcome in the email log.
pub(crate) const RECORD_RESERVE: Duration = Duration::from_millis(1500);

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
                .operation_attempt_timeout(ATTEMPT_TIMEOUT)
                .operation_timeout(OPERATION_TIMEOUT)
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

/// The DynamoDB client at the configuration's endpoint.
pub fn dynamodb_client(sdk: &SdkConfig) -> aws_sdk_dynamodb::Client {
    dynamodb_client_at(sdk, None)
}

/// The DynamoDB client, at `endpoint` instead of the configuration's when given.
pub fn dynamodb_client_at(sdk: &SdkConfig, endpoint: Option<&str>) -> aws_sdk_dynamodb::Client {
    let mut config = aws_sdk_dynamodb::config::Builder::from(sdk);
    if let Some(url) = endpoint {
        config = config.endpoint_url(url);
    }
    aws_sdk_dynamodb::Client::from_conf(config.build())
}

/// No SDK-level retry: a retried Publish after a lost reply could deliver twice; the email log
/// decides what may be sent again (see [`crate::ports::EmailLog`]).
pub fn sns_client(sdk: &SdkConfig) -> aws_sdk_sns::Client {
    sns_client_at(sdk, None)
}

/// The SNS client, at `endpoint` instead of the configuration's when given; no SDK-level retry.
pub fn sns_client_at(sdk: &SdkConfig, endpoint: Option<&str>) -> aws_sdk_sns::Client {
    let mut config = aws_sdk_sns::config::Builder::from(sdk).retry_config(RetryConfig::disabled());
    if let Some(url) = endpoint {
        config = config.endpoint_url(url);
    }
    aws_sdk_sns::Client::from_conf(config.build())
}

/// No SDK-level retry, for the same reason as [`sns_client`].
pub fn sesv2_client(sdk: &SdkConfig) -> aws_sdk_sesv2::Client {
    sesv2_client_at(sdk, None)
}

/// The SESv2 client, at `endpoint` instead of the configuration's when given; no SDK-level retry.
pub fn sesv2_client_at(sdk: &SdkConfig, endpoint: Option<&str>) -> aws_sdk_sesv2::Client {
    let mut config =
        aws_sdk_sesv2::config::Builder::from(sdk).retry_config(RetryConfig::disabled());
    if let Some(url) = endpoint {
        config = config.endpoint_url(url);
    }
    aws_sdk_sesv2::Client::from_conf(config.build())
}

/// The Step Functions client of the recorder (DescribeExecution), with the SDK's standard retry.
pub fn sfn_client(sdk: &SdkConfig) -> aws_sdk_sfn::Client {
    aws_sdk_sfn::Client::from_conf(aws_sdk_sfn::config::Builder::from(sdk).build())
}

/// Per-service endpoints over the configuration's (tests put a fault proxy per service).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ServiceEndpoints {
    /// DynamoDB's endpoint URL.
    pub dynamodb: Option<String>,
    /// SNS's endpoint URL.
    pub sns: Option<String>,
    /// SESv2's endpoint URL.
    pub ses: Option<String>,
}

/// The configuration with `app/<name>` in the SDK's user agent (each function's binary name:
/// it tells the calls of one function from another's in recorded traffic).
pub fn with_app_name(sdk: &SdkConfig, name: &str) -> SdkConfig {
    match aws_config::AppName::new(name.to_string()) {
        Ok(app) => sdk.to_builder().app_name(app).build(),
        Err(_) => sdk.clone(),
    }
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
            .map_err(|e| errors::aws_error(&format!("DynamoDB PutItem {table}"), e))?;
    }
    Ok(())
}

/// The timeouts one call may use: the SDK's own, cut down to what the invocation's deadline
/// leaves after `reserve` (time kept for what must follow the call, e.g. recording a send).
/// `None` when no deadline is set (the defaults apply).
/// `base` is the client's own configuration (its limits stay the upper bound).
pub fn call_timeouts(base: Option<&TimeoutConfig>, reserve: Duration) -> Option<TimeoutConfig> {
    let left = crate::deadline::remaining()?
        .saturating_sub(reserve)
        .saturating_sub(ANSWER_MARGIN)
        .max(Duration::from_millis(1));
    let operation_limit = base
        .and_then(TimeoutConfig::operation_timeout)
        .unwrap_or(OPERATION_TIMEOUT);
    let attempt_limit = base
        .and_then(TimeoutConfig::operation_attempt_timeout)
        .unwrap_or(ATTEMPT_TIMEOUT);
    let operation = left.min(operation_limit);
    Some(
        TimeoutConfig::builder()
            .operation_timeout(operation)
            .operation_attempt_timeout(operation.min(attempt_limit))
            .build(),
    )
}

/// The timeouts of a send (SNS Publish, SES SendEmail: one attempt, no SDK retry): everything
/// the invocation's deadline leaves after `reserve` (the time to record its outcome), not the
/// SDK's per-attempt limit. A provider slower than that limit but within the deadline delivered
/// the message and says so; cutting it off would turn a slow answer into an unknown outcome.
/// `None` when no deadline is set (the client's own timeouts apply).
pub fn send_timeouts(reserve: Duration) -> Option<TimeoutConfig> {
    let left = crate::deadline::remaining()?
        .saturating_sub(reserve)
        .saturating_sub(ANSWER_MARGIN)
        .max(Duration::from_millis(1));
    Some(
        TimeoutConfig::builder()
            .operation_timeout(left)
            .operation_attempt_timeout(left)
            .build(),
    )
}

/// A per-call override of the DynamoDB client's timeouts (see [`call_timeouts`]).
fn dynamodb_budget(client: &aws_sdk_dynamodb::Client) -> aws_sdk_dynamodb::config::Builder {
    let mut b = aws_sdk_dynamodb::config::Builder::default();
    b.set_timeout_config(call_timeouts(
        client.config().timeout_config(),
        Duration::ZERO,
    ));
    b
}

fn s(value: &str) -> AttributeValue {
    AttributeValue::S(value.to_string())
}

/// Every adapter, built once from an SDK configuration and the table/topic/sender settings
/// (all of [`Setting::ALL`] must be in `config`).
#[derive(Debug, Clone)]
pub struct AwsPorts {
    /// The order table.
    pub orders: DynamoOrderTable,
    /// The check-status table.
    pub check_status: DynamoCheckStatusTable,
    /// The process-unpaid-order table (one record per attempt).
    pub attempts: DynamoAttemptLog,
    /// The email-log table (one slot per order, attempt and channel).
    pub email_log: DynamoEmailLog,
    /// The failure topic.
    pub notifier: SnsNotifier,
    /// The customer email sender.
    pub mailer: SesMailer,
    /// The order index (the recorder's).
    pub order_index: DynamoOrderIndex,
}

impl AwsPorts {
    /// Every adapter at the configuration's endpoints.
    pub fn new(sdk: &SdkConfig, config: &Config) -> Result<AwsPorts, ConfigError> {
        AwsPorts::with_endpoints(sdk, config, &ServiceEndpoints::default())
    }

    /// Every adapter, each service at its endpoint in `endpoints` when given (a fault proxy in tests).
    pub fn with_endpoints(
        sdk: &SdkConfig,
        config: &Config,
        endpoints: &ServiceEndpoints,
    ) -> Result<AwsPorts, ConfigError> {
        let dynamodb = dynamodb_client_at(sdk, endpoints.dynamodb.as_deref());
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
            email_log: DynamoEmailLog::new(dynamodb.clone(), config.get(Setting::EmailLogTable)?),
            order_index: DynamoOrderIndex::new(dynamodb, config.get(Setting::OrderIndexTable)?),
            notifier: SnsNotifier::new(
                sns_client_at(sdk, endpoints.sns.as_deref()),
                config.get(Setting::FailureTopicArn)?,
            ),
            mailer: SesMailer::new(
                sesv2_client_at(sdk, endpoints.ses.as_deref()),
                config.get(Setting::SenderEmail)?,
                config.get(Setting::SesConfigurationSet)?,
            ),
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
