//! The money-safety matrix: the real per-order machine and handlers, the real SDK clients, and
//! moto behind a fault proxy per service (tests/fault-proxy). Every AWS call of a fault-free run
//! (found by running it, not listed here: the five functions' and record-event's) × every fault
//! class, each scripted once; then a redrive (or a new execution after a Fail state) once the
//! fault is gone. Never a person marking a record: SES's own events, which the SES proxy publishes
//! for what moto really accepted and record-event records, decide every ambiguous email. Every
//! cell whose email had to wait for that evidence is played again under each way AWS delivers
//! the events (delayed, lost, duplicated, out of order). After it, for every cell:
//! - the order carries the unpaid header and was never marked paid;
//! - at least one SNS message, every copy with the attempt's `dedupeId`;
//! - exactly one email, but for the one labelled exception: AWS lost every event of an email SES
//!   had accepted, and the resend after the window is a second copy;
//! - both email-log records `sent`, and exactly one attempt record.
//!
//! The outcome tables are written to `target/money-matrix.md`, which is what
//! docs/money-matrix.md shows (`bash tests/money-matrix.sh` regenerates both).

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use asl::{Clock, VirtualClock};
use aws_config::timeout::TimeoutConfig;
use aws_fault_proxy::{ses_events_of, Fault, FaultProxy, Rule, Service};
use chrono::TimeZone;
use serde_json::json;
use sfn_local::{ExecutionRecord, Runner, RunnerOptions};
use test_support::MotoEnv;
use unpaid_order::evidence::SesEventKind;
use unpaid_order::{Attr, Setting};
use workflow_tests::*;

/// The SDK's attempt timeout in these tests (moto on a loaded 2-core machine can take a second), and
/// how long a slow answer is held back (past it).
const ATTEMPT_TIMEOUT: Duration = Duration::from_secs(2);
const SLOW_FOR: Duration = Duration::from_millis(2500);
/// Cells run at once (each has its own tables, topic, sender and proxies on one moto).
const PARALLEL: usize = 6;
/// How late "delayed" events come: well after the first checks, well inside the 900 s window.
const DELAYED_BY: chrono::Duration = chrono::Duration::seconds(240);

/// How AWS delivers SES's events about an email moto accepted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum SesEvents {
    /// As SES publishes them: Send at once, Delivery seconds later.
    Delivered,
    /// Minutes late (inside the confirmation window).
    Delayed,
    /// Never (AWS lost every one of them).
    Lost,
    /// Each twice (same EventBridge id).
    Duplicated,
    /// Delivery first, Send after it.
    OutOfOrder,
}

impl SesEvents {
    const ALL: [SesEvents; 5] = [
        SesEvents::Delivered,
        SesEvents::Delayed,
        SesEvents::Lost,
        SesEvents::Duplicated,
        SesEvents::OutOfOrder,
    ];

    fn name(self) -> &'static str {
        match self {
            SesEvents::Delivered => "delivered",
            SesEvents::Delayed => "delayed",
            SesEvents::Lost => "lost",
            SesEvents::Duplicated => "duplicated",
            SesEvents::OutOfOrder => "out of order",
        }
    }
}

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

/// A fault on one call, or an outage of one service for the whole first run.
#[derive(Debug, Clone)]
enum Fault1 {
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

/// A cell: a fault, under one way of delivering SES's events.
#[derive(Debug, Clone)]
struct Cell {
    fault: Fault1,
    events: SesEvents,
}

impl Fault1 {
    fn row(&self) -> String {
        match self {
            Fault1::Call { site, .. } | Fault1::LostTwice { site } => format!(
                "{} {} {} #{}",
                site.function,
                site.service.name(),
                site.operation,
                site.nth_of_operation
            ),
            Fault1::Outage { service } => format!("(all) {} connections refused", service.name()),
        }
    }

