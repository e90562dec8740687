//! notify-failure over moto: SNS + SESv2 + email log, at most once per (order, attempt) per
//! channel, including after simulated crashes; read back through moto's inspection API. And on
//! the wire through the real binary.

use async_trait::async_trait;
use serde_json::json;
use unpaid_order::aws::AwsPorts;
use unpaid_order::notice::{FailureNotification, OutgoingEmail};
use unpaid_order::ports::{Claim, ClaimOutcome, SendError};
use unpaid_order::testing::{invoke_binary, Invocation, MotoEnv};
use unpaid_order::{Attr, EmailLog, FunctionError, Mailer, MemoryStore, Notifier, Setting};

fn event(order: &str, attempt: &str) -> serde_json::Value {
    let mut e: serde_json::Value = serde_json::from_str(include_str!(
        "../../../events/functions/notify-failure.json"
    ))
    .unwrap();
    e["orderId"] = json!(order);
    e["attemptId"] = json!(attempt);
    e
}

async fn moto() -> (MotoEnv, AwsPorts) {
    let env = MotoEnv::new().await;
    env.seed_fixtures().await;
    let ports = AwsPorts::new(&env.sdk, &env.config).unwrap();
    (env, ports)
}

fn ports(p: &AwsPorts) -> notify_failure::Ports<'_> {
    notify_failure::Ports {
        orders: &p.orders,
        email_log: &p.email_log,
        notifier: &p.notifier,
        mailer: &p.mailer,
    }
}

fn status_of(items: &[unpaid_order::Item], email_id: &str) -> String {
    items
        .iter()
        .find(|i| i["emailId"] == Attr::s(email_id))
        .and_then(|i| i["status"].as_s())
        .unwrap_or("absent")
        .to_string()
}

#[tokio::test]
async fn sends_sns_and_email_once_per_attempt() {
    let (env, p) = moto().await;
    let out = notify_failure::handle(ports(&p), event("492500005643", "a-1"))
        .await
        .unwrap();
    assert_eq!(
        serde_json::to_value(&out).unwrap(),
        json!({"orderId": "492500005643", "attemptId": "a-1", "sns": "sent", "email": "sent"})
    );
    // Retried (Retry, redrive): nothing goes out again.
    let again = notify_failure::handle(ports(&p), event("492500005643", "a-1"))
        .await
        .unwrap();
    assert_eq!(
        serde_json::to_value(&again).unwrap(),
        json!({"orderId": "492500005643", "attemptId": "a-1", "sns": "unchanged", "email": "unchanged"})
    );
    let published = env.published().await;
    assert_eq!(published.len(), 1);
    let message: serde_json::Value = serde_json::from_str(&published[0].1).unwrap();
    assert_eq!(message["orderId"], "492500005643");
    assert_eq!(message["attemptId"], "a-1");
    assert!(
        !published[0].1.contains("jane.doe"),
        "no customer data on the topic"
    );
    let sent = env.sent_emails().await;
    assert_eq!(sent.len(), 1);
    assert_eq!(
        sent[0]["destinations"]["ToAddresses"],
        json!(["jane.doe@example.com"])
    );
    assert!(sent[0]["body"]
        .as_str()
        .unwrap()
        .contains("Hello Jane Doe,"));

    let log = env.scan(Setting::EmailLogTable).await;
    assert_eq!(status_of(&log, "492500005643#a-1#sns"), "sent");
    assert_eq!(status_of(&log, "492500005643#a-1#email"), "sent");
    let email_record = log
        .iter()
        .find(|i| i["emailId"] == Attr::s("492500005643#a-1#email"))
        .unwrap();
    assert_eq!(
        email_record["messageId"],
        Attr::s(sent[0]["id"].as_str().unwrap())
    );

    // A new attempt (a new execution started by hand) is a new email.
    let next = notify_failure::handle(ports(&p), event("492500005643", "a-2"))
        .await
        .unwrap();
    assert_eq!(
        (next.sns, next.email),
        (
            notify_failure::Delivery::Sent,
            notify_failure::Delivery::Sent
        )
    );
    assert_eq!(env.sent_emails().await.len(), 2);
    assert_eq!(env.published().await.len(), 2);
}

#[tokio::test]
async fn order_without_email_still_notifies_sns_and_escapes_untrusted_names() {
    let (env, p) = moto().await;
    let out = notify_failure::handle(ports(&p), event("492500005647", "a-1"))
        .await
        .unwrap();
    assert_eq!(
        (out.sns, out.email),
        (
            notify_failure::Delivery::Sent,
            notify_failure::Delivery::NoAddress
        )
    );
    assert_eq!(env.published().await.len(), 1);
    assert!(env.sent_emails().await.is_empty());

    let out = notify_failure::handle(ports(&p), event("492500005644", "a-1"))
        .await
        .unwrap();
    assert_eq!(out.email, notify_failure::Delivery::Sent);
    let sent = env.sent_emails().await;
    let body = sent[0]["body"].as_str().unwrap();
    assert!(
        body.contains("Somchai &lt;b&gt;&amp;&lt;/b&gt; Co"),
        "{body}"
    );
    assert!(!body.contains("<b>&</b>"), "{body}");
}

