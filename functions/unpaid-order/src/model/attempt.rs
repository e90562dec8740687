//! One processing attempt as log-attempt records it in the process-unpaid-order table.

use super::{AttemptId, OrderData, OrderId};
use crate::attr::{Attr, Item};

/// One processing attempt as logged in the process-unpaid-order table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AttemptRecord {
    /// The order the attempt was for.
    pub order_id: OrderId,
    /// The attempt (the execution name).
    pub attempt_id: AttemptId,
    /// The header's timestamp: the range key, unless another attempt already holds it.
    pub timestamp: String,
    /// The order as saved, in its stored form.
    pub data: OrderData,
}

impl AttemptRecord {
    /// The range key used when another attempt already holds `timestamp`: still sorts by time.
    pub fn disambiguated_created_at(&self) -> String {
        format!("{}#{}", self.timestamp, self.attempt_id)
    }

    /// The record as a process-unpaid-order item, under range key `created_at`.
    pub fn to_item(&self, created_at: &str) -> Item {
        Item::from([
            ("orderId".to_string(), Attr::s(self.order_id.as_str())),
            ("created_at".to_string(), Attr::s(created_at)),
            ("attemptId".to_string(), Attr::s(self.attempt_id.as_str())),
            ("data".to_string(), self.data.to_attr()),
        ])
    }
}

/// Whether log-attempt wrote a record or found this attempt's record already there.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogOutcome {
    /// The range key the record is under.
    pub created_at: String,
    /// `true` if this call wrote it, `false` if it was already there.
    pub logged: bool,
}