    fn column(&self) -> &'static str {
        match self {
            Fault1::Call { fault, .. } => fault.name(),
            Fault1::LostTwice { .. } => "lost-reply + SDK retry lost",
            Fault1::Outage { .. } => "outage",
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
    async fn new(events: SesEvents) -> Stack {
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
        let clock = Arc::new(VirtualClock::new(start));
        options.clock = clock.clone();
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
        // moto publishes no SES events: the proxy publishes them for what moto accepted, on the
        // runner's clock, the way this cell's AWS delivers them.
        let (r, c) = (runner.clone(), clock.clone());
        ses.on_accepted_send(move |email| {
            let now = c.now();
            let mut published = ses_events_of(&email);
            let last = published.iter().map(|(_, at)| *at).max();
            for (event, at) in published.drain(..) {
                let due = now + (at - email.sent_at);
                let is_send = event["detail"]["eventType"] == SesEventKind::Send.as_str();
                match events {
                    SesEvents::Delivered => r.publish_evidence(event, due),
                    SesEvents::Delayed => r.publish_evidence(event, due + DELAYED_BY),
                    SesEvents::Lost => {}
                    SesEvents::Duplicated => {
                        r.publish_evidence(event.clone(), due);
                        r.publish_evidence(event, due);
                    }
                    SesEvents::OutOfOrder if is_send => {
                        let after = last.map_or(due, |l| now + (l - email.sent_at));
                        r.publish_evidence(event, after + chrono::Duration::seconds(1))
                    }
                    SesEvents::OutOfOrder => r.publish_evidence(event, now),
                }
            }
        });
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
            Service::StepFunctions => panic!("the matrix has no Step Functions proxy"),
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
            Setting::OrderIndexTable,
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
}

/// The calls of a fault-free run, in order.
async fn fault_free_calls() -> Vec<CallSite> {
    let stack = Stack::new(SesEvents::Delivered).await;
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

fn script(stack: &Stack, fault: &Fault1) {
    match fault {
        Fault1::Call { site, fault } => {
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
        Fault1::LostTwice { site } => {
            for nth in [site.nth_of_operation, site.nth_of_operation + 1] {
                stack.proxy(site.service).script(Rule {
                    operation: Some(site.operation.clone()),
                    nth,
                    fault: Fault::LostReply,
                });
            }
        }
        Fault1::Outage { service } => stack.proxy(*service).set_up(false),
    }
}

fn waited_for_evidence(record: &ExecutionRecord) -> bool {
    record.history.iter().any(|e| {
        e["type"] == "TaskFailed" && e["taskFailedEventDetails"]["error"] == "EmailAwaitingEvidence"
    })
}

/// What one cell ended in.
struct Outcome {
    index: usize,
    cell: Cell,
    text: String,
    /// The email waited for SES's evidence at some point (the cell is played again under the
    /// other ways of delivering it).
    waited: bool,
}

/// Runs one cell to the end (a redrive, or a new execution after a Fail state) and checks the
/// invariants.
async fn run_cell(index: usize, cell: Cell) -> Outcome {
    let stack = Stack::new(cell.events).await;
    script(&stack, &cell.fault);
    let name = format!("cell-{index}");
    let first = stack.run(&name).await;
    let mut waited = waited_for_evidence(&first);
    let mut outcome = match first.status.as_str() {
        "SUCCEEDED" => "SUCCEEDED".to_string(),
        _ => format!("FAILED {}", first.error.clone().unwrap_or_default()),
    };
    stack.clear();
    let mut last = first.clone();
    let mut attempt = name.clone();
    let at = format!(
        "{} / {} / SES events {}",
        cell.fault.row(),
        cell.fault.column(),
        cell.events.name()
    );
    if first.status != "SUCCEEDED" {
        let error = first.error.clone().unwrap_or_default();
        assert!(
            ["TransientError", "ConfigurationError", "InvalidInput"].contains(&error.as_str()),
            "{at}: failed with {error}: {:?}",
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
            attempt = format!("{name}-again");
            last = stack.run(&attempt).await;
        } else {
            outcome.push_str(" → redrive SUCCEEDED");
            last = stack
                .runner
                .redrive_execution(&first.execution_arn)
                .await
                .expect("redrive");
        }
        waited |= waited_for_evidence(&last);
        // No cause carries a full address.
        for text in [&first.cause, &last.cause].into_iter().flatten() {
            assert!(
                !text.contains("jane.doe@"),
                "{at}: cause shows the address: {text}"
            );
        }
    }
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
    let dedupe = stack.env.published_dedupe_ids().await;
    assert!(!dedupe.is_empty(), "{at}: no SNS message");
    let want = format!("{UNPAID_ORDER}#{attempt}#sns");
    assert!(
        dedupe.iter().all(|d| d.as_deref() == Some(want.as_str())),
        "{at}: every SNS copy carries {want}: {dedupe:?}"
    );
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
    assert!(
        statuses.iter().all(|s| *s == "sent") && !statuses.is_empty(),
        "{at}: email log {statuses:?}"
    );
    let resent = log.iter().any(|i| {
        i.get("channel").and_then(Attr::as_s) == Some("email") && i.contains_key("supersededTokens")
    });
    let emails = stack.env.sent_emails().await;
    if waited {
        outcome = if resent {
            format!("{outcome}; no SES event in the window → sent again")
        } else {
            format!("{outcome}; waited, SES's event confirmed it")
        };
    }
    if dedupe.len() > 1 {
        outcome.push_str(&format!(" ({} SNS copies, one dedupeId)", dedupe.len()));
    }
    match emails.len() {
        1 => {}
        2 if cell.events == SesEvents::Lost && resent => {
            outcome.push_str(" — DUPLICATE email: SES accepted it, AWS lost its events");
        }
        n => panic!("{at}: {n} emails {emails:?}"),
    }
    stack.remove().await;
    Outcome {
        index,
        cell,
        text: outcome,
        waited,
    }
}

fn first_cells(sites: &[CallSite]) -> Vec<Cell> {
    let mut faults = Vec::new();
    for site in sites {
        for fault in Fault::ALL {
            faults.push(Fault1::Call {
                site: site.clone(),
                fault,
            });
        }
        // The SDK retries DynamoDB calls only (SNS and SES have no SDK retry here).
        if site.service == Service::DynamoDb {
            faults.push(Fault1::LostTwice { site: site.clone() });
        }
    }
    for service in [Service::DynamoDb, Service::Sns, Service::SesV2] {
        faults.push(Fault1::Outage { service });
    }
    faults
        .into_iter()
        .map(|fault| Cell {
            fault,
            events: SesEvents::Delivered,
        })
        .collect()
}

/// Runs `cells`, [`PARALLEL`] at a time, numbered from `first`.
async fn run_all(cells: Vec<Cell>, first: usize) -> Vec<Outcome> {
    let total = cells.len();
    let mut results = Vec::with_capacity(total);
    let mut pending = cells.into_iter().enumerate();
    let mut running = tokio::task::JoinSet::new();
    loop {
        while running.len() < PARALLEL {
            match pending.next() {
                Some((i, cell)) => {
                    running.spawn(run_cell(first + i, cell));
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
    results.sort_by_key(|o| o.index);
    results
}

fn counts(out: &mut String, results: &[&Outcome]) {
    let mut counts: BTreeMap<&str, usize> = BTreeMap::new();
    for o in results {
        *counts.entry(o.text.as_str()).or_default() += 1;
    }
    out.push_str("| outcome | cells |\n|---|---|\n");
    for (o, n) in &counts {
        out.push_str(&format!("| {o} | {n} |\n"));
    }
}

/// A table of `cells` (row, column, text), rows and columns in the order they first appear.
fn grid(out: &mut String, corner: &str, cells: &[(String, String, &str)]) {
    let mut rows: Vec<&str> = Vec::new();
    let mut columns: Vec<&str> = Vec::new();
    for (r, c, _) in cells {
        if !rows.contains(&r.as_str()) {
            rows.push(r);
        }
        if !columns.contains(&c.as_str()) {
            columns.push(c);
        }
    }
    out.push_str(&format!("\n| {corner} | {} |\n|---|", columns.join(" | ")));
    out.push_str(&"---|".repeat(columns.len()));
    out.push('\n');
    for r in &rows {
        out.push_str(&format!("| {r} |"));
        for c in &columns {
            let text = cells
                .iter()
                .find(|(rr, cc, _)| rr == r && cc == c)
                .map(|(_, _, t)| *t)
                .unwrap_or("");
            out.push_str(&format!(" {text} |"));
        }
        out.push('\n');
    }
}

fn table(results: &[Outcome]) -> String {
    let all: Vec<&Outcome> = results.iter().collect();
    let duplicates = all.iter().filter(|o| o.text.contains("DUPLICATE")).count();
    let mut out = format!(
        "Generated by `bash tests/money-matrix.sh` (tests/tests/money_matrix.rs): {} cells, every one \
         ending SUCCEEDED with the unpaid header, one attempt record, at least one SNS message (every \
         copy with the attempt's `dedupeId`) and one email, but for {duplicates} labelled duplicate(s) \
         (SES accepted the email and AWS lost every event of it). No cell needs an operator to mark a record.\n\n",
        results.len()
    );
    counts(&mut out, &all);
    out.push_str("\n## Every call × every fault (SES's events delivered as SES publishes them)\n");
    let first: Vec<(String, String, &str)> = results
        .iter()
        .filter(|o| o.cell.events == SesEvents::Delivered)
        .map(|o| {
            (
                o.cell.fault.row(),
                o.cell.fault.column().to_string(),
                o.text.as_str(),
            )
        })
        .collect();
    grid(&mut out, "call", &first);
    out.push_str(
        "\n## The cells whose email waited for SES's evidence, under each way AWS delivers it\n",
    );
    let waited: Vec<String> = results
        .iter()
        .filter(|o| o.cell.events == SesEvents::Delivered && o.waited)
        .map(|o| format!("{} / {}", o.cell.fault.row(), o.cell.fault.column()))
        .collect();
    let mut second: Vec<(String, String, &str)> = results
        .iter()
        .map(|o| {
            (
                format!("{} / {}", o.cell.fault.row(), o.cell.fault.column()),
                o.cell.events.name().to_string(),
                o.text.as_str(),
            )
        })
        .filter(|(key, _, _)| waited.contains(key))
        .collect();
    second.sort_by_key(|(key, column, _)| {
        (
            waited.iter().position(|w| w == key),
            SesEvents::ALL.iter().position(|e| e.name() == column),
        )
    });
    grid(&mut out, "call / fault", &second);
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
#[cfg_attr(
    not(feature = "emulator"),
    ignore = "needs moto: run by tests/run.sh, or --features emulator with .tools/moto"
)]
async fn every_call_under_every_fault_keeps_the_money_invariants() {
    let sites = fault_free_calls().await;
    // The run calls every port: reads, the conditional writes, the claims, both sends, and the
    // recorder's writes of the SES event and the status changes.
    for (function, op) in [
        ("load-order", "GetItem"),
        ("load-order", "Query"),
        ("save-order", "UpdateItem"),
        ("log-attempt", "PutItem"),
        ("notify-failure", "PutItem"),
        ("notify-failure", "Publish"),
        ("notify-failure", "SendEmail"),
        ("record-event", "UpdateItem"),
        ("record-event", "PutItem"),
    ] {
        assert!(
            sites
                .iter()
                .any(|s| s.function == function && s.operation == op),
            "{function} {op} not seen in {sites:?}"
        );
    }
    let first = first_cells(&sites);
    let n = first.len();
    let mut results = run_all(first, 0).await;
    // Every cell whose email waited for evidence, again under each other way of delivering it.
    let again: Vec<Cell> = results
        .iter()
        .filter(|o| o.waited)
        .flat_map(|o| {
            SesEvents::ALL
                .into_iter()
                .filter(|e| *e != SesEvents::Delivered)
                .map(|events| Cell {
                    fault: o.cell.fault.clone(),
                    events,
                })
        })
        .collect();
    assert!(
        !again.is_empty(),
        "no cell made the email wait for SES's evidence: the lost-reply on SendEmail must"
    );
    results.extend(run_all(again, n).await);
    for o in &results {
        assert!(!o.text.contains("operator"), "{}", o.text);
    }
    let out = project_root().join("target").join("money-matrix.md");
    std::fs::write(&out, table(&results)).expect("write the table");
    eprintln!(
        "money matrix: {} cells, table in {}",
        results.len(),
        out.display()
    );
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
    let stack = Stack::new(SesEvents::Delivered).await;
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
