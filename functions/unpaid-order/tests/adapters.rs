//! The ports' contracts, run against the DynamoDB/SNS/SESv2 adapters over HTTP on moto server and
//! against the in-memory store (same expectations), plus what only the AWS adapters do: error
//! mapping, and reading back through moto's inspection API what was published and sent.

use test_support::{workspace_root, MotoEnv};
use unpaid_order::attr::{Attr, Item};
use unpaid_order::aws::{self, AwsPorts, DynamoOrderTable};
use unpaid_order::memory::MemoryState;
use unpaid_order::model::{AttemptRecord, OrderData, SaveOutcome, SavePlan};
use unpaid_order::notice::{FailureNotification, OutgoingEmail};
use unpaid_order::ports::{status, Channel, Claim, ClaimOutcome, ExistingClaim, SendError};
use unpaid_order::{
    AttemptId, AttemptLog, CheckStatus, CheckStatusTable, EmailLog, Mailer, MemoryStore, Notifier,
    OrderId, OrderTable, PaymentHeader, Setting,
};

const MAP_ORDER: &str = "492500005643";
const JSON_ORDER: &str = "492500005644";
const PAID_ORDER: &str = "492500005645";
const NO_CHECK_ORDER: &str = "492500005646";

fn id(s: &str) -> OrderId {
    OrderId::parse(s).unwrap()
}

fn header(timestamp: &str) -> PaymentHeader {
    PaymentHeader::failed(
        &CheckStatus {
            charge_id: "ch_3QfA1b2C3d4E5f6G".into(),
            payment_method: "card".into(),
            status: "failed".into(),
            created_at: "2026-11-25T06:00:01Z".into(),
        },
        timestamp,
    )
    .unwrap()
}

fn fixtures() -> MemoryState {
    MemoryState::load_fixtures(&workspace_root().join("events/tables")).unwrap()
}

fn fixture_data(order: &str) -> Attr {
    fixtures()
        .orders
        .into_iter()
        .find(|i| i["orderId"] == Attr::s(order))
        .unwrap()["data"]
        .clone()
}

async fn moto_ports() -> (MotoEnv, AwsPorts) {
    let env = MotoEnv::new().await;
    env.seed_fixtures().await;
    let ports = AwsPorts::new(&env.sdk, &env.config).unwrap();
    (env, ports)
}

// ---------------------------------------------------------------- order table

