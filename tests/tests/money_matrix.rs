//! The money-safety matrix: the real per-order machine and handlers, the real SDK clients, and
//! moto behind a fault proxy per service (tests/fault-proxy). Every AWS call of a fault-free run
//! (found by running it, not listed here) × every fault class, each scripted once; then, as an
//! operator would, a redrive (or the runbook's action for the error) once the fault is gone.
//! After it, for every cell:
//! - the order carries the unpaid header and was never marked paid;
//! - exactly one SNS message and one email for the order, and none twice for one attempt;
//! - no SUCCEEDED execution without its email;
//! - exactly one attempt record.
//!
//! The outcome table (call × fault → outcome) is written to `target/money-matrix.md`, which is
//! what docs/failure-modes.md shows (`bash tests/money-matrix.sh` regenerates both).

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use asl::VirtualClock;
use aws_config::timeout::TimeoutConfig;
use aws_fault_proxy::{Fault, FaultProxy, Rule, Service};
use chrono::TimeZone;
use serde_json::json;
use sfn_local::{ExecutionRecord, Runner, RunnerOptions};
use test_support::MotoEnv;
use unpaid_order::{Attr, Setting};
use workflow_tests::*;

/// The SDK's attempt timeout in these tests (moto on a loaded 2-core machine can take a second), and
/// how long a slow answer is held back (past it).
const ATTEMPT_TIMEOUT: Duration = Duration::from_secs(2);
const SLOW_FOR: Duration = Duration::from_millis(2500);
/// Cells run at once (each has its own tables, topic, sender and proxies on one moto).
const PARALLEL: usize = 6;

/// One call of the fault-free run.
#[derive(Debug, Clone, PartialEq, Eq)]
struct CallSite {
    function: String,
    service: Service,
    operation: String,
    /// Its number among the proxy's requests for that operation, and among all of them.
    nth_of_operation: u32,
    nth_of_service: u32,
}

/// A cell: a fault on one call, or an outage of one service for the whole first run.
#[derive(Debug, Clone)]
enum Cell {
    Call {
        site: CallSite,
        fault: Fault,
    },
    /// The call and the SDK's retry of it both lose their reply (both applied).
    LostTwice {
        site: CallSite,
    },
    Outage {
        service: Service,
    },
}

impl Cell {
    fn row(&self) -> String {
        match self {
            Cell::Call { site, .. } | Cell::LostTwice { site } => format!(
                "{} {} {} #{}",
                site.function,
                site.service.name(),
                site.operation,
                site.nth_of_operation
            ),
            Cell::Outage { service } => format!("(all) {} connections refused", service.name()),
        }
    }

    fn column(&self) -> &'static str {
        match self {
            Cell::Call { fault, .. } => fault.name(),
            Cell::LostTwice { .. } => "lost-reply + SDK retry lost",
            Cell::Outage { .. } => "outage",
        }
    }
}

struct Stack {
    env: MotoEnv,
    dynamodb: FaultProxy,
    sns: FaultProxy,
    ses: FaultProxy,
    runner: Runner,
    _dir: tempfile::TempDir,
}

impl Stack {
    async fn new() -> Stack {
        let env = MotoEnv::new().await;
        env.seed_fixtures().await;
        let proxy = |s| FaultProxy::start(s, &env.endpoint, SLOW_FOR);
        let dynamodb = proxy(Service::DynamoDb).await.expect("proxy");
        let sns = proxy(Service::Sns).await.expect("proxy");
        let ses = proxy(Service::SesV2).await.expect("proxy");
        let dir = tempfile::tempdir().expect("temp dir");
        let mut options = RunnerOptions::new(project_root(), dir.path());
        let start = chrono::Utc
            .with_ymd_and_hms(2026, 11, 25, 6, 10, 0)
            .single()
            .expect("date");
        options.clock = Arc::new(VirtualClock::new(start));
        options.aws_endpoint = Some(env.endpoint.clone());
        options.sdk_config = Some(
            env.sdk
                .to_builder()
                .timeout_config(
                    TimeoutConfig::builder()
                        .connect_timeout(Duration::from_millis(500))
                        .operation_attempt_timeout(ATTEMPT_TIMEOUT)
                        .operation_timeout(Duration::from_secs(6))
                        .build(),
                )
                .retry_config(aws_config::retry::RetryConfig::standard())
                .build(),
        );
        options.service_endpoints = unpaid_order::aws::ServiceEndpoints {
            dynamodb: Some(dynamodb.endpoint()),
            sns: Some(sns.endpoint()),
            ses: Some(ses.endpoint()),
        };
        options.environment = Setting::ALL
            .iter()
            .map(|s| (s.var().to_string(), env.get(*s)))
            .collect::<BTreeMap<_, _>>();
        let runner = Runner::open(options).await.expect("sfn-local opens");
        Stack {
            env,
            dynamodb,
            sns,
            ses,
            runner,
            _dir: dir,
        }
    }

