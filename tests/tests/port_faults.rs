//! `sfn-local --fail PORT=CLASS:N` on the embedded store: each class the money matrix proves
//! against moto (docs/failure-modes.md) can be rehearsed offline, with the outcome it promises.

use unpaid_order::Attr;
use workflow_tests::*;

/// Runs one order under `fault`. Returns (status, error, the harness).
async fn rehearse(fault: &str) -> (String, String, Harness) {
    let h = Harness::embedded(&[fault]).await;
    let first = h.run_order(UNPAID_ORDER, "rehearsal").await;
    (
        first.status.clone(),
        first.error.clone().unwrap_or_default(),
        h,
    )
}

fn email_status(h_state: &unpaid_order::MemoryState, channel: &str) -> String {
    h_state
        .email_log
        .iter()
        .find(|i| i.get("channel").and_then(Attr::as_s) == Some(channel))
        .and_then(|i| i.get("status").and_then(Attr::as_s))
        .unwrap_or("absent")
        .to_string()
}

#[tokio::test]
async fn lost_reply_on_a_table_write_is_retried_through() {
    for fault in [
        "orders=lost-reply:1",
        "attempts=5xx-after-apply:1",
        "email-log=lost-reply:1",
        "check-status=throttled:2",
        "email-log=crash-after-claim:1",
        "ses=refused:1",
        "sns=throttled:1",
    ] {
        let (status, error, h) = rehearse(fault).await;
        assert_eq!(status, "SUCCEEDED", "{fault}: {error}");
        let state = h.tables().await;
        assert_eq!(state.outbox.emails.len(), 1, "{fault}");
        assert_eq!(state.outbox.sns.len(), 1, "{fault}");
        assert_eq!(h.attempts(UNPAID_ORDER).await, 1, "{fault}");
        assert_eq!(email_status(&state, "email"), "sent", "{fault}");
    }
}

#[tokio::test]
async fn a_send_whose_fate_is_unknown_is_decided_without_a_person() {
    // The email: SES's Send event (published for what the mailer accepted) confirms it after one
    // WaitForEmailEvidence; nothing is sent twice (tests/tests/evidence.rs has the other cases).
    let (status, error, h) = rehearse("ses=lost-reply:1").await;
    assert_eq!(status, "SUCCEEDED", "{error}");
    let state = h.tables().await;
    assert_eq!(state.outbox.emails.len(), 1);
    assert_eq!(email_status(&state, "email"), "sent");
    // The team's topic: at least once, every copy with the same dedupe id.
    let (status, error, h) = rehearse("sns=5xx-after-apply:1").await;
    assert_eq!(status, "SUCCEEDED", "{error}");
    let state = h.tables().await;
    assert_eq!(state.outbox.sns.len(), 2, "published again on the retry");
    assert_eq!(state.outbox.sns[0].dedupe_id, state.outbox.sns[1].dedupe_id);
    assert_eq!(state.outbox.emails.len(), 1);
    assert_eq!(email_status(&state, "sns"), "sent");
}

#[tokio::test]
async fn port_fault_specs_are_checked() {
    let bad: Result<sfn_local::Fault, _> = "ses=lost-reply".parse();
    assert!(bad.is_err(), "a count is required");
    let f: sfn_local::Fault = "ses=lost-reply:always".parse().expect("valid");
    assert!(sfn_local::port_faults::is_port_fault(&f));
    let f: sfn_local::Fault = "notify-failure=TransientError:1".parse().expect("valid");
    assert!(!sfn_local::port_faults::is_port_fault(&f));
}
