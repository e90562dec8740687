//! The payment header as stored, read failing closed: only a clearly unpaid header may be
//! overwritten, only the boolean `isPaid: true` is paid, anything else is for a person to look at.

use crate::attr::Attr;
use crate::model::{JsonFields, OrderData, OrderId};
use crate::FunctionError;

/// What an order's stored payment header says. Anything but the boolean `isPaid: true` is not
/// "paid", and anything but `isPaid` false/absent with `totalPaid` zero/absent is not "unpaid".
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PaymentState {
    /// No header, or `isPaid` false (or absent) with `totalPaid` 0 (or absent).
    Unpaid,
    /// `isPaid` is the boolean `true`.
    Paid,
    /// Anything else (`"true"`, `1`, a string-encoded header, an amount paid, unparseable).
    Unclear(String),
}

/// `isPaid` as read: `Some(b)` for a boolean, `None` for any other type.
type PaidFlag = Option<bool>;
/// `totalPaid` as read: `Some(true)` when it is the number zero.
type ZeroAmount = Option<bool>;

impl PaymentState {
    fn of_fields(is_paid: Option<PaidFlag>, total_paid: Option<ZeroAmount>) -> PaymentState {
        match (is_paid, total_paid) {
            (Some(Some(true)), _) => PaymentState::Paid,
            (Some(None), _) => PaymentState::Unclear("isPaid is not a boolean".into()),
            (_, Some(None)) => PaymentState::Unclear("totalPaid is not a number".into()),
            (_, Some(Some(false))) => PaymentState::Unclear("totalPaid is not zero".into()),
            (Some(Some(false)) | None, Some(Some(true)) | None) => PaymentState::Unpaid,
        }
    }
}

fn attr_paid_flag(a: &Attr) -> PaidFlag {
    match a {
        Attr::Bool(b) => Some(*b),
        _ => None,
    }
}

fn attr_amount(a: &Attr) -> ZeroAmount {
    match a {
        Attr::N(n) => Some(is_zero(n)),
        _ => None,
    }
}

fn json_paid_flag(v: &serde_json::Value) -> PaidFlag {
    v.as_bool()
}

fn json_amount(v: &serde_json::Value) -> ZeroAmount {
    match v {
        serde_json::Value::Number(n) => Some(is_zero(&n.to_string())),
        _ => None,
    }
}

/// A decimal number's text is zero (`0`, `0.0`, `-0`, `0e5`).
fn is_zero(number: &str) -> bool {
    let mantissa = number
        .split(['e', 'E'])
        .next()
        .unwrap_or(number)
        .trim_start_matches(['-', '+']);
    !mantissa.is_empty() && mantissa.chars().all(|c| c == '0' || c == '.') && mantissa.contains('0')
}

impl OrderData {
    /// What the stored payment header says, failing closed: only a header that is clearly
    /// unpaid (or no header at all) is [`PaymentState::Unpaid`].
    pub fn payment_state(&self) -> PaymentState {
        match self {
            OrderData::Map(m) => match m.get("payment") {
                None | Some(Attr::Null(_)) => PaymentState::Unpaid,
                Some(Attr::M(p)) => PaymentState::of_fields(
                    p.get("isPaid").map(attr_paid_flag),
                    p.get("totalPaid").map(attr_amount),
                ),
                Some(_) => PaymentState::Unclear("payment is not a map".into()),
            },
            OrderData::Json(s) => {
                let Ok(fields) = JsonFields::parse(s) else {
                    return PaymentState::Unclear("order data does not parse".into());
                };
                let Some(raw) = fields.get("payment") else {
                    return PaymentState::Unpaid;
                };
                match serde_json::from_str::<serde_json::Value>(raw.get()) {
                    Ok(serde_json::Value::Null) => PaymentState::Unpaid,
                    Ok(serde_json::Value::Object(p)) => PaymentState::of_fields(
                        p.get("isPaid").map(json_paid_flag),
                        p.get("totalPaid").map(json_amount),
                    ),
                    Ok(_) => PaymentState::Unclear("payment is not an object".into()),
                    Err(_) => PaymentState::Unclear("payment does not parse".into()),
                }
            }
        }
    }

