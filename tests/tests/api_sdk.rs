//! aws-sdk-sfn against `sfn-local serve`: the operator's flow (start an order, wait for it, read its
//! history, list, fail it with the fault switch, redrive it) through the Rust SDK, and AWS's errors
//! as the SDK's typed errors.

use std::time::Duration;

use aws_sdk_sfn::config::{BehaviorVersion, Credentials, Region};
use aws_sdk_sfn::types::{ExecutionRedriveFilter, ExecutionStatus, HistoryEventType};
use aws_sdk_sfn::Client;
use serde_json::{json, Value};
use workflow_tests::{ApiServer, ARN_PREFIX, UNPAID_ORDER};

const LIMIT: Duration = Duration::from_secs(60);

fn client(server: &ApiServer) -> Client {
    let config = aws_sdk_sfn::Config::builder()
        .behavior_version(BehaviorVersion::latest())
        .region(Region::new("us-east-1"))
        .credentials_provider(Credentials::new("test", "test", None, None, "api_sdk"))
        .endpoint_url(&server.endpoint)
        .build();
    Client::from_conf(config)
}

/// Polls DescribeExecution until `want` (bounded).
async fn wait_status(
    sfn: &Client,
    arn: &str,
    want: ExecutionStatus,
) -> aws_sdk_sfn::operation::describe_execution::DescribeExecutionOutput {
    let deadline = std::time::Instant::now() + LIMIT;
    loop {
        let d = sfn
            .describe_execution()
            .execution_arn(arn)
            .send()
            .await
            .expect("describe-execution");
        if d.status() == &want {
            return d;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "{arn} is still {:?} after {LIMIT:?}, want {want:?}",
            d.status()
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_sdk_runs_inspects_fails_and_redrives_an_order() {
    let dir = tempfile::tempdir().expect("temp dir");
    let server = ApiServer::start(dir.path(), &["--virtual-clock"]);
    let sfn = client(&server);

    let machines = sfn.list_state_machines().send().await.expect("list");
    assert_eq!(machines.state_machines().len(), 2);
    let machine = machines
        .state_machines()
        .iter()
        .find(|m| {
            m.name().starts_with("process-unpaid-order")
                && !m.name().starts_with("process-unpaid-orders")
        })
        .expect("the per-order machine");
    let machine_arn = machine.state_machine_arn().to_string();
    let machine_name = machine.name().to_string();
    let described = sfn
        .describe_state_machine()
        .state_machine_arn(&machine_arn)
        .send()
        .await
        .expect("describe-state-machine");
    let definition: Value = serde_json::from_str(described.definition()).expect("definition JSON");
    assert_eq!(definition["StartAt"], "LoadOrder");

    let input = json!({ "orderId": UNPAID_ORDER }).to_string();
    let started = sfn
        .start_execution()
        .state_machine_arn(&machine_arn)
        .name("sdk-ok")
        .input(&input)
        .send()
        .await
        .expect("start-execution");
    let arn = format!("{ARN_PREFIX}:execution:{machine_name}:sdk-ok");
    assert_eq!(started.execution_arn(), arn);
    let done = wait_status(&sfn, &arn, ExecutionStatus::Succeeded).await;
    let output: Value = serde_json::from_str(done.output().expect("output")).expect("JSON");
    assert_eq!(
        output["notifyFailure"],
        json!({"sns": "sent", "email": "sent"})
    );
    assert!(done.stop_date().is_some());

    // History, a page of 5 at a time through nextToken, equals the whole.
    let whole = sfn
        .get_execution_history()
        .execution_arn(&arn)
        .send()
        .await
        .expect("history");
    assert!(whole.next_token().is_none());
    let mut paged = Vec::new();
    let mut token = None;
    loop {
        let page = sfn
            .get_execution_history()
            .execution_arn(&arn)
            .max_results(5)
            .set_next_token(token)
            .send()
            .await
            .expect("history page");
        assert!(page.events().len() <= 5);
        paged.extend(page.events().iter().map(|e| e.id()));
        token = page.next_token().map(str::to_string);
        if token.is_none() {
            break;
        }
    }
    let ids: Vec<i64> = whole.events().iter().map(|e| e.id()).collect();
    assert_eq!(paged, ids);
    assert_eq!(ids, (1..=ids.len() as i64).collect::<Vec<_>>());
    assert_eq!(
        whole.events()[0].r#type(),
        &HistoryEventType::ExecutionStarted
    );
    let reversed = sfn
        .get_execution_history()
        .execution_arn(&arn)
        .reverse_order(true)
        .max_results(1)
        .send()
        .await
        .expect("reversed");
    assert_eq!(
        reversed.events()[0].r#type(),
        &HistoryEventType::ExecutionSucceeded
    );

    // A failing order, then the outage ends and it is redriven.
    server.set_faults(&["notify-failure=TransientError:always"]);
    sfn.start_execution()
        .state_machine_arn(&machine_arn)
        .name("sdk-fail")
        .input(&input)
        .send()
        .await
        .expect("start the failing order");
    let failed_arn = format!("{ARN_PREFIX}:execution:{machine_name}:sdk-fail");
    let failed = wait_status(&sfn, &failed_arn, ExecutionStatus::Failed).await;
    assert_eq!(failed.error(), Some("TransientError"));
    let listed = sfn
        .list_executions()
        .state_machine_arn(&machine_arn)
        .status_filter(ExecutionStatus::Failed)
        .send()
        .await
        .expect("list failed");
    let names: Vec<&str> = listed.executions().iter().map(|e| e.name()).collect();
    assert_eq!(names, ["sdk-fail"]);
    let first_page = sfn
        .list_executions()
        .state_machine_arn(&machine_arn)
        .max_results(1)
        .send()
        .await
        .expect("list page");
    assert_eq!(first_page.executions().len(), 1);
    assert!(first_page.next_token().is_some());

    server.set_faults(&[]);
    sfn.redrive_execution()
        .execution_arn(&failed_arn)
        .send()
        .await
        .expect("redrive");
    let redriven = wait_status(&sfn, &failed_arn, ExecutionStatus::Succeeded).await;
    assert_eq!(redriven.redrive_count(), Some(1));
    for (filter, want) in [
        (ExecutionRedriveFilter::Redriven, vec!["sdk-fail"]),
        (ExecutionRedriveFilter::NotRedriven, vec!["sdk-ok"]),
    ] {
        let listed = sfn
            .list_executions()
            .state_machine_arn(&machine_arn)
            .redrive_filter(filter.clone())
            .send()
            .await
            .expect("list by redriveFilter");
        let names: Vec<&str> = listed.executions().iter().map(|e| e.name()).collect();
        assert_eq!(names, want, "{filter:?}");
    }
    // The machine an execution ran (the console's graph).
    let for_execution = sfn
        .describe_state_machine_for_execution()
        .execution_arn(&failed_arn)
        .send()
        .await
        .expect("describe-state-machine-for-execution");
    assert_eq!(for_execution.state_machine_arn(), machine_arn);
    assert_eq!(for_execution.definition(), described.definition());

    // AWS's errors as the SDK's typed errors.
    let err = sfn
        .describe_execution()
        .execution_arn(format!("{ARN_PREFIX}:execution:{machine_name}:nope"))
        .send()
        .await
        .expect_err("no such execution")
        .into_service_error();
    assert!(err.is_execution_does_not_exist(), "{err:?}");
    let err = sfn
        .start_execution()
        .state_machine_arn(&machine_arn)
        .name("sdk-ok")
        .input("{}")
        .send()
        .await
        .expect_err("the name is taken")
        .into_service_error();
    assert!(err.is_execution_already_exists(), "{err:?}");
    let err = sfn
        .redrive_execution()
        .execution_arn(&arn)
        .send()
        .await
        .expect_err("a succeeded execution")
        .into_service_error();
    assert!(err.is_execution_not_redrivable(), "{err:?}");
    let err = sfn
        .start_execution()
        .state_machine_arn(&machine_arn)
        .input("x".repeat(262_145))
        .send()
        .await
        .expect_err("input over 256 KiB");
    assert_eq!(
        aws_sdk_sfn::error::ProvideErrorMetadata::code(&err),
        Some("ValidationException"),
        "{err:?}"
    );

    // StopExecution ends a running one ABORTED, and it can be redriven.
    server.set_faults(&["notify-failure=Hang:1"]);
    sfn.start_execution()
        .state_machine_arn(&machine_arn)
        .name("sdk-stop")
        .input(&input)
        .send()
        .await
        .expect("start the one to stop");
    let stop_arn = format!("{ARN_PREFIX}:execution:{machine_name}:sdk-stop");
    let deadline = std::time::Instant::now() + LIMIT;
    loop {
        let h = sfn
            .get_execution_history()
            .execution_arn(&stop_arn)
            .send()
            .await
            .expect("live history");
        if h.events()
            .iter()
            .any(|e| e.state_entered_event_details().map(|d| d.name()) == Some("NotifyFailure"))
        {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "sdk-stop never reached NotifyFailure"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    sfn.stop_execution()
        .execution_arn(&stop_arn)
        .error("OperatorStop")
        .cause("rehearsal")
        .send()
        .await
        .expect("stop");
    let stopped = wait_status(&sfn, &stop_arn, ExecutionStatus::Aborted).await;
    assert_eq!(stopped.error(), Some("OperatorStop"));
    sfn.redrive_execution()
        .execution_arn(&stop_arn)
        .send()
        .await
        .expect("redrive the stopped one");
    wait_status(&sfn, &stop_arn, ExecutionStatus::Succeeded).await;
}
