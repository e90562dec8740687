//! load-order over moto: in-process through the handler, and on the wire through the real binary
//! driven by a local Lambda Runtime API (the errorType Step Functions would see).

use serde_json::json;
use test_support::{invoke_binary, Invocation, MotoEnv};
use unpaid_order::aws::AwsPorts;

const BIN: &str = env!("CARGO_BIN_EXE_load-order");

async fn env() -> (MotoEnv, AwsPorts) {
    let env = MotoEnv::new().await;
    env.seed_fixtures().await;
    let ports = AwsPorts::new(&env.sdk, &env.config).unwrap();
    (env, ports)
}

#[tokio::test]
#[cfg_attr(
    not(feature = "emulator"),
    ignore = "needs moto: run by tests/run.sh, or --features emulator with .tools/moto"
)]
async fn handler_answers_for_each_fixture_order() {
    let (_env, p) = env().await;
    let out = load_order::handle(
        &p.orders,
        &p.check_status,
        json!({"orderId": "492500005643"}),
    )
    .await
    .unwrap();
    assert_eq!(
        serde_json::to_value(out).unwrap(),
        json!({"orderId": "492500005643", "checkStatus": {"chargeId": "ch_3QfA1b2C3d4E5f6G",
            "paymentMethod": "card", "status": "failed", "createdAt": "2026-11-25T06:00:01Z"}})
    );
    let out = load_order::handle(
        &p.orders,
        &p.check_status,
        json!({"orderId": "492500005644"}),
    )
    .await
    .unwrap();
    assert_eq!(out.check_status.charge_id, "ch_3QgB2c3D4e5F6g7H");
    for (event, error_type) in [
        (json!({"orderId": "492500005645"}), "OrderAlreadyPaid"),
        (json!({"orderId": "492500005646"}), "CheckStatusNotFound"),
        (json!({"orderId": "000000000000"}), "OrderNotFound"),
        (json!({"orderId": 492500005648u64}), "InvalidInput"),
        (json!({"orderId": ""}), "InvalidInput"),
        (json!({}), "InvalidInput"),
        (json!([1]), "InvalidInput"),
    ] {
        let err = load_order::handle(&p.orders, &p.check_status, event.clone())
            .await
            .unwrap_err();
        assert_eq!(err.error_type(), error_type, "{event}");
    }
}

async fn wire(
    env: &MotoEnv,
    extra: &[(&str, &str)],
    event: serde_json::Value,
) -> test_support::Run {
    let mut vars = env.function_env();
    vars.extend(extra.iter().map(|(k, v)| (k.to_string(), v.to_string())));
    invoke_binary(BIN, &vars, &event).await
}

#[tokio::test]
#[cfg_attr(
    not(feature = "emulator"),
    ignore = "needs moto: run by tests/run.sh, or --features emulator with .tools/moto"
)]
async fn binary_posts_contract_error_types_on_the_wire() {
    let (env, _) = env().await;
    let cases = [
        (
            json!({"orderId": "000000000000"}),
            "OrderNotFound",
            "order 000000000000 not found in the order table",
        ),
        (
            json!({"orderId": "492500005646"}),
            "CheckStatusNotFound",
            "no check-status record for order 492500005646",
        ),
        (
            json!({"orderId": "492500005645"}),
            "OrderAlreadyPaid",
            "order 492500005645 is already paid",
        ),
    ];
    for (event, error_type, message) in cases {
        let run = wire(&env, &[], event).await;
        match run.invocation {
            Invocation::Error(body) => {
                assert_eq!(
                    body,
                    json!({"errorType": error_type, "errorMessage": message}),
                    "{}",
                    run.stdout
                )
            }
            other => panic!("expected an error, got {other:?}; stderr: {}", run.stderr),
        }
    }
    let run = wire(&env, &[], json!({"orderId": 42})).await;
    let Invocation::Error(body) = run.invocation else {
        panic!("{:?}", run.invocation)
    };
    assert_eq!(body["errorType"], "InvalidInput");
    assert_eq!(
        body["errorMessage"],
        "invalid input: invalid type: integer `42`, expected a string"
    );
}

#[tokio::test]
#[cfg_attr(
    not(feature = "emulator"),
    ignore = "needs moto: run by tests/run.sh, or --features emulator with .tools/moto"
)]
async fn binary_answers_and_logs_json_with_the_order_id() {
    let (env, _) = env().await;
    let run = wire(&env, &[], json!({"orderId": "492500005643"})).await;
    let Invocation::Response(body) = &run.invocation else {
        panic!("{:?} {}", run.invocation, run.stderr)
    };
    assert_eq!(body["checkStatus"]["chargeId"], "ch_3QfA1b2C3d4E5f6G");
    let loaded = run
        .stdout
        .lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .find(|l| l["fields"]["message"] == "order loaded")
        .unwrap_or_else(|| panic!("no JSON log line 'order loaded' in {}", run.stdout));
    assert_eq!(loaded["span"]["orderId"], "492500005643");
    assert!(
        !run.stdout.contains("jane.doe@example.com"),
        "the order document must not be logged"
    );
}

#[tokio::test]
#[cfg_attr(
    not(feature = "emulator"),
    ignore = "needs moto: run by tests/run.sh, or --features emulator with .tools/moto"
)]
async fn aws_unreachable_is_transient_on_the_wire() {
    let (env, _) = env().await;
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let dead = format!("http://127.0.0.1:{port}");
    let run = wire(
        &env,
        &[("AWS_ENDPOINT_URL", &dead)],
        json!({"orderId": "492500005643"}),
    )
    .await;
    let Invocation::Error(body) = run.invocation else {
        panic!("{:?}", run.invocation)
    };
    assert_eq!(body["errorType"], "TransientError");
}

#[tokio::test]
#[cfg_attr(
    not(feature = "emulator"),
    ignore = "needs moto: run by tests/run.sh, or --features emulator with .tools/moto"
)]
async fn missing_configuration_fails_start_up_naming_the_variable() {
    let (env, _) = env().await;
    let vars: Vec<(String, String)> = env
        .function_env()
        .into_iter()
        .filter(|(k, _)| k != "CHECK_STATUS_TABLE")
        .collect();
    let run = invoke_binary(BIN, &vars, &json!({"orderId": "492500005643"})).await;
    match run.invocation {
        Invocation::Exited { code, stderr } => {
            assert_ne!(code, Some(0));
            assert!(
                format!("{stderr}{}", run.stdout).contains("CHECK_STATUS_TABLE"),
                "stderr: {stderr} stdout: {}",
                run.stdout
            );
        }
        other => panic!("expected start-up failure, got {other:?}"),
    }
}
