//! An evidence-queue message body (an EventBridge event: SES sending event or Step Functions
//! status change) through `AwsEvent::parse` and what record-event derives from it. Any bytes: a
//! typed error or a value, never a panic; a claim read from tags survives its own round trip.

#![no_main]

use std::collections::BTreeMap;

use libfuzzer_sys::fuzz_target;
use unpaid_order::evidence::{AwsEvent, ClaimTags};

fuzz_target!(|bytes: &[u8]| {
    let Ok(body) = std::str::from_utf8(bytes) else {
        return;
    };
    match AwsEvent::parse(body) {
        Ok(AwsEvent::Ses(event)) => {
            // The tags notify-failure would write for this claim name the same claim again.
            let tags: BTreeMap<String, Vec<String>> = event
                .claim
                .to_tags()
                .into_iter()
                .map(|(k, v)| (k, vec![v]))
                .collect();
            assert_eq!(ClaimTags::from_mail_tags(&tags), Some(event.claim.clone()));
            let _ = event.to_attr();
        }
        Ok(AwsEvent::Execution(change)) => {
            let input = change.input.clone().unwrap_or_default();
            for entry in change.index_entries(&input) {
                assert!(!entry.order_id.is_empty());
                let item = entry.to_item();
                assert_eq!(unpaid_order::evidence::IndexEntry::from_item(&item), Some(entry));
            }
        }
        Ok(AwsEvent::Ignored { .. }) | Err(_) => {}
    }
});
