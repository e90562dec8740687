//! The order timeline, newest first: the stream records and their batch, every per-order
//! execution with its redrives, the payment header written, the attempt records, the SNS message,
//! the email claim and SES's events about it. Built from what Step Functions, the order index, the
//! email log and the attempt table hold; rendered with maud (every value escaped, emails masked).

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use maud::{html, Markup};
use serde_json::Value;
use unpaid_order::evidence::items::{recorded_ses_events, SUPERSEDED_TOKENS};
use unpaid_order::evidence::{order_ids_of_input, IndexEntry};
use unpaid_order::notice::mask_email;
use unpaid_order::{Attr, Item};

use crate::detail::written_header;
use crate::find::Attempt;
use crate::index::index_date;
use crate::pages::{execution_url, json_block, status, time};
use crate::sfn::Event;

/// How an entry reads: good news, a warning, bad news (the customer did not hear), or a fact.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Tone {
    /// A fact.
    Info,
    /// It went through.
    Ok,
    /// Needs a look.
    Warn,
    /// It did not go through.
    Bad,
}

impl Tone {
    fn class(self) -> &'static str {
        match self {
            Tone::Info => "info",
            Tone::Ok => "ok",
            Tone::Warn => "warn",
            Tone::Bad => "bad",
        }
    }
}

/// One line of the timeline.
pub struct Entry {
    /// When; `None` sorts last ("time unknown").
    pub at: Option<DateTime<Utc>>,
    /// What kind of fact (`stream-record`, `execution-started`, `ses-event`, ...): the entry's
    /// `data-kind`.
    pub kind: &'static str,
    /// How it reads.
    pub tone: Tone,
    /// What happened (escaped markup).
    pub what: Markup,
}

/// The email log's two records of one attempt.
#[derive(Debug, Clone, Default)]
pub struct EmailRecords {
    /// `{orderId}#{attemptId}#sns`: the team's SNS message.
    pub sns: Option<Item>,
    /// `{orderId}#{attemptId}#email`: the customer's email, with SES's events.
    pub email: Option<Item>,
}

/// Everything the timeline is built from.
pub struct Evidence<'a> {
    /// The order.
    pub order_id: &'a str,
    /// Its executions (batches and per-order ones), described.
    pub executions: &'a [Attempt],
    /// The order index's items of the order (empty without an index).
    pub entries: &'a [IndexEntry],
    /// The histories read, by execution ARN (per-order executions, bounded).
    pub histories: &'a HashMap<String, Vec<Event>>,
    /// The email log's records, by attempt id (execution name).
    pub emails: &'a HashMap<String, EmailRecords>,
    /// The attempt table's records of the order (`None`: not configured).
    pub attempts: Option<&'a [Item]>,
}

fn text<'a>(item: &'a Item, name: &str) -> Option<&'a str> {
    item.get(name).and_then(Attr::key_text)
}

fn parse_time(t: &str) -> Option<DateTime<Utc>> {
    index_date(t)
}

fn is_per_order(a: &Attempt) -> bool {
    a.execution
        .input_json()
        .is_some_and(|i| i.get("orderId").is_some())
}

/// The stream records (eventIDs) of a batch that named the order: from its input, or from the
/// index item when Step Functions no longer has the input.
fn stream_records(a: &Attempt, order_id: &str, entries: &[IndexEntry]) -> Vec<String> {
    if let Some(input) = a.execution.input_json() {
        if let Some((_, ids)) = order_ids_of_input(&input)
            .into_iter()
            .find(|(o, _)| o == order_id)
        {
            return ids;
        }
    }
    entries
        .iter()
        .find(|e| e.execution_arn == a.execution.arn)
        .map(|e| e.stream_event_ids.clone())
        .unwrap_or_default()
}

fn link(a: &Attempt) -> Markup {
    html! { a href=(execution_url(&a.execution.arn)) { (a.execution.name) } }
}

