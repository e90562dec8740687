//! Hostile input: every case of `tests/corpus/` (malformed stream records, orderIds that cannot
//! name an execution, unicode and control characters, header injection in addresses and names,
//! HTML in order fields, non-JSON `data`, 400 KB payloads, ...) runs through the real machines
//! and handlers on its own embedded store. Each ends in a typed error or a reported skip, nothing
//! panics, and nothing is half-written: a case that fails leaves every table and the outbox as
//! they were; a case that goes through writes only its own order and one message per channel.
//!
//! A case file: `{"case": why, "orders"?, "checkStatus"?: items added to the fixtures,
//! "records"?: stream records for the Pipe | "input"?: a per-order execution input,
//! "inflate"?: {"pointer", "bytes"} (a string of that size put there), "expect": {...}}`.

use std::path::PathBuf;

use serde_json::{json, Value};
use sfn_local::Runner;
use unpaid_order::memory::MemoryState;
use workflow_tests::*;

struct Case {
    file: String,
    body: Value,
}

fn corpus() -> Vec<Case> {
    let dir = project_root().join("tests/corpus");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "json"))
        .collect();
    files.sort();
    files
        .into_iter()
        .map(|path| {
            let text = std::fs::read_to_string(&path).unwrap();
            let mut body: Value =
                serde_json::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
            if let Some(inflate) = body.get("inflate").cloned() {
                let pointer = inflate["pointer"].as_str().unwrap();
                let bytes = inflate["bytes"].as_u64().unwrap() as usize;
                set_pointer(&mut body, pointer, json!("x".repeat(bytes)));
            }
            Case {
                file: path.file_name().unwrap().to_string_lossy().into_owned(),
                body,
            }
        })
        .collect()
}

/// Sets `value` at a JSON pointer, creating the objects on the way.
fn set_pointer(doc: &mut Value, pointer: &str, value: Value) {
    let mut at = doc;
    for part in pointer.trim_start_matches('/').split('/') {
        at = match at {
            Value::Array(a) => &mut a[part.parse::<usize>().unwrap()],
            other => {
                if !other.is_object() {
                    *other = json!({});
                }
                other
                    .as_object_mut()
                    .unwrap()
                    .entry(part.to_string())
                    .or_insert(Value::Null)
            }
        };
    }
    *at = value;
}

/// A copy of the project's template, definitions and fixtures, with every case's orders and
/// check-status records added to the fixtures.
fn project_with(cases: &[Case]) -> tempfile::TempDir {
    let dir = project_copy(|template| template);
    for (key, file) in [
        ("orders", "orders.json"),
        ("checkStatus", "check-status.json"),
    ] {
        let extra = cases
            .iter()
            .filter_map(|c| c.body.get(key).and_then(Value::as_array))
            .flatten()
            .cloned();
        add_fixtures(dir.path(), file, extra);
    }
    dir
}

/// The order items of a state, without the one `order_id` (what a case may change).
fn other_orders(state: &MemoryState, order_id: &str) -> Vec<unpaid_order::Item> {
    state
        .orders
        .iter()
        .filter(|i| i.get("orderId").and_then(|a| a.key_text()) != Some(order_id))
        .cloned()
        .collect()
}

/// What the case ran into: (succeeded, error, the order it concerns, email outcome).
struct Ran {
    went_through: bool,
    error: Option<String>,
    order_id: Option<String>,
    email: Option<String>,
}