async fn order_table_contract(orders: &dyn OrderTable) {
    // Both stored forms read back as they are.
    let map = orders.get(&id(MAP_ORDER)).await.unwrap().unwrap();
    assert_eq!(map.data.to_attr(), fixture_data(MAP_ORDER));
    assert!(matches!(map.data, OrderData::Map(_)));
    let json = orders.get(&id(JSON_ORDER)).await.unwrap().unwrap();
    assert_eq!(json.data.to_attr(), fixture_data(JSON_ORDER));
    assert!(orders.get(&id("no-such-order")).await.unwrap().is_none());

    // Map form: only data.payment changes; every other field (numbers, nested maps) is as it was.
    let h = header("2026-11-25T06:10:00Z");
    assert_eq!(
        orders
            .save_payment_header(&id(MAP_ORDER), &h)
            .await
            .unwrap(),
        SaveOutcome::Saved
    );
    let Attr::M(saved) = orders
        .get(&id(MAP_ORDER))
        .await
        .unwrap()
        .unwrap()
        .data
        .to_attr()
    else {
        panic!("form changed")
    };
    let Attr::M(mut before) = fixture_data(MAP_ORDER) else {
        panic!()
    };
    assert_eq!(saved["payment"], h.to_attr());
    before.insert("payment".into(), h.to_attr());
    assert_eq!(saved, before);
    assert_eq!(saved["total"], Attr::N("1290.50".into()));
    // The same save again is a no-op.
    assert_eq!(
        orders
            .save_payment_header(&id(MAP_ORDER), &h)
            .await
            .unwrap(),
        SaveOutcome::Unchanged
    );
    // A new attempt (another header) overwrites an unpaid header.
    let h2 = header("2026-11-25T07:00:00Z");
    assert_eq!(
        orders
            .save_payment_header(&id(MAP_ORDER), &h2)
            .await
            .unwrap(),
        SaveOutcome::Saved
    );

    // JSON form: stays a string; the 30-digit number and nested maps keep their exact text.
    assert_eq!(
        orders
            .save_payment_header(&id(JSON_ORDER), &h)
            .await
            .unwrap(),
        SaveOutcome::Saved
    );
    let Attr::S(text) = orders
        .get(&id(JSON_ORDER))
        .await
        .unwrap()
        .unwrap()
        .data
        .to_attr()
    else {
        panic!("form changed")
    };
    assert!(
        text.contains(r#""loyaltyPoints":123456789012345678901234567890"#),
        "{text}"
    );
    assert!(text.contains(r#""total":2500.10"#), "{text}");
    assert!(
        text.contains(r#""basket":{"lines": [{"sku": "RICE-5KG", "qty": 1, "meta": {"origin": {"province": "Surin", "grade": 1.0}}}]}"#),
        "{text}"
    );
    assert!(text.contains(r#""notes":null"#), "{text}");
    assert!(text.ends_with(r#""payment":{"paymentId":"ch_3QfA1b2C3d4E5f6G","paymentMethod":"card","isPaid":false,"totalPaid":0,"status":"failed","timestamp":"2026-11-25T06:10:00Z"}}"#), "{text}");
    assert_eq!(
        orders
            .save_payment_header(&id(JSON_ORDER), &h)
            .await
            .unwrap(),
        SaveOutcome::Unchanged
    );

    // A paid order is never overwritten.
    let err = orders
        .save_payment_header(&id(PAID_ORDER), &h)
        .await
        .unwrap_err();
    assert_eq!(err.error_type(), "OrderAlreadyPaid");
    assert_eq!(
        orders
            .get(&id(PAID_ORDER))
            .await
            .unwrap()
            .unwrap()
            .data
            .to_attr(),
        fixture_data(PAID_ORDER)
    );

    let err = orders
        .save_payment_header(&id("no-such-order"), &h)
        .await
        .unwrap_err();
    assert_eq!(err.error_type(), "OrderNotFound");
}

#[tokio::test]
#[cfg_attr(
    not(feature = "emulator"),
    ignore = "needs moto: run by tests/run.sh, or --features emulator with .tools/moto"
)]
async fn order_table_on_dynamodb() {
    let (_env, ports) = moto_ports().await;
    order_table_contract(&ports.orders).await;
}

#[tokio::test]
async fn order_table_in_memory() {
    order_table_contract(&MemoryStore::new(fixtures())).await;
}

/// The conditions themselves: a plan made from a read is refused by DynamoDB once the order
/// changed under it, and the save then decides again from a fresh read.
#[tokio::test]
#[cfg_attr(
    not(feature = "emulator"),
    ignore = "needs moto: run by tests/run.sh, or --features emulator with .tools/moto"
)]
async fn dynamodb_refuses_a_stale_plan_and_save_re_reads() {
    let (env, ports) = moto_ports().await;
    let table = env.get(Setting::OrderTable);
    let orders: &DynamoOrderTable = &ports.orders;
    let h = header("2026-11-25T06:10:00Z");

    // Map form: the order becomes paid between read and write.
    let order = orders.get(&id(MAP_ORDER)).await.unwrap().unwrap();
    let plan = unpaid_order::model::plan_save(&order, &h).unwrap();
    assert_eq!(plan, SavePlan::SetMapPayment);
    let mut paid = order.data.with_payment(&h).unwrap().to_attr();
    if let Attr::M(m) = &mut paid {
        let mut p = m["payment"].as_m().unwrap().clone();
        p.insert("isPaid".into(), Attr::Bool(true));
        m.insert("payment".into(), Attr::M(p));
    }
    let item = Item::from([
        ("orderId".into(), Attr::s(MAP_ORDER)),
        ("data".into(), paid.clone()),
    ]);
    aws::put_items(&env.dynamodb, &table, &[item])
        .await
        .unwrap();
    assert!(
        !orders.apply(&id(MAP_ORDER), &h, &plan).await.unwrap(),
        "conditional update must fail"
    );
    assert_eq!(
        orders
            .save_payment_header(&id(MAP_ORDER), &h)
            .await
            .unwrap_err()
            .error_type(),
        "OrderAlreadyPaid"
    );
    assert_eq!(
        orders
            .get(&id(MAP_ORDER))
            .await
            .unwrap()
            .unwrap()
            .data
            .to_attr(),
        paid
    );

    // Map form: the order is deleted between read and write (attribute_exists).
    let h3 = header("2026-11-25T06:30:00Z");
    let other = Item::from([
        ("orderId".into(), Attr::s("gone")),
        ("data".into(), Attr::M(Default::default())),
    ]);
    aws::put_items(&env.dynamodb, &table, &[other])
        .await
        .unwrap();
    let gone = orders.get(&id("gone")).await.unwrap().unwrap();
    let plan = unpaid_order::model::plan_save(&gone, &h3).unwrap();
    env.dynamodb
        .delete_item()
        .table_name(&table)
        .key(
            "orderId",
            aws_sdk_dynamodb::types::AttributeValue::S("gone".into()),
        )
        .send()
        .await
        .unwrap();
    assert!(!orders.apply(&id("gone"), &h3, &plan).await.unwrap());
    assert!(
        orders.get(&id("gone")).await.unwrap().is_none(),
        "the update must not create an item"
    );

    // JSON form: someone rewrote the string since the read: optimistic concurrency refuses the
    // stale write; the save re-reads and keeps the other writer's change.
    let order = orders.get(&id(JSON_ORDER)).await.unwrap().unwrap();
    let stale = unpaid_order::model::plan_save(&order, &h).unwrap();
    assert!(matches!(stale, SavePlan::ReplaceJson { .. }));
    let OrderData::Json(text) = &order.data else {
        panic!()
    };
    let changed = text.replace(r#""notes": null"#, r#""notes": "call first""#);
    let item = Item::from([
        ("orderId".into(), Attr::s(JSON_ORDER)),
        ("data".into(), Attr::s(&changed)),
    ]);
    aws::put_items(&env.dynamodb, &table, &[item])
        .await
        .unwrap();
    assert!(!orders.apply(&id(JSON_ORDER), &h, &stale).await.unwrap());
    assert_eq!(
        orders
            .save_payment_header(&id(JSON_ORDER), &h)
            .await
            .unwrap(),
        SaveOutcome::Saved
    );
    let now = orders.get(&id(JSON_ORDER)).await.unwrap().unwrap().data;
    assert!(now.has_payment(&h));
    assert_eq!(now.text("notes").as_deref(), Some("call first"));
}

// ---------------------------------------------------------------- check-status

async fn check_status_contract(checks: &dyn CheckStatusTable) {
    let oldest = checks.oldest(&id(MAP_ORDER)).await.unwrap().unwrap();
    assert_eq!(
        oldest,
        CheckStatus {
            charge_id: "ch_3QfA1b2C3d4E5f6G".into(),
            payment_method: "card".into(),
            status: "failed".into(),
            created_at: "2026-11-25T06:00:01Z".into(),
        }
    );
    assert!(checks.oldest(&id(NO_CHECK_ORDER)).await.unwrap().is_none());
}

#[tokio::test]
#[cfg_attr(
    not(feature = "emulator"),
    ignore = "needs moto: run by tests/run.sh, or --features emulator with .tools/moto"
)]
async fn check_status_on_dynamodb_is_the_oldest_record() {
    let (_env, ports) = moto_ports().await;
    check_status_contract(&ports.check_status).await;
}

#[tokio::test]
async fn check_status_in_memory_is_the_oldest_record() {
    check_status_contract(&MemoryStore::new(fixtures())).await;
}

// ---------------------------------------------------------------- attempt log

async fn attempt_log_contract(
    orders: &dyn OrderTable,
    attempts: &dyn AttemptLog,
) -> Vec<(String, String)> {
    let ts = "2026-11-25T06:10:00.000Z";
    let attempt = |order: &str, attempt: &str, data: OrderData| AttemptRecord {
        order_id: id(order),
        attempt_id: AttemptId::parse(attempt).unwrap(),
        timestamp: ts.into(),
        data,
    };
    let map = orders.get(&id(MAP_ORDER)).await.unwrap().unwrap().data;
    let json = orders.get(&id(JSON_ORDER)).await.unwrap().unwrap().data;
    let first = attempt(MAP_ORDER, "a1", map.clone());
    let out = attempts.record(&first).await.unwrap();
    assert_eq!((out.created_at.as_str(), out.logged), (ts, true));
    // A retry of the same attempt is a no-op.
    let out = attempts.record(&first).await.unwrap();
    assert_eq!((out.created_at.as_str(), out.logged), (ts, false));
    // Another attempt at the same instant gets its own record, once.
    let second = attempt(MAP_ORDER, "a2", map);
    let out = attempts.record(&second).await.unwrap();
    assert_eq!(
        (out.created_at.as_str(), out.logged),
        ("2026-11-25T06:10:00.000Z#a2", true)
    );
    let out = attempts.record(&second).await.unwrap();
    assert_eq!(
        (out.created_at.as_str(), out.logged),
        ("2026-11-25T06:10:00.000Z#a2", false)
    );
    let out = attempts
        .record(&attempt(JSON_ORDER, "b1", json))
        .await
        .unwrap();
    assert!(out.logged);
    vec![
        (MAP_ORDER.into(), ts.into()),
        (MAP_ORDER.into(), "2026-11-25T06:10:00.000Z#a2".into()),
        (JSON_ORDER.into(), ts.into()),
    ]
}

fn check_attempt_items(items: &[Item], expected: &[(String, String)]) {
    let mut keys: Vec<(String, String)> = items
        .iter()
        .map(|i| {
            (
                i["orderId"].as_s().unwrap().to_string(),
                i["created_at"].as_s().unwrap().to_string(),
            )
        })
        .collect();
    keys.sort();
    let mut expected = expected.to_vec();
    expected.sort();
    assert_eq!(keys, expected);
    for item in items {
        let order = item["orderId"].as_s().unwrap();
        // The order data exactly as stored, in the same form.
        assert_eq!(item["data"], fixture_data(order), "{order}");
    }
}

#[tokio::test]
#[cfg_attr(
    not(feature = "emulator"),
    ignore = "needs moto: run by tests/run.sh, or --features emulator with .tools/moto"
)]
async fn attempt_log_on_dynamodb() {
    let (env, ports) = moto_ports().await;
    let expected = attempt_log_contract(&ports.orders, &ports.attempts).await;
    check_attempt_items(&env.scan(Setting::ProcessUnpaidOrderTable).await, &expected);
}

#[tokio::test]
async fn attempt_log_in_memory() {
    let store = MemoryStore::new(fixtures());
    let expected = attempt_log_contract(&store, &store).await;
    check_attempt_items(&store.snapshot().process_unpaid_order, &expected);
}

// ---------------------------------------------------------------- email log

async fn email_log_contract(log: &dyn EmailLog) {
    let claim = |channel, token: &str| Claim {
        order_id: id(MAP_ORDER),
        attempt_id: AttemptId::parse("a1").unwrap(),
        channel,
        recipient: "jane.doe@example.com".into(),
        claimed_at: "2026-11-25T06:10:01.000Z".into(),
        token: token.into(),
    };
    let email = claim(Channel::Email, "inv-1");
    assert_eq!(email.email_id(), "492500005643#a1#email");
    assert_eq!(log.claim(&email).await.unwrap(), ClaimOutcome::Claimed);
    // The same claim again (an SDK retry whose first attempt landed) is still ours.
    assert_eq!(log.claim(&email).await.unwrap(), ClaimOutcome::Claimed);
    // Another invocation takes a `pending` slot over (its owner never sent): the first may no
    // longer hand it over.
    let other = claim(Channel::Email, "inv-2");
    assert_eq!(log.claim(&other).await.unwrap(), ClaimOutcome::Claimed);
    assert!(!log.begin_send(&email).await.unwrap());
    assert!(log.begin_send(&other).await.unwrap());
    // Handed over, retried: still ours, and now nobody may claim it.
    assert!(log.begin_send(&other).await.unwrap());
    assert_eq!(
        log.claim(&email).await.unwrap(),
        ClaimOutcome::AlreadyClaimed(ExistingClaim {
            status: status::SENDING.into(),
            token: Some("inv-2".into()),
            claimed_at: Some("2026-11-25T06:10:01.000Z".into()),
        })
    );
    // Only the owner records the outcome.
    log.mark_sent(&email, "m-0", "2026-11-25T06:10:02.000Z")
        .await
        .unwrap();
    log.mark_sent(&other, "m-1", "2026-11-25T06:10:02.000Z")
        .await
        .unwrap();
    log.mark_sent(&other, "m-1", "2026-11-25T06:10:02.000Z")
        .await
        .unwrap();
    assert_eq!(
        log.claim(&email).await.unwrap(),
        ClaimOutcome::AlreadyClaimed(ExistingClaim {
            status: status::SENT.into(),
            token: Some("inv-2".into()),
            claimed_at: Some("2026-11-25T06:10:01.000Z".into()),
        })
    );
    // A sent record is not turned into failed.
    log.mark_failed(&other, "late").await.unwrap();
    assert_eq!(
        log.claim(&email).await.unwrap(),
        ClaimOutcome::AlreadyClaimed(ExistingClaim {
            status: status::SENT.into(),
            token: Some("inv-2".into()),
            claimed_at: Some("2026-11-25T06:10:01.000Z".into()),
        })
    );
    // The other channel is its own slot; a refused send frees it for the retry.
    let sns = claim(Channel::Sns, "inv-1");
    assert_eq!(log.claim(&sns).await.unwrap(), ClaimOutcome::Claimed);
    assert!(log.begin_send(&sns).await.unwrap());
    log.mark_failed(&sns, "Throttling for jane.doe@example.com")
        .await
        .unwrap();
    let retry = claim(Channel::Sns, "inv-3");
    assert_eq!(log.claim(&retry).await.unwrap(), ClaimOutcome::Claimed);
}

fn check_email_items(items: &[Item]) {
    let find = |key: &str| {
        items
            .iter()
            .find(|i| i["emailId"] == Attr::s(key))
            .unwrap()
            .clone()
    };
    let email = find("492500005643#a1#email");
    assert_eq!(email["status"], Attr::s("sent"));
    assert_eq!(email["messageId"], Attr::s("m-1"));
    assert_eq!(email["channel"], Attr::s("email"));
    assert_eq!(email["attemptId"], Attr::s("a1"));
    assert_eq!(email["claimToken"], Attr::s("inv-2"));
    let sns = find("492500005643#a1#sns");
    assert_eq!(sns["status"], Attr::s("pending"));
    assert_eq!(sns["claimToken"], Attr::s("inv-3"));
    assert_eq!(items.len(), 2);
}

#[tokio::test]
#[cfg_attr(
    not(feature = "emulator"),
    ignore = "needs moto: run by tests/run.sh, or --features emulator with .tools/moto"
)]
async fn email_log_on_dynamodb() {
    let (env, ports) = moto_ports().await;
    email_log_contract(&ports.email_log).await;
    check_email_items(&env.scan(Setting::EmailLogTable).await);
}

