//! `pipe` (a records file through the template's Pipe, with its summary), `outbox` (what SNS and
//! SES would have sent, with SES's events) and `evidence` (the evidence queue and its dead letters).

use clap::Args;
use serde_json::Value;
use sfn_local::functions::OUTBOX_FILE;
use sfn_local::{PipeReport, Runner, RunnerError};

use super::{print_serialised, read_json_argument};

#[derive(Args)]
pub struct Pipe {
    /// file://PATH of a JSON array of DynamoDB stream records (or {"Records": [...]}).
    #[arg(long)]
    records: String,
    /// Print the full report as JSON instead of the summary.
    #[arg(long)]
    json: bool,
}

pub async fn pipe(runner: &Runner, args: &Pipe) -> Result<(), RunnerError> {
    if !args.records.starts_with("file://") {
        return Err(RunnerError::argument("--records", "expected file://PATH"));
    }
    let records = read_json_argument("--records", &args.records)?;
    let report = runner.pipe(records).await?;
    if args.json {
        print_serialised(&report)?;
    } else {
        print_pipe_summary(&report, runner);
    }
    Ok(())
}

pub async fn outbox(runner: &Runner) -> Result<(), RunnerError> {
    runner.deliver_due_evidence().await?;
    match runner.outbox_view().await? {
        Some(outbox) => print_serialised(&outbox),
        None => Err(RunnerError::argument(
            "outbox",
            "there is no local outbox with --aws-endpoint/--lambda-endpoint: the messages went to that endpoint",
        )),
    }
}

fn print_pipe_summary(report: &PipeReport, runner: &Runner) {
    say!(
        "pipe: {} records, batch size {}, {} batch(es), {} filtered out",
        report.records,
        report.batch_size,
        report.batches.len(),
        report.filtered.len()
    );
    for (i, b) in report.batches.iter().enumerate() {
        // A batch that failed because a record needs an operator has its summary as the cause.
        let counts = b
            .summary()
            .map(|o| {
                let counts = [
                    "processed",
                    "failed",
                    "skipped",
                    "duplicate",
                    "malformed",
                    "unstarted",
                ]
                .iter()
                .map(|k| format!("{} {k}", o.get(*k).and_then(Value::as_u64).unwrap_or(0)))
                .collect::<Vec<_>>()
                .join(", ");
                match b.error.as_deref() {
                    Some(e) => format!("{e}: {counts}"),
                    None => counts,
                }
            })
            .unwrap_or_else(|| {
                format!(
                    "{} {}",
                    b.error.as_deref().unwrap_or(""),
                    b.cause.as_deref().unwrap_or("")
                )
            });
        say!(
            "batch {}: {} {} ({counts})",
            i + 1,
            b.status,
            b.execution_arn
        );
    }
    for o in &report.orders {
        let record = o
            .get("record")
            .and_then(Value::as_u64)
            .map(|r| r.to_string())
            .unwrap_or_else(|| "?".into());
        let order = o
            .get(sfn_local::project::ORDER_KEY)
            .and_then(Value::as_str)
            .unwrap_or("-");
        let outcome = o.get("outcome").and_then(Value::as_str).unwrap_or("?");
        let detail = match outcome {
            "processed" | "failed" => format!(
                "{}{}{} {}",
                o.get("childStatus").and_then(Value::as_str).unwrap_or(""),
                o.get("childError")
                    .and_then(Value::as_str)
                    .map(|e| format!(" {e}"))
                    .unwrap_or_default(),
                o.get("childSkipped")
                    .map(|_| " (already paid: skipped, no email)")
                    .unwrap_or(""),
                o.get("childExecutionArn")
                    .and_then(Value::as_str)
                    .or_else(|| o.get("executionName").and_then(Value::as_str))
                    .unwrap_or_default()
            ),
            "duplicate" => format!(
                "already started as {}",
                o.get("executionName").and_then(Value::as_str).unwrap_or("")
            ),
            "malformed" => o
                .get("reason")
                .and_then(Value::as_str)
                .unwrap_or("")
                .to_string(),
            "skipped" => o
                .get("eventName")
                .and_then(Value::as_str)
                .unwrap_or("")
                .to_string(),
            _ => String::new(),
        };
        let error = match o.get("error").and_then(Value::as_str) {
            Some(e) if o.get("childError").is_none() => format!(" error {e}"),
            _ => String::new(),
        };
        say!("  record {record:>3}  order {order:<14} {outcome:<10} {detail}{error}");
    }
    for f in &report.filtered {
        say!(
            "  record {:>3}  filtered by the Pipe ({}): {}",
            f.index,
            f.event_name.as_deref().unwrap_or("no eventName"),
            f.reason
        );
    }
    say!(
        "outbox: {} (print it with: sfn-local outbox); executions: {}",
        runner.state_dir().join(OUTBOX_FILE).display(),
        runner.state_dir().join("executions").display()
    );
}

pub async fn evidence(runner: &Runner) -> Result<(), RunnerError> {
    let delivered = runner.deliver_due_evidence().await?;
    let pending: Vec<Value> = runner
        .pending_evidence()
        .iter()
        .map(|m| {
            serde_json::json!({
                "messageId": m.message_id,
                "visibleAt": sfn_local::cli_date(&m.visible_at),
                "receiveCount": m.receive_count,
                "event": serde_json::from_str::<Value>(&m.body).unwrap_or(Value::String(m.body.clone())),
            })
        })
        .collect();
    print_serialised(&serde_json::json!({
        "delivered": delivered,
        "pending": pending,
        "deadLetters": runner.dead_letters()?,
    }))
}