async fn run_case(runner: &Runner, case: &Case) -> Ran {
    let expect = &case.body["expect"];
    let file = &case.file;
    if let Some(records) = case.body.get("records") {
        // `viaPipe`: the deployed Pipe's filter or InputTemplate changes what the batch machine
        // sees. The batch machine's own contract (`outcome`, `pipeError`) still holds for the
        // full record, as in a batch started by hand: check it directly.
        if let Some(via_pipe) = expect.get("viaPipe").and_then(Value::as_str) {
            let direct = runner
                .start_execution(BATCH_MACHINE, records.clone(), None)
                .await;
            match expect.get("pipeError").and_then(Value::as_str) {
                Some(want) => {
                    let err = direct.unwrap_err();
                    assert!(format!("{err:?}").contains(want), "{file}: {err:?}");
                }
                None => {
                    let r = direct.expect("start the batch machine by hand");
                    // A FAILED batch (a record that needs an operator) carries it as its cause.
                    let summary = r
                        .output
                        .clone()
                        .or_else(|| {
                            r.cause
                                .as_deref()
                                .and_then(|c| serde_json::from_str(c).ok())
                        })
                        .expect("batch summary");
                    let line = &summary["outcomes"][0];
                    assert_eq!(line["outcome"], expect["outcome"], "{file}: {line}");
                }
            }
            return run_via_pipe(runner, case, records, via_pipe).await;
        }
        if let Some(want) = expect.get("pipeError").and_then(Value::as_str) {
            let err = runner.pipe(records.clone()).await.unwrap_err();
            assert!(format!("{err:?}").contains(want), "{file}: {err:?}");
            return Ran {
                went_through: false,
                error: None,
                order_id: None,
                email: None,
            };
        }
        let want = expect["outcome"].as_str().unwrap();
        run_via_pipe(runner, case, records, want).await
    } else {
        let input = case.body["input"].clone();
        let r = runner
            .start_execution(ORDER_MACHINE, input.clone(), Some("hostile"))
            .await
            .expect("start-execution");
        assert_eq!(
            r.status, expect["status"],
            "{file}: {:?} {:?}",
            r.error, r.cause
        );
        if r.status == "FAILED" {
            assert!(
                r.cause.as_deref().is_some_and(|c| !c.is_empty()),
                "{file}: a failure says why"
            );
        }
        Ran {
            went_through: r.status == "SUCCEEDED",
            error: r.error.clone(),
            order_id: input["orderId"].as_str().map(str::to_string),
            email: r
                .output
                .as_ref()
                .and_then(|o| o["notifyFailure"]["email"].as_str().map(str::to_string)),
        }
    }
}

/// The case's records through `sfn-local pipe` (the template's filter, template and batching).
async fn run_via_pipe(runner: &Runner, case: &Case, records: &Value, want: &str) -> Ran {
    let file = &case.file;
    let report = runner.pipe(records.clone()).await.expect("pipe");
    assert_eq!(report.records, 1, "{file}");
    // A malformed or unstarted record has no page of its own: its batch ends FAILED (after
    // every other record ran) with RecordsNeedAnOperator, so it pages. Any other succeeds.
    for b in &report.batches {
        if want == "malformed" || want == "unstarted" {
            assert_eq!(b.status, "FAILED", "{file}: {b:?}");
            assert_eq!(b.error.as_deref(), Some("RecordsNeedAnOperator"), "{file}");
        } else {
            assert_eq!(b.status, "SUCCEEDED", "{file}: {b:?}");
        }
    }
    if want == "filtered" {
        assert_eq!(report.filtered.len(), 1, "{file}: {:?}", report.orders);
        assert!(report.orders.is_empty(), "{file}");
        return Ran {
            went_through: false,
            error: None,
            order_id: None,
            email: None,
        };
    }
    assert!(report.filtered.is_empty(), "{file}: {:?}", report.filtered);
    assert_eq!(report.orders.len(), 1, "{file}");
    let line = &report.orders[0];
    assert_eq!(line["outcome"], want, "{file}: {line}");
    if want == "malformed" {
        assert!(
            line["reason"].as_str().is_some_and(|r| !r.is_empty()),
            "{file}: a malformed record says why: {line}"
        );
    }
    let error = line
        .get("childError")
        .or_else(|| line.get("error"))
        .and_then(Value::as_str)
        .map(str::to_string);
    let email = line["childExecutionArn"]
        .as_str()
        .and_then(|arn| runner.describe_execution(arn).ok())
        .and_then(|r| r.output)
        .and_then(|o| o["notifyFailure"]["email"].as_str().map(str::to_string));
    Ran {
        went_through: want == "processed",
        error,
        order_id: line["orderId"].as_str().map(str::to_string),
        email,
    }
}

/// The email a case sent is safe: one plain recipient, a one-line subject, no order field
/// unescaped in the HTML part, and small whatever the order's size.
fn assert_email_is_safe(file: &str, state: &MemoryState) {
    assert_eq!(state.outbox.emails.len(), 1, "{file}");
    let email = &state.outbox.emails[0];
    assert!(
        unpaid_order::notice::recipient_address(&email.to)
            .ok()
            .flatten()
            .as_deref()
            == Some(email.to.as_str()),
        "{file}: {:?}",
        email.to
    );
    assert!(
        !email.subject.chars().any(char::is_control),
        "{file}: {:?}",
        email.subject
    );
    assert!(!email.text.contains('\r'), "{file}: {:?}", email.text);
    for line in email.text.lines() {
        assert!(
            !line.starts_with("Bcc:") && !line.starts_with("Subject:"),
            "{file}: {line:?}"
        );
    }
    for raw in ["<script", "<img", "<a ", "onerror=alert(1)>"] {
        assert!(!email.html.contains(raw), "{file}: {raw} in {}", email.html);
    }
    assert!(
        email.html.len() < 4096,
        "{file}: {} bytes",
        email.html.len()
    );
    assert!(
        email.text.len() < 4096,
        "{file}: {} bytes",
        email.text.len()
    );
}

