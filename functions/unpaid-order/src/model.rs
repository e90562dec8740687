//! The domain: order ids, attempts, check-status records, the payment header, and the order
//! document in either of its stored forms (DynamoDB map or JSON string).

use std::collections::BTreeMap;
use std::fmt;

use serde::de::{MapAccess, Visitor};
use serde::{Deserialize, Deserializer, Serialize};
use serde_json::value::RawValue;

use crate::attr::{Attr, Item};
use crate::FunctionError;

pub use crate::payment_state::PaymentState;

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

/// The order's oldest check-status record (what the seed's `next(CheckStatusTable.query(id))` gives).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CheckStatus {
    /// The failed charge's id; becomes the header's `paymentId`.
    pub charge_id: String,
    /// How the customer tried to pay (card, ...), copied into the header.
    pub payment_method: String,
    /// The payment provider's status of the charge, copied into the header.
    pub status: String,
    /// The record's range key: the oldest one is the one used.
    pub created_at: String,
}

impl CheckStatus {
    /// Reads a check-status item (`orderId`, `created_at` S or N, `chargeId`, `paymentMethod`, `status`).
    pub fn from_item(order_id: &OrderId, item: &Item) -> Result<CheckStatus, FunctionError> {
        let created_at = item
            .get("created_at")
            .and_then(Attr::key_text)
            .ok_or_else(|| {
                FunctionError::invalid(format!(
                    "check-status of order {order_id} has no created_at"
                ))
            })?
            .to_string();
        let text = |name: &str| -> Result<String, FunctionError> {
            match item.get(name).and_then(Attr::as_s) {
                Some(s) if !s.is_empty() => Ok(s.to_string()),
                _ => Err(FunctionError::invalid(format!(
                    "check-status of order {order_id} at {created_at} has no {name} string"
                ))),
            }
        };
        Ok(CheckStatus {
            charge_id: text("chargeId")?,
            payment_method: text("paymentMethod")?,
            status: text("status")?,
            created_at,
        })
    }
}

/// The header written into `order.payment`. For a failed payment always `isPaid: false` and
/// `totalPaid: 0`; `paymentId` is the check-status `chargeId`; `timestamp` is the execution's
/// start time (RFC 3339), so the same attempt always builds the same header.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct PaymentHeader {
    /// The check-status `chargeId`.
    pub payment_id: String,
    /// The check-status `paymentMethod`.
    pub payment_method: String,
    /// Always `false` for a failed payment; `true` in a stored header means the order is paid (`OrderAlreadyPaid`).
    pub is_paid: bool,
    /// Always 0 for a failed payment.
    pub total_paid: u64,
    /// The check-status `status`.
    pub status: String,
    /// The execution's start time (RFC 3339).
    pub timestamp: String,
}

impl PaymentHeader {
    /// The unpaid header for a failed payment (seed: `create_payment_header(isPaid=False, totalPaid=0)`).
    pub fn failed(check: &CheckStatus, timestamp: &str) -> Result<PaymentHeader, FunctionError> {
        let header = PaymentHeader {
            payment_id: check.charge_id.clone(),
            payment_method: check.payment_method.clone(),
            is_paid: false,
            total_paid: 0,
            status: check.status.clone(),
            timestamp: timestamp.to_string(),
        };
        header.validate_failed()?;
        Ok(header)
    }

    /// What save-order, log-attempt and notify-failure accept: an unpaid header with every field set.
    pub fn validate_failed(&self) -> Result<(), FunctionError> {
        if self.is_paid || self.total_paid != 0 {
            return Err(FunctionError::invalid(
                "paymentHeader of a failed payment must have isPaid false and totalPaid 0",
            ));
        }
        for (name, value) in [
            ("paymentId", &self.payment_id),
            ("paymentMethod", &self.payment_method),
            ("status", &self.status),
        ] {
            if value.is_empty() {
                return Err(FunctionError::invalid(format!(
                    "paymentHeader.{name} is empty"
                )));
            }
        }
        chrono::DateTime::parse_from_rfc3339(&self.timestamp).map_err(|e| {
            FunctionError::invalid(format!(
                "timestamp {:?} is not an RFC 3339 date-time: {e}",
                self.timestamp
            ))
        })?;
        Ok(())
    }

    /// The header as a DynamoDB map (the map form of the order document).
    pub fn to_attr(&self) -> Attr {
        Attr::M(BTreeMap::from([
            ("paymentId".to_string(), Attr::s(&self.payment_id)),
            ("paymentMethod".to_string(), Attr::s(&self.payment_method)),
            ("isPaid".to_string(), Attr::Bool(self.is_paid)),
            (
                "totalPaid".to_string(),
                Attr::N(self.total_paid.to_string()),
            ),
            ("status".to_string(), Attr::s(&self.status)),
            ("timestamp".to_string(), Attr::s(&self.timestamp)),
        ]))
    }

