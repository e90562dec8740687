//! The HTTP side: one POST with `X-Amz-Target` to one operation (body size limit, JSON), the
//! AWS-style response, the accept loop, and the loopback-only rule.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;

use http_body_util::{BodyExt, Full, Limited};
use hyper::body::{Bytes, Incoming};
use hyper::{Request, Response, StatusCode};
use serde_json::{json, Value};

use crate::error::RunnerError;

use super::{Api, ApiError, MAX_REQUEST_BYTES};

impl Api {
    /// One HTTP request → one HTTP response (never an HTTP-level failure).
    pub async fn handle(&self, request: Request<Incoming>) -> Response<Full<Bytes>> {
        let request_id = uuid::Uuid::new_v4().to_string();
        let result = self.handle_inner(request).await;
        let (status, text) = match result {
            Ok(v) => (StatusCode::OK, self.to_api_text(&v)),
            Err(e) => {
                tracing::info!(error = e.kind, message = %e.message, "API request refused");
                (
                    e.status,
                    self.to_api_text(&json!({"__type": e.kind, "message": e.message})),
                )
            }
        };
        let mut response = Response::new(Full::new(Bytes::from(text)));
        *response.status_mut() = status;
        let headers = response.headers_mut();
        headers.insert(
            hyper::header::CONTENT_TYPE,
            hyper::header::HeaderValue::from_static("application/x-amz-json-1.0"),
        );
        if let Ok(v) = hyper::header::HeaderValue::from_str(&request_id) {
            headers.insert("x-amzn-RequestId", v);
        }
        response
    }

    async fn handle_inner(&self, request: Request<Incoming>) -> Result<Value, ApiError> {
        if request.method() != hyper::Method::POST {
            return Err(ApiError::new(
                "UnknownOperationException",
                "the Step Functions API takes POST / with an X-Amz-Target header",
            ));
        }
        let too_big = || {
            ApiError::validation(format!(
                "the request body is over the API's {MAX_REQUEST_BYTES}-byte limit"
            ))
        };
        if let Some(len) = request
            .headers()
            .get(hyper::header::CONTENT_LENGTH)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse::<u64>().ok())
        {
            if len > MAX_REQUEST_BYTES as u64 {
                return Err(too_big());
            }
        }
        let target = request
            .headers()
            .get("x-amz-target")
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .to_string();
        // AWS throttles at the front door: a throttled call is refused whatever its body.
        if let (Some(q), Some(op)) = (&self.quotas, target.strip_prefix("AWSStepFunctions.")) {
            q.take(op)?;
        }
        let bytes = Limited::new(request.into_body(), MAX_REQUEST_BYTES)
            .collect()
            .await
            .map_err(|_| too_big())?
            .to_bytes();
        let body: Value = if bytes.is_empty() {
            json!({})
        } else {
            serde_json::from_slice(&bytes).map_err(|e| {
                ApiError::new(
                    "SerializationException",
                    format!("the request body is not JSON: {e}"),
                )
            })?
        };
        if let Some(op) = target.strip_prefix("AWSStepFunctions.") {
            let op = op.to_string();
            tracing::debug!(operation = %op, "API request");
            self.call(&op, &body).await
        } else if let Some(op) = target.strip_prefix("DynamoDB_20120810.") {
            self.dynamodb(op, &body).await
        } else if target == "SfnLocal.SetFaults" {
            self.set_faults(&body)
        } else if target == "SfnLocal.Quotas" {
            Ok(self.quota_report())
        } else {
            Err(ApiError::new(
                "UnknownOperationException",
                format!("unknown X-Amz-Target '{target}' (expected AWSStepFunctions.<Operation>)"),
            ))
        }
    }
}

/// Serves `api` on `listener` until `shutdown` resolves.
pub async fn serve(
    listener: tokio::net::TcpListener,
    api: Arc<Api>,
    shutdown: impl std::future::Future<Output = ()>,
) -> Result<(), RunnerError> {
    tokio::pin!(shutdown);
    loop {
        let (stream, peer): (tokio::net::TcpStream, SocketAddr) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(a) => a,
                Err(e) => {
                    // A transient accept error (e.g. out of descriptors) must not end the server.
                    tracing::warn!(error = %e, "accept failed");
                    continue;
                }
            },
            () = &mut shutdown => return Ok(()),
        };
        let api = api.clone();
        tokio::spawn(async move {
            let service = hyper::service::service_fn(move |req| {
                let api = api.clone();
                async move { Ok::<_, Infallible>(api.handle(req).await) }
            });
            if let Err(e) = hyper::server::conn::http1::Builder::new()
                .serve_connection(hyper_util::rt::TokioIo::new(stream), service)
                .await
            {
                tracing::debug!(peer = %peer, error = %e, "connection ended with an error");
            }
        });
    }
}

/// Whether the server may listen on `host` (loopback only unless `allow_remote`).
pub fn check_host(host: &str, allow_remote: bool) -> Result<(), RunnerError> {
    let loopback = host == "localhost"
        || host
            .parse::<std::net::IpAddr>()
            .map(|ip| ip.is_loopback())
            .unwrap_or(false);
    if loopback || allow_remote {
        Ok(())
    } else {
        Err(RunnerError::argument(
            "--host",
            format!("{host} is not a loopback address: the API has no authentication; pass --allow-remote to listen there anyway"),
        ))
    }
}
