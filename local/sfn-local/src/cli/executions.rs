//! The AWS CLI's `stepfunctions` verbs on the local runner: start-execution, describe-execution,
//! get-execution-history, list-executions, redrive-execution; the same flags and JSON.

use clap::Args;
use serde_json::{json, Value};
use sfn_local::{cli_date, ExecutionRecord, Runner, RunnerError, SeedPlan};

use super::{print, read_json_argument};

#[derive(Args)]
pub struct StartExecution {
    /// The state machine's name (process-unpaid-order, process-unpaid-order-dev) or ARN.
    #[arg(long)]
    state_machine_arn: String,
    /// file://PATH or the JSON text.
    #[arg(long, default_value = "{}")]
    input: String,
    #[arg(long)]
    name: Option<String>,
}

#[derive(Args)]
pub struct DescribeExecution {
    #[arg(long)]
    execution_arn: String,
}

#[derive(Args)]
pub struct GetExecutionHistory {
    #[arg(long)]
    execution_arn: String,
    #[arg(long)]
    reverse_order: bool,
}

#[derive(Args)]
pub struct ListExecutions {
    #[arg(long)]
    state_machine_arn: String,
    /// RUNNING, SUCCEEDED, FAILED, TIMED_OUT, ABORTED, PENDING_REDRIVE.
    #[arg(long)]
    status_filter: Option<String>,
}

#[derive(Args)]
pub struct RedriveExecution {
    #[arg(long)]
    execution_arn: String,
}

/// `out` with the execution's output (as JSON text), error and cause, those it has.
fn with_outcome(mut out: Value, r: ExecutionRecord) -> Value {
    for (k, v) in [
        ("output", r.output.map(|o| json!(o.to_string()))),
        ("error", r.error.map(Value::from)),
        ("cause", r.cause.map(Value::from)),
    ] {
        if let Some(v) = v {
            out[k] = v;
        }
    }
    out
}

pub async fn start_execution(runner: &Runner, args: &StartExecution) -> Result<(), RunnerError> {
    let input = read_json_argument("--input", &args.input)?;
    let r = runner
        .start_execution(&args.state_machine_arn, input, args.name.as_deref())
        .await?;
    let out = json!({"executionArn": r.execution_arn, "startDate": cli_date(&r.start_date), "status": r.status});
    print(&with_outcome(out, r));
    Ok(())
}

pub fn describe_execution(runner: &Runner, args: &DescribeExecution) -> Result<(), RunnerError> {
    print(&runner.describe_execution(&args.execution_arn)?.describe());
    Ok(())
}

pub fn get_execution_history(
    runner: &Runner,
    args: &GetExecutionHistory,
) -> Result<(), RunnerError> {
    let events = runner.get_execution_history(&args.execution_arn, args.reverse_order)?;
    print(&json!({ "events": events }));
    Ok(())
}

pub fn list_executions(runner: &Runner, args: &ListExecutions) -> Result<(), RunnerError> {
    let items: Vec<Value> = runner
        .list_executions(&args.state_machine_arn, args.status_filter.as_deref())?
        .iter()
        .map(|r| r.list_item())
        .collect();
    print(&json!({ "executions": items }));
    Ok(())
}

pub async fn redrive_execution(
    runner: &Runner,
    args: &RedriveExecution,
) -> Result<(), RunnerError> {
    let r = runner.redrive_execution(&args.execution_arn).await?;
    let out = json!({
        "redriveDate": r.redrive_date.as_ref().map(cli_date),
        "executionArn": r.execution_arn,
        "status": r.status,
        "redriveCount": r.redrive_count,
    });
    print(&with_outcome(out, r));
    Ok(())
}

/// `seed-executions`: finished executions over past days, with their order index (test data for
/// scale: the console's find and ListExecutions paging at 100,000 executions).
#[derive(Args)]
pub struct SeedExecutions {
    /// The machine the executions ran (name or ARN).
    #[arg(long, default_value = "process-unpaid-order")]
    state_machine_arn: String,
    /// How many executions.
    #[arg(long, default_value_t = 1_000)]
    count: usize,
    /// Spread over this many days before now (Step Functions keeps closed executions 90 days).
    #[arg(long, default_value_t = 90)]
    days: u32,
    /// Every Nth execution FAILED (0: none).
    #[arg(long, default_value_t = 10)]
    failed_every: usize,
    /// The errors the failed ones end with, in turn (repeatable).
    #[arg(long = "error", default_values_t = ["TransientError".to_string(), "OrderNotFound".to_string()])]
    errors: Vec<String>,
    /// Order ids are PREFIX<n>, n = 0 for the oldest.
    #[arg(long, default_value = "seeded-")]
    order_prefix: String,
}

pub async fn seed_executions(runner: &Runner, args: &SeedExecutions) -> Result<(), RunnerError> {
    let report = runner
        .seed_executions(&SeedPlan {
            state_machine: args.state_machine_arn.clone(),
            count: args.count,
            days: args.days,
            failed_every: args.failed_every,
            errors: args.errors.clone(),
            prefix: args.order_prefix.clone(),
            now: chrono::Utc::now(),
        })
        .await?;
    super::print_serialised(&report)
}
