//! notify-failure over moto: SNS + SESv2 + email log, at most once per (order, attempt) per
//! channel, including after simulated crashes; read back through moto's inspection API. And on
//! the wire through the real binary.

use async_trait::async_trait;
use serde_json::json;
use test_support::{invoke_binary, Invocation, MotoEnv};
use unpaid_order::aws::AwsPorts;
use unpaid_order::notice::{FailureNotification, OutgoingEmail};
use unpaid_order::ports::{Claim, ClaimOutcome, SendError};
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

/// The tables of `events/tables/`.
fn fixtures() -> unpaid_order::MemoryState {
    unpaid_order::MemoryState::load_fixtures(&test_support::workspace_root().join("events/tables"))
        .unwrap()
}

/// notify-failure's ports, all on one in-memory store.
fn memory_ports(store: &MemoryStore) -> notify_failure::Ports<'_> {
    notify_failure::Ports {
        orders: store,
        email_log: store,
        notifier: store,
        mailer: store,
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
#[cfg_attr(
    not(feature = "emulator"),
    ignore = "needs moto: run by tests/run.sh, or --features emulator with .tools/moto"
)]
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
#[cfg_attr(
    not(feature = "emulator"),
    ignore = "needs moto: run by tests/run.sh, or --features emulator with .tools/moto"
)]
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
#[cfg_attr(
    not(feature = "emulator"),
    ignore = "needs moto: run by tests/run.sh, or --features emulator with .tools/moto"
)]
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
    async fn begin_send(&self, claim: &Claim) -> Result<bool, FunctionError> {
        self.0.begin_send(claim).await
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

/// The runbook's action on a `sending` record: the operator checked the provider and marks it.
async fn operator_marks(env: &MotoEnv, email_id: &str, status: &str) {
    use aws_sdk_dynamodb::types::AttributeValue;
    env.dynamodb
        .update_item()
        .table_name(env.get(Setting::EmailLogTable))
        .key("emailId", AttributeValue::S(email_id.into()))
        .update_expression("SET #s = :s")
        .expression_attribute_names("#s", "status")
        .expression_attribute_values(":s", AttributeValue::S(status.into()))
        .send()
        .await
        .unwrap();
}

#[tokio::test]
#[cfg_attr(
    not(feature = "emulator"),
    ignore = "needs moto: run by tests/run.sh, or --features emulator with .tools/moto"
)]
async fn crash_between_send_and_log_is_never_resent_and_never_silent() {
    let (env, p) = moto().await;
    let crashing = SendsThenCrashes(&p.mailer);
    let first = notify_failure::Ports {
        mailer: &crashing,
        ..ports(&p)
    };
    let err = notify_failure::handle(first, event("492500005643", "a-1"))
        .await
        .unwrap_err();
    assert_eq!(err.error_type(), "NotificationUnconfirmed");
    assert_eq!(env.sent_emails().await.len(), 1, "the email did go out");
    assert_eq!(env.published().await.len(), 1);

    // Step Functions would not retry it; a redrive without the operator: still not resent, and
    // still failing visibly (it used to SUCCEED with the email's fate unknown).
    let err = notify_failure::handle(ports(&p), event("492500005643", "a-1"))
        .await
        .unwrap_err();
    assert_eq!(err.error_type(), "NotificationUnconfirmed");
    assert_eq!(env.sent_emails().await.len(), 1);
    assert_eq!(env.published().await.len(), 1);
    let log = env.scan(Setting::EmailLogTable).await;
    assert_eq!(status_of(&log, "492500005643#a-1#email"), "sending");
    assert_eq!(status_of(&log, "492500005643#a-1#sns"), "sent");

    // The operator sees it went out and marks it sent: the redrive completes, nothing resent.
    operator_marks(&env, "492500005643#a-1#email", "sent").await;
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
}

