//! The execution page (graph, states, events, batch ↔ child ↔ stream record links) and the order
//! page (every attempt, how they were found, the timeline, what was sent), as maud markup.

use std::collections::BTreeMap;

use maud::{html, Markup};
use serde_json::Value;
use unpaid_order::memory::Outbox;
use unpaid_order::notice::mask_email;

use crate::find::{Attempt, Searched};
use crate::graph::Definition;
use crate::marks::StateRun;
use crate::pages::{execution_url, json_block, opt_time, order_url, query, status, time};
use crate::sfn::Event;

/// One stream record of a batch execution and the per-order child it started.
#[derive(Debug, Clone, PartialEq, Default, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct BatchRecord {
    /// The stream record's `eventID`.
    pub event_id: String,
    /// The order the record named.
    pub order_id: Option<String>,
    /// The per-order execution's name derived from the record.
    pub execution_name: Option<String>,
    /// The per-order execution it started.
    pub child_arn: Option<String>,
    /// What the batch made of the record (as its iteration output says).
    pub outcome: Option<String>,
}

/// The batch's per-record results, read off its states' outputs (each Map iteration's output
/// carries `eventID`, `orderId`, `executionName`, `outcome` and `child.executionArn`).
pub fn batch_records(events: &[Event]) -> Vec<BatchRecord> {
    let mut by_event: BTreeMap<String, BatchRecord> = BTreeMap::new();
    let mut order: Vec<String> = Vec::new();
    for e in events.iter().filter(|e| e.kind.ends_with("StateExited")) {
        let Some(v) = e
            .output
            .as_deref()
            .and_then(|o| serde_json::from_str::<Value>(o).ok())
        else {
            continue;
        };
        let Some(id) = v.get("eventID").and_then(Value::as_str) else {
            continue;
        };
        if !by_event.contains_key(id) {
            order.push(id.to_string());
        }
        let r = by_event
            .entry(id.to_string())
            .or_insert_with(|| BatchRecord {
                event_id: id.to_string(),
                ..BatchRecord::default()
            });
        let text = |k: &str| v.get(k).and_then(Value::as_str).map(str::to_string);
        r.order_id = text("orderId").or(r.order_id.take());
        r.execution_name = text("executionName").or(r.execution_name.take());
        r.outcome = text("outcome").or(r.outcome.take());
        r.child_arn = v
            .pointer("/child/executionArn")
            .and_then(Value::as_str)
            .map(str::to_string)
            .or(r.child_arn.take());
    }
    // A child that failed has no `child` in the output: its ARN is the machine's from the
    // ProcessOrder task's parameters, with the execution's name.
    let mut started: BTreeMap<String, String> = BTreeMap::new();
    for e in events.iter().filter(|e| e.kind == "TaskScheduled") {
        let Some(p) = e
            .input
            .as_deref()
            .and_then(|i| serde_json::from_str::<Value>(i).ok())
        else {
            continue;
        };
        if let (Some(m), Some(n)) = (
            p.get("StateMachineArn").and_then(Value::as_str),
            p.get("Name").and_then(Value::as_str),
        ) {
            started.insert(
                n.to_string(),
                format!("{}:{n}", m.replacen(":stateMachine:", ":execution:", 1)),
            );
        }
    }
    order
        .into_iter()
        .filter_map(|id| by_event.remove(&id))
        .map(|mut r| {
            if r.child_arn.is_none() {
                r.child_arn = r
                    .execution_name
                    .as_ref()
                    .and_then(|n| started.get(n).cloned());
            }
            r
        })
        .collect()
}

/// Where this execution sits: the batch that started it and its stream record, or the records
/// and children of a batch.
#[derive(Debug, Clone, Default)]
pub struct Links {
    /// The order of a per-order execution's input.
    pub order_id: Option<String>,
    /// The batch execution that started this one, if a batch did.
    pub started_by: Option<String>,
    /// That batch's stream record for this execution.
    pub record: Option<BatchRecord>,
    /// For a batch: every record and the child it started.
    pub children: Vec<BatchRecord>,
}