    /// The header as plain JSON (camelCase), as the SNS message carries it.
    pub fn to_json(&self) -> serde_json::Value {
        serde_json::json!({
            "paymentId": self.payment_id,
            "paymentMethod": self.payment_method,
            "isPaid": self.is_paid,
            "totalPaid": self.total_paid,
            "status": self.status,
            "timestamp": self.timestamp,
        })
    }
}

/// The order document (`data` attribute) in the form it is stored in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OrderData {
    /// A DynamoDB map (M).
    Map(BTreeMap<String, Attr>),
    /// A JSON object in a string (S), as PynamoDB's JSONAttribute stores it.
    Json(String),
}

/// A JSON object's top-level fields in their order, each value's text untouched.
pub(crate) struct JsonFields(Vec<(String, Box<RawValue>)>);

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

#[cfg(test)]
mod tests {
    use super::*;

    fn check() -> CheckStatus {
        CheckStatus {
            charge_id: "ch_1".into(),
            payment_method: "card".into(),
            status: "failed".into(),
            created_at: "2026-11-25T06:00:01Z".into(),
        }
    }

    fn header() -> PaymentHeader {
        PaymentHeader::failed(&check(), "2026-11-25T06:10:00.123Z").unwrap()
    }

    #[test]
    fn failed_header_is_exactly_the_documented_document() {
        assert_eq!(
            serde_json::to_value(header()).unwrap(),
            serde_json::json!({"paymentId": "ch_1", "paymentMethod": "card", "isPaid": false,
                "totalPaid": 0, "status": "failed", "timestamp": "2026-11-25T06:10:00.123Z"})
        );
        assert_eq!(header().to_json(), serde_json::to_value(header()).unwrap());
    }

    #[test]
    fn header_rejects_bad_timestamp_paid_or_empty_fields() {
        assert_eq!(
            PaymentHeader::failed(&check(), "yesterday")
                .unwrap_err()
                .error_type(),
            "InvalidInput"
        );
        let mut paid = header();
        paid.is_paid = true;
        assert!(paid.validate_failed().is_err());
        let mut charged = header();
        charged.total_paid = 5;
        assert!(charged.validate_failed().is_err());
        let mut no_charge = check();
        no_charge.charge_id.clear();
        assert!(PaymentHeader::failed(&no_charge, "2026-11-25T06:10:00Z").is_err());
    }

    #[test]
    fn ids_are_validated() {
        assert!(OrderId::parse("492500005643").is_ok());
        for bad in ["", " 1", "a\nb", &"x".repeat(257)] {
            assert!(OrderId::parse(bad).is_err(), "{bad:?}");
        }
        assert!(AttemptId::parse("492500005643-c4ca4238a0b923820dcc509a6f75849b").is_ok());
        for bad in ["", "a b", "a#b", &"x".repeat(81)] {
            assert!(AttemptId::parse(bad).is_err(), "{bad:?}");
        }
    }