fn execution_entries(ev: &Evidence<'_>, a: &Attempt, out: &mut Vec<Entry>) {
    let e = &a.execution;
    let per_order = is_per_order(a);
    if !per_order {
        let records = stream_records(a, ev.order_id, ev.entries);
        out.push(Entry {
            at: Some(e.start),
            kind: "stream-record",
            tone: Tone::Info,
            what: html! {
                "Stream record " @for (i, r) in records.iter().enumerate() {
                    @if i > 0 { ", " } code.event-id { (r) }
                }
                @if records.is_empty() { "(eventID not known)" }
                " named this order in batch " (link(a)) " (" (a.machine) ")"
            },
        });
    } else {
        let started_by = e
            .input_json()
            .and_then(|i| crate::find::started_by(&i).map(str::to_string));
        out.push(Entry {
            at: Some(e.start),
            kind: "execution-started",
            tone: Tone::Info,
            what: html! {
                "Execution " (link(a)) " started on " (a.machine)
                @match &started_by {
                    Some(b) => { " by batch " a href=(execution_url(b)) { (b.rsplit(':').next().unwrap_or(b)) } }
                    None => { " by hand (StartExecution)" }
                }
                " — attempt id " code { (e.name) }
            },
        });
    }
    // Each redrive, from the history's ExecutionRedriven events (else the last one described).
    let history = ev.histories.get(&e.arn);
    let redrives: Vec<DateTime<Utc>> = match history {
        Some(h) => h
            .iter()
            .filter(|x| x.kind == "ExecutionRedriven")
            .map(|x| x.timestamp)
            .collect(),
        None => e.redrive_date.into_iter().collect(),
    };
    let first = usize::try_from(e.redrive_count)
        .unwrap_or(0)
        .saturating_sub(redrives.len());
    for (i, at) in redrives.iter().enumerate() {
        out.push(Entry {
            at: Some(*at),
            kind: "redrive",
            tone: Tone::Warn,
            what: html! { "Execution " (link(a)) " redriven (redrive " (first + i + 1) "): it runs again from the state that failed" },
        });
    }
    if let Some(stop) = e.stop {
        let tone = match e.status.as_str() {
            "SUCCEEDED" => Tone::Ok,
            _ => Tone::Bad,
        };
        out.push(Entry {
            at: Some(stop),
            kind: "execution-ended",
            tone,
            what: html! {
                @if per_order { "Execution " } @else { "Batch " }
                (link(a)) " ended " (status(&e.status))
                @if let Some(err) = &e.error { " with " strong { (err) } }
                @if a.gone { " (Step Functions no longer keeps it; as the index last saw it)" }
            },
        });
    }
    if per_order {
        header_entry(a, history.map(Vec::as_slice).unwrap_or(&[]), out);
    }
}

fn header_entry(a: &Attempt, history: &[Event], out: &mut Vec<Entry>) {
    let output = a.execution.output_json();
    let Some((header, saved)) = written_header(output.as_ref(), history) else {
        return;
    };
    // When SaveOrder exited (the history), else when the execution stopped.
    let at = history
        .iter()
        .rev()
        .find(|x| x.kind.ends_with("StateExited") && x.state.as_deref() == Some("SaveOrder"))
        .map(|x| x.timestamp)
        .or(a.execution.stop);
    out.push(Entry {
        at,
        kind: "payment-header",
        tone: Tone::Info,
        what: html! {
            "Payment header written by " (link(a))
            @if let Some(s) = &saved { " (save-order: " strong { (s) } ")" }
            (json_block("the header", Some(&header.to_string())))
        },
    });
}

fn attempt_entries(items: &[Item], out: &mut Vec<Entry>) {
    for item in items {
        let created = text(item, "created_at").unwrap_or_default();
        // A range key another attempt held is `{timestamp}#{attemptId}`.
        let at = parse_time(created.split('#').next().unwrap_or(created));
        let payment = payment_of(item);
        out.push(Entry {
            at,
            kind: "attempt-record",
            tone: Tone::Info,
            what: html! {
                "Attempt record of attempt " code { (text(item, "attemptId").unwrap_or("?")) }
                " in the process-unpaid-order table (created_at " code { (created) } ": the header's timestamp)"
                @if let Some(p) = &payment { (json_block("the payment header it logged", Some(p))) }
            },
        });
    }
}