#[tokio::test]
#[cfg_attr(
    not(feature = "emulator"),
    ignore = "needs moto: run by tests/run.sh, or --features emulator with .tools/moto"
)]
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
    assert_eq!(err.error_type(), "NotificationUnconfirmed");
    assert!(err.to_string().contains("not recorded"), "{err}");
    let err = notify_failure::handle(ports(&p), event("492500005643", "a-1"))
        .await
        .unwrap_err();
    assert_eq!(err.error_type(), "NotificationUnconfirmed");
    assert_eq!(env.sent_emails().await.len(), 1);
    assert_eq!(env.published().await.len(), 1);
}

/// A claim left `pending` (the invocation died between claim and send: nothing went out) is
/// taken over by the next invocation, which sends once. It used to silence every retry.
#[tokio::test]
#[cfg_attr(
    not(feature = "emulator"),
    ignore = "needs moto: run by tests/run.sh, or --features emulator with .tools/moto"
)]
async fn claim_left_pending_by_a_crash_is_taken_over_and_sent_once() {
    let (env, p) = moto().await;
    let order = unpaid_order::OrderId::parse("492500005643").unwrap();
    let attempt = unpaid_order::AttemptId::parse("a-1").unwrap();
    for (channel, recipient) in [
        (
            unpaid_order::ports::Channel::Sns,
            env.get(Setting::FailureTopicArn),
        ),
        (
            unpaid_order::ports::Channel::Email,
            "jane.doe@example.com".to_string(),
        ),
    ] {
        let dead = Claim {
            order_id: order.clone(),
            attempt_id: attempt.clone(),
            channel,
            recipient,
            claimed_at: "2026-11-25T06:10:00.000Z".into(),
            token: "the-invocation-that-died".into(),
        };
        assert_eq!(
            p.email_log.claim(&dead).await.unwrap(),
            ClaimOutcome::Claimed
        );
    }
    let out = notify_failure::handle(ports(&p), event("492500005643", "a-1"))
        .await
        .unwrap();
    assert_eq!(
        (out.sns, out.email),
        (
            notify_failure::Delivery::Sent,
            notify_failure::Delivery::Sent
        )
    );
    assert_eq!(env.sent_emails().await.len(), 1);
    assert_eq!(env.published().await.len(), 1);
}

/// The customer pays while SNS is being sent: the order is read again before the email claim.
struct PaysAfterFirstRead<'a> {
    inner: &'a dyn unpaid_order::OrderTable,
    env: &'a MotoEnv,
    reads: std::sync::atomic::AtomicU32,
}

#[async_trait]
impl unpaid_order::OrderTable for PaysAfterFirstRead<'_> {
    async fn get(
        &self,
        id: &unpaid_order::OrderId,
    ) -> Result<Option<unpaid_order::StoredOrder>, FunctionError> {
        let n = self.reads.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        if n == 1 {
            use aws_sdk_dynamodb::types::AttributeValue;
            self.env
                .dynamodb
                .update_item()
                .table_name(self.env.get(Setting::OrderTable))
                .key("orderId", AttributeValue::S(id.to_string()))
                .update_expression("SET #d.#p.#i = :t")
                .expression_attribute_names("#d", "data")
                .expression_attribute_names("#p", "payment")
                .expression_attribute_names("#i", "isPaid")
                .expression_attribute_values(":t", AttributeValue::Bool(true))
                .send()
                .await
                .unwrap();
        }
        self.inner.get(id).await
    }
    async fn save_payment_header(
        &self,
        id: &unpaid_order::OrderId,
        header: &unpaid_order::PaymentHeader,
    ) -> Result<unpaid_order::model::SaveOutcome, FunctionError> {
        self.inner.save_payment_header(id, header).await
    }
}

#[tokio::test]
#[cfg_attr(
    not(feature = "emulator"),
    ignore = "needs moto: run by tests/run.sh, or --features emulator with .tools/moto"
)]
async fn customer_who_pays_during_notify_gets_no_failure_email() {
    let (env, p) = moto().await;
    let paying = PaysAfterFirstRead {
        inner: &p.orders,
        env: &env,
        reads: Default::default(),
    };
    let err = notify_failure::handle(
        notify_failure::Ports {
            orders: &paying,
            ..ports(&p)
        },
        event("492500005643", "a-1"),
    )
    .await
    .unwrap_err();
    assert_eq!(err.error_type(), "OrderAlreadyPaid");
    assert!(
        env.sent_emails().await.is_empty(),
        "no failure email to a paying customer"
    );
}

