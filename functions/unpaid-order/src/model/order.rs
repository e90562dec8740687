//! The order document in either stored form (DynamoDB map or JSON string), the order as read,
//! and the save-order rule: a paid order is never overwritten.

use std::collections::BTreeMap;
use std::fmt;

use serde::de::{MapAccess, Visitor};
use serde::{Deserialize, Deserializer, Serialize};
use serde_json::value::RawValue;

use super::{OrderId, PaymentHeader};
use crate::attr::{Attr, Item};
use crate::FunctionError;

/// The order document (`data` attribute) in the form it is stored in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OrderData {
    /// A DynamoDB map (M).
    Map(BTreeMap<String, Attr>),
    /// A JSON object in a string (S), as PynamoDB's JSONAttribute stores it.
    Json(String),
}

/// A JSON object's top-level fields in their order, each value's text untouched.
pub(crate) struct JsonFields(pub(super) Vec<(String, Box<RawValue>)>);

impl<'de> Deserialize<'de> for JsonFields {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct FieldsVisitor;
        impl<'de> Visitor<'de> for FieldsVisitor {
            type Value = JsonFields;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a JSON object")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<JsonFields, A::Error> {
                let mut fields: Vec<(String, Box<RawValue>)> = Vec::new();
                while let Some((key, value)) = map.next_entry::<String, Box<RawValue>>()? {
                    if fields.iter().any(|(k, _)| *k == key) {
                        return Err(serde::de::Error::custom(format!("duplicate field {key:?}")));
                    }
                    fields.push((key, value));
                }
                Ok(JsonFields(fields))
            }
        }
        d.deserialize_map(FieldsVisitor)
    }
}

impl JsonFields {
    pub(crate) fn parse(text: &str) -> Result<JsonFields, FunctionError> {
        serde_json::from_str(text).map_err(|e| {
            FunctionError::invalid(format!("order data string is not a JSON object: {e}"))
        })
    }

    pub(crate) fn get(&self, name: &str) -> Option<&RawValue> {
        self.0
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_ref())
    }

    fn value(&self, name: &str) -> Option<serde_json::Value> {
        self.get(name)
            .and_then(|raw| serde_json::from_str(raw.get()).ok())
    }

    /// Compact top level; every value's own text as it was.
    fn render(&self) -> String {
        let mut out = String::from("{");
        for (i, (key, value)) in self.0.iter().enumerate() {
            if i > 0 {
                out.push(',');
            }
            out.push_str(&serde_json::Value::String(key.clone()).to_string());
            out.push(':');
            out.push_str(value.get());
        }
        out.push('}');
        out
    }
}

impl OrderData {
    /// Reads the `data` attribute: a map, or a string holding a JSON object.
    pub fn from_attr(attr: &Attr) -> Result<OrderData, FunctionError> {
        match attr {
            Attr::M(m) => Ok(OrderData::Map(m.clone())),
            Attr::S(s) => {
                JsonFields::parse(s)?;
                Ok(OrderData::Json(s.clone()))
            }
            _ => Err(FunctionError::invalid(
                "order data is neither a map nor a JSON object string",
            )),
        }
    }

    /// The `data` attribute, in the form it was read.
    pub fn to_attr(&self) -> Attr {
        match self {
            OrderData::Map(m) => Attr::M(m.clone()),
            OrderData::Json(s) => Attr::S(s.clone()),
        }
    }

    /// Whether `payment` already is exactly this header.
    pub fn has_payment(&self, header: &PaymentHeader) -> bool {
        match self {
            OrderData::Map(m) => m.get("payment") == Some(&header.to_attr()),
            OrderData::Json(s) => JsonFields::parse(s)
                .ok()
                .and_then(|f| f.value("payment"))
                .is_some_and(|p| p == header.to_json()),
        }
    }

    /// A top-level string field (e.g. `email`, `name`).
    pub fn text(&self, name: &str) -> Option<String> {
        match self {
            OrderData::Map(m) => m.get(name).and_then(Attr::as_s).map(str::to_string),
            OrderData::Json(s) => JsonFields::parse(s)
                .ok()
                .and_then(|f| f.value(name))
                .and_then(|v| v.as_str().map(str::to_string)),
        }
    }

    /// The document with `payment` set to the header and nothing else changed. The JSON form
    /// keeps every other field's text and the field order (`payment` in place, or appended).
    pub fn with_payment(&self, header: &PaymentHeader) -> Result<OrderData, FunctionError> {
        match self {
            OrderData::Map(m) => {
                let mut m = m.clone();
                m.insert("payment".to_string(), header.to_attr());
                Ok(OrderData::Map(m))
            }
            OrderData::Json(s) => {
                let mut fields = JsonFields::parse(s)?;
                let raw = RawValue::from_string(header.to_json().to_string()).map_err(|e| {
                    FunctionError::invalid(format!("payment header does not serialise: {e}"))
                })?;
                match fields.0.iter_mut().find(|(k, _)| k == "payment") {
                    Some((_, value)) => *value = raw,
                    None => fields.0.push(("payment".to_string(), raw)),
                }
                Ok(OrderData::Json(fields.render()))
            }
        }
    }
}

/// An order as read from the order table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredOrder {
    /// The order's key.
    pub order_id: OrderId,
    /// The order document, kept in the form it was stored in.
    pub data: OrderData,
}

impl StoredOrder {
    /// Reads an order table item (`orderId`, `data`).
    pub fn from_item(order_id: &OrderId, item: &Item) -> Result<StoredOrder, FunctionError> {
        let data = item.get("data").ok_or_else(|| {
            FunctionError::invalid(format!("order {order_id} has no data attribute"))
        })?;
        Ok(StoredOrder {
            order_id: order_id.clone(),
            data: OrderData::from_attr(data)?,
        })
    }
}

/// What saving a header into an order comes to, decided from the order as read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SavePlan {
    /// The same header is already there: nothing to write.
    Unchanged,
    /// Map form: set `data.payment` only (the rest of the item is not rewritten).
    SetMapPayment,
    /// JSON form: replace the string, on condition it is still `old`.
    ReplaceJson {
        /// The JSON string read.
        old: String,
        /// The JSON string with the header in it.
        new: String,
    },
}

/// The save-order rule, shared by the DynamoDB and in-memory order tables: a paid order is never
/// overwritten; the same header again is a no-op.
pub fn plan_save(order: &StoredOrder, header: &PaymentHeader) -> Result<SavePlan, FunctionError> {
    order.data.ensure_unpaid(&order.order_id)?;
    if order.data.has_payment(header) {
        return Ok(SavePlan::Unchanged);
    }
    match &order.data {
        OrderData::Map(_) => Ok(SavePlan::SetMapPayment),
        OrderData::Json(old) => match order.data.with_payment(header)? {
            OrderData::Json(new) => Ok(SavePlan::ReplaceJson {
                old: old.clone(),
                new,
            }),
            OrderData::Map(_) => Err(FunctionError::invalid("order data changed form")),
        },
    }
}

/// Whether a save wrote the header or found it already there.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SaveOutcome {
    /// The header was written.
    Saved,
    /// The order already had this header: nothing was written.
    Unchanged,
}