/// The `payment` of the order as the attempt record saved it (the rest of the order, with the
/// customer's address, is not shown).
fn payment_of(item: &Item) -> Option<String> {
    match item.get("data")? {
        Attr::M(m) => m.get("payment").and_then(|p| serde_json::to_string(p).ok()),
        Attr::S(json) => serde_json::from_str::<Value>(json)
            .ok()?
            .get("payment")
            .map(Value::to_string),
        _ => None,
    }
}

fn sns_entries(attempt: &str, record: &Item, out: &mut Vec<Entry>) {
    let state = text(record, "status").unwrap_or("unknown");
    let topic = text(record, "recipient").unwrap_or_default();
    let topic = topic.rsplit(':').next().unwrap_or(topic);
    let (at, tone) = match state {
        "sent" => (text(record, "sentAt"), Tone::Ok),
        "failed" => (text(record, "claimedAt"), Tone::Bad),
        _ => (text(record, "claimedAt"), Tone::Warn),
    };
    out.push(Entry {
        at: at.and_then(parse_time),
        kind: "sns",
        tone,
        what: html! {
            "SNS message to " code { (topic) } " for attempt " code { (attempt) } ": " strong { (state) }
            @if let Some(m) = text(record, "messageId") { " — message id " code { (m) } }
            @if let Some(f) = text(record, "failure") { " — " (f) }
        },
    });
}

fn email_entries(attempt: &str, record: &Item, out: &mut Vec<Entry>) {
    let state = text(record, "status").unwrap_or("unknown");
    let to = mask_email(text(record, "recipient").unwrap_or_default());
    let token = text(record, "claimToken").unwrap_or_default();
    let superseded: Vec<&str> = match record.get(SUPERSEDED_TOKENS) {
        Some(Attr::Ss(v)) => v.iter().map(String::as_str).collect(),
        _ => Vec::new(),
    };
    out.push(Entry {
        at: text(record, "claimedAt").and_then(parse_time),
        kind: "email-claim",
        tone: match state {
            "sent" => Tone::Ok,
            "failed" => Tone::Bad,
            _ => Tone::Warn,
        },
        what: html! {
            "Email to " span.masked { (to) } " claimed for attempt " code { (attempt) } ": now " strong.email-status { (state) }
            @if !superseded.is_empty() { " — " (superseded.len()) " earlier claim(s) superseded (sent again after the confirmation window)" }
            @if let Some(f) = text(record, "failure") { " — " (f) }
        },
    });
    if let Some(sent_at) = text(record, "sentAt") {
        let by = text(record, "confirmedBy");
        out.push(Entry {
            at: parse_time(sent_at),
            kind: "email-sent",
            tone: Tone::Ok,
            what: html! {
                "Email sent"
                @if let Some(m) = text(record, "messageId") { " — SES message id " code { (m) } }
                @match by.and_then(|b| b.strip_prefix("ses:")) {
                    Some(kind) => { " — " strong.confirmed-by { "confirmed by SES's " (kind) " event" } " (the send's own answer was lost)" }
                    None => { " — SendEmail answered with it" }
                }
            },
        });
    }
    for event in recorded_ses_events(record) {
        let never_heard = NEVER_HEARD.contains(&event.kind.as_str());
        let tone = match event.kind.as_str() {
            "Send" | "Delivery" => Tone::Ok,
            "DeliveryDelay" => Tone::Warn,
            _ => Tone::Bad,
        };
        let of_old_claim =
            event.claim_token != token && superseded.contains(&event.claim_token.as_str());
        out.push(Entry {
            at: parse_time(&event.at),
            kind: "ses-event",
            tone,
            what: html! {
                "SES " strong.ses-kind data-ses=(event.kind) { (event.kind) } " event"
                @if !event.summary.is_empty() { " (" (event.summary) ")" }
                " — message " code { (event.message_id) }
                @if of_old_claim { " — of a superseded claim: the customer got this email twice" }
                @if never_heard { " — " strong.never-heard { "the customer did not get the email" } }
                @if event.kind == "Complaint" { " — the customer marked it as spam" }
                @if event.kind == "DeliveryDelay" { " — SES is still trying" }
            },
        });
    }
}

