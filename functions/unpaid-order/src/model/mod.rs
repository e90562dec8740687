//! The domain: order ids, attempts, check-status records, the payment header, and the order
//! document in either of its stored forms (DynamoDB map or JSON string), one concept a module.

mod attempt;
mod check_status;
mod header;
mod ids;
mod order;

pub use crate::payment_state::PaymentState;
pub use attempt::{AttemptRecord, LogOutcome};
pub use check_status::CheckStatus;
pub use header::PaymentHeader;
pub use ids::{AttemptId, OrderId};
pub(crate) use order::JsonFields;
pub use order::{plan_save, OrderData, SaveOutcome, SavePlan, StoredOrder};

#[cfg(test)]
mod tests;
