//! The same workflows with the real AWS adapters (DynamoDB, SNS, SESv2 over the SDK) against moto:
//! `sfn-local --aws-endpoint`. Needs `.tools/moto` (bash tests/tools/install-moto.sh) or
//! MOTO_ENDPOINT; fails with that message otherwise, never skips.

use serde_json::json;
use unpaid_order::Setting;
use workflow_tests::*;

#[tokio::test]
#[cfg_attr(
    not(feature = "emulator"),
    ignore = "needs moto: run by tests/run.sh, or --features emulator with .tools/moto"
)]
async fn happy_path_against_moto() {
    let h = Harness::moto(&[]).await;
    let env = h.moto.as_ref().unwrap();
    let r = h.run_order(UNPAID_ORDER, "492500005643-moto-1").await;
    assert_eq!(r.status, "SUCCEEDED", "{:?} {:?}", r.error, r.cause);
    assert_eq!(
        r.output.as_ref().unwrap()["notifyFailure"],
        json!({"sns": "sent", "email": "sent"})
    );
    let history = h
        .runner
        .get_execution_history(&r.execution_arn, false)
        .unwrap();
    assert_eq!(
        tasks_entered(&history),
        [
            "LoadOrder",
            "BuildFailedHeader",
            "SaveOrder",
            "LogAttempt",
            "NotifyFailure"
        ]
    );

    // What the adapters wrote, read back from moto.
    assert_eq!(h.attempts(UNPAID_ORDER).await, 1);
    let emails = h.emails().await;
    assert_eq!(emails.len(), 1, "{emails:?}");
    assert!(emails[0].0.contains("jane.doe@example.com"), "{emails:?}");
    let published = env.published().await;
    assert_eq!(published.len(), 1);
    assert!(published[0].1.contains("492500005643-moto-1"));
    let orders = env.scan(Setting::OrderTable).await;
    let saved = orders
        .iter()
        .find(|i| i.get("orderId").and_then(|a| a.key_text()) == Some(UNPAID_ORDER))
        .expect("the order is still there");
    let text = format!("{saved:?}");
    assert!(
        text.contains("ch_3QfA1b2C3d4E5f6G"),
        "the header was saved: {text}"
    );
    // There is no local outbox: the messages went to moto.
    assert!(h.runner.outbox().await.unwrap().is_none());
}

#[tokio::test]
#[cfg_attr(
    not(feature = "emulator"),
    ignore = "needs moto: run by tests/run.sh, or --features emulator with .tools/moto"
)]
async fn failed_step_is_redriven_alone_against_moto() {
    let h = Harness::moto(&["notify-failure=TransientError:always:crash-after"]).await;
    let r = h.run_order(UNPAID_ORDER, "492500005643-moto-redrive").await;
    assert_eq!(r.status, "FAILED");
    assert_eq!(r.error.as_deref(), Some("TransientError"));
    assert_eq!(h.emails().await.len(), 1);
    let first = h
        .runner
        .get_execution_history(&r.execution_arn, false)
        .unwrap()
        .len();

    h.set_faults(&[]);
    let again = h.runner.redrive_execution(&r.execution_arn).await.unwrap();
    assert_eq!(
        again.status, "SUCCEEDED",
        "{:?} {:?}",
        again.error, again.cause
    );
    assert_eq!(again.redrive_count, 1);
    let history = h
        .runner
        .get_execution_history(&r.execution_arn, false)
        .unwrap();
    assert_eq!(history[first]["type"], "ExecutionRedriven");
    assert_eq!(tasks_entered(&history[first..]), ["NotifyFailure"]);
    assert_eq!(h.emails().await.len(), 1, "still one email");
    assert_eq!(h.moto.as_ref().unwrap().published().await.len(), 1);
    assert_eq!(h.attempts(UNPAID_ORDER).await, 1);
}