    fn proxy(&self, service: Service) -> &FaultProxy {
        match service {
            Service::DynamoDb => &self.dynamodb,
            Service::Sns => &self.sns,
            Service::SesV2 => &self.ses,
        }
    }

    fn clear(&self) {
        for p in [&self.dynamodb, &self.sns, &self.ses] {
            p.clear();
            p.set_up(true);
        }
    }

    async fn run(&self, name: &str) -> ExecutionRecord {
        self.runner
            .start_execution(
                ORDER_MACHINE,
                json!({ "orderId": UNPAID_ORDER }),
                Some(name),
            )
            .await
            .expect("start-execution")
    }

    /// Deletes this cell's tables and topic: moto's inspection API (read by every later cell)
    /// serialises everything moto holds.
    async fn remove(&self) {
        for table in [
            Setting::OrderTable,
            Setting::CheckStatusTable,
            Setting::ProcessUnpaidOrderTable,
            Setting::EmailLogTable,
        ] {
            let _ = self
                .env
                .dynamodb
                .delete_table()
                .table_name(self.env.get(table))
                .send()
                .await;
        }
        let _ = aws_sdk_sns::Client::new(&self.env.sdk)
            .delete_topic()
            .topic_arn(self.env.get(Setting::FailureTopicArn))
            .send()
            .await;
    }

    /// The email-log items of this stack's order.
    async fn email_log(&self) -> Vec<unpaid_order::Item> {
        self.env.scan(Setting::EmailLogTable).await
    }

    /// The runbook's action for a NotificationUnconfirmed record: look at the provider (here
    /// moto's own record of what went out), then mark it `sent` or `failed` (docs/runbook).
    async fn resolve_unconfirmed(&self) {
        let published = self.env.published().await.len();
        let emailed = self.env.sent_emails().await.len();
        for item in self.email_log().await {
            if item.get("status").and_then(Attr::as_s) != Some("sending") {
                continue;
            }
            let went_out = match item.get("channel").and_then(Attr::as_s) {
                Some("sns") => published > 0,
                _ => emailed > 0,
            };
            let id = item.get("emailId").and_then(Attr::as_s).expect("emailId");
            self.env
                .dynamodb
                .update_item()
                .table_name(self.env.get(Setting::EmailLogTable))
                .key(
                    "emailId",
                    aws_sdk_dynamodb::types::AttributeValue::S(id.into()),
                )
                .update_expression("SET #s = :s")
                .expression_attribute_names("#s", "status")
                .expression_attribute_values(
                    ":s",
                    aws_sdk_dynamodb::types::AttributeValue::S(
                        if went_out { "sent" } else { "failed" }.into(),
                    ),
                )
                .send()
                .await
                .expect("operator marks the record");
        }
    }
}

/// The calls of a fault-free run, in order.
async fn fault_free_calls() -> Vec<CallSite> {
    let stack = Stack::new().await;
    let record = stack.run("baseline").await;
    assert_eq!(record.status, "SUCCEEDED", "{:?}", record.cause);
    let mut sites = Vec::new();
    for service in [Service::DynamoDb, Service::Sns, Service::SesV2] {
        let mut per_op: BTreeMap<String, u32> = BTreeMap::new();
        for (i, call) in stack.proxy(service).calls().into_iter().enumerate() {
            let n = per_op.entry(call.operation.clone()).or_insert(0);
            *n += 1;
            sites.push(CallSite {
                function: call.function,
                service,
                operation: call.operation,
                nth_of_operation: *n,
                nth_of_service: i as u32 + 1,
            });
        }
    }
    sites
}