/// The execution page's "where this sits" facts: order, batch, stream record, children.
pub fn links(l: &Links) -> Markup {
    html! {
        @if l.order_id.is_some() || l.started_by.is_some() {
            dl.facts #links {
                @if let Some(id) = &l.order_id {
                    dt { "Order" } dd { a href=(order_url(id)) { (id) } }
                }
                @if let Some(b) = &l.started_by {
                    dt { "Started by batch" } dd { a #batch-link href=(execution_url(b)) { (b) } }
                }
                @if let Some(r) = &l.record {
                    dt { "Stream record eventID" } dd.mono #event-id { (r.event_id) }
                }
            }
        }
        @if !l.children.is_empty() {
            h2 { "Stream records and the executions they started" }
            table.list #children {
                thead { tr { th { "eventID" } th { "Order" } th { "Outcome" } th { "Child execution" } } }
                tbody {
                    @for r in &l.children {
                        tr {
                            td.mono { (r.event_id) }
                            td { @if let Some(o) = &r.order_id { a href=(order_url(o)) { (o) } } }
                            td { (r.outcome.as_deref().unwrap_or("")) }
                            td {
                                @if let Some(c) = &r.child_arn {
                                    a href=(execution_url(c)) { (r.execution_name.as_deref().unwrap_or(c)) }
                                } @else { (r.execution_name.as_deref().unwrap_or("")) }
                            }
                        }
                    }
                }
            }
        }
    }
}

/// The execution page's state table: each state's mark, retries, last input/output and error.
pub fn states(definition: &Definition, runs: &BTreeMap<String, StateRun>) -> Markup {
    let empty = StateRun::default();
    html! {
        table.list #states {
            thead { tr { th { "State" } th { "Type" } th { "What happened" } th { "Error" } th { "Input / output" } } }
            tbody {
                @for s in &definition.states {
                    @let run = runs.get(&s.name).unwrap_or(&empty);
                    tr data-state=(s.name) data-mark=(run.mark().as_str()) {
                        td { (s.name) }
                        td { (s.kind) }
                        td { span class={ "mark " (run.mark().as_str()) } { (run.summary()) } }
                        td {
                            @if let Some(e) = &run.error {
                                details.cause {
                                    summary { (e) }
                                    pre { (crate::pages::pretty(run.cause.as_deref().unwrap_or(""))) }
                                }
                            }
                        }
                        td {
                            (json_block("input", run.input.as_deref()))
                            (json_block("output", run.output.as_deref()))
                        }
                    }
                }
            }
        }
    }
}

/// The execution page's history, one row per event.
pub fn events(events: &[Event]) -> Markup {
    html! {
        details.events open[events.len() <= 25] {
            summary { (events.len()) " events" }
            table.list #events {
                thead { tr { th { "ID" } th { "Time" } th { "Type" } th { "State" } th { "Detail" } } }
                tbody {
                    @for e in events {
                        tr data-type=(e.kind) {
                            td { (e.id) }
                            td { (time(&e.timestamp)) }
                            td { (e.kind) }
                            td { (e.state.as_deref().unwrap_or("")) }
                            td {
                                @if let Some(err) = &e.error { strong { (err) } " " }
                                @if let Some(c) = &e.cause { (json_block("cause", Some(c))) }
                                (json_block("input", e.input.as_deref()))
                                (json_block("output", e.output.as_deref()))
                            }
                        }
                    }
                }
            }
        }
    }
}

/// The payment header an attempt wrote and what saving it did, from its output (or the last
/// state output that carries them).
pub fn written_header(output: Option<&Value>, events: &[Event]) -> Option<(Value, Option<String>)> {
    let from = |v: &Value| {
        v.pointer("/failedHeader/paymentHeader").cloned().map(|h| {
            let saved = v
                .pointer("/saveOrder/outcome")
                .and_then(Value::as_str)
                .map(str::to_string);
            (h, saved)
        })
    };
    if let Some(found) = output.and_then(from) {
        return Some(found);
    }
    events
        .iter()
        .rev()
        .filter(|e| e.kind.ends_with("StateExited"))
        .filter_map(|e| {
            e.output
                .as_deref()
                .and_then(|o| serde_json::from_str::<Value>(o).ok())
        })
        .find_map(|v| from(&v))
}

/// One attempt's row on the order page.
pub struct AttemptView {
    /// The execution and the machine it ran on.
    pub attempt: Attempt,
    /// The payment header it wrote and save-order's outcome, from [`written_header`].
    pub header: Option<(Value, Option<String>)>,
}