/// SES takes 7-bit ASCII addresses: an IDN domain goes out in Punycode; a non-ASCII local part
/// fails the step visibly before anything is sent (it used to be retried as TransientError).
#[tokio::test]
async fn idn_domains_are_sent_in_punycode_and_non_ascii_local_parts_fail_visibly() {
    let state = fixtures();
    let set_email = |address: &str| {
        let mut s = state.clone();
        for item in &mut s.orders {
            if item["orderId"] == Attr::s("492500005643") {
                if let Some(Attr::M(data)) = item.get_mut("data") {
                    data.insert("email".into(), Attr::s(address));
                }
            }
        }
        s
    };
    let store = MemoryStore::new(set_email("jane@bücher.example"));
    let p = memory_ports(&store);
    let out = notify_failure::handle(p, event("492500005643", "a-1"))
        .await
        .unwrap();
    assert_eq!(out.email, notify_failure::Delivery::Sent);
    assert_eq!(
        store.snapshot().outbox.emails[0].to,
        "jane@xn--bcher-kva.example"
    );

    let store = MemoryStore::new(set_email("jürgen@example.com"));
    let p = memory_ports(&store);
    let err = notify_failure::handle(p, event("492500005643", "a-1"))
        .await
        .unwrap_err();
    assert_eq!(err.error_type(), "InvalidInput");
    let outbox = store.snapshot().outbox;
    assert!(
        outbox.emails.is_empty() && outbox.sns.is_empty(),
        "nothing sent"
    );
}

/// With too little of the invocation left, no channel is claimed (a claim the deadline would
/// cut off before it is recorded could block or duplicate the send).
#[tokio::test]
async fn too_little_time_left_claims_nothing() {
    let state = fixtures();
    let store = MemoryStore::new(state);
    let p = memory_ports(&store);
    let soon = unpaid_order::deadline::Deadline::after(std::time::Duration::from_secs(2));
    let err = unpaid_order::deadline::scope(
        soon,
        notify_failure::handle(p, event("492500005643", "a-1")),
    )
    .await
    .unwrap_err();
    assert_eq!(err.error_type(), "TransientError");
    let s = store.snapshot();
    assert!(s.email_log.is_empty(), "nothing claimed: {:?}", s.email_log);
    assert!(s.outbox.emails.is_empty() && s.outbox.sns.is_empty());
    // With the function's full timeout it goes through.
    let plenty = unpaid_order::deadline::Deadline::after(std::time::Duration::from_secs(10));
    let out = unpaid_order::deadline::scope(
        plenty,
        notify_failure::handle(p, event("492500005643", "a-1")),
    )
    .await
    .unwrap();
    assert_eq!(out.email, notify_failure::Delivery::Sent);
}

#[tokio::test]
#[cfg_attr(
    not(feature = "emulator"),
    ignore = "needs moto: run by tests/run.sh, or --features emulator with .tools/moto"
)]
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
    let state = fixtures();
    let store = MemoryStore::new(state);
    let p = memory_ports(&store);
    let crashing = SendsThenCrashes(&store);
    let err = notify_failure::handle(
        notify_failure::Ports {
            mailer: &crashing,
            ..p
        },
        event("492500005643", "a-1"),
    )
    .await;
    assert_eq!(err.unwrap_err().error_type(), "NotificationUnconfirmed");
    let err = notify_failure::handle(p, event("492500005643", "a-1"))
        .await
        .unwrap_err();
    assert_eq!(err.error_type(), "NotificationUnconfirmed");
    let out = notify_failure::handle(p, event("492500005647", "a-1"))
        .await
        .unwrap();
    assert_eq!(out.email, notify_failure::Delivery::NoAddress);
    let outbox = store.snapshot().outbox;
    assert_eq!(outbox.emails.len(), 1);
    assert_eq!(outbox.sns.len(), 2);
}

#[tokio::test]
#[cfg_attr(
    not(feature = "emulator"),
    ignore = "needs moto: run by tests/run.sh, or --features emulator with .tools/moto"
)]
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