fn script(stack: &Stack, cell: &Cell) {
    match cell {
        Cell::Call { site, fault } => {
            let rule = match fault {
                // Connection faults hit the n-th connection (one call each).
                Fault::ResetOnAccept => Rule {
                    operation: None,
                    nth: site.nth_of_service,
                    fault: *fault,
                },
                _ => Rule {
                    operation: Some(site.operation.clone()),
                    nth: site.nth_of_operation,
                    fault: *fault,
                },
            };
            stack.proxy(site.service).script(rule);
        }
        Cell::LostTwice { site } => {
            for nth in [site.nth_of_operation, site.nth_of_operation + 1] {
                stack.proxy(site.service).script(Rule {
                    operation: Some(site.operation.clone()),
                    nth,
                    fault: Fault::LostReply,
                });
            }
        }
        Cell::Outage { service } => stack.proxy(*service).set_up(false),
    }
}

/// Runs one cell to the end (with the operator's actions) and checks the invariants. Returns the
/// outcome for the table.
async fn run_cell(index: usize, cell: Cell) -> (usize, Cell, String) {
    let stack = Stack::new().await;
    script(&stack, &cell);
    let name = format!("cell-{index}");
    let first = stack.run(&name).await;
    let mut outcome = match first.status.as_str() {
        "SUCCEEDED" => "retried → SUCCEEDED".to_string(),
        _ => format!("FAILED {}", first.error.clone().unwrap_or_default()),
    };
    stack.clear();
    let mut last = first.clone();
    if first.status != "SUCCEEDED" {
        let error = first.error.clone().unwrap_or_default();
        assert!(
            [
                "TransientError",
                "NotificationUnconfirmed",
                "ConfigurationError",
                "InvalidInput"
            ]
            .contains(&error.as_str()),
            "{}: {} failed with {error}: {:?}",
            cell.row(),
            cell.column(),
            first.cause
        );
        let at_fail_state = first
            .history
            .iter()
            .any(|e| e["type"] == "FailStateEntered");
        if at_fail_state {
            // A business error ends in its Fail state: the runbook's action is a new attempt
            // once the data (here: the fault) is fixed.
            outcome.push_str(" (Fail state) → new execution SUCCEEDED");
            last = stack.run(&format!("{name}-again")).await;
        } else {
            if error == "NotificationUnconfirmed" {
                stack.resolve_unconfirmed().await;
                outcome.push_str(" → operator marks it → redrive SUCCEEDED");
            } else {
                outcome.push_str(" → redrive SUCCEEDED");
            }
            last = stack
                .runner
                .redrive_execution(&first.execution_arn)
                .await
                .expect("redrive");
        }
        // No cause carries a full address.
        for text in [&first.cause, &last.cause].into_iter().flatten() {
            assert!(
                !text.contains("jane.doe@"),
                "{}: cause shows the address: {text}",
                cell.row()
            );
        }
    }
    let at = format!("{} / {}", cell.row(), cell.column());
    assert_eq!(
        last.status, "SUCCEEDED",
        "{at}: {:?} {:?}",
        last.error, last.cause
    );

    // The invariants, read from moto itself (not through the proxy).
    let orders = stack.env.scan(Setting::OrderTable).await;
    let order = orders
        .iter()
        .find(|i| i.get("orderId").and_then(Attr::as_s) == Some(UNPAID_ORDER))
        .expect("order");
    let payment = order
        .get("data")
        .and_then(Attr::as_m)
        .and_then(|d| d.get("payment"))
        .and_then(Attr::as_m)
        .expect("payment header written");
    assert_eq!(payment.get("isPaid"), Some(&Attr::Bool(false)), "{at}");
    assert_eq!(payment.get("totalPaid"), Some(&Attr::N("0".into())), "{at}");
    let published = stack.env.published().await;
    assert_eq!(published.len(), 1, "{at}: SNS messages {published:?}");
    let emails = stack.env.sent_emails().await;
    assert_eq!(emails.len(), 1, "{at}: emails {emails:?}");
    let attempts = stack
        .env
        .scan(Setting::ProcessUnpaidOrderTable)
        .await
        .iter()
        .filter(|i| i.get("orderId").and_then(Attr::as_s) == Some(UNPAID_ORDER))
        .count();
    assert_eq!(attempts, 1, "{at}: attempt records");
    let log = stack.email_log().await;
    let statuses: Vec<_> = log
        .iter()
        .filter_map(|i| i.get("status").and_then(Attr::as_s))
        .collect();
    assert_eq!(statuses, ["sent", "sent"], "{at}: email log");
    stack.remove().await;
    (index, cell, outcome)
}

