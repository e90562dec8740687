//! DescribeExecution for the recorder: the input of an execution whose status-change event left
//! it out (EventBridge drops inputs over 248 KB).

use async_trait::async_trait;
use aws_sdk_sfn::operation::describe_execution::DescribeExecutionError;

use super::errors::aws_error;
use crate::ports::ExecutionInputs;
use crate::FunctionError;

/// Step Functions' DescribeExecution.
#[derive(Debug, Clone)]
pub struct SfnExecutionInputs {
    client: aws_sdk_sfn::Client,
}

impl SfnExecutionInputs {
    /// Over this client.
    pub fn new(client: aws_sdk_sfn::Client) -> Self {
        SfnExecutionInputs { client }
    }
}

#[async_trait]
impl ExecutionInputs for SfnExecutionInputs {
    async fn input_of(&self, execution_arn: &str) -> Result<Option<String>, FunctionError> {
        match self
            .client
            .describe_execution()
            .execution_arn(execution_arn)
            .send()
            .await
        {
            Ok(out) => Ok(out.input),
            Err(err) => match err.as_service_error() {
                Some(DescribeExecutionError::ExecutionDoesNotExist(_)) => Ok(None),
                _ => Err(aws_error("Step Functions DescribeExecution", err)),
            },
        }
    }
}
