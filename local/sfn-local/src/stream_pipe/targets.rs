//! Where a batch goes: the batch machine through StartExecution (a name already used means already
//! started), and the dead-letter queue.

use async_trait::async_trait;

/// How a batch was handed over.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Handed {
    /// StartExecution succeeded.
    Started,
    /// An execution of that name exists: this batch was handed over before (a restart).
    AlreadyStarted,
}

/// The Pipe's target: StartExecution of the batch machine (FIRE_AND_FORGET).
#[async_trait]
pub trait BatchTarget: Send + Sync {
    /// `Err((errorCode, message))` when the call failed.
    async fn start(&self, name: &str, input: &str) -> Result<Handed, (String, String)>;
}

/// The Pipe's dead-letter queue.
#[async_trait]
pub trait DeadLetters: Send + Sync {
    /// Sends one DLQ message; `Err(message)` when it could not.
    async fn send(&self, body: String) -> Result<(), String>;
}

/// StartExecution through a Step Functions API (`sfn-local serve`, or AWS).
pub struct SfnTarget {
    /// The Step Functions client.
    pub client: aws_sdk_sfn::Client,
    /// The batch machine's ARN.
    pub state_machine_arn: String,
}

#[async_trait]
impl BatchTarget for SfnTarget {
    async fn start(&self, name: &str, input: &str) -> Result<Handed, (String, String)> {
        match self
            .client
            .start_execution()
            .state_machine_arn(&self.state_machine_arn)
            .name(name)
            .input(input)
            .send()
            .await
        {
            Ok(_) => Ok(Handed::Started),
            Err(e)
                if e.as_service_error()
                    .is_some_and(|s| s.is_execution_already_exists()) =>
            {
                Ok(Handed::AlreadyStarted)
            }
            Err(e) => Err((
                aws_sdk_sfn::error::ProvideErrorMetadata::code(&e)
                    .unwrap_or("ServiceUnavailable")
                    .to_string(),
                aws_sdk_sfn::error::DisplayErrorContext(&e).to_string(),
            )),
        }
    }
}

/// SendMessage to an SQS queue.
pub struct SqsDeadLetters {
    /// The SQS client.
    pub client: aws_sdk_sqs::Client,
    /// The DLQ's queue URL.
    pub queue_url: String,
}

#[async_trait]
impl DeadLetters for SqsDeadLetters {
    async fn send(&self, body: String) -> Result<(), String> {
        self.client
            .send_message()
            .queue_url(&self.queue_url)
            .message_body(body)
            .send()
            .await
            .map(|_| ())
            .map_err(|e| aws_sdk_sqs::error::DisplayErrorContext(&e).to_string())
    }
}
