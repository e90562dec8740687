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
        policy: notify_failure::EvidencePolicy::default(),
    }
}

/// The event as the state machine sends it `secs` after 06:10:00 (`now` is the state's entry).
fn event_at(order: &str, attempt: &str, secs: i64) -> serde_json::Value {
    let mut e = event(order, attempt);
    let at = chrono::DateTime::parse_from_rfc3339("2026-11-25T06:10:00Z").unwrap()
        + chrono::Duration::seconds(secs);
    e["now"] = json!(at.to_rfc3339());
    e
}

/// What SES would publish about the email it accepted under the slot's current claim (moto
/// publishes nothing): the events are built from the record's own key and token, as the tags
/// of the message carry them.
async fn ses_events_of_current_claim(
    env: &MotoEnv,
    p: &AwsPorts,
    email_id: &str,
    kinds: &[unpaid_order::evidence::SesEventKind],
) -> Vec<unpaid_order::evidence::SesOutcome> {
    use unpaid_order::evidence::{publish, AwsEvent, ClaimTags};
    let log = env.scan(Setting::EmailLogTable).await;
    let record = log
        .iter()
        .find(|i| i["emailId"] == Attr::s(email_id))
        .expect("the record");
    let claim = ClaimTags {
        email_id: email_id.to_string(),
        token: record["claimToken"].as_s().unwrap().to_string(),
    };
    let email = publish::AcceptedEmail {
        message_id: format!("ses-{}", claim.token),
        from: env.get(Setting::SenderEmail),
        to: vec!["jane.doe@example.com".into()],
        subject: "s".into(),
        tags: claim.to_tags(),
        configuration_set: Some(env.get(Setting::SesConfigurationSet)),
        sent_at: chrono::Utc::now(),
    };
    let mut out = Vec::new();
    for (n, kind) in kinds.iter().enumerate() {
        let body = publish::ses_event(
            *kind,
            &email,
            &format!("{}-{n}", claim.token),
            chrono::Utc::now(),
            &publish::Origin::default(),
        );
        let AwsEvent::Ses(event) = AwsEvent::parse(&body.to_string()).unwrap() else {
            panic!("an SES event")
        };
        out.push(p.email_log.record_ses_event(&event).await.unwrap());
    }
    out
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
        policy: notify_failure::EvidencePolicy::default(),
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
    async fn supersede(&self, old: &str, claim: &Claim) -> Result<bool, FunctionError> {
        self.0.supersede(old, claim).await
    }
    async fn record_ses_event(
        &self,
        event: &unpaid_order::evidence::SesEvent,
    ) -> Result<unpaid_order::evidence::SesOutcome, FunctionError> {
        self.0.record_ses_event(event).await
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

/// An email handed to SES whose answer was lost: no resend while the confirmation window runs,
/// SES's event for the claim decides (here: it went out), and nothing is ever sent twice.
#[tokio::test]
#[cfg_attr(
    not(feature = "emulator"),
    ignore = "needs moto: run by tests/run.sh, or --features emulator with .tools/moto"
)]
async fn an_unknown_email_outcome_waits_for_ses_and_its_send_event_decides() {
    use unpaid_order::evidence::{SesEventKind, SesOutcome};
    let (env, p) = moto().await;
    let crashing = SendsThenCrashes(&p.mailer);
    let first = notify_failure::Ports {
        mailer: &crashing,
        ..ports(&p)
    };
    let err = notify_failure::handle(first, event_at("492500005643", "a-1", 0))
        .await
        .unwrap_err();
    assert_eq!(err.error_type(), "EmailAwaitingEvidence");
    assert!(err.to_string().contains("next check in 15 s"), "{err}");
    assert_eq!(env.sent_emails().await.len(), 1, "the email did go out");
    assert_eq!(env.published().await.len(), 1);

    // Asked again within the window with no event yet: still waiting, nothing resent, and the
    // wait grows.
    let err = notify_failure::handle(ports(&p), event_at("492500005643", "a-1", 60))
        .await
        .unwrap_err();
    assert_eq!(err.error_type(), "EmailAwaitingEvidence");
    assert!(err.to_string().contains("next check in 60 s"), "{err}");
    assert_eq!(env.sent_emails().await.len(), 1);
    let log = env.scan(Setting::EmailLogTable).await;
    assert_eq!(status_of(&log, "492500005643#a-1#email"), "sending");

    // SES's events arrive, out of order and one twice: the first that proves acceptance
    // confirms the claim; the repeat is not recorded twice.
    let outcomes = ses_events_of_current_claim(
        &env,
        &p,
        "492500005643#a-1#email",
        &[SesEventKind::Delivery, SesEventKind::Send],
    )
    .await;
    assert_eq!(outcomes, [SesOutcome::Confirmed, SesOutcome::Recorded]);
    let again = ses_events_of_current_claim(
        &env,
        &p,
        "492500005643#a-1#email",
        &[SesEventKind::Delivery],
    )
    .await;
    assert_eq!(again, [SesOutcome::AlreadyRecorded]);
    let out = notify_failure::handle(ports(&p), event_at("492500005643", "a-1", 120))
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
    let log = env.scan(Setting::EmailLogTable).await;
    let record = log
        .iter()
        .find(|i| i["emailId"] == Attr::s("492500005643#a-1#email"))
        .unwrap();
    assert_eq!(record["status"], Attr::s("sent"));
    assert_eq!(record["confirmedBy"], Attr::s("ses:Delivery"));
    let mut kinds: Vec<String> = unpaid_order::evidence::items::recorded_ses_events(record)
        .into_iter()
        .map(|e| e.kind)
        .collect();
    kinds.sort();
    assert_eq!(kinds, ["Delivery", "Send"]);
}

