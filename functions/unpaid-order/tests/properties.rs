//! Properties of the order document in both stored forms and of the payment-header rules, over
//! generated documents: big and negative numbers (30 digits and more), unicode, empty and nested
//! values. Saving a header changes `payment` and nothing else, and only an unpaid, complete
//! header is ever accepted.

use std::collections::BTreeMap;

use proptest::prelude::*;
use serde_json::value::RawValue;
use unpaid_order::model::{
    plan_save, OrderData, PaymentHeader, PaymentState, SavePlan, StoredOrder,
};
use unpaid_order::{Attr, CheckStatus, OrderId};

/// A decimal number as DynamoDB or a JSON document may hold it: up to 38 digits, negative, with
/// a fraction and an exponent (what f64 would round).
fn number() -> impl Strategy<Value = String> {
    (
        any::<bool>(),
        "[1-9][0-9]{0,37}",
        proptest::option::of("[0-9]{1,10}"),
        proptest::option::of(-20i32..20),
    )
        .prop_map(|(neg, int, frac, exp)| {
            let mut n = String::new();
            if neg {
                n.push('-');
            }
            n.push_str(&int);
            if let Some(f) = frac {
                n.push('.');
                n.push_str(&f);
            }
            if let Some(e) = exp {
                n.push_str(&format!("e{e}"));
            }
            n
        })
}

/// Any text, unicode and control characters included, or empty.
fn text() -> impl Strategy<Value = String> {
    prop_oneof![
        Just(String::new()),
        "\\PC{0,12}",
        any::<String>(),
        "[ก-๛]{1,8}",
        "[\u{1F600}-\u{1F64F}]{1,4}",
    ]
}

fn key() -> impl Strategy<Value = String> {
    prop_oneof!["[a-zA-Z_][a-zA-Z0-9_]{0,10}", "\\PC{1,6}"]
        .prop_filter("not payment", |k| k != "payment")
}

/// A DynamoDB attribute value, nested maps and lists included.
fn attr() -> impl Strategy<Value = Attr> {
    let leaf = prop_oneof![
        text().prop_map(Attr::S),
        number().prop_map(Attr::N),
        any::<bool>().prop_map(Attr::Bool),
        Just(Attr::Null(true)),
        Just(Attr::M(BTreeMap::new())),
        Just(Attr::L(Vec::new())),
    ];
    leaf.prop_recursive(4, 32, 6, |inner| {
        prop_oneof![
            proptest::collection::btree_map(key(), inner.clone(), 0..6).prop_map(Attr::M),
            proptest::collection::vec(inner, 0..6).prop_map(Attr::L),
        ]
    })
}

/// A JSON value's text as a document may hold it: numbers kept as written (not via f64).
fn json_text() -> impl Strategy<Value = String> {
    let leaf = prop_oneof![
        text().prop_map(|s| serde_json::Value::String(s).to_string()),
        number(),
        Just("null".to_string()),
        Just("true".to_string()),
        Just("1.0".to_string()),
        Just("{}".to_string()),
        Just("[]".to_string()),
    ];
    leaf.prop_recursive(4, 32, 6, |inner| {
        prop_oneof![
            proptest::collection::vec((key(), inner.clone()), 0..6).prop_map(|fields| {
                let mut seen = std::collections::BTreeSet::new();
                let body: Vec<String> = fields
                    .into_iter()
                    .filter(|(k, _)| seen.insert(k.clone()))
                    .map(|(k, v)| format!("{} : {v}", serde_json::Value::String(k)))
                    .collect();
                format!("{{ {} }}", body.join(" , "))
            }),
            proptest::collection::vec(inner, 0..6).prop_map(|vs| format!("[{}]", vs.join(","))),
        ]
    })
}

/// A top-level order document in the JSON-string form: distinct keys, values as text.
fn json_document() -> impl Strategy<Value = Vec<(String, String)>> {
    proptest::collection::vec((key(), json_text()), 0..8).prop_map(|fields| {
        let mut seen = std::collections::BTreeSet::new();
        fields
            .into_iter()
            .filter(|(k, _)| seen.insert(k.clone()))
            .collect()
    })
}

fn render(fields: &[(String, String)], spaced: bool) -> String {
    let sep = if spaced { " ,\n  " } else { "," };
    let body: Vec<String> = fields
        .iter()
        .map(|(k, v)| format!("{}:{v}", serde_json::Value::String(k.clone())))
        .collect();
    format!("{{{}}}", body.join(sep))
}

