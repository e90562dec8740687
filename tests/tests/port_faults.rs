//! `sfn-local --fail PORT=CLASS:N` on the embedded store: each class the money matrix proves
//! against moto (docs/failure-modes.md) can be rehearsed offline, with the outcome it promises.

use unpaid_order::Attr;
use workflow_tests::*;

/// Runs one order under `fault`; then, as the runbook says for the error, marks a `sending`
/// record (from the outbox: did it go out?) and redrives. Returns (first status, first error).
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
async fn a_send_whose_fate_is_unknown_fails_visibly_and_is_never_resent() {
    for (fault, channel) in [
        ("ses=lost-reply:1", "email"),
        ("sns=5xx-after-apply:1", "sns"),
    ] {
        let (status, error, h) = rehearse(fault).await;
        assert_eq!(status, "FAILED", "{fault}");
        assert_eq!(error, "NotificationUnconfirmed", "{fault}");
        let state = h.tables().await;
        // It did go out (the fault hit after the send), exactly once, and is left `sending`.
        assert_eq!(state.outbox.emails.len(), 1, "{fault}");
        assert_eq!(state.outbox.sns.len(), 1, "{fault}");
        assert_eq!(email_status(&state, channel), "sending", "{fault}");
        // A redrive without the operator's decision sends nothing again and fails again.
        h.set_faults(&[]);
        let arn = h
            .runner
            .list_executions(ORDER_MACHINE, None)
            .expect("list")
            .into_iter()
            .next()
            .expect("the execution")
            .execution_arn;
        let again = h.runner.redrive_execution(&arn).await.expect("redrive");
        assert_eq!(again.status, "FAILED", "{fault}");
        assert_eq!(again.error.as_deref(), Some("NotificationUnconfirmed"));
        let state = h.tables().await;
        assert_eq!(state.outbox.emails.len(), 1, "{fault}");
        assert_eq!(state.outbox.sns.len(), 1, "{fault}");
    }
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
