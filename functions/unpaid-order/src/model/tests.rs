//! The model's unit tests: headers, ids, both order forms, the save rule.

use std::collections::BTreeMap;

use super::*;
use crate::attr::{Attr, Item};

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