fn cells(sites: &[CallSite]) -> Vec<Cell> {
    let mut cells = Vec::new();
    for site in sites {
        for fault in Fault::ALL {
            cells.push(Cell::Call {
                site: site.clone(),
                fault,
            });
        }
        // The SDK retries DynamoDB calls only (SNS and SES have no SDK retry here).
        if site.service == Service::DynamoDb {
            cells.push(Cell::LostTwice { site: site.clone() });
        }
    }
    for service in [Service::DynamoDb, Service::Sns, Service::SesV2] {
        cells.push(Cell::Outage { service });
    }
    cells
}

fn table(results: &[(Cell, String)]) -> String {
    let mut rows: Vec<String> = Vec::new();
    let mut columns: Vec<&str> = Vec::new();
    let mut grid: BTreeMap<(String, &str), &str> = BTreeMap::new();
    for (cell, outcome) in results {
        let (r, c) = (cell.row(), cell.column());
        if !rows.contains(&r) {
            rows.push(r.clone());
        }
        if !columns.contains(&c) {
            columns.push(c);
        }
        grid.insert((r, c), outcome);
    }
    let mut counts: BTreeMap<&str, usize> = BTreeMap::new();
    for (_, o) in results {
        *counts.entry(o.as_str()).or_default() += 1;
    }
    let mut out = format!(
        "Generated by `bash tests/money-matrix.sh` (tests/tests/money_matrix.rs): {} cells, every one \
         ending with one SNS message, one email, one attempt record and the unpaid header.\n\n",
        results.len()
    );
    out.push_str("| outcome | cells |\n|---|---|\n");
    for (o, n) in &counts {
        out.push_str(&format!("| {o} | {n} |\n"));
    }
    out.push_str("\n| call | ");
    out.push_str(&columns.join(" | "));
    out.push_str(" |\n|---|");
    out.push_str(&"---|".repeat(columns.len()));
    out.push('\n');
    for r in &rows {
        out.push_str(&format!("| {r} |"));
        for c in &columns {
            out.push_str(&format!(
                " {} |",
                grid.get(&(r.clone(), *c)).copied().unwrap_or("")
            ));
        }
        out.push('\n');
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
#[cfg_attr(
    not(feature = "emulator"),
    ignore = "needs moto: run by tests/run.sh, or --features emulator with .tools/moto"
)]
async fn every_call_under_every_fault_keeps_the_money_invariants() {
    let sites = fault_free_calls().await;
    // The run calls every port: reads, the conditional writes, the claims and both sends.
    for (function, op) in [
        ("load-order", "GetItem"),
        ("load-order", "Query"),
        ("save-order", "UpdateItem"),
        ("log-attempt", "PutItem"),
        ("notify-failure", "PutItem"),
        ("notify-failure", "Publish"),
        ("notify-failure", "SendEmail"),
    ] {
        assert!(
            sites
                .iter()
                .any(|s| s.function == function && s.operation == op),
            "{function} {op} not seen in {sites:?}"
        );
    }
    let all = cells(&sites);
    let total = all.len();
    let mut results = Vec::with_capacity(total);
    let mut pending = all.into_iter().enumerate();
    let mut running = tokio::task::JoinSet::new();
    loop {
        while running.len() < PARALLEL {
            match pending.next() {
                Some((i, cell)) => {
                    running.spawn(run_cell(i, cell));
                }
                None => break,
            }
        }
        match running.join_next().await {
            Some(done) => results.push(done.expect("a cell panicked")),
            None => break,
        }
    }
    assert_eq!(results.len(), total);
    results.sort_by_key(|(i, _, _)| *i);
    let results: Vec<(Cell, String)> = results.into_iter().map(|(_, c, o)| (c, o)).collect();
    let out = project_root().join("target").join("money-matrix.md");
    std::fs::write(&out, table(&results)).expect("write the table");
    eprintln!("money matrix: {total} cells, table in {}", out.display());
}