#[tokio::test]
async fn email_log_in_memory() {
    let store = MemoryStore::new(fixtures());
    email_log_contract(&store).await;
    check_email_items(&store.snapshot().email_log);
}

// ---------------------------------------------------------------- SNS and SESv2

fn email() -> OutgoingEmail {
    let order = OrderData::Map(
        [("name".to_string(), Attr::s("Jane <Doe>"))]
            .into_iter()
            .collect(),
    );
    OutgoingEmail::payment_failed(
        "jane.doe@example.com",
        &id(MAP_ORDER),
        &order,
        &header("2026-11-25T06:10:00Z"),
    )
}

#[tokio::test]
#[cfg_attr(
    not(feature = "emulator"),
    ignore = "needs moto: run by tests/run.sh, or --features emulator with .tools/moto"
)]
async fn sns_publish_is_read_back_from_moto() {
    let (env, ports) = moto_ports().await;
    let notification = FailureNotification::new(
        &id(MAP_ORDER),
        &AttemptId::parse("a1").unwrap(),
        &header("2026-11-25T06:10:00Z"),
    );
    let message_id = ports.notifier.publish(&notification).await.unwrap();
    assert_eq!(ports.notifier.topic(), env.get(Setting::FailureTopicArn));
    let published = env.published().await;
    assert_eq!(
        published,
        vec![(
            message_id,
            notification.message.clone(),
            notification.subject.clone()
        )]
    );
}

