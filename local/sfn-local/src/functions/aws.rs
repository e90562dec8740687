//! The handlers over the real AWS adapters (`--aws-endpoint`: moto, or AWS), each binary with the
//! clients its Lambda would have.

use std::collections::BTreeMap;

use async_trait::async_trait;
use serde_json::Value;

use crate::project::handlers::{call_handler, Ports};

use super::{function_error, Functions, InvokeError};

/// The handlers over the real AWS adapters (moto or AWS), each binary with its own clients.
pub struct AwsFunctions {
    ports: BTreeMap<String, Ports>,
}

impl AwsFunctions {
    /// The handlers over each binary's own AWS ports.
    pub fn new(ports: BTreeMap<String, Ports>) -> Self {
        AwsFunctions { ports }
    }
}

#[async_trait]
impl Functions for AwsFunctions {
    async fn invoke(&self, binary: &str, payload: Value) -> Result<Value, InvokeError> {
        let Some(ports) = self.ports.get(binary) else {
            return Err(InvokeError::Service {
                error: "Lambda.ResourceNotFoundException".into(),
                cause: format!("Function not found: {binary}"),
            });
        };
        call_handler(binary, payload, ports)
            .await
            .map_err(|e| match e {
                crate::project::handlers::HandlerError::Function(e) => function_error(e),
                crate::project::handlers::HandlerError::Unknown(name) => InvokeError::Service {
                    error: "Lambda.ResourceNotFoundException".into(),
                    cause: format!("Function not found: {name}"),
                },
            })
    }
}