#[tokio::test]
async fn paid_or_missing_orders_send_nothing() {
    let (env, p) = moto().await;
    for (order, error_type) in [
        ("492500005645", "OrderAlreadyPaid"),
        ("000000000000", "OrderNotFound"),
    ] {
        let err = notify_failure::handle(ports(&p), event(order, "a-1"))
            .await
            .unwrap_err();
        assert_eq!(err.error_type(), error_type);
    }
    let err = notify_failure::handle(ports(&p), event("492500005643", "a#1"))
        .await
        .unwrap_err();
    assert_eq!(err.error_type(), "InvalidInput");
    assert!(env.published().await.is_empty());
    assert!(env.sent_emails().await.is_empty());
    assert!(env.scan(Setting::EmailLogTable).await.is_empty());
}

/// The real mailer, then a crash before the function hears back (the process dies, the
/// connection drops): the email went out, the claim is still `pending`.
struct SendsThenCrashes<'a>(&'a dyn Mailer);

#[async_trait]
impl Mailer for SendsThenCrashes<'_> {
    async fn send(&self, email: &OutgoingEmail) -> Result<String, SendError> {
        self.0.send(email).await?;
        Err(SendError::Unknown(FunctionError::transient(
            "connection reset after sending",
        )))
    }
}

/// The real email log, whose write after the send fails (DynamoDB throttled at that moment).
struct MarkSentFails<'a>(&'a dyn EmailLog);

#[async_trait]
impl EmailLog for MarkSentFails<'_> {
    async fn claim(&self, claim: &Claim) -> Result<ClaimOutcome, FunctionError> {
        self.0.claim(claim).await
    }
    async fn mark_sent(&self, _: &Claim, _: &str, _: &str) -> Result<(), FunctionError> {
        Err(FunctionError::transient(
            "ProvisionedThroughputExceededException",
        ))
    }
    async fn mark_failed(&self, claim: &Claim, reason: &str) -> Result<(), FunctionError> {
        self.0.mark_failed(claim, reason).await
    }
}

/// A provider that refuses (throttled): nothing goes out.
struct Refuses;

#[async_trait]
impl Notifier for Refuses {
    fn topic(&self) -> &str {
        "arn:aws:sns:us-east-1:123456789012:refusing"
    }
    async fn publish(&self, _: &FailureNotification) -> Result<String, SendError> {
        Err(SendError::NotSent(FunctionError::transient(
            "SNS Publish: Throttling",
        )))
    }
}

#[tokio::test]
async fn crash_between_send_and_log_does_not_send_twice() {
    let (env, p) = moto().await;
    let crashing = SendsThenCrashes(&p.mailer);
    let first = notify_failure::Ports {
        mailer: &crashing,
        ..ports(&p)
    };
    let err = notify_failure::handle(first, event("492500005643", "a-1"))
        .await
        .unwrap_err();
    assert_eq!(err.error_type(), "TransientError");
    assert_eq!(env.sent_emails().await.len(), 1, "the email did go out");
    // SNS went out in the same invocation and was recorded.
    assert_eq!(env.published().await.len(), 1);

    // Step Functions retries with the real adapters: nothing is sent again.
    let out = notify_failure::handle(ports(&p), event("492500005643", "a-1"))
        .await
        .unwrap();
    assert_eq!(
        (out.sns, out.email),
        (
            notify_failure::Delivery::Unchanged,
            notify_failure::Delivery::Unchanged
        )
    );
    assert_eq!(env.sent_emails().await.len(), 1);
    assert_eq!(env.published().await.len(), 1);
    // Visible to operators: the claim that was never confirmed.
    let log = env.scan(Setting::EmailLogTable).await;
    assert_eq!(status_of(&log, "492500005643#a-1#email"), "pending");
    assert_eq!(status_of(&log, "492500005643#a-1#sns"), "sent");
}

#[tokio::test]
async fn failed_log_write_after_send_does_not_send_twice() {
    let (env, p) = moto().await;
    let flaky = MarkSentFails(&p.email_log);
    let first = notify_failure::Ports {
        email_log: &flaky,
        ..ports(&p)
    };
    let err = notify_failure::handle(first, event("492500005643", "a-1"))
        .await
        .unwrap_err();
    assert_eq!(err.error_type(), "TransientError");
    let out = notify_failure::handle(ports(&p), event("492500005643", "a-1"))
        .await
        .unwrap();
    assert_eq!(
        (out.sns, out.email),
        (
            notify_failure::Delivery::Unchanged,
            notify_failure::Delivery::Unchanged
        )
    );
    assert_eq!(env.sent_emails().await.len(), 1);
    assert_eq!(env.published().await.len(), 1);
}