/// No SES event within the confirmation window: SES did not accept the email. `resend` sends
/// it again under a new claim (here the first one had in fact gone out: the labelled duplicate
/// of a lost event; a late event of the old claim is recognised as such); `page` leaves it to a
/// person as before.
#[tokio::test]
#[cfg_attr(
    not(feature = "emulator"),
    ignore = "needs moto: run by tests/run.sh, or --features emulator with .tools/moto"
)]
async fn no_evidence_within_the_window_resends_or_pages_by_policy() {
    use unpaid_order::evidence::{SesEventKind, SesOutcome};
    let (env, p) = moto().await;
    let crashing = SendsThenCrashes(&p.mailer);
    let crash = |policy| notify_failure::Ports {
        mailer: &crashing,
        policy,
        ..ports(&p)
    };
    let page = notify_failure::EvidencePolicy {
        on_no_evidence: notify_failure::NoEvidence::Page,
        ..Default::default()
    };
    // page: after the window, NotificationUnconfirmed, nothing resent.
    notify_failure::handle(crash(page), event_at("492500005643", "p-1", 0))
        .await
        .unwrap_err();
    let paged = notify_failure::Ports {
        policy: page,
        ..ports(&p)
    };
    let err = notify_failure::handle(paged, event_at("492500005643", "p-1", 900))
        .await
        .unwrap_err();
    assert_eq!(err.error_type(), "NotificationUnconfirmed");
    assert_eq!(env.sent_emails().await.len(), 1);

    // resend: one second before the window ends it still waits; at its end it sends again.
    notify_failure::handle(
        crash(Default::default()),
        event_at("492500005643", "r-1", 0),
    )
    .await
    .unwrap_err();
    let err = notify_failure::handle(ports(&p), event_at("492500005643", "r-1", 899))
        .await
        .unwrap_err();
    assert!(err.to_string().contains("next check in 1 s"), "{err}");
    let old_token = env
        .scan(Setting::EmailLogTable)
        .await
        .iter()
        .find(|i| i["emailId"] == Attr::s("492500005643#r-1#email"))
        .and_then(|i| i["claimToken"].as_s().map(str::to_string))
        .unwrap();
    let resent_before =
        unpaid_order::metrics::emitted(unpaid_order::metrics::Metric::AmbiguousSendsResent);
    let out = notify_failure::handle(ports(&p), event_at("492500005643", "r-1", 900))
        .await
        .unwrap();
    assert_eq!(out.email, notify_failure::Delivery::Sent);
    assert!(
        unpaid_order::metrics::emitted(unpaid_order::metrics::Metric::AmbiguousSendsResent)
            > resent_before
    );
    assert_eq!(env.sent_emails().await.len(), 3, "p-1 once, r-1 twice");
    // The first send's event arrives late: recognised as the duplicate, the new claim stands.
    let late = unpaid_order::evidence::ClaimTags {
        email_id: "492500005643#r-1#email".into(),
        token: old_token,
    };
    let email = unpaid_order::evidence::publish::AcceptedEmail {
        message_id: "first".into(),
        from: env.get(Setting::SenderEmail),
        to: vec!["jane.doe@example.com".into()],
        subject: "s".into(),
        tags: late.to_tags(),
        configuration_set: None,
        sent_at: chrono::Utc::now(),
    };
    let body = unpaid_order::evidence::publish::ses_event(
        SesEventKind::Send,
        &email,
        "late-send",
        chrono::Utc::now(),
        &Default::default(),
    );
    let unpaid_order::evidence::AwsEvent::Ses(event) =
        unpaid_order::evidence::AwsEvent::parse(&body.to_string()).unwrap()
    else {
        panic!()
    };
    assert_eq!(
        p.email_log.record_ses_event(&event).await.unwrap(),
        SesOutcome::SupersededClaimSent {
            first_of_its_message: true
        }
    );
    let log = env.scan(Setting::EmailLogTable).await;
    assert_eq!(status_of(&log, "492500005643#r-1#email"), "sent");
}

