//! What an AWS failure means for the function: retry (TransientError), fix the data
//! (InvalidInput) or fix the deployment (ConfigurationError); and, for a send, whether anything
//! may have gone out. Error texts are redacted: SES echoes recipient addresses.

use aws_sdk_dynamodb::error::{DisplayErrorContext, ProvideErrorMetadata, SdkError};
use aws_smithy_runtime_api::client::orchestrator::HttpResponse;

pub use crate::notice::redacted;
use crate::ports::SendError;
use crate::FunctionError;

/// The three things a refused AWS call can mean.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AwsErrorClass {
    /// Throttling, 5xx, timeouts, lost connections: the same call can succeed later.
    Transient,
    /// The request built from this order is refused (e.g. an item over 400 KB): retrying
    /// cannot help; the order's data must change.
    Invalid,
    /// Access denied, a missing table/topic/key, an unverified sender: fix the deployment,
    /// then redrive.
    Configuration,
}

/// Error codes a retry can get past. Everything else a service refuses with a 4xx is a
/// deployment or data problem.
const TRANSIENT_CODES: &[&str] = &[
    "ThrottlingException",
    "Throttling",
    "Throttled",
    "ThrottledException",
    "ProvisionedThroughputExceededException",
    "RequestLimitExceeded",
    "TooManyRequestsException",
    "LimitExceededException",
    "TransactionConflictException",
    "TransactionInProgressException",
    "RequestTimeout",
    "RequestTimeoutException",
    "KMSThrottlingException",
    "KMSThrottling",
    "ExpiredTokenException",
    "ConcurrentModificationException",
];

/// Codes that say "this request, as built from the order, is wrong".
const INVALID_CODES: &[&str] = &[
    "ValidationException",
    "InvalidParameterException",
    "InvalidParameterValueException",
    "InvalidParameter",
    "BadRequestException",
    "ItemCollectionSizeLimitExceededException",
    "SerializationException",
];

/// Classifies a service's refusal by its HTTP status and error code.
pub fn classify(status: u16, code: Option<&str>) -> AwsErrorClass {
    let code = code.unwrap_or_default();
    if status >= 500 || status == 429 || TRANSIENT_CODES.contains(&code) {
        AwsErrorClass::Transient
    } else if INVALID_CODES.contains(&code) {
        AwsErrorClass::Invalid
    } else {
        AwsErrorClass::Configuration
    }
}

fn error_of(class: AwsErrorClass, message: String) -> FunctionError {
    match class {
        AwsErrorClass::Transient => FunctionError::transient(message),
        AwsErrorClass::Invalid => FunctionError::invalid(message),
        AwsErrorClass::Configuration => FunctionError::configuration(message),
    }
}

fn describe<E, R>(what: &str, err: &SdkError<E, R>) -> String
where
    E: std::error::Error + 'static,
    R: std::fmt::Debug,
{
    redacted(&format!("{what}: {}", DisplayErrorContext(err)))
}

/// The status and code of a service's answer, if the call got one.
fn service_answer<E: ProvideErrorMetadata>(
    err: &SdkError<E, HttpResponse>,
) -> Option<(u16, Option<String>)> {
    match err {
        SdkError::ServiceError(se) => Some((
            se.raw().status().as_u16(),
            se.err().code().map(str::to_string),
        )),
        _ => None,
    }
}

/// An idempotent call's failure (every DynamoDB call here is: conditional or a read).
pub(crate) fn aws_error<E>(what: &str, err: SdkError<E, HttpResponse>) -> FunctionError
where
    E: ProvideErrorMetadata + std::error::Error + 'static,
{
    let message = describe(what, &err);
    match (&err, service_answer(&err)) {
        (_, Some((status, code))) => error_of(classify(status, code.as_deref()), message),
        (SdkError::ConstructionFailure(_), _) => FunctionError::configuration(message),
        _ => FunctionError::transient(message),
    }
}

/// A send's failure (SNS Publish, SES SendEmail: not idempotent). Only a 4xx refusal or a
/// connection that never opened proves nothing went out; a 5xx, a timeout or a connection cut
/// after the request was written may have delivered it.
pub(crate) fn send_error<E>(what: &str, err: SdkError<E, HttpResponse>) -> SendError
where
    E: ProvideErrorMetadata + std::error::Error + 'static,
{
    let message = describe(what, &err);
    match (&err, service_answer(&err)) {
        (_, Some((status, _))) if status >= 500 => {
            SendError::Unknown(FunctionError::transient(message))
        }
        (_, Some((status, code))) => {
            SendError::NotSent(error_of(classify(status, code.as_deref()), message))
        }
        (SdkError::ConstructionFailure(_), _) => {
            SendError::NotSent(FunctionError::configuration(message))
        }
        (SdkError::DispatchFailure(_), _) if never_connected(&err) => {
            SendError::NotSent(FunctionError::transient(message))
        }
        _ => SendError::Unknown(FunctionError::transient(message)),
    }
}

/// Whether the connection failed to open (refused, unreachable, connect timeout, DNS): then
/// no byte of the request left this process.
fn never_connected(err: &(dyn std::error::Error + 'static)) -> bool {
    let mut next = Some(err);
    while let Some(e) = next {
        if let Some(hyper) = e.downcast_ref::<hyper_util::client::legacy::Error>() {
            return hyper.is_connect();
        }
        next = e.source();
    }
    false
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn classes_by_status_and_code() {
        use AwsErrorClass::*;
        assert_eq!(classify(500, Some("InternalServerError")), Transient);
        assert_eq!(classify(503, None), Transient);
        assert_eq!(classify(429, Some("TooManyRequestsException")), Transient);
        assert_eq!(
            classify(400, Some("ProvisionedThroughputExceededException")),
            Transient
        );
        assert_eq!(classify(400, Some("ThrottlingException")), Transient);
        assert_eq!(classify(400, Some("ValidationException")), Invalid);
        assert_eq!(classify(400, Some("AccessDeniedException")), Configuration);
        assert_eq!(
            classify(400, Some("ResourceNotFoundException")),
            Configuration
        );
        assert_eq!(classify(403, Some("AuthorizationError")), Configuration);
        assert_eq!(
            classify(400, Some("KMSAccessDeniedException")),
            Configuration
        );
        assert_eq!(classify(400, Some("MessageRejected")), Configuration);
        assert_eq!(classify(400, None), Configuration);
    }
}