    /// `Ok` only for a clearly unpaid order: paid is `OrderAlreadyPaid`, anything unclear is
    /// `InvalidInput` naming what is unclear (never the values: they are customer data).
    pub fn ensure_unpaid(&self, order_id: &OrderId) -> Result<(), FunctionError> {
        match self.payment_state() {
            PaymentState::Unpaid => Ok(()),
            PaymentState::Paid => Err(FunctionError::OrderAlreadyPaid {
                order_id: order_id.to_string(),
            }),
            PaymentState::Unclear(why) => Err(FunctionError::invalid(format!(
                "order {order_id}: the stored payment header is not clearly unpaid ({why}); \
                 it is left as it is"
            ))),
        }
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;
    use crate::model::{plan_save, CheckStatus, PaymentHeader, StoredOrder};

    fn header() -> PaymentHeader {
        PaymentHeader::failed(
            &CheckStatus {
                charge_id: "ch_1".into(),
                payment_method: "card".into(),
                status: "failed".into(),
                created_at: "2026-11-25T06:00:01Z".into(),
            },
            "2026-11-25T06:10:00Z",
        )
        .unwrap()
    }

    /// Only a clearly unpaid header may be overwritten: `"true"`, `1`, `{"N": "1"}`, an amount
    /// paid, a string-encoded header inside a map, an unparseable one are refused, never saved.
    #[test]
    fn payment_state_fails_closed() {
        let map = |payment: Attr| OrderData::Map(BTreeMap::from([("payment".into(), payment)]));
        let pm = |fields: Vec<(&str, Attr)>| {
            map(Attr::M(
                fields
                    .into_iter()
                    .map(|(k, v)| (k.to_string(), v))
                    .collect(),
            ))
        };
        let json = |payment: &str| {
            OrderData::from_attr(&Attr::s(format!(r#"{{"a":1,"payment":{payment}}}"#))).unwrap()
        };
        let unpaid = [
            OrderData::Map(BTreeMap::new()),
            map(Attr::Null(true)),
            pm(vec![
                ("isPaid", Attr::Bool(false)),
                ("totalPaid", Attr::N("0".into())),
            ]),
            pm(vec![
                ("isPaid", Attr::Bool(false)),
                ("totalPaid", Attr::N("0.00".into())),
            ]),
            pm(vec![("paymentId", Attr::s("ch_1"))]),
            json(r#"{"isPaid": false, "totalPaid": 0}"#),
            json("null"),
            OrderData::from_attr(&Attr::s(r#"{"a":1}"#)).unwrap(),
        ];
        for data in unpaid {
            assert_eq!(data.payment_state(), PaymentState::Unpaid, "{data:?}");
        }
        let paid = [
            pm(vec![("isPaid", Attr::Bool(true))]),
            json(r#"{"isPaid": true, "totalPaid": 500}"#),
        ];
        for data in paid {
            assert_eq!(data.payment_state(), PaymentState::Paid, "{data:?}");
        }
        let unclear = [
            pm(vec![
                ("isPaid", Attr::s("true")),
                ("totalPaid", Attr::N("500".into())),
            ]),
            pm(vec![("isPaid", Attr::N("1".into()))]),
            pm(vec![
                ("isPaid", Attr::Bool(false)),
                ("totalPaid", Attr::N("500".into())),
            ]),
            pm(vec![("totalPaid", Attr::s("0"))]),
            map(Attr::s(r#"{"isPaid": true}"#)),
            json(r#""{\"isPaid\": true}""#),
            json(r#"{"isPaid": "true", "totalPaid": 500}"#),
            json(r#"{"isPaid": 1}"#),
            json("[true]"),
        ];
        for data in unclear {
            assert!(
                matches!(data.payment_state(), PaymentState::Unclear(_)),
                "{data:?}"
            );
            let id = OrderId::parse("1").unwrap();
            let err = data.ensure_unpaid(&id).unwrap_err();
            assert_eq!(err.error_type(), "InvalidInput", "{data:?}");
            let saved = plan_save(
                &StoredOrder {
                    order_id: id,
                    data: data.clone(),
                },
                &header(),
            );
            assert!(saved.is_err(), "{data:?} must not be overwritten");
        }
    }
}