/// The timeline's entries, newest first (entries of unknown time last).
pub fn build(ev: &Evidence<'_>) -> Vec<Entry> {
    let mut out = Vec::new();
    for a in ev.executions {
        execution_entries(ev, a, &mut out);
        if is_per_order(a) || a.gone {
            if let Some(r) = ev.emails.get(&a.execution.name) {
                if let Some(sns) = &r.sns {
                    sns_entries(&a.execution.name, sns, &mut out);
                }
                if let Some(email) = &r.email {
                    email_entries(&a.execution.name, email, &mut out);
                }
            }
        }
    }
    if let Some(items) = ev.attempts {
        attempt_entries(items, &mut out);
    }
    // Newest first; a stable sort keeps the build order (start before its consequences) for
    // equal times, reversed below with the rest.
    out.reverse();
    out.sort_by(|a, b| match (a.at, b.at) {
        (Some(x), Some(y)) => y.cmp(&x),
        (Some(_), None) => std::cmp::Ordering::Less,
        (None, Some(_)) => std::cmp::Ordering::Greater,
        (None, None) => std::cmp::Ordering::Equal,
    });
    out
}

/// Whether SES reported, for any email of the order, that the customer did not get it (a
/// Bounce, a Reject, a Rendering Failure).
pub fn customer_never_heard(emails: &HashMap<String, EmailRecords>) -> bool {
    emails
        .values()
        .filter_map(|r| r.email.as_ref())
        .flat_map(recorded_ses_events)
        .any(|e| NEVER_HEARD.contains(&e.kind.as_str()))
}

/// The SES events that mean the customer did not get the email.
const NEVER_HEARD: [&str; 4] = ["Bounce", "Reject", "Rendering Failure", "RenderingFailure"];