/// Paid means only `isPaid: true`; anything unclear fails closed, in the code and in the
/// conditional write, over the real adapters: the order is left as it was and nobody is emailed.
/// (`"isPaid": "true", "totalPaid": 500` used to be overwritten and told "Nothing has been
/// charged".)
#[tokio::test]
#[cfg_attr(
    not(feature = "emulator"),
    ignore = "needs moto: run by tests/run.sh, or --features emulator with .tools/moto"
)]
async fn unclear_or_paid_headers_are_never_overwritten_nor_emailed() {
    use aws_sdk_dynamodb::types::AttributeValue as AV;
    let stack = Stack::new().await;
    let cases = [
        (
            "paid-bool",
            AV::M([("isPaid".into(), AV::Bool(true))].into()),
            "SUCCEEDED",
        ),
        (
            "paid-string",
            AV::M(
                [
                    ("isPaid".into(), AV::S("true".into())),
                    ("totalPaid".into(), AV::N("500".into())),
                ]
                .into(),
            ),
            "FAILED",
        ),
        (
            "paid-number",
            AV::M([("isPaid".into(), AV::N("1".into()))].into()),
            "FAILED",
        ),
        (
            "paid-json-in-map",
            AV::S(r#"{"isPaid": true}"#.into()),
            "FAILED",
        ),
    ];
    for (id, payment, status) in cases {
        let order = AV::M(
            [
                ("orderId".to_string(), AV::S(id.into())),
                ("email".to_string(), AV::S("paid@example.com".into())),
                ("payment".to_string(), payment),
            ]
            .into(),
        );
        let item = [
            ("orderId".to_string(), AV::S(id.into())),
            ("data".to_string(), order),
        ];
        stack
            .env
            .dynamodb
            .put_item()
            .table_name(stack.env.get(Setting::OrderTable))
            .set_item(Some(item.clone().into()))
            .send()
            .await
            .expect("seed the order");
        stack
            .env
            .dynamodb
            .put_item()
            .table_name(stack.env.get(Setting::CheckStatusTable))
            .item("orderId", AV::S(id.into()))
            .item("created_at", AV::S("2026-11-25T06:00:00Z".into()))
            .item("chargeId", AV::S("ch_1".into()))
            .item("paymentMethod", AV::S("card".into()))
            .item("status", AV::S("failed".into()))
            .send()
            .await
            .expect("seed the check-status");
        let r = stack
            .runner
            .start_execution(ORDER_MACHINE, json!({ "orderId": id }), Some(id))
            .await
            .expect("start-execution");
        assert_eq!(r.status, status, "{id}: {:?} {:?}", r.error, r.cause);
        if status == "FAILED" {
            assert_eq!(r.error.as_deref(), Some("InvalidInput"), "{id}");
        }
        let stored = stack
            .env
            .dynamodb
            .get_item()
            .table_name(stack.env.get(Setting::OrderTable))
            .key("orderId", AV::S(id.into()))
            .send()
            .await
            .expect("read back")
            .item
            .expect("the order");
        assert_eq!(
            stored,
            item.into(),
            "{id}: the order must be left as it was"
        );
    }
    assert!(
        stack.env.sent_emails().await.is_empty(),
        "no failure email to these orders"
    );
    assert!(stack.env.published().await.is_empty());
}
