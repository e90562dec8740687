//! What the console reads and acts through: the Step Functions API, DynamoDB (the order index,
//! email log and attempt table of the stack), and which stack that is (resolved once).

use tokio::sync::OnceCell;

use crate::calls::CallLog;
use crate::dynamo::{DynamoError, Records};
use crate::sfn::{is_loopback, Machine, Sfn, SfnError};
use crate::stack::{Stack, StackOptions};

/// A failed read or action: Step Functions' or DynamoDB's.
#[derive(Debug, thiserror::Error)]
pub enum ConsoleError {
    /// The Step Functions API refused.
    #[error(transparent)]
    Sfn(#[from] SfnError),
    /// DynamoDB refused.
    #[error(transparent)]
    Dynamo(#[from] DynamoError),
}

/// Where the console's AWS calls go.
#[derive(Debug, Clone, Default)]
pub struct Endpoints {
    /// Step Functions (`--endpoint-url`): `sfn-local serve`, or AWS's when `None`.
    pub sfn: Option<String>,
    /// DynamoDB (`--dynamodb-endpoint-url`); `None`: the Step Functions endpoint when that is a
    /// loopback `sfn-local serve` (which answers DynamoDB too), else AWS's.
    pub dynamodb: Option<String>,
}

impl Endpoints {
    /// The DynamoDB endpoint the console uses.
    pub fn dynamodb(&self) -> Option<&str> {
        self.dynamodb
            .as_deref()
            .or(self.sfn.as_deref().filter(|e| is_loopback(e)))
    }
}

/// The console's own retry quota. The SDK's default (500 tokens, 5 per throttled retry, given back
/// only as calls succeed) runs dry during a scan past DescribeExecution's burst: measured against
/// `serve --aws-quotas`, 2,000 descriptions failed with "not enough retry quota" after 746
/// throttles. Refilled at 100 tokens a second, it carries a throttled scan through at AWS's
/// refill rate, and still bounds a retry storm against a failing service (7 retries a second at
/// the cost of an error).
fn retry_partition() -> aws_smithy_runtime::client::retries::RetryPartition {
    use aws_smithy_runtime::client::retries::{RetryPartition, TokenBucket};
    RetryPartition::custom("sfn-console")
        .token_bucket(
            TokenBucket::builder()
                .capacity(500)
                .refill_rate(100.0)
                .build(),
        )
        .build()
}

/// The console's clients and its stack.
pub struct Backend {
    /// The Step Functions API.
    pub sfn: Sfn,
    /// A scan (no order index) describes at most this many of each machine's newest executions.
    pub scan_limit: usize,
    dynamodb: aws_sdk_dynamodb::Client,
    options: StackOptions,
    stack: OnceCell<Stack>,
}

impl Backend {
    /// Clients over one SDK configuration (region, credentials), each at its endpoint, each
    /// recording its calls when the call log is on.
    pub fn new(sdk: &aws_config::SdkConfig, endpoints: &Endpoints, options: StackOptions) -> Self {
        let log = CallLog::from_env();
        let mut sfn = aws_sdk_sfn::config::Builder::from(sdk).retry_partition(retry_partition());
        let mut dynamodb = aws_sdk_dynamodb::config::Builder::from(sdk);
        if let Some(log) = log {
            sfn = sfn.interceptor(log.clone());
            dynamodb = dynamodb.interceptor(log);
        }
        if let Some(e) = &endpoints.sfn {
            sfn = sfn.endpoint_url(e);
        }
        if let Some(e) = endpoints.dynamodb() {
            dynamodb = dynamodb.endpoint_url(e);
        }
        Backend {
            sfn: Sfn::new(aws_sdk_sfn::Client::from_conf(sfn.build())),
            scan_limit: crate::find::MAX_DESCRIBED,
            dynamodb: aws_sdk_dynamodb::Client::from_conf(dynamodb.build()),
            options,
            stack: OnceCell::new(),
        }
    }

    /// The stack: `--branch` and the table flags, or the Branch of the one stack whose machines
    /// are listed (asked once; a failed listing is asked again next time).
    pub async fn stack(&self) -> Result<&Stack, SfnError> {
        self.stack
            .get_or_try_init(|| async {
                let needs_machines = self.options.branch.is_none();
                let machines = if needs_machines {
                    self.sfn.machines().await?
                } else {
                    Vec::new()
                };
                Ok(self.options.resolve(&machines))
            })
            .await
    }

    /// The machines the console shows and acts on (the stack's, or every one).
    pub async fn machines(&self) -> Result<Vec<Machine>, SfnError> {
        let all = self.sfn.machines().await?;
        Ok(self.stack().await?.scope(all))
    }

    /// The DynamoDB reads over the stack's tables.
    pub async fn records(&self) -> Result<Records, SfnError> {
        let tables = self.stack().await?.tables.clone();
        Ok(Records::new(self.dynamodb.clone(), tables))
    }
}