#[tokio::test]
#[cfg_attr(
    not(feature = "emulator"),
    ignore = "needs moto: run by tests/run.sh, or --features emulator with .tools/moto"
)]
async fn ses_send_is_read_back_from_moto() {
    let (env, ports) = moto_ports().await;
    let email = email();
    let message_id = ports.mailer.send(&email).await.unwrap();
    let sent = env.sent_emails().await;
    assert_eq!(sent.len(), 1, "{sent:?}");
    assert_eq!(sent[0]["id"], message_id.as_str());
    assert_eq!(
        sent[0]["destinations"]["ToAddresses"],
        serde_json::json!(["jane.doe@example.com"])
    );
    assert_eq!(sent[0]["subject"], email.subject.as_str());
    // moto keeps the HTML part when there is one: the escaped one.
    assert_eq!(sent[0]["body"], email.html.as_str());
    assert!(email.html.contains("Jane &lt;Doe&gt;"));
}

#[tokio::test]
async fn memory_outbox_records_what_would_have_gone_out() {
    let store =
        MemoryStore::new(MemoryState::default()).with_identity("arn:topic", "payments@example.com");
    let notification = FailureNotification::new(
        &id(MAP_ORDER),
        &AttemptId::parse("a1").unwrap(),
        &header("2026-11-25T06:10:00Z"),
    );
    let sns_id = store.publish(&notification).await.unwrap();
    let email_id = store.send(&email()).await.unwrap();
    let outbox = store.snapshot().outbox;
    assert_eq!(outbox.sns.len(), 1);
    assert_eq!(
        (
            outbox.sns[0].message_id.as_str(),
            outbox.sns[0].topic_arn.as_str()
        ),
        (sns_id.as_str(), "arn:topic")
    );
    assert_eq!(outbox.sns[0].message, notification.message);
    assert_eq!(outbox.emails.len(), 1);
    assert_eq!(outbox.emails[0].message_id, email_id);
    assert_eq!(outbox.emails[0].from, "payments@example.com");
    assert_eq!(outbox.emails[0].text, email().text);
    // The whole state survives a round trip through JSON (the offline runner persists it).
    let state = store.snapshot();
    let back: MemoryState = serde_json::from_str(&serde_json::to_string(&state).unwrap()).unwrap();
    assert_eq!(back, state);
}

