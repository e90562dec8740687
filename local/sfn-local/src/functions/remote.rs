//! `--lambda-endpoint`: the functions invoked through any Lambda Invoke API (`cargo lambda watch`,
//! AWS), their errors mapped as Step Functions sees them.

use std::collections::BTreeMap;

use async_trait::async_trait;
use serde_json::Value;

use super::{Functions, InvokeError};

/// Any Lambda Invoke API (`cargo lambda watch`, AWS): the function's name is its binary name
/// unless `names` maps it.
pub struct RemoteFunctions {
    client: aws_sdk_lambda::Client,
    names: BTreeMap<String, String>,
}

impl RemoteFunctions {
    /// Invokes through `client`; `names` maps a binary to its Lambda function name.
    pub fn new(client: aws_sdk_lambda::Client, names: BTreeMap<String, String>) -> Self {
        RemoteFunctions { client, names }
    }
}

#[async_trait]
impl Functions for RemoteFunctions {
    async fn invoke(&self, binary: &str, payload: Value) -> Result<Value, InvokeError> {
        let name = self.names.get(binary).map(String::as_str).unwrap_or(binary);
        let out = self
            .client
            .invoke()
            .function_name(name)
            .payload(aws_smithy_types::Blob::new(
                payload.to_string().into_bytes(),
            ))
            .send()
            .await
            .map_err(|e| {
                use aws_sdk_lambda::error::ProvideErrorMetadata;
                let code = e.code().unwrap_or("ServiceException").to_string();
                let error = if code.ends_with("Exception") {
                    format!("Lambda.{code}")
                } else {
                    "Lambda.SdkClientException".to_string()
                };
                InvokeError::Service {
                    error,
                    cause: aws_sdk_lambda::error::DisplayErrorContext(&e).to_string(),
                }
            })?;
        let body = out
            .payload()
            .map(|b| b.as_ref().to_vec())
            .unwrap_or_default();
        let value: Value = if body.is_empty() {
            Value::Null
        } else {
            serde_json::from_slice(&body).map_err(|e| InvokeError::Service {
                error: "Lambda.SdkClientException".into(),
                cause: format!("the function's response is not JSON: {e}"),
            })?
        };
        if out.function_error().is_some() {
            return Err(InvokeError::Function {
                error_type: value["errorType"]
                    .as_str()
                    .unwrap_or("Unhandled")
                    .to_string(),
                error_message: value["errorMessage"]
                    .as_str()
                    .unwrap_or_default()
                    .to_string(),
            });
        }
        Ok(value)
    }
}
