//! Order and attempt identifiers, validated where they enter: the order table's key and the
//! per-order execution's name.

use std::fmt;

use serde::{Deserialize, Deserializer, Serialize};

use crate::FunctionError;

/// An order id as the order table keys it (non-empty, no control characters, at most 256 bytes).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(transparent)]
pub struct OrderId(String);

impl OrderId {
    /// Checks an order id from an input document or a stream record key; `InvalidInput` naming the rule it breaks.
    pub fn parse(value: &str) -> Result<OrderId, FunctionError> {
        if value.is_empty() || value.trim() != value {
            return Err(FunctionError::invalid(
                "orderId must be a non-empty string without surrounding spaces",
            ));
        }
        if value.len() > 256 || value.chars().any(char::is_control) {
            return Err(FunctionError::invalid(
                "orderId must be at most 256 bytes without control characters",
            ));
        }
        Ok(OrderId(value.to_string()))
    }

    /// The id as the order table's `orderId` key.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for OrderId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl<'de> Deserialize<'de> for OrderId {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        OrderId::parse(&s).map_err(serde::de::Error::custom)
    }
}

/// The attempt id: the per-order execution's name (1 to 80 characters, no whitespace, no
/// control characters, no `#`, which separates the parts of the email-log key).
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize)]
#[serde(transparent)]
pub struct AttemptId(String);

impl AttemptId {
    /// Checks an attempt id (the execution name); `InvalidInput` naming the rule it breaks.
    pub fn parse(value: &str) -> Result<AttemptId, FunctionError> {
        let ok = !value.is_empty()
            && value.chars().count() <= 80
            && !value
                .chars()
                .any(|c| c.is_whitespace() || c.is_control() || c == '#');
        if !ok {
            return Err(FunctionError::invalid(
                "attemptId must be 1-80 characters without whitespace, control characters or '#'",
            ));
        }
        Ok(AttemptId(value.to_string()))
    }

    /// The id as stored in the attempt and email-log keys.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for AttemptId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl<'de> Deserialize<'de> for AttemptId {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        AttemptId::parse(&s).map_err(serde::de::Error::custom)
    }
}
