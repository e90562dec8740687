//! `record-evidence`: records, through the real recorder (record-event, in process on the state
//! directory of a running `sfn-local serve`), the status changes Step Functions would publish for
//! every execution sfn-local keeps, and with `--ses ORDER_ID` the SES events the mailbox simulator
//! publishes for each email of that order. For the browser test (tests/browser/), until sfn-local
//! publishes these events itself; recording them twice changes nothing (the index keeps the
//! newest state, the email log each event id once).
//!
//! Usage: record-evidence --state-dir DIR --project-root DIR [--ses ORDER_ID]
//! Prints {"statusChanges": N, "sesEvents": M}.

use std::path::PathBuf;
use std::process::ExitCode;

use serde_json::{json, Value};
use unpaid_order::evidence::publish::simulated_events;
use unpaid_order::{Attr, Item};
use workflow_tests::evidence::{record_offline, ses_events, status_changes, stored_executions};

fn arg(args: &[String], name: &str) -> Option<String> {
    args.iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1))
        .cloned()
}

fn text<'a>(item: &'a Item, name: &str) -> Option<&'a str> {
    item.get(name).and_then(Attr::as_s)
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().collect();
    let (Some(state_dir), Some(root)) = (arg(&args, "--state-dir"), arg(&args, "--project-root"))
    else {
        eprintln!("usage: record-evidence --state-dir DIR --project-root DIR [--ses ORDER_ID]");
        return ExitCode::from(2);
    };
    let (state_dir, root) = (PathBuf::from(state_dir), PathBuf::from(root));
    let changes: Vec<Value> = stored_executions(&state_dir)
        .iter()
        .flat_map(status_changes)
        .collect();
    record_offline(&root, &state_dir, &changes).await;
    let mut ses = Vec::new();
    if let Some(order) = arg(&args, "--ses") {
        let functions = sfn_local::functions::EmbeddedFunctions::new(
            sfn_local::Store::open(&state_dir).expect("the state directory"),
            sfn_local::project::fixtures_dir(&root),
            String::new(),
            String::new(),
        );
        let tables = functions.snapshot().await.expect("the embedded tables");
        for record in tables.email_log.iter().filter(|r| {
            text(r, "orderId") == Some(order.as_str())
                && text(r, "channel") == Some("email")
                && text(r, "status") == Some("sent")
        }) {
            let kinds = simulated_events(text(record, "recipient").unwrap_or_default());
            ses.extend(ses_events(record, &kinds, "payment3-unpaid-order-dev"));
        }
        record_offline(&root, &state_dir, &ses).await;
    }
    println!(
        "{}",
        json!({"statusChanges": changes.len(), "sesEvents": ses.len()})
    );
    ExitCode::SUCCESS
}
