//! A DynamoDB stream record as the Pipe delivers it: the keys and the new image parse as DynamoDB
//! JSON, the orderId through `OrderId::parse`, the image through `StoredOrder::from_item`. Any
//! bytes: a typed error or a value, never a panic.

#![no_main]

use libfuzzer_sys::fuzz_target;
use unpaid_order::model::{OrderId, StoredOrder};
use unpaid_order::Item;

fuzz_target!(|bytes: &[u8]| {
    let Ok(record) = serde_json::from_slice::<serde_json::Value>(bytes) else {
        return;
    };
    let _ = record.get("eventName").and_then(|v| v.as_str());
    let _ = record.get("eventID").and_then(|v| v.as_str());
    let Some(dynamodb) = record.get("dynamodb") else {
        return;
    };
    let keys = dynamodb
        .get("Keys")
        .and_then(|k| serde_json::from_value::<Item>(k.clone()).ok());
    let order_id = keys
        .as_ref()
        .and_then(|k| k.get("orderId"))
        .and_then(|a| a.as_s())
        .and_then(|s| OrderId::parse(s).ok());
    if let Some(id) = &order_id {
        // A parsed id is what the table keys: non-empty, trimmed, no control characters.
        assert!(!id.as_str().is_empty() && id.as_str().len() <= 256);
        assert!(!id.as_str().chars().any(char::is_control));
    }
    let image = dynamodb
        .get("NewImage")
        .and_then(|i| serde_json::from_value::<Item>(i.clone()).ok());
    if let (Some(id), Some(image)) = (order_id, image) {
        if let Ok(order) = StoredOrder::from_item(&id, &image) {
            let _ = order.data.payment_state();
            let _ = order.data.text("email");
        }
        // A round trip of the image through its DynamoDB JSON is the identity.
        let text = serde_json::to_string(&image).expect("an item serialises");
        let back: Item = serde_json::from_str(&text).expect("and parses back");
        assert_eq!(back, image);
    }
});
