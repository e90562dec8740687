//! The evidence loop offline (docs/evidence.md): the embedded mailer's emails get SES's events, the
//! runner's executions their status changes, and record-event records them through the in-process
//! evidence queue, on a virtual clock. An email whose SendEmail answer was lost is decided by its
//! Send event; lost, late, repeated and reordered events; a bounce; the order index after a
//! redrive; a malformed event parked in the dead-letter file.

use std::sync::Arc;
use std::time::Duration;

use asl::{Clock, VirtualClock};
use serde_json::{json, Value};
use sfn_local::{Runner, RunnerOptions};
use unpaid_order::evidence::items::recorded_ses_events;
use unpaid_order::evidence::IndexEntry;
use unpaid_order::{Attr, Item, MemoryState};
use workflow_tests::*;

/// A fixture order whose email is SES's bounce simulator (events/tables/README.md).
const BOUNCE_ORDER: &str = "492500005648";
/// A fixture order whose email is SES's complaint simulator.
const COMPLAINT_ORDER: &str = "492500005649";

/// The embedded harness with template parameters (`--parameter`).
async fn with_parameters(faults: &[&str], parameters: &[(&str, &str)]) -> Harness {
    let dir = tempfile::tempdir().expect("temp dir");
    let start = chrono::DateTime::parse_from_rfc3339("2026-11-25T06:10:00Z")
        .expect("date")
        .with_timezone(&chrono::Utc);
    let clock = Arc::new(VirtualClock::new(start));
    let mut options = RunnerOptions::new(project_root(), dir.path());
    options.clock = clock.clone();
    options.faults = faults.iter().map(|f| f.parse().expect("fault")).collect();
    options.parameters = parameters
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    let runner = Runner::open(options).await.expect("opens");
    Harness {
        dir,
        clock,
        runner,
        moto: None,
    }
}

/// The email-log record of `order`'s email channel.
fn email_record(state: &MemoryState, order: &str) -> Item {
    state
        .email_log
        .iter()
        .find(|i| {
            i.get("orderId").and_then(Attr::as_s) == Some(order)
                && i.get("channel").and_then(Attr::as_s) == Some("email")
        })
        .cloned()
        .unwrap_or_else(|| panic!("no email record of {order}: {:?}", state.email_log))
}

fn text(item: &Item, name: &str) -> String {
    item.get(name)
        .and_then(Attr::as_s)
        .unwrap_or("absent")
        .to_string()
}

/// The kinds of SES events kept on a record, oldest first.
fn kinds(item: &Item) -> Vec<String> {
    recorded_ses_events(item)
        .into_iter()
        .map(|e| e.kind)
        .collect()
}

/// Moves the virtual clock on and delivers what became due.
async fn later(h: &Harness, secs: u64) {
    h.clock.advance(Duration::from_secs(secs));
    h.runner.deliver_due_evidence().await.expect("delivery");
}

#[tokio::test]
async fn an_ambiguous_send_is_decided_by_its_send_event_and_sent_once() {
    let h = Harness::embedded(&["ses=lost-reply:1"]).await;
    let run = h.run_order(UNPAID_ORDER, "ambiguous").await;
    assert_eq!(run.status, "SUCCEEDED", "{:?} {:?}", run.error, run.cause);
    let history = h
        .runner
        .get_execution_history(&run.execution_arn, false)
        .unwrap();
    let waits: Vec<&Value> = history
        .iter()
        .filter(|e| e["type"] == "WaitStateEntered")
        .collect();
    assert_eq!(waits.len(), 1, "one wait for SES's events");
    assert_eq!(
        tasks_entered(&history)
            .iter()
            .filter(|t| *t == "NotifyFailure")
            .count(),
        2
    );
    let state = h.tables().await;
    assert_eq!(state.outbox.emails.len(), 1, "sent once");
    let record = email_record(&state, UNPAID_ORDER);
    assert_eq!(text(&record, "status"), "sent");
    assert_eq!(text(&record, "confirmedBy"), "ses:Send");
    assert_eq!(
        text(&record, "messageId"),
        state.outbox.emails[0].message_id
    );
    assert_eq!(
        run.output.as_ref().unwrap()["notifyFailure"]["email"],
        "unchanged"
    );
    // The Delivery follows a moment later.
    later(&h, 60).await;
    let record = email_record(&h.tables().await, UNPAID_ORDER);
    assert_eq!(kinds(&record), ["Send", "Delivery"]);
}

#[tokio::test]
async fn the_port_faults_of_a_send_end_with_one_email() {
    for fault in [
        "ses=lost-reply:1",
        "ses=5xx-after-apply:1",
        "ses=refused:1",
        "ses=throttled:2",
    ] {
        let h = Harness::embedded(&[fault]).await;
        let run = h.run_order(UNPAID_ORDER, "port-fault").await;
        assert_eq!(run.status, "SUCCEEDED", "{fault}: {:?}", run.error);
        let state = h.tables().await;
        assert_eq!(state.outbox.emails.len(), 1, "{fault}");
        assert_eq!(
            text(&email_record(&state, UNPAID_ORDER), "status"),
            "sent",
            "{fault}"
        );
    }
}

