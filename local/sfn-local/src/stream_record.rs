//! DynamoDB Streams API records (aws-sdk-dynamodbstreams) as the JSON stream records a Pipe reads
//! and filters: the shape of `events/stream-batch.json` (Lambda's and Pipes' event format).

use std::collections::HashMap;

use aws_sdk_dynamodbstreams::types::{AttributeValue, Record};
use serde_json::{json, Map, Value};

/// `record` from GetRecords as the Pipe's source event, with `eventSourceARN` = `stream_arn`.
pub fn to_json(record: &Record, stream_arn: &str) -> Value {
    let mut dynamodb = Map::new();
    if let Some(d) = &record.dynamodb {
        if let Some(t) = d.approximate_creation_date_time {
            dynamodb.insert("ApproximateCreationDateTime".into(), json!(t.secs()));
        }
        for (name, image) in [
            ("Keys", &d.keys),
            ("NewImage", &d.new_image),
            ("OldImage", &d.old_image),
        ] {
            if let Some(m) = image {
                dynamodb.insert(name.into(), item(m));
            }
        }
        if let Some(s) = &d.sequence_number {
            dynamodb.insert("SequenceNumber".into(), json!(s));
        }
        if let Some(n) = d.size_bytes {
            dynamodb.insert("SizeBytes".into(), json!(n));
        }
        if let Some(v) = &d.stream_view_type {
            dynamodb.insert("StreamViewType".into(), json!(v.as_str()));
        }
    }
    let mut out = Map::new();
    let text = |v: &Option<String>| v.as_ref().map(|s| json!(s));
    for (k, v) in [
        ("eventID", text(&record.event_id)),
        (
            "eventName",
            record.event_name.as_ref().map(|n| json!(n.as_str())),
        ),
        ("eventVersion", text(&record.event_version)),
        ("eventSource", text(&record.event_source)),
        ("awsRegion", text(&record.aws_region)),
    ] {
        if let Some(v) = v {
            out.insert(k.into(), v);
        }
    }
    out.insert("dynamodb".into(), Value::Object(dynamodb));
    out.insert("eventSourceARN".into(), json!(stream_arn));
    Value::Object(out)
}

/// A record's sequence number (empty when the endpoint sent none).
pub fn sequence_number(record: &Record) -> &str {
    record
        .dynamodb
        .as_ref()
        .and_then(|d| d.sequence_number.as_deref())
        .unwrap_or_default()
}

/// Orders two DynamoDB sequence numbers (decimal strings of any length) numerically.
pub fn compare_sequence(a: &str, b: &str) -> std::cmp::Ordering {
    let (a, b) = (a.trim_start_matches('0'), b.trim_start_matches('0'));
    a.len().cmp(&b.len()).then_with(|| a.cmp(b))
}

fn item(m: &HashMap<String, AttributeValue>) -> Value {
    // Sorted, so a record's JSON is the same from one read to the next.
    let mut keys: Vec<&String> = m.keys().collect();
    keys.sort();
    Value::Object(
        keys.into_iter()
            .map(|k| (k.clone(), attribute(&m[k])))
            .collect(),
    )
}

fn attribute(v: &AttributeValue) -> Value {
    let b64 = |b: &aws_smithy_types::Blob| aws_smithy_types::base64::encode(b.as_ref());
    match v {
        AttributeValue::S(s) => json!({"S": s}),
        AttributeValue::N(n) => json!({"N": n}),
        AttributeValue::B(b) => json!({"B": b64(b)}),
        AttributeValue::Ss(v) => json!({"SS": v}),
        AttributeValue::Ns(v) => json!({"NS": v}),
        AttributeValue::Bs(v) => json!({"BS": v.iter().map(b64).collect::<Vec<_>>()}),
        AttributeValue::M(m) => json!({"M": item(m)}),
        AttributeValue::L(l) => json!({"L": l.iter().map(attribute).collect::<Vec<_>>()}),
        AttributeValue::Null(b) => json!({"NULL": b}),
        AttributeValue::Bool(b) => json!({"BOOL": b}),
        _ => json!({"UNKNOWN": true}),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use aws_sdk_dynamodbstreams::types::{OperationType, StreamRecord, StreamViewType};
    use std::cmp::Ordering;

    #[test]
    fn a_record_reads_as_the_pipe_event() {
        let r = Record::builder()
            .event_id("e1")
            .event_name(OperationType::Insert)
            .event_source("aws:dynamodb")
            .dynamodb(
                StreamRecord::builder()
                    .keys("orderId", AttributeValue::S("4925".into()))
                    .new_image(
                        "n",
                        AttributeValue::L(vec![
                            AttributeValue::N("1".into()),
                            AttributeValue::Bool(true),
                        ]),
                    )
                    .sequence_number("100")
                    .size_bytes(12)
                    .stream_view_type(StreamViewType::NewAndOldImages)
                    .build(),
            )
            .build();
        assert_eq!(
            to_json(&r, "arn:s"),
            json!({"eventID": "e1", "eventName": "INSERT", "eventSource": "aws:dynamodb",
                "dynamodb": {"Keys": {"orderId": {"S": "4925"}}, "NewImage": {"n": {"L": [{"N": "1"}, {"BOOL": true}]}},
                    "SequenceNumber": "100", "SizeBytes": 12, "StreamViewType": "NEW_AND_OLD_IMAGES"},
                "eventSourceARN": "arn:s"})
        );
        assert_eq!(sequence_number(&r), "100");
    }

    #[test]
    fn sequence_numbers_compare_as_numbers() {
        assert_eq!(compare_sequence("99", "100"), Ordering::Less);
        assert_eq!(compare_sequence("0100", "100"), Ordering::Equal);
        assert_eq!(
            compare_sequence("200000000000000000001", "200000000000000000000"),
            Ordering::Greater
        );
    }
}