/// The order page: every attempt and how they were found, the timeline, what was sent, and a
/// form to start one more.
pub fn order(
    id: &str,
    attempts: &[AttemptView],
    searched: &Searched,
    timeline: Markup,
    outbox: Option<&Outbox>,
    start_form: Markup,
) -> Markup {
    let scanning = matches!(searched, Searched::Scan { .. });
    html! {
        p { "Every execution whose input names order " strong #order-id { (id) } " (its " code { "orderId" } ", or a stream record of a batch)." }
        p.notice #searched data-method=(if scanning { "scan" } else { "index" }) data-incomplete=(searched.incomplete()) {
            (searched.message())
            @if !scanning {
                " " a #scan-link href={ "/order" (query(&[("id", id), ("scan", "1")])) } { "Search by scanning the newest executions instead" }
            } @else if attempts.is_empty() && !searched.incomplete() {
                " No execution names this order."
            }
        }
        table.list #attempts {
            thead { tr { th { "Execution" } th { "Machine" } th { "Status" } th { "Started" } th { "Stopped" } th { "Redrives" } th { "Error" } th { "Payment header written" } } }
            tbody {
                @for a in attempts {
                    @let e = &a.attempt.execution;
                    tr data-status=(e.status) {
                        td { a href=(execution_url(&e.arn)) { (e.name) } @if a.attempt.gone { " (no longer in Step Functions)" } }
                        td { (a.attempt.machine) }
                        td { (status(&e.status)) }
                        td { (time(&e.start)) }
                        td { (opt_time(e.stop.as_ref())) }
                        td { (e.redrive_count) }
                        td { (e.error.as_deref().unwrap_or("")) }
                        td {
                            @if let Some((h, saved)) = &a.header {
                                @if let Some(s) = saved { "save: " (s) " " }
                                (json_block("header", Some(&h.to_string())))
                            }
                        }
                    }
                }
            }
        }
        h2 { "Timeline" }
        (timeline)
        h2 { "Start a new attempt" }
        (start_form)
        h2 { "What was sent" }
        @match outbox {
            None => p { "No outbox to read: on AWS the messages went to SNS and SES (offline, start the console with --sfn-local-state-dir to read sfn-local's outbox)." },
            Some(o) => {
                @let emails: Vec<_> = o.emails.iter().filter(|m| m.subject.contains(id)).collect();
                @let sns: Vec<_> = o.sns.iter().filter(|m| sns_order(&m.message).as_deref() == Some(id)).collect();
                p #sent-summary { (emails.len()) " email(s), " (sns.len()) " SNS message(s) for this order in the outbox." }
                table.list #emails {
                    thead { tr { th { "Message id" } th { "To" } th { "Subject" } th { "Text" } } }
                    tbody {
                        @for m in &emails {
                            tr {
                                td.mono { (m.message_id) }
                                td { (mask_email(&m.to)) }
                                td { (m.subject) }
                                td { details { summary { "text" } pre { (m.text) } } }
                            }
                        }
                    }
                }
            }
        }
    }
}

fn sns_order(message: &str) -> Option<String> {
    serde_json::from_str::<Value>(message)
        .ok()?
        .get("orderId")?
        .as_str()
        .map(str::to_string)
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::Utc;
    use serde_json::json;

    fn exited(id: i64, output: Value) -> Event {
        Event {
            id,
            previous_id: id - 1,
            timestamp: Utc::now(),
            kind: "TaskStateExited".into(),
            state: Some("ProcessOrder".into()),
            input: None,
            output: Some(output.to_string()),
            error: None,
            cause: None,
        }
    }

    #[test]
    fn batch_records_link_event_ids_to_children() {
        let events = vec![
            exited(
                2,
                json!({"index": 0, "orderId": "1", "eventID": "e1", "executionName": "1-e1", "outcome": "processed"}),
            ),
            exited(
                3,
                json!({"index": 0, "orderId": "1", "eventID": "e1", "executionName": "1-e1", "outcome": "processed", "child": {"executionArn": "arn:c1"}}),
            ),
            exited(4, json!({"processed": 1})),
        ];
        let records = batch_records(&events);
        assert_eq!(records.len(), 1);
        assert_eq!(records[0].child_arn.as_deref(), Some("arn:c1"));
        assert_eq!(records[0].order_id.as_deref(), Some("1"));
    }

    #[test]
    fn the_header_comes_from_the_output_or_the_last_state_output() {
        let out = json!({"failedHeader": {"paymentHeader": {"status": "failed"}}, "saveOrder": {"outcome": "saved"}});
        let (h, saved) = written_header(Some(&out), &[]).expect("from the output");
        assert_eq!(h["status"], "failed");
        assert_eq!(saved.as_deref(), Some("saved"));
        let events = vec![exited(
            5,
            json!({"failedHeader": {"paymentHeader": {"status": "x"}}}),
        )];
        let (h, saved) = written_header(None, &events).expect("from the history");
        assert_eq!((h["status"].as_str(), saved), (Some("x"), None));
        assert!(written_header(None, &[]).is_none());
    }
}