// ---------------------------------------------------------------- error mapping

#[tokio::test]
#[cfg_attr(
    not(feature = "emulator"),
    ignore = "needs moto: run by tests/run.sh, or --features emulator with .tools/moto"
)]
async fn aws_failures_are_classed_by_what_can_succeed_later() {
    let env = MotoEnv::new().await;
    // A table that does not exist (misconfiguration): not retried (it cannot succeed until the
    // deployment is fixed); the execution fails at the step and is redriven after the fix.
    let missing = DynamoOrderTable::new(env.dynamodb.clone(), "no-such-table");
    let err = missing.get(&id(MAP_ORDER)).await.unwrap_err();
    assert_eq!(err.error_type(), "ConfigurationError");
    assert!(
        err.to_string().contains("ResourceNotFoundException"),
        "{err}"
    );

    // Nothing listening: dispatch failure.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let dead = test_support::sdk_config(&format!("http://127.0.0.1:{port}"));
    let orders = DynamoOrderTable::new(aws::dynamodb_client(&dead), "t");
    assert_eq!(
        orders.get(&id(MAP_ORDER)).await.unwrap_err().error_type(),
        "TransientError"
    );
    // A connection that never opened sent nothing: "not sent" (it used to count as "maybe").
    let notifier = aws::SnsNotifier::new(
        aws::sns_client(&dead),
        "arn:aws:sns:us-east-1:123456789012:t",
    );
    let notification = FailureNotification::new(
        &id(MAP_ORDER),
        &AttemptId::parse("a1").unwrap(),
        &header("2026-11-25T06:10:00Z"),
    );
    match notifier.publish(&notification).await {
        Err(SendError::NotSent(e)) => assert_eq!(e.error_type(), "TransientError"),
        other => panic!("expected a send that never left, got {other:?}"),
    }

    // The provider refusing (unverified sender): definitely not sent.
    let mailer = aws::SesMailer::new(
        aws::sesv2_client(&env.sdk),
        "not-verified@nowhere.example.com",
        env.get(Setting::SesConfigurationSet),
    );
    match mailer.send(&email()).await {
        Err(SendError::NotSent(e)) => {
            assert_eq!(e.error_type(), "ConfigurationError");
            assert!(e.to_string().contains("SESv2 SendEmail"), "{e}");
        }
        other => panic!("expected a refused send, got {other:?}"),
    }
    // SNS refusing (no such topic).
    let notifier = aws::SnsNotifier::new(
        aws::sns_client(&env.sdk),
        "arn:aws:sns:us-east-1:123456789012:no-such-topic",
    );
    assert!(matches!(
        notifier.publish(&notification).await,
        Err(SendError::NotSent(_))
    ));
}