/// The SNS publish went out but recording it failed: SNS is at least once, so the retry
/// publishes again with the same dedupe id. The email went out too: its SES events record it.
#[tokio::test]
#[cfg_attr(
    not(feature = "emulator"),
    ignore = "needs moto: run by tests/run.sh, or --features emulator with .tools/moto"
)]
async fn failed_log_write_after_send_republishes_sns_and_waits_for_the_email_event() {
    let (env, p) = moto().await;
    let flaky = MarkSentFails(&p.email_log);
    let first = notify_failure::Ports {
        email_log: &flaky,
        ..ports(&p)
    };
    let err = notify_failure::handle(first, event_at("492500005643", "a-1", 0))
        .await
        .unwrap_err();
    assert_eq!(err.error_type(), "TransientError");
    assert!(err.to_string().contains("not recorded"), "{err}");
    let err = notify_failure::handle(ports(&p), event_at("492500005643", "a-1", 5))
        .await
        .unwrap_err();
    assert_eq!(err.error_type(), "EmailAwaitingEvidence", "{err}");
    assert_eq!(env.sent_emails().await.len(), 1);
    let published = env.published().await;
    assert_eq!(published.len(), 2, "SNS: at least once");
    assert_eq!(
        published[0].1, published[1].1,
        "the same message, to drop by its dedupe id"
    );
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
    use unpaid_order::evidence::{publish, AwsEvent, ClaimTags, SesEventKind, SesOutcome};
    let state = fixtures();
    let store = MemoryStore::new(state);
    let p = memory_ports(&store);
    let crashing = SendsThenCrashes(&store);
    let err = notify_failure::handle(
        notify_failure::Ports {
            mailer: &crashing,
            ..p
        },
        event_at("492500005643", "a-1", 0),
    )
    .await;
    assert_eq!(err.unwrap_err().error_type(), "EmailAwaitingEvidence");
    let err = notify_failure::handle(p, event_at("492500005643", "a-1", 30))
        .await
        .unwrap_err();
    assert_eq!(err.error_type(), "EmailAwaitingEvidence");
    // The Send event of the email the memory mailer recorded (with its tags) confirms it.
    let sent = store.snapshot().outbox.emails[0].clone();
    let email = publish::AcceptedEmail {
        message_id: sent.message_id,
        from: sent.from,
        to: vec![sent.to],
        subject: sent.subject,
        tags: sent.tags.clone(),
        configuration_set: None,
        sent_at: chrono::Utc::now(),
    };
    let tags: std::collections::BTreeMap<String, Vec<String>> =
        sent.tags.into_iter().map(|(k, v)| (k, vec![v])).collect();
    assert_eq!(
        ClaimTags::from_mail_tags(&tags).unwrap().email_id,
        "492500005643#a-1#email"
    );
    let body = publish::ses_event(
        SesEventKind::Send,
        &email,
        "e-1",
        chrono::Utc::now(),
        &Default::default(),
    );
    let AwsEvent::Ses(send) = AwsEvent::parse(&body.to_string()).unwrap() else {
        panic!()
    };
    assert_eq!(
        store.record_ses_event(&send).await.unwrap(),
        SesOutcome::Confirmed
    );
    let out = notify_failure::handle(p, event_at("492500005643", "a-1", 60))
        .await
        .unwrap();
    assert_eq!(out.email, notify_failure::Delivery::Unchanged);
    let out = notify_failure::handle(p, event("492500005647", "a-1"))
        .await
        .unwrap();
    assert_eq!(out.email, notify_failure::Delivery::NoAddress);
    let outbox = store.snapshot().outbox;
    assert_eq!(outbox.emails.len(), 1);
    assert_eq!(outbox.sns.len(), 2);
    assert_eq!(outbox.sns[0].dedupe_id, "492500005643#a-1#sns");
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