fn non_empty() -> impl Strategy<Value = String> {
    "\\PC{1,20}"
}

fn rfc3339() -> impl Strategy<Value = String> {
    (
        2000i32..2100,
        1u32..13,
        1u32..29,
        0u32..24,
        0u32..60,
        0u32..1000,
    )
        .prop_map(|(y, mo, d, h, mi, ms)| format!("{y}-{mo:02}-{d:02}T{h:02}:{mi:02}:00.{ms:03}Z"))
}

fn failed_header() -> impl Strategy<Value = PaymentHeader> {
    (non_empty(), non_empty(), non_empty(), rfc3339()).prop_map(|(id, method, status, ts)| {
        PaymentHeader {
            payment_id: id,
            payment_method: method,
            is_paid: false,
            total_paid: 0,
            status,
            timestamp: ts,
        }
    })
}

fn order_id() -> OrderId {
    OrderId::parse("492500005643").expect("a valid id")
}

/// The JSON form's top-level fields and each value's exact text.
fn fields_of(text: &str) -> Vec<(String, String)> {
    let map: serde_json::Map<String, serde_json::Value> = serde_json::from_str(text).unwrap();
    let raw: BTreeMap<String, Box<RawValue>> = serde_json::from_str(text).unwrap();
    map.keys()
        .map(|k| (k.clone(), raw[k].get().to_string()))
        .collect()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    /// Map form: the item survives DynamoDB JSON (what the store and fixtures hold) unchanged,
    /// and saving a header sets `payment` and leaves every other attribute as it was.
    #[test]
    fn map_document_round_trips_and_saving_touches_only_payment(
        fields in proptest::collection::btree_map(key(), attr(), 0..8),
        header in failed_header(),
    ) {
        let attr = Attr::M(fields.clone());
        let text = serde_json::to_string(&attr).unwrap();
        let back: Attr = serde_json::from_str(&text).unwrap();
        prop_assert_eq!(&back, &attr);

        let data = OrderData::from_attr(&back).unwrap();
        prop_assert_eq!(data.payment_state(), PaymentState::Unpaid);
        let saved = data.with_payment(&header).unwrap();
        let OrderData::Map(saved_fields) = &saved else {
            panic!("the map form became {saved:?}")
        };
        prop_assert_eq!(saved_fields.get("payment"), Some(&header.to_attr()));
        let mut rest = saved_fields.clone();
        rest.remove("payment");
        prop_assert_eq!(rest, fields);
        prop_assert!(saved.has_payment(&header));
        prop_assert_eq!(saved.payment_state(), PaymentState::Unpaid);

        let order = StoredOrder { order_id: order_id(), data: saved.clone() };
        prop_assert_eq!(plan_save(&order, &header).unwrap(), SavePlan::Unchanged);
    }

    /// JSON-string form: every field other than `payment` keeps its exact text (30+-digit and
    /// negative numbers, `1.0`, exponents, unicode, empty and nested values) and its place;
    /// `payment` is replaced in place or appended; saving twice is saving once.
    #[test]
    fn json_document_keeps_every_other_field_byte_for_byte(
        fields in json_document(),
        with_old_payment in any::<bool>(),
        spaced in any::<bool>(),
        header in failed_header(),
    ) {
        let mut fields = fields;
        if with_old_payment {
            fields.insert(fields.len() / 2, ("payment".into(), r#"{"isPaid": false, "old": 1}"#.into()));
        }
        let text = render(&fields, spaced);
        let data = OrderData::from_attr(&Attr::S(text.clone())).unwrap();
        prop_assert_eq!(data.to_attr(), Attr::S(text.clone()), "read as it is stored");

        let saved = data.with_payment(&header).unwrap();
        let Attr::S(saved_text) = saved.to_attr() else {
            panic!("the JSON form became {saved:?}")
        };
        let saved_fields = fields_of(&saved_text);
        let keys: Vec<&str> = saved_fields.iter().map(|(k, _)| k.as_str()).collect();
        let mut expected_keys: Vec<&str> = fields.iter().map(|(k, _)| k.as_str()).collect();
        if !with_old_payment {
            expected_keys.push("payment");
        }
        prop_assert_eq!(keys, expected_keys, "field order kept, payment appended");
        for (k, v) in &fields {
            if k != "payment" {
                let after = &saved_fields.iter().find(|(sk, _)| sk == k).unwrap().1;
                // The value's own text, compacted only where serde_json's RawValue trims it.
                let before: Box<RawValue> = serde_json::from_str(v).unwrap();
                prop_assert_eq!(after, before.get(), "field {} changed", k);
            }
        }
        prop_assert!(saved.has_payment(&header));
        prop_assert_eq!(saved.payment_state(), PaymentState::Unpaid);
        prop_assert_eq!(saved.with_payment(&header).unwrap(), saved.clone());
        let order = StoredOrder { order_id: order_id(), data: saved };
        prop_assert_eq!(plan_save(&order, &header).unwrap(), SavePlan::Unchanged);
    }

    /// A paid order (either form) is never planned for a write, whatever the header.
    #[test]
    fn a_paid_order_is_never_overwritten(
        fields in proptest::collection::btree_map(key(), attr(), 0..5),
        header in failed_header(),
        json_form in any::<bool>(),
    ) {
        let mut paid = PaymentHeader { is_paid: true, total_paid: 99, ..header.clone() }.to_attr();
        if let Attr::M(m) = &mut paid {
            m.insert("extra".into(), Attr::s("kept"));
        }
        let mut m = fields;
        m.insert("payment".into(), paid);
        let data = if json_form {
            let payment = serde_json::json!({"isPaid": true, "totalPaid": 99});
            OrderData::Json(format!("{{\"orderId\":\"1\",\"payment\":{payment}}}"))
        } else {
            OrderData::Map(m)
        };
        prop_assert_eq!(data.payment_state(), PaymentState::Paid);
        let order = StoredOrder { order_id: order_id(), data };
        let err = plan_save(&order, &header).unwrap_err();
        prop_assert_eq!(err.error_type(), "OrderAlreadyPaid");
    }

    /// The header rules: built from any check-status with non-empty strings and an RFC 3339
    /// time it is unpaid, zero and carries those values; it round-trips through JSON in the
    /// contract's field order; any paid, non-zero, empty or badly timed header is InvalidInput.
    #[test]
    fn payment_header_rules(
        charge in non_empty(),
        method in non_empty(),
        status in non_empty(),
        created in text(),
        ts in rfc3339(),
    ) {
        let check = CheckStatus {
            charge_id: charge.clone(),
            payment_method: method.clone(),
            status: status.clone(),
            created_at: created,
        };
        let header = PaymentHeader::failed(&check, &ts).unwrap();
        prop_assert_eq!(&header.payment_id, &charge);
        prop_assert_eq!(&header.payment_method, &method);
        prop_assert_eq!(&header.status, &status);
        prop_assert!(!header.is_paid);
        prop_assert_eq!(header.total_paid, 0);
        let json = header.to_json();
        let keys: Vec<String> = json.as_object().unwrap().keys().cloned().collect();
        prop_assert_eq!(
            keys,
            vec!["paymentId", "paymentMethod", "isPaid", "totalPaid", "status", "timestamp"]
        );
        let back: PaymentHeader = serde_json::from_value(json.clone()).unwrap();
        prop_assert_eq!(&back, &header);
        prop_assert!(back.validate_failed().is_ok());

        let bad = [
            PaymentHeader { is_paid: true, ..header.clone() },
            PaymentHeader { total_paid: 1, ..header.clone() },
            PaymentHeader { payment_id: String::new(), ..header.clone() },
            PaymentHeader { payment_method: String::new(), ..header.clone() },
            PaymentHeader { status: String::new(), ..header.clone() },
            PaymentHeader { timestamp: format!("{ts} tomorrow"), ..header.clone() },
        ];
        for b in bad {
            prop_assert_eq!(b.validate_failed().unwrap_err().error_type(), "InvalidInput");
        }
        let mut extra = json;
        extra["isPaidLater"] = serde_json::json!(true);
        prop_assert!(serde_json::from_value::<PaymentHeader>(extra).is_err(), "unknown fields refused");
    }

    /// An empty charge, method or status never makes a header.
    #[test]
    fn an_incomplete_check_status_makes_no_header(which in 0usize..3, ts in rfc3339()) {
        let mut parts = ["ch_1".to_string(), "card".to_string(), "failed".to_string()];
        parts[which].clear();
        let [charge_id, payment_method, status] = parts;
        let check = CheckStatus { charge_id, payment_method, status, created_at: "1".into() };
        prop_assert_eq!(PaymentHeader::failed(&check, &ts).unwrap_err().error_type(), "InvalidInput");
    }
}