#[tokio::test]
async fn lost_events_mean_a_resend_after_the_window_labelled_a_duplicate() {
    let h = Harness::embedded(&["ses=lost-reply:1", "ses-events=lost:1"]).await;
    let run = h.run_order(UNPAID_ORDER, "lost-events").await;
    assert_eq!(run.status, "SUCCEEDED", "{:?}", run.error);
    assert!(
        h.elapsed() >= chrono::Duration::seconds(900),
        "waited the window: {}",
        h.elapsed()
    );
    let view = h.runner.outbox_view().await.unwrap().unwrap();
    assert_eq!(view.emails.len(), 2, "sent again after the window");
    assert_eq!(view.emails[0].duplicate_of, None);
    assert_eq!(
        view.emails[1].duplicate_of.as_deref(),
        Some(view.emails[0].email.message_id.as_str())
    );
    let record = email_record(&h.tables().await, UNPAID_ORDER);
    assert_eq!(text(&record, "status"), "sent");
    assert!(matches!(record.get("supersededTokens"), Some(Attr::Ss(t)) if t.len() == 1));

    // The same under AmbiguousEmailPolicy=page: a person decides; nothing is sent twice.
    let h = with_parameters(
        &["ses=lost-reply:1", "ses-events=lost:1"],
        &[("AmbiguousEmailPolicy", "page")],
    )
    .await;
    let run = h.run_order(UNPAID_ORDER, "lost-events-page").await;
    assert_eq!(run.status, "FAILED");
    assert_eq!(run.error.as_deref(), Some("NotificationUnconfirmed"));
    let state = h.tables().await;
    assert_eq!(state.outbox.emails.len(), 1);
    assert_eq!(
        text(&email_record(&state, UNPAID_ORDER), "status"),
        "sending"
    );
}

#[tokio::test]
async fn late_repeated_and_reordered_events_leave_one_email() {
    // Late, but the send's answer came: sent once; the events land when they come.
    let h = Harness::embedded(&["ses-events=delayed:1"]).await;
    let run = h.run_order(UNPAID_ORDER, "late").await;
    assert_eq!(run.status, "SUCCEEDED");
    assert!(kinds(&email_record(&h.tables().await, UNPAID_ORDER)).is_empty());
    later(&h, 1000).await;
    let state = h.tables().await;
    assert_eq!(state.outbox.emails.len(), 1);
    assert_eq!(
        kinds(&email_record(&state, UNPAID_ORDER)),
        ["Send", "Delivery"]
    );

    for (fault, confirmed_by) in [
        ("ses-events=duplicated:always", "ses:Send"),
        ("ses-events=out-of-order:always", "ses:Delivery"),
    ] {
        let h = Harness::embedded(&["ses=lost-reply:1", fault]).await;
        let run = h.run_order(UNPAID_ORDER, "events").await;
        assert_eq!(run.status, "SUCCEEDED", "{fault}: {:?}", run.error);
        later(&h, 60).await;
        let state = h.tables().await;
        assert_eq!(state.outbox.emails.len(), 1, "{fault}");
        let record = email_record(&state, UNPAID_ORDER);
        assert_eq!(text(&record, "confirmedBy"), confirmed_by, "{fault}");
        assert_eq!(kinds(&record).len(), 2, "{fault}: each event kept once");
    }
}

#[tokio::test]
async fn events_past_the_window_of_an_ambiguous_send_are_the_counted_residual_risk() {
    let h = Harness::embedded(&["ses=lost-reply:1", "ses-events=delayed:1"]).await;
    let run = h.run_order(UNPAID_ORDER, "residual").await;
    assert_eq!(run.status, "SUCCEEDED");
    later(&h, 120).await;
    let state = h.tables().await;
    assert_eq!(state.outbox.emails.len(), 2, "resent after the window");
    // The first send's late Send is kept under its superseded claim: the duplicate is visible.
    let record = email_record(&state, UNPAID_ORDER);
    let superseded = match record.get("supersededTokens") {
        Some(Attr::Ss(t)) => t.clone(),
        other => panic!("{other:?}"),
    };
    let late: Vec<_> = recorded_ses_events(&record)
        .into_iter()
        .filter(|e| superseded.contains(&e.claim_token))
        .map(|e| e.kind)
        .collect();
    assert_eq!(late, ["Send", "Delivery"]);
}