/// The timeline as a list, with a line for each source the console could not read.
pub fn render(entries: &[Entry], missing: &[String], never_heard: bool) -> Markup {
    html! {
        @if never_heard {
            p.notice.bad #never-heard { "SES reported that the customer did not get an email of this order: see the Bounce or Reject below." }
        }
        @for m in missing { p.missing { (m) } }
        ol.timeline #timeline {
            @for e in entries {
                li class=(e.tone.class()) data-kind=(e.kind) {
                    span.when { @match &e.at { Some(t) => (time(t)), None => "time unknown" } }
                    " "
                    span.what { (e.what) }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sfn::Execution;
    use chrono::TimeZone;
    use serde_json::json;

    fn at(minute: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 11, 25, 6, minute, 0).unwrap()
    }

    fn execution(name: &str, input: Value, start: u32, stop: u32, status: &str) -> Attempt {
        Attempt {
            machine: "process-unpaid-order-dev".into(),
            execution: Execution {
                arn: format!(
                    "arn:aws:states:us-east-1:1:execution:process-unpaid-order-dev:{name}"
                ),
                machine_arn: "arn:aws:states:us-east-1:1:stateMachine:process-unpaid-order-dev"
                    .into(),
                name: name.into(),
                status: status.into(),
                start: at(start),
                stop: Some(at(stop)),
                input: Some(input.to_string()),
                output: None,
                error: None,
                cause: None,
                redrive_count: 0,
                redrive_date: None,
                redrive_status: None,
                redrive_status_reason: None,
            },
            gone: false,
        }
    }

    fn email_record(events: &[(&str, &str, u32)], confirmed_by: Option<&str>) -> Item {
        let mut item = Item::from([
            ("emailId".to_string(), Attr::s("1#a1#email")),
            ("recipient".to_string(), Attr::s("jane.doe@example.com")),
            ("status".to_string(), Attr::s("sent")),
            ("claimToken".to_string(), Attr::s("t1")),
            ("claimedAt".to_string(), Attr::s("2026-11-25T06:02:00Z")),
            ("sentAt".to_string(), Attr::s("2026-11-25T06:03:00Z")),
            ("messageId".to_string(), Attr::s("m1")),
        ]);
        if let Some(by) = confirmed_by {
            item.insert("confirmedBy".into(), Attr::s(by));
        }
        let list = events
            .iter()
            .map(|(kind, token, minute)| {
                Attr::M(
                    [
                        ("type".to_string(), Attr::s(*kind)),
                        ("at".to_string(), Attr::s(at(*minute).to_rfc3339())),
                        ("messageId".to_string(), Attr::s("m1")),
                        ("claimToken".to_string(), Attr::s(*token)),
                        ("summary".to_string(), Attr::s("")),
                    ]
                    .into(),
                )
            })
            .collect();
        item.insert("sesEvents".into(), Attr::L(list));
        item
    }

    fn rendered(executions: &[Attempt], email: Item) -> (Vec<&'static str>, String, bool) {
        let emails = HashMap::from([(
            "a1".to_string(),
            EmailRecords {
                sns: None,
                email: Some(email),
            },
        )]);
        let histories = HashMap::new();
        let entries = build(&Evidence {
            order_id: "1",
            executions,
            entries: &[],
            histories: &histories,
            emails: &emails,
            attempts: Some(&[]),
        });
        let kinds = entries.iter().map(|e| e.kind).collect();
        let never = customer_never_heard(&emails);
        (kinds, render(&entries, &[], never).into_string(), never)
    }

    #[test]
    fn newest_first_with_the_bounce_and_the_masked_address() {
        let batch = execution(
            "batch-1",
            json!([{"eventID": "e-1", "dynamodb": {"Keys": {"orderId": {"S": "1"}}}}]),
            0,
            9,
            "FAILED",
        );
        let attempt = execution("a1", json!({"orderId": "1"}), 1, 4, "SUCCEEDED");
        let (kinds, html, never) = rendered(
            &[batch, attempt],
            email_record(&[("Send", "t1", 5), ("Bounce", "t1", 6)], None),
        );
        assert_eq!(
            kinds,
            [
                "execution-ended",
                "ses-event",
                "ses-event",
                "execution-ended",
                "email-sent",
                "email-claim",
                "execution-started",
                "stream-record",
            ]
        );
        assert!(never);
        assert!(html.contains("id=\"never-heard\""));
        assert!(html.contains("the customer did not get the email"));
        assert!(html.contains("e-1"), "the stream record's eventID");
        assert!(html.contains("j***@example.com") && !html.contains("jane.doe"));
    }

    #[test]
    fn a_send_confirmed_by_ses_and_a_late_event_of_a_superseded_claim() {
        let attempt = execution("a1", json!({"orderId": "1"}), 1, 4, "SUCCEEDED");
        let mut record = email_record(
            &[("Send", "t0", 7), ("Delivery", "t1", 8)],
            Some("ses:Send"),
        );
        record.insert(SUPERSEDED_TOKENS.into(), Attr::Ss(vec!["t0".into()]));
        let (_, html, never) = rendered(&[attempt], record);
        assert!(!never, "a delivery is not a bounce");
        assert!(html.contains("confirmed by SES's Send event"));
        assert!(html.contains("of a superseded claim: the customer got this email twice"));
        assert!(html.contains("1 earlier claim(s) superseded"));
    }

    #[test]
    fn values_are_escaped() {
        let attempt = execution("<b>x</b>", json!({"orderId": "1"}), 1, 4, "FAILED");
        let (_, html, _) = rendered(&[attempt], email_record(&[], None));
        assert!(html.contains("&lt;b&gt;x&lt;/b&gt;") && !html.contains("<b>x</b>"));
    }
}