#[tokio::test]
async fn refused_send_is_retried_and_then_sent_once() {
    let (env, p) = moto().await;
    let first = notify_failure::Ports {
        notifier: &Refuses,
        ..ports(&p)
    };
    let err = notify_failure::handle(first, event("492500005643", "a-1"))
        .await
        .unwrap_err();
    assert_eq!(err.error_type(), "TransientError");
    // The email channel is independent: it went out in the same invocation.
    assert_eq!(env.sent_emails().await.len(), 1);
    let log = env.scan(Setting::EmailLogTable).await;
    assert_eq!(status_of(&log, "492500005643#a-1#sns"), "failed");

    let out = notify_failure::handle(ports(&p), event("492500005643", "a-1"))
        .await
        .unwrap();
    assert_eq!(
        (out.sns, out.email),
        (
            notify_failure::Delivery::Sent,
            notify_failure::Delivery::Unchanged
        )
    );
    assert_eq!(env.published().await.len(), 1);
    assert_eq!(env.sent_emails().await.len(), 1);
    assert_eq!(
        status_of(
            &env.scan(Setting::EmailLogTable).await,
            "492500005643#a-1#sns"
        ),
        "sent"
    );
}

#[tokio::test]
async fn in_memory_store_behaves_the_same() {
    let state = unpaid_order::MemoryState::load_fixtures(
        &unpaid_order::testing::workspace_root().join("events/tables"),
    )
    .unwrap();
    let store = MemoryStore::new(state);
    let p = notify_failure::Ports {
        orders: &store,
        email_log: &store,
        notifier: &store,
        mailer: &store,
    };
    let crashing = SendsThenCrashes(&store);
    let err = notify_failure::handle(
        notify_failure::Ports {
            mailer: &crashing,
            ..p
        },
        event("492500005643", "a-1"),
    )
    .await;
    assert_eq!(err.unwrap_err().error_type(), "TransientError");
    let out = notify_failure::handle(p, event("492500005643", "a-1"))
        .await
        .unwrap();
    assert_eq!(
        (out.sns, out.email),
        (
            notify_failure::Delivery::Unchanged,
            notify_failure::Delivery::Unchanged
        )
    );
    let out = notify_failure::handle(p, event("492500005647", "a-1"))
        .await
        .unwrap();
    assert_eq!(out.email, notify_failure::Delivery::NoAddress);
    let outbox = store.snapshot().outbox;
    assert_eq!(outbox.emails.len(), 1);
    assert_eq!(outbox.sns.len(), 2);
}

#[tokio::test]
async fn binary_sends_and_masks_the_address_in_its_logs() {
    let (env, _) = moto().await;
    let bin = env!("CARGO_BIN_EXE_notify-failure");
    let run = invoke_binary(bin, &env.function_env(), &event("492500005643", "wire-1")).await;
    let Invocation::Response(body) = run.invocation else {
        panic!("{:?} {}", run.invocation, run.stderr)
    };
    assert_eq!(
        body,
        json!({"orderId": "492500005643", "attemptId": "wire-1", "sns": "sent", "email": "sent"})
    );
    assert!(run.stdout.contains("j***@example.com"), "{}", run.stdout);
    assert!(
        !run.stdout.contains("jane.doe@example.com"),
        "{}",
        run.stdout
    );
    let sent = run
        .stdout
        .lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .find(|l| l["fields"]["message"] == "sent" && l["fields"]["channel"] == "email")
        .unwrap_or_else(|| panic!("{}", run.stdout));
    assert_eq!(sent["span"]["to"], "j***@example.com");
    assert_eq!(env.sent_emails().await.len(), 1);

    let run = invoke_binary(bin, &env.function_env(), &event("492500005645", "wire-1")).await;
    let Invocation::Error(body) = run.invocation else {
        panic!("{:?}", run.invocation)
    };
    assert_eq!(body["errorType"], "OrderAlreadyPaid");

    let vars: Vec<(String, String)> = env
        .function_env()
        .into_iter()
        .filter(|(k, _)| k != "FAILURE_TOPIC_ARN")
        .collect();
    let run = invoke_binary(bin, &vars, &event("492500005643", "wire-2")).await;
    let Invocation::Exited { stderr, .. } = run.invocation else {
        panic!("{:?}", run.invocation)
    };
    assert!(
        format!("{stderr}{}", run.stdout)
            .contains("missing environment variable FAILURE_TOPIC_ARN"),
        "{stderr}"
    );
}
