//! The four wire protocols the functions use, as far as the proxy needs them: which operation
//! and resource a request is, which function sent it, and each service's error answers.

use bytes::Bytes;
use http_body_util::Full;
use hyper::http::request::Parts;
use hyper::Response;

use crate::Fault;

/// The services the functions call.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Service {
    /// awsJson1.0: `X-Amz-Target: DynamoDB_20120810.<Operation>`.
    DynamoDb,
    /// awsQuery: form body `Action=<Operation>`.
    Sns,
    /// restJson1: `POST /v2/email/outbound-emails` is SendEmail.
    SesV2,
    /// awsJson1.0: `X-Amz-Target: AWSStepFunctions.<Operation>` (record-event's DescribeExecution).
    StepFunctions,
}

impl Service {
    /// The service's name in the AWS call log (`dynamodb`, `sns`, `ses`).
    pub fn name(self) -> &'static str {
        match self {
            Service::DynamoDb => "dynamodb",
            Service::Sns => "sns",
            Service::SesV2 => "ses",
            Service::StepFunctions => "states",
        }
    }

    /// The IAM action prefix.
    pub fn iam_prefix(self) -> &'static str {
        match self {
            Service::DynamoDb => "dynamodb",
            Service::Sns => "sns",
            Service::SesV2 => "ses",
            Service::StepFunctions => "states",
        }
    }
}

/// One request as the proxy saw it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Call {
    /// From the SDK's user agent `app/<name>` (the function's binary name), or `unknown`.
    pub function: String,
    /// Which service the request went to.
    pub service: Service,
    /// e.g. `PutItem`, `Publish`, `SendEmail`.
    pub operation: String,
    /// Table name, topic ARN, SES identity (the From address), or execution ARN.
    pub resource: String,
    /// More resources IAM authorises the call on: `configuration-set/<name>` for a SendEmail
    /// that names one.
    pub also_on: Vec<String>,
}

impl Call {
    /// A connection reset before any request was read.
    pub(crate) fn connection(service: Service) -> Call {
        Call {
            function: "unknown".into(),
            service,
            operation: "(connection)".into(),
            resource: String::new(),
            also_on: Vec::new(),
        }
    }
}

fn app_name(parts: &Parts) -> String {
    ["x-amz-user-agent", "user-agent"]
        .iter()
        .filter_map(|h| parts.headers.get(*h)?.to_str().ok())
        .flat_map(|ua| ua.split(' '))
        .find_map(|token| token.strip_prefix("app/"))
        .unwrap_or("unknown")
        .to_string()
}

fn form_value(body: &str, key: &str) -> Option<String> {
    body.split('&').find_map(|pair| {
        let (k, v) = pair.split_once('=')?;
        (k == key).then(|| percent_decode(v))
    })
}

fn percent_decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => out.push(b' '),
            b'%' if i + 2 < bytes.len() => {
                match u8::from_str_radix(
                    std::str::from_utf8(&bytes[i + 1..i + 3]).unwrap_or("zz"),
                    16,
                ) {
                    Ok(b) => {
                        out.push(b);
                        i += 2;
                    }
                    Err(_) => out.push(b'%'),
                }
            }
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Which call a request is.
pub(crate) fn identify(service: Service, parts: &Parts, body: &Bytes) -> Call {
    let text = String::from_utf8_lossy(body);
    let json: serde_json::Value = serde_json::from_str(&text).unwrap_or_default();
    let (operation, resource) = match service {
        Service::DynamoDb => (
            parts
                .headers
                .get("x-amz-target")
                .and_then(|v| v.to_str().ok())
                .and_then(|t| t.split('.').nth(1))
                .unwrap_or("Unknown")
                .to_string(),
            json["TableName"].as_str().unwrap_or_default().to_string(),
        ),
        Service::Sns => (
            form_value(&text, "Action").unwrap_or_else(|| "Unknown".into()),
            form_value(&text, "TopicArn").unwrap_or_default(),
        ),
        Service::SesV2 => (
            if parts.uri.path().ends_with("/v2/email/outbound-emails") {
                "SendEmail".to_string()
            } else {
                format!("{} {}", parts.method, parts.uri.path())
            },
            json["FromEmailAddress"]
                .as_str()
                .unwrap_or_default()
                .to_string(),
        ),
        Service::StepFunctions => (
            parts
                .headers
                .get("x-amz-target")
                .and_then(|v| v.to_str().ok())
                .and_then(|t| t.split('.').nth(1))
                .unwrap_or("Unknown")
                .to_string(),
            json["executionArn"]
                .as_str()
                .or_else(|| json["stateMachineArn"].as_str())
                .unwrap_or_default()
                .to_string(),
        ),
    };
    let also_on = match json["ConfigurationSetName"].as_str() {
        Some(set) if service == Service::SesV2 => vec![format!("configuration-set/{set}")],
        _ => Vec::new(),
    };
    Call {
        function: app_name(parts),
        service,
        operation,
        resource,
        also_on,
    }
}