#[tokio::test]
async fn a_bounce_and_a_complaint_are_kept_on_the_email_log() {
    let h = Harness::embedded(&[]).await;
    for (order, expected) in [
        (BOUNCE_ORDER, vec!["Send", "Bounce"]),
        (COMPLAINT_ORDER, vec!["Send", "Delivery", "Complaint"]),
    ] {
        let run = h.run_order(order, &format!("sim-{order}")).await;
        assert_eq!(run.status, "SUCCEEDED", "{order}: {:?}", run.error);
        later(&h, 60).await;
        let record = email_record(&h.tables().await, order);
        assert_eq!(kinds(&record), expected, "{order}");
        assert_eq!(text(&record, "status"), "sent");
    }
    let record = email_record(&h.tables().await, BOUNCE_ORDER);
    let bounce = recorded_ses_events(&record).pop().unwrap();
    assert!(
        bounce.summary.contains("bounceType=Permanent"),
        "{bounce:?}"
    );
    let view = h.runner.outbox_view().await.unwrap().unwrap();
    assert!(view
        .emails
        .iter()
        .any(|e| e.ses_events.iter().any(|s| s.kind == "Bounce")));
}

fn index_of(state: &MemoryState, order: &str) -> Vec<IndexEntry> {
    state
        .order_index
        .iter()
        .filter_map(IndexEntry::from_item)
        .filter(|e| e.order_id == order)
        .collect()
}

#[tokio::test]
async fn the_order_index_holds_each_execution_in_its_latest_state_after_a_redrive() {
    let h = Harness::embedded(&["notify-failure=TransientError:always"]).await;
    let run = h.run_order(UNPAID_ORDER, "outage").await;
    assert_eq!(run.status, "FAILED");
    let entries = index_of(&h.tables().await, UNPAID_ORDER);
    assert_eq!(entries.len(), 1);
    assert_eq!(
        (entries[0].status.as_str(), entries[0].redrive_count),
        ("FAILED", 0)
    );
    h.set_faults(&[]);
    let again = h
        .runner
        .redrive_execution(&run.execution_arn)
        .await
        .unwrap();
    assert_eq!(again.status, "SUCCEEDED");
    let entries = index_of(&h.tables().await, UNPAID_ORDER);
    assert_eq!(entries.len(), 1, "one item per (order, execution)");
    assert_eq!(entries[0].execution_arn, run.execution_arn);
    assert_eq!(
        (entries[0].status.as_str(), entries[0].redrive_count),
        ("SUCCEEDED", 1)
    );

    // A batch names each of its orders: the batch and the child under each.
    let report = h
        .runner
        .pipe(project_json("events/stream-batch.json"))
        .await
        .unwrap();
    let state = h.tables().await;
    for order in ["492500005644", "492500005646"] {
        let entries = index_of(&state, order);
        let machines: Vec<&str> = entries
            .iter()
            .map(|e| e.state_machine_arn.rsplit(':').next().unwrap())
            .collect();
        assert!(
            machines.contains(&"process-unpaid-orders-dev"),
            "{order}: {machines:?}"
        );
        assert!(
            machines.contains(&"process-unpaid-order-dev"),
            "{order}: {machines:?}"
        );
        assert!(
            entries.iter().all(|e| e.status != "RUNNING"),
            "{order}: {entries:?}"
        );
    }
    let batch = &report.batches[0].execution_arn;
    assert!(state
        .order_index
        .iter()
        .filter_map(IndexEntry::from_item)
        .any(|e| &e.execution_arn == batch && !e.stream_event_ids.is_empty()));
    // Nothing left undelivered, nothing dead.
    assert!(h
        .runner
        .pending_evidence()
        .iter()
        .all(|m| m.body.contains("aws.ses")));
    assert!(h.runner.dead_letters().unwrap().is_empty());
}

#[tokio::test]
async fn a_malformed_event_goes_to_the_dead_letter_file_after_five_receives() {
    let h = Harness::embedded(&[]).await;
    let now = h.clock.now();
    h.runner.publish_evidence(json!({"not": "an event"}), now);
    let first = h.runner.deliver_due_evidence().await.unwrap();
    assert_eq!((first.batches, first.failed, first.delivered), (1, 1, 0));
    for _ in 0..4 {
        later(&h, 120).await;
    }
    assert_eq!(h.runner.pending_evidence()[0].receive_count, 5);
    assert!(h.runner.dead_letters().unwrap().is_empty());
    h.clock.advance(Duration::from_secs(120));
    let last = h.runner.deliver_due_evidence().await.unwrap();
    assert_eq!((last.batches, last.dead_lettered), (0, 1));
    let dead = h.runner.dead_letters().unwrap();
    assert_eq!(dead.len(), 1);
    assert_eq!(dead[0].receive_count, 5);
    assert!(dead[0].body.contains("an event"));
    assert!(
        h.runner.pending_evidence().is_empty(),
        "not retried for ever"
    );
    later(&h, 3600).await;
    assert_eq!(h.runner.dead_letters().unwrap().len(), 1);
}