    const JSON_ORDER: &str = r#"{"orderId": "2", "total": 123456789012345678901234567890,
 "price": 1.10, "nested": {"a": {"b": [1, 2.50, {"c": 1e400}]}}, "email": "a@b.example",
 "payment": {"isPaid": false, "old": 1}, "tail": "x"}"#;

    #[test]
    fn json_form_keeps_every_other_field_byte_for_byte() {
        let data = OrderData::from_attr(&Attr::s(JSON_ORDER)).unwrap();
        let saved = data.with_payment(&header()).unwrap();
        let OrderData::Json(text) = &saved else {
            panic!("form changed")
        };
        assert!(
            text.contains(r#""total":123456789012345678901234567890"#),
            "{text}"
        );
        assert!(text.contains(r#""price":1.10"#), "{text}");
        assert!(
            text.contains(r#""nested":{"a": {"b": [1, 2.50, {"c": 1e400}]}}"#),
            "{text}"
        );
        // payment replaced in place, field order kept
        let keys: Vec<_> = JsonFields::parse(text)
            .unwrap()
            .0
            .into_iter()
            .map(|(k, _)| k)
            .collect();
        assert_eq!(
            keys,
            ["orderId", "total", "price", "nested", "email", "payment", "tail"]
        );
        assert!(saved.has_payment(&header()));
        assert!(!data.has_payment(&header()));
        assert_eq!(saved.text("email").as_deref(), Some("a@b.example"));
        // idempotent: saving the same header again gives the same text
        assert_eq!(saved.with_payment(&header()).unwrap(), saved);
    }

    #[test]
    fn json_form_without_payment_appends_it() {
        let data = OrderData::from_attr(&Attr::s(r#"{"a":1}"#)).unwrap();
        let OrderData::Json(text) = data.with_payment(&header()).unwrap() else {
            panic!()
        };
        assert_eq!(
            text,
            r#"{"a":1,"payment":{"paymentId":"ch_1","paymentMethod":"card","isPaid":false,"totalPaid":0,"status":"failed","timestamp":"2026-11-25T06:10:00.123Z"}}"#
        );
    }

    #[test]
    fn map_form_sets_payment_and_keeps_numbers_and_nested_maps() {
        let item: Item = serde_json::from_str(
            r#"{"data": {"M": {"total": {"N": "123456789012345678901234567890"},
                "nested": {"M": {"deep": {"M": {"n": {"N": "0.000000000000000000000000000001"}}}}},
                "email": {"S": "a@b.example"}}}}"#,
        )
        .unwrap();
        let id = OrderId::parse("1").unwrap();
        let order = StoredOrder::from_item(&id, &item).unwrap();
        let saved = order.data.with_payment(&header()).unwrap();
        let Attr::M(m) = saved.to_attr() else {
            panic!()
        };
        assert_eq!(m["total"], Attr::N("123456789012345678901234567890".into()));
        assert_eq!(m["nested"], item["data"].as_m().unwrap()["nested"]);
        assert_eq!(m["payment"], header().to_attr());
        assert!(saved.has_payment(&header()));
    }

    #[test]
    fn paid_orders_are_detected_in_both_forms() {
        let paid_json = OrderData::from_attr(&Attr::s(r#"{"payment":{"isPaid":true}}"#)).unwrap();
        assert_eq!(paid_json.payment_state(), PaymentState::Paid);
        let paid_map = OrderData::Map(BTreeMap::from([(
            "payment".into(),
            Attr::M(BTreeMap::from([("isPaid".into(), Attr::Bool(true))])),
        )]));
        assert_eq!(paid_map.payment_state(), PaymentState::Paid);
        let unpaid = OrderData::from_attr(&Attr::s(r#"{"payment":{"isPaid":false}}"#)).unwrap();
        assert_eq!(unpaid.payment_state(), PaymentState::Unpaid);
    }

    #[test]
    fn plan_save_follows_the_rules() {
        let id = OrderId::parse("1").unwrap();
        let order = |data: OrderData| StoredOrder {
            order_id: id.clone(),
            data,
        };
        let map = OrderData::Map(BTreeMap::new());
        assert_eq!(
            plan_save(&order(map.clone()), &header()),
            Ok(SavePlan::SetMapPayment)
        );
        let saved = map.with_payment(&header()).unwrap();
        assert_eq!(plan_save(&order(saved), &header()), Ok(SavePlan::Unchanged));
        let paid = OrderData::from_attr(&Attr::s(r#"{"payment":{"isPaid":true}}"#)).unwrap();
        assert_eq!(
            plan_save(&order(paid), &header()).unwrap_err().error_type(),
            "OrderAlreadyPaid"
        );
        let json = OrderData::Json(r#"{"x":1}"#.into());
        assert!(matches!(
            plan_save(&order(json), &header()),
            Ok(SavePlan::ReplaceJson { old, .. }) if old == r#"{"x":1}"#
        ));
    }

    #[test]
    fn malformed_data_is_invalid_input() {
        for attr in [
            Attr::s("[1,2]"),
            Attr::s("{"),
            Attr::N("1".into()),
            Attr::s(r#"{"a":1,"a":2}"#),
        ] {
            assert_eq!(
                OrderData::from_attr(&attr).unwrap_err().error_type(),
                "InvalidInput"
            );
        }
    }

    #[test]
    fn check_status_reads_string_or_number_created_at() {
        let id = OrderId::parse("1").unwrap();
        let item: Item = serde_json::from_str(
            r#"{"orderId":{"S":"1"},"created_at":{"N":"1764050401"},"chargeId":{"S":"ch"},
                "paymentMethod":{"S":"card"},"status":{"S":"failed"}}"#,
        )
        .unwrap();
        assert_eq!(
            CheckStatus::from_item(&id, &item).unwrap().created_at,
            "1764050401"
        );
        let mut missing = item.clone();
        missing.remove("chargeId");
        assert_eq!(
            CheckStatus::from_item(&id, &missing)
                .unwrap_err()
                .error_type(),
            "InvalidInput"
        );
    }
}