/// A service error answer in the service's own protocol.
fn error(service: Service, status: u16, code: &str, message: &str) -> Response<Full<Bytes>> {
    let (content_type, body) = match service {
        Service::DynamoDb => (
            "application/x-amz-json-1.0",
            serde_json::json!({
                "__type": format!("com.amazonaws.dynamodb.v20120810#{code}"),
                "message": message,
            })
            .to_string(),
        ),
        Service::Sns => (
            "text/xml",
            format!(
                "<ErrorResponse xmlns=\"http://sns.amazonaws.com/doc/2010-03-31/\"><Error>\
                 <Type>{}</Type><Code>{code}</Code><Message>{message}</Message></Error>\
                 <RequestId>fault-proxy</RequestId></ErrorResponse>",
                if status >= 500 { "Receiver" } else { "Sender" }
            ),
        ),
        Service::SesV2 => (
            "application/json",
            serde_json::json!({ "message": message }).to_string(),
        ),
        Service::StepFunctions => (
            "application/x-amz-json-1.0",
            serde_json::json!({ "__type": code, "message": message }).to_string(),
        ),
    };
    let mut builder = Response::builder()
        .status(status)
        .header("content-type", content_type)
        .header("connection", "close")
        .header("x-amzn-requestid", "fault-proxy");
    if service == Service::SesV2 {
        builder = builder.header("x-amzn-errortype", code);
    }
    builder
        .body(Full::new(Bytes::from(body)))
        .unwrap_or_else(|_| Response::new(Full::new(Bytes::new())))
}

/// 500 InternalServerError (or the service's name for it).
pub(crate) fn server_error(service: Service) -> Response<Full<Bytes>> {
    let code = match service {
        Service::DynamoDb => "InternalServerError",
        Service::Sns => "InternalError",
        Service::SesV2 => "InternalServiceErrorException",
        Service::StepFunctions => "InternalFailure",
    };
    error(
        service,
        500,
        code,
        "injected by the fault proxy after the request was applied",
    )
}

/// The answer to a request refused before it was applied.
pub(crate) fn refusal(service: Service, fault: Fault) -> Response<Full<Bytes>> {
    let (status, code) = match (fault, service) {
        (Fault::Unavailable, _) => (503, "ServiceUnavailable"),
        (Fault::Throttled, Service::DynamoDb) => (400, "ProvisionedThroughputExceededException"),
        (Fault::Throttled, Service::Sns) => (400, "Throttled"),
        (Fault::Throttled, Service::SesV2) => (429, "TooManyRequestsException"),
        (Fault::Throttled, Service::StepFunctions) => (400, "ThrottlingException"),
        (Fault::Validation, Service::Sns) => (400, "InvalidParameter"),
        (Fault::Validation, Service::SesV2) => (400, "BadRequestException"),
        (Fault::Validation, Service::DynamoDb | Service::StepFunctions) => {
            (400, "ValidationException")
        }
        (Fault::AccessDenied, Service::Sns) => (403, "AuthorizationError"),
        (Fault::AccessDenied, _) => (400, "AccessDeniedException"),
        _ => (500, "InternalFailure"),
    };
    error(
        service,
        status,
        code,
        "injected by the fault proxy; nothing was applied",
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn form_values_are_decoded() {
        let body = "Action=Publish&TopicArn=arn%3Aaws%3Asns%3Aus-east-1%3A1%3At&Message=a+b";
        assert_eq!(form_value(body, "Action").as_deref(), Some("Publish"));
        assert_eq!(
            form_value(body, "TopicArn").as_deref(),
            Some("arn:aws:sns:us-east-1:1:t")
        );
        assert_eq!(form_value(body, "Message").as_deref(), Some("a b"));
    }
}