#[tokio::test]
async fn every_corpus_case_gets_a_typed_error_or_a_reported_skip_and_nothing_half_written() {
    let cases = corpus();
    assert!(cases.len() >= 30, "the corpus has {} cases", cases.len());
    let project = project_with(&cases);
    for case in &cases {
        let file = &case.file;
        let state = tempfile::tempdir().unwrap();
        let runner = open_runner(project.path(), state.path()).await;
        // The order index records every execution, refused or not (the evidence of what ran,
        // not a business write): left out of "nothing written".
        let without_index = |mut s: MemoryState| {
            s.order_index.clear();
            s
        };
        let before = without_index(runner.tables().await.unwrap().unwrap());
        let ran = run_case(&runner, case).await;
        let after = without_index(runner.tables().await.unwrap().unwrap());
        let expect = &case.body["expect"];

        if let Some(error) = expect.get("error").and_then(Value::as_str) {
            assert_eq!(ran.error.as_deref(), Some(error), "{file}");
        }
        if !ran.went_through {
            // Refused, skipped or failed: not one write anywhere.
            assert_eq!(after, before, "{file}: something was written");
            continue;
        }
        let order_id = ran.order_id.clone().expect("the case's order");
        assert_eq!(
            other_orders(&after, &order_id),
            other_orders(&before, &order_id),
            "{file}: another order changed"
        );
        assert_eq!(after.check_status, before.check_status, "{file}");
        assert_eq!(after.outbox.sns.len(), 1, "{file}: one SNS message");
        assert_eq!(after.process_unpaid_order.len(), 1, "{file}: one attempt");
        let want_email = expect["email"].as_str().unwrap_or("sent");
        assert_eq!(ran.email.as_deref(), Some(want_email), "{file}");
        if want_email == "sent" {
            assert_email_is_safe(file, &after);
        } else {
            assert!(after.outbox.emails.is_empty(), "{file}: an email went out");
        }
        // The saved order is still readable, in its form, with only the header added.
        let saved = after
            .orders
            .iter()
            .find(|i| i.get("orderId").and_then(|a| a.key_text()) == Some(&order_id))
            .expect("the order");
        let data = unpaid_order::OrderData::from_attr(&saved["data"]).expect("readable");
        assert_eq!(
            data.payment_state(),
            unpaid_order::PaymentState::Unpaid,
            "{file}"
        );
        if let Some(source) = case.body["orders"][0]["data"]["S"].as_str() {
            let unpaid_order::OrderData::Json(text) = &data else {
                panic!("{file}: the JSON form changed to {data:?}")
            };
            let original: serde_json::Map<String, Value> = serde_json::from_str(source).unwrap();
            for key in original.keys() {
                let raw: std::collections::BTreeMap<String, Box<serde_json::value::RawValue>> =
                    serde_json::from_str(text).unwrap();
                let was: std::collections::BTreeMap<String, Box<serde_json::value::RawValue>> =
                    serde_json::from_str(source).unwrap();
                assert_eq!(raw[key].get(), was[key].get(), "{file}: {key} changed");
            }
        }
    }
}

#[tokio::test]
async fn records_that_are_not_a_batch_are_refused_with_a_typed_error() {
    let h = Harness::embedded(&[]).await;
    let before = h.tables().await;
    for bad in [
        json!(42),
        json!("records"),
        json!({"Records": "not a list"}),
        json!({"records": []}),
        Value::Null,
    ] {
        let err = h.runner.pipe(bad.clone()).await.unwrap_err().to_string();
        assert!(err.contains("--records"), "{bad}: {err}");
    }
    assert_eq!(h.tables().await, before);
    assert!(h
        .runner
        .list_executions(BATCH_MACHINE, None)
        .unwrap()
        .is_empty());
}
