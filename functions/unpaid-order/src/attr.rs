//! DynamoDB items as plain, serde-serialisable data, in DynamoDB JSON (the shape
//! `aws dynamodb put-item --item` takes): the in-memory store, the fixtures and the adapters share it.

use std::collections::BTreeMap;
#[cfg(feature = "aws")]
use std::collections::HashMap;

#[cfg(feature = "aws")]
use aws_sdk_dynamodb::primitives::Blob;
#[cfg(feature = "aws")]
use aws_sdk_dynamodb::types::AttributeValue;
#[cfg(feature = "aws")]
use base64::Engine;
use serde::{Deserialize, Serialize};

#[cfg(feature = "aws")]
use crate::FunctionError;

/// One DynamoDB attribute value. Numbers stay the decimal strings DynamoDB holds (no f64).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Attr {
    /// A string.
    S(String),
    /// A number, as its decimal string.
    N(String),
    /// Binary, base64 as in DynamoDB JSON.
    B(String),
    /// A boolean.
    #[serde(rename = "BOOL")]
    Bool(bool),
    /// Null (DynamoDB JSON writes it `"NULL": true`).
    #[serde(rename = "NULL")]
    Null(bool),
    /// A map of named values (the order's `data` in map form).
    M(BTreeMap<String, Attr>),
    /// A list of values.
    L(Vec<Attr>),
    /// A string set.
    #[serde(rename = "SS")]
    Ss(Vec<String>),
    /// A number set, as decimal strings.
    #[serde(rename = "NS")]
    Ns(Vec<String>),
    /// A binary set, each base64.
    #[serde(rename = "BS")]
    Bs(Vec<String>),
}

/// One item: attribute name -> value.
pub type Item = BTreeMap<String, Attr>;

impl Attr {
    /// A string value, the common case when building items.
    pub fn s(value: impl Into<String>) -> Attr {
        Attr::S(value.into())
    }

    /// The string, if this is one.
    pub fn as_s(&self) -> Option<&str> {
        match self {
            Attr::S(s) => Some(s),
            _ => None,
        }
    }

    /// The map, if this is one.
    pub fn as_m(&self) -> Option<&BTreeMap<String, Attr>> {
        match self {
            Attr::M(m) => Some(m),
            _ => None,
        }
    }

    /// The key value as text (S, or the digits of N), for key comparison and ordering.
    pub fn key_text(&self) -> Option<&str> {
        match self {
            Attr::S(s) | Attr::N(s) => Some(s),
            _ => None,
        }
    }

    /// The SDK's value, for a DynamoDB request; `InvalidInput` for a binary that is not base64.
    #[cfg(feature = "aws")]
    pub fn to_sdk(&self) -> Result<AttributeValue, FunctionError> {
        Ok(match self {
            Attr::S(s) => AttributeValue::S(s.clone()),
            Attr::N(n) => AttributeValue::N(n.clone()),
            Attr::B(b) => AttributeValue::B(Blob::new(decode_b64(b)?)),
            Attr::Bool(b) => AttributeValue::Bool(*b),
            Attr::Null(b) => AttributeValue::Null(*b),
            Attr::M(m) => AttributeValue::M(
                m.iter()
                    .map(|(k, v)| Ok((k.clone(), v.to_sdk()?)))
                    .collect::<Result<_, FunctionError>>()?,
            ),
            Attr::L(l) => AttributeValue::L(l.iter().map(Attr::to_sdk).collect::<Result<_, _>>()?),
            Attr::Ss(v) => AttributeValue::Ss(v.clone()),
            Attr::Ns(v) => AttributeValue::Ns(v.clone()),
            Attr::Bs(v) => AttributeValue::Bs(
                v.iter()
                    .map(|b| decode_b64(b).map(Blob::new))
                    .collect::<Result<_, _>>()?,
            ),
        })
    }

    /// From the SDK's value in a DynamoDB reply; `InvalidInput` for a kind this crate does not know.
    #[cfg(feature = "aws")]
    pub fn from_sdk(value: &AttributeValue) -> Result<Attr, FunctionError> {
        let b64 = |b: &Blob| base64::engine::general_purpose::STANDARD.encode(b.as_ref());
        Ok(match value {
            AttributeValue::S(s) => Attr::S(s.clone()),
            AttributeValue::N(n) => Attr::N(n.clone()),
            AttributeValue::B(b) => Attr::B(b64(b)),
            AttributeValue::Bool(b) => Attr::Bool(*b),
            AttributeValue::Null(b) => Attr::Null(*b),
            AttributeValue::M(m) => Attr::M(
                m.iter()
                    .map(|(k, v)| Ok((k.clone(), Attr::from_sdk(v)?)))
                    .collect::<Result<_, FunctionError>>()?,
            ),
            AttributeValue::L(l) => {
                Attr::L(l.iter().map(Attr::from_sdk).collect::<Result<_, _>>()?)
            }
            AttributeValue::Ss(v) => Attr::Ss(v.clone()),
            AttributeValue::Ns(v) => Attr::Ns(v.clone()),
            AttributeValue::Bs(v) => Attr::Bs(v.iter().map(b64).collect()),
            other => {
                return Err(FunctionError::invalid(format!(
                    "unsupported DynamoDB attribute value {other:?}"
                )))
            }
        })
    }
}

#[cfg(feature = "aws")]
fn decode_b64(text: &str) -> Result<Vec<u8>, FunctionError> {
    base64::engine::general_purpose::STANDARD
        .decode(text)
        .map_err(|e| FunctionError::invalid(format!("binary attribute is not base64: {e}")))
}

/// A whole item in the SDK's form, for PutItem and key conditions.
#[cfg(feature = "aws")]
pub fn item_to_sdk(item: &Item) -> Result<HashMap<String, AttributeValue>, FunctionError> {
    item.iter()
        .map(|(k, v)| Ok((k.clone(), v.to_sdk()?)))
        .collect()
}

/// A whole item from the SDK's form, as GetItem and Query return it.
#[cfg(feature = "aws")]
pub fn item_from_sdk(item: &HashMap<String, AttributeValue>) -> Result<Item, FunctionError> {
    item.iter()
        .map(|(k, v)| Ok((k.clone(), Attr::from_sdk(v)?)))
        .collect()
}

#[cfg(all(test, feature = "aws"))]
mod tests {
    use super::*;

    #[test]
    fn dynamodb_json_round_trips_through_the_sdk_type() {
        let json = r#"{"orderId":{"S":"1"},"n":{"N":"123456789012345678901234567890"},
            "b":{"B":"AAEC"},"ok":{"BOOL":true},"nothing":{"NULL":true},
            "m":{"M":{"inner":{"L":[{"S":"a"},{"N":"1.50"}]}}},
            "ss":{"SS":["x","y"]},"ns":{"NS":["1","2"]},"bs":{"BS":["AQ=="]}}"#;
        let item: Item = serde_json::from_str(json).unwrap();
        assert_eq!(item["n"], Attr::N("123456789012345678901234567890".into()));
        let sdk = item_to_sdk(&item).unwrap();
        assert_eq!(sdk["b"], AttributeValue::B(Blob::new(vec![0, 1, 2])));
        let back = item_from_sdk(&sdk).unwrap();
        assert_eq!(back, item);
        let reparsed: Item = serde_json::from_str(&serde_json::to_string(&back).unwrap()).unwrap();
        assert_eq!(reparsed, item);
    }

    #[test]
    fn bad_base64_is_invalid_input() {
        let err = Attr::B("not base64!".into()).to_sdk().unwrap_err();
        assert_eq!(err.error_type(), "InvalidInput");
    }
}
