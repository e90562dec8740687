//! The order document in both stored forms: any bytes as a JSON-string `data` and as a DynamoDB
//! map `data`. Parsing never panics, and when it succeeds, setting the payment header gives a
//! document that parses again, holds exactly that header and keeps its form.

#![no_main]

use libfuzzer_sys::fuzz_target;
use unpaid_order::model::{OrderData, PaymentHeader, PaymentState};
use unpaid_order::Attr;

fn header() -> PaymentHeader {
    PaymentHeader {
        payment_id: "ch_fuzz".into(),
        payment_method: "card".into(),
        is_paid: false,
        total_paid: 0,
        status: "failed".into(),
        timestamp: "2026-11-25T06:10:00.000Z".into(),
    }
}

fn check(data: &OrderData) {
    let _ = data.payment_state();
    let _ = data.text("email");
    let _ = data.text("name");
    let header = header();
    if let Ok(saved) = data.with_payment(&header) {
        let reread = OrderData::from_attr(&saved.to_attr()).expect("a saved document parses");
        assert!(reread.has_payment(&header), "the header is there");
        assert_eq!(
            reread.payment_state(),
            PaymentState::Unpaid,
            "a failed header reads as clearly unpaid"
        );
        assert_eq!(
            matches!(reread, OrderData::Json(_)),
            matches!(data, OrderData::Json(_)),
            "the form is kept"
        );
        // Saving again changes nothing.
        assert_eq!(reread.with_payment(&header).expect("saves again"), reread);
    }
}

fuzz_target!(|bytes: &[u8]| {
    if let Ok(text) = std::str::from_utf8(bytes) {
        if let Ok(data) = OrderData::from_attr(&Attr::S(text.to_string())) {
            check(&data);
        }
    }
    if let Ok(attr) = serde_json::from_slice::<Attr>(bytes) {
        if let Ok(data) = OrderData::from_attr(&attr) {
            check(&data);
        }
    }
});
