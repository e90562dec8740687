//! save-order over moto: in-process through the handler and on the wire through the real binary.

use serde_json::json;
use test_support::{invoke_binary, Invocation, MotoEnv};
use unpaid_order::aws::AwsPorts;
use unpaid_order::{Attr, MemoryStore, OrderId, OrderTable};

fn event(order: &str) -> serde_json::Value {
    let mut e: serde_json::Value =
        serde_json::from_str(include_str!("../../../events/functions/save-order.json")).unwrap();
    e["orderId"] = json!(order);
    e
}

async fn save_contract(orders: &dyn OrderTable) {
    let out = save_order::handle(orders, event("492500005643"))
        .await
        .unwrap();
    assert_eq!(
        serde_json::to_value(out).unwrap(),
        json!({"orderId": "492500005643", "outcome": "saved"})
    );
    let out = save_order::handle(orders, event("492500005643"))
        .await
        .unwrap();
    assert_eq!(
        serde_json::to_value(out).unwrap(),
        json!({"orderId": "492500005643", "outcome": "unchanged"})
    );
    let saved = orders
        .get(&OrderId::parse("492500005643").unwrap())
        .await
        .unwrap()
        .unwrap();
    let Attr::M(data) = saved.data.to_attr() else {
        panic!("form changed")
    };
    assert_eq!(
        data["payment"].as_m().unwrap()["paymentId"],
        Attr::s("ch_3QfA1b2C3d4E5f6G")
    );
    assert_eq!(data["payment"].as_m().unwrap()["isPaid"], Attr::Bool(false));

    let out = save_order::handle(orders, event("492500005644"))
        .await
        .unwrap();
    assert_eq!(serde_json::to_value(out).unwrap()["outcome"], "saved");

    for (e, error_type) in [
        (event("492500005645"), "OrderAlreadyPaid"),
        (event("000000000000"), "OrderNotFound"),
        (
            {
                let mut e = event("492500005643");
                e["paymentHeader"]["isPaid"] = json!(true);
                e
            },
            "InvalidInput",
        ),
        (
            {
                let mut e = event("492500005643");
                e["paymentHeader"]["extra"] = json!(1);
                e
            },
            "InvalidInput",
        ),
    ] {
        assert_eq!(
            save_order::handle(orders, e.clone())
                .await
                .unwrap_err()
                .error_type(),
            error_type,
            "{e}"
        );
    }
}

#[tokio::test]
#[cfg_attr(
    not(feature = "emulator"),
    ignore = "needs moto: run by tests/run.sh, or --features emulator with .tools/moto"
)]
async fn saves_once_and_never_over_a_paid_order_on_dynamodb() {
    let env = MotoEnv::new().await;
    env.seed_fixtures().await;
    let ports = AwsPorts::new(&env.sdk, &env.config).unwrap();
    save_contract(&ports.orders).await;
}

#[tokio::test]
async fn saves_once_and_never_over_a_paid_order_in_memory() {
    let state = unpaid_order::MemoryState::load_fixtures(
        &test_support::workspace_root().join("events/tables"),
    )
    .unwrap();
    save_contract(&MemoryStore::new(state)).await;
}

#[tokio::test]
#[cfg_attr(
    not(feature = "emulator"),
    ignore = "needs moto: run by tests/run.sh, or --features emulator with .tools/moto"
)]
async fn binary_reports_already_paid_and_saves_on_the_wire() {
    let env = MotoEnv::new().await;
    env.seed_fixtures().await;
    let bin = env!("CARGO_BIN_EXE_save-order");
    let run = invoke_binary(bin, &env.function_env(), &event("492500005645")).await;
    let Invocation::Error(body) = run.invocation else {
        panic!("{:?} {}", run.invocation, run.stderr)
    };
    assert_eq!(
        body,
        json!({"errorType": "OrderAlreadyPaid", "errorMessage": "order 492500005645 is already paid"})
    );
    let run = invoke_binary(bin, &env.function_env(), &event("492500005644")).await;
    let Invocation::Response(body) = run.invocation else {
        panic!("{:?} {}", run.invocation, run.stderr)
    };
    assert_eq!(body, json!({"orderId": "492500005644", "outcome": "saved"}));
    // save-order reads and rewrites the whole order document: none of it reaches the logs.
    let run = invoke_binary(bin, &env.function_env(), &event("492500005643")).await;
    let Invocation::Response(body) = run.invocation else {
        panic!("{:?} {}", run.invocation, run.stderr)
    };
    assert_eq!(body["outcome"], "saved");
    assert!(run.stdout.contains("492500005643"), "{}", run.stdout);
    assert!(
        !run.stdout.contains("@example.com") && !run.stdout.contains("jane"),
        "no email address or order field in the logs: {}",
        run.stdout
    );
}
