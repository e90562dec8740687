//! log-attempt over moto: in-process through the handler and on the wire through the real binary.

use serde_json::json;
use test_support::{invoke_binary, Invocation, MotoEnv};
use unpaid_order::aws::AwsPorts;
use unpaid_order::{OrderTable, Setting};

fn event(order: &str, attempt: &str) -> serde_json::Value {
    let mut e: serde_json::Value =
        serde_json::from_str(include_str!("../../../events/functions/log-attempt.json")).unwrap();
    e["orderId"] = json!(order);
    e["attemptId"] = json!(attempt);
    e
}

#[tokio::test]
#[cfg_attr(
    not(feature = "emulator"),
    ignore = "needs moto: run by tests/run.sh, or --features emulator with .tools/moto"
)]
async fn logs_each_attempt_once_with_the_order_as_stored() {
    let env = MotoEnv::new().await;
    env.seed_fixtures().await;
    let p = AwsPorts::new(&env.sdk, &env.config).unwrap();
    let out = log_attempt::handle(&p.orders, &p.attempts, event("492500005644", "a-1"))
        .await
        .unwrap();
    assert_eq!(
        serde_json::to_value(&out).unwrap(),
        json!({"orderId": "492500005644", "attemptId": "a-1", "createdAt": "2026-11-25T06:10:00Z", "outcome": "logged"})
    );
    let again = log_attempt::handle(&p.orders, &p.attempts, event("492500005644", "a-1"))
        .await
        .unwrap();
    assert_eq!(
        serde_json::to_value(&again).unwrap()["outcome"],
        "unchanged"
    );
    let other = log_attempt::handle(&p.orders, &p.attempts, event("492500005644", "a-2"))
        .await
        .unwrap();
    assert_eq!(other.created_at, "2026-11-25T06:10:00Z#a-2");
    let items = env.scan(Setting::ProcessUnpaidOrderTable).await;
    assert_eq!(items.len(), 2);
    let stored = p
        .orders
        .get(&unpaid_order::OrderId::parse("492500005644").unwrap())
        .await
        .unwrap()
        .unwrap();
    for item in &items {
        // JSON-string form logged as the same string.
        assert_eq!(item["data"], stored.data.to_attr());
    }
    for (e, error_type) in [
        (event("000000000000", "a-1"), "OrderNotFound"),
        (event("492500005644", "has space"), "InvalidInput"),
        (json!({"orderId": "492500005644"}), "InvalidInput"),
    ] {
        let err = log_attempt::handle(&p.orders, &p.attempts, e.clone())
            .await
            .unwrap_err();
        assert_eq!(err.error_type(), error_type, "{e}");
    }
}

#[tokio::test]
#[cfg_attr(
    not(feature = "emulator"),
    ignore = "needs moto: run by tests/run.sh, or --features emulator with .tools/moto"
)]
async fn binary_logs_on_the_wire() {
    let env = MotoEnv::new().await;
    env.seed_fixtures().await;
    let bin = env!("CARGO_BIN_EXE_log-attempt");
    let run = invoke_binary(bin, &env.function_env(), &event("492500005643", "wire-1")).await;
    let Invocation::Response(body) = run.invocation else {
        panic!("{:?} {}", run.invocation, run.stderr)
    };
    assert_eq!(body["outcome"], "logged");
    let line = run
        .stdout
        .lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .find(|l| l["fields"]["message"] == "attempt logged")
        .unwrap_or_else(|| panic!("{}", run.stdout));
    assert_eq!(line["span"]["orderId"], "492500005643");
    assert_eq!(line["span"]["attemptId"], "wire-1");
    // The attempt record holds the order as saved: none of it reaches the logs.
    assert!(
        !run.stdout.contains("@example.com") && !run.stdout.contains("jane"),
        "no email address or order field in the logs: {}",
        run.stdout
    );
    let run = invoke_binary(bin, &env.function_env(), &event("000000000000", "wire-1")).await;
    let Invocation::Error(body) = run.invocation else {
        panic!("{:?}", run.invocation)
    };
    assert_eq!(body["errorType"], "OrderNotFound");
}
