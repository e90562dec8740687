//! The domain of process-unpaid-order (orders, check-status, payment header, typed errors),
//! the ports the functions use, and their DynamoDB / SNS / SESv2 adapters.
