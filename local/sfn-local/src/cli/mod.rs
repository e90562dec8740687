//! The command line: the global flags and the runner options they make, the verbs' dispatch, and
//! what every verb shares (JSON arguments, printing, the AWS CLI's exit codes, the signals).
//!
//! One module per verb family: `executions` (the AWS CLI's stepfunctions verbs), `pipe` (`pipe`,
//! `outbox`), `stream` (`pipe-stream`, `dlq-replay`), `serve` (the Step Functions API).

/// `println!` that does not panic when the reader has gone (`sfn-local ... | head`): the rest of
/// the answer is dropped, the command's work and exit code stand.
macro_rules! say {
    ($($arg:tt)*) => {
        $crate::cli::say(format_args!($($arg)*))
    };
}

mod executions;
mod pipe;
mod serve;
mod stream;

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;

use asl::{Clock, SystemClock, VirtualClock};
use clap::{Parser, Subcommand};
use serde::Serialize;
use serde_json::Value;
use sfn_local::{Fault, Runner, RunnerError, RunnerOptions};

#[derive(Parser)]
#[command(
    name = "sfn-local",
    version,
    about = "Runs the project's Step Functions workflows offline, with the AWS CLI's stepfunctions verbs"
)]
pub struct Cli {
    /// The state directory (embedded tables, outbox, executions).
    #[arg(
        long,
        global = true,
        default_value = ".sfn-local",
        env = "SFN_LOCAL_STATE_DIR"
    )]
    state_dir: PathBuf,
    /// The project folder holding template.yaml, statemachine/ and events/.
    #[arg(long, global = true, default_value = ".")]
    project_root: PathBuf,
    /// Run the handlers over the real AWS adapters at this endpoint (moto, or AWS) instead of the
    /// embedded store.
    #[arg(long, global = true, value_name = "URL")]
    aws_endpoint: Option<String>,
    /// Invoke the functions through this Lambda Invoke API (e.g. `cargo lambda watch`).
    #[arg(long, global = true, value_name = "URL")]
    lambda_endpoint: Option<String>,
    /// More Lambda functions, as Python handler files run in Lambda's Python runtime: a registry
    /// {"name": {"source": "handler.py", "timeout": 3}} (what TestState may invoke besides the
    /// template's functions).
    #[arg(long, global = true, value_name = "FILE")]
    lambda_functions: Option<PathBuf>,
    /// Fault switch: NAME=ErrorType:N|always[:crash-after] (repeatable), e.g.
    /// notify-failure=TransientError:2. ErrorType Hang: the call never answers.
    #[arg(long = "fail", global = true, value_name = "SPEC")]
    faults: Vec<String>,
    /// Waits and retry back-off take no time.
    #[arg(long, global = true)]
    virtual_clock: bool,
    /// Template parameter: NAME=VALUE (repeatable).
    #[arg(long = "parameter", global = true, value_name = "NAME=VALUE")]
    parameters: Vec<String>,
    /// No progress lines on stderr.
    #[arg(long, global = true)]
    quiet: bool,
    /// The evidence queue on SQS (the SQS client at --aws-endpoint) instead of the one in
    /// process: status changes are sent there, and `serve` polls it into record-event.
    #[arg(long, global = true, value_name = "URL")]
    evidence_queue_url: Option<String>,
    /// One service's endpoint over --aws-endpoint: SERVICE=URL with SERVICE dynamodb, sns or
    /// ses (repeatable), e.g. ses=http://127.0.0.1:4567 for a proxy in front of SES.
    #[arg(long = "service-endpoint", global = true, value_name = "SERVICE=URL")]
    service_endpoints: Vec<String>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Starts an execution and waits for its end (prints executionArn, startDate, status, output).
    StartExecution(executions::StartExecution),
    DescribeExecution(executions::DescribeExecution),
    GetExecutionHistory(executions::GetExecutionHistory),
    ListExecutions(executions::ListExecutions),
    /// Re-runs a failed execution from the state that failed; waits for its end.
    RedriveExecution(executions::RedriveExecution),
    /// The EventBridge Pipe: filters the records, batches them and starts the batch workflow.
    Pipe(pipe::Pipe),
    /// Prints the SNS messages and emails that would have been sent, each email with its
    /// email-log record and SES's events (delivering what is due first).
    Outbox,
    /// Delivers the evidence due now to record-event and prints what it did, the messages still
    /// queued and the dead-letter queue (`evidence/dead-letters.jsonl`).
    Evidence,
    /// The Pipe on a live DynamoDB stream: follows every shard of the failed-order table's stream
    /// at --endpoint-url and starts the batch machine through --sfn-endpoint-url, as template.yaml
    /// declares the Pipe (filter, batching, input template, retries, DLQ). Positions are kept per
    /// shard in the state directory. Runs until Ctrl-C or SIGTERM.
    PipeStream(stream::PipeStream),
    /// Turns the Pipe's DLQ messages (shard and sequence numbers of a failed batch) back into the
    /// batch machine's input by reading the records from the DynamoDB stream, while it holds them
    /// (24 h); with --start starts each batch under a name derived from the message (a second
    /// replay of one message is refused by Step Functions). Prints one JSON object per message.
    DlqReplay(stream::DlqReplay),
    /// Writes finished executions spread over past days, with the order index the recorder would
    /// have built (test data for scale; runs nothing, sends nothing).
    SeedExecutions(executions::SeedExecutions),
    /// Serves the Step Functions API (AWS JSON 1.0) for the AWS CLI and SDKs (`--endpoint-url`);
    /// prints `{"endpoint": ..., "address": ...}` on stdout once listening.
    Serve(serve::Serve),
}

/// `file://PATH` → the file's JSON; otherwise the argument's own JSON.
fn read_json_argument(argument: &str, value: &str) -> Result<Value, RunnerError> {
    match value.strip_prefix("file://") {
        Some(path) => {
            let text = std::fs::read_to_string(path).map_err(|e| RunnerError::File {
                path: PathBuf::from(path),
                message: format!("{argument}: {e}"),
            })?;
            serde_json::from_str(&text).map_err(|e| RunnerError::File {
                path: PathBuf::from(path),
                message: format!("{argument}: not valid JSON: {e}"),
            })
        }
        None => serde_json::from_str(value).map_err(|e| {
            RunnerError::argument(
                argument,
                format!("not valid JSON ({e}); use file://PATH for a file"),
            )
        }),
    }
}

/// Writes one line of a verb's answer to stdout (see `say!`).
pub(crate) fn say(line: std::fmt::Arguments<'_>) {
    use std::io::Write;
    if let Err(e) = writeln!(std::io::stdout().lock(), "{line}") {
        if e.kind() != std::io::ErrorKind::BrokenPipe {
            eprintln!("sfn-local: cannot write the answer: {e}");
        }
    }
}

fn print(v: &Value) {
    match serde_json::to_string_pretty(v) {
        Ok(s) => say!("{s}"),
        Err(e) => eprintln!("sfn-local: cannot print the result: {e}"),
    }
}

/// The AWS CLI's exit codes: 252 for a bad command line or file, 254 for an error of the service.
pub fn exit_code(e: &RunnerError) -> u8 {
    match e {
        RunnerError::Argument { .. } | RunnerError::File { .. } => 252,
        _ => 254,
    }
}

fn options(cli: &Cli) -> Result<RunnerOptions, RunnerError> {
    let mut options = RunnerOptions::new(&cli.project_root, &cli.state_dir);
    if !cli.project_root.join("template.yaml").is_file() {
        return Err(RunnerError::argument(
            "--project-root",
            format!(
                "{} has no template.yaml (run from the project's folder or pass --project-root)",
                cli.project_root.display()
            ),
        ));
    }
    let mut parameters = BTreeMap::new();
    for p in &cli.parameters {
        let (k, v) = p.split_once('=').ok_or_else(|| {
            RunnerError::argument(format!("--parameter {p}"), "expected NAME=VALUE")
        })?;
        parameters.insert(k.to_string(), v.to_string());
    }
    options.parameters = parameters;
    options.faults = cli
        .faults
        .iter()
        .map(|f| f.parse::<Fault>())
        .collect::<Result<_, _>>()?;
    options.clock = clock(cli.virtual_clock);
    options.aws_endpoint = cli.aws_endpoint.clone();
    options.lambda_endpoint = cli.lambda_endpoint.clone();
    if let Some(f) = &cli.lambda_functions {
        options.lambda_functions = lambda_local::load_functions(f)
            .map_err(|e| RunnerError::argument("--lambda-functions", e.to_string()))?;
    }
    options.progress = !cli.quiet;
    options.evidence_queue_url = cli.evidence_queue_url.clone();
    for spec in &cli.service_endpoints {
        let bad = |m: &str| RunnerError::argument(format!("--service-endpoint {spec}"), m);
        let (service, url) = spec
            .split_once('=')
            .ok_or_else(|| bad("expected SERVICE=URL"))?;
        let slot = match service {
            "dynamodb" => &mut options.service_endpoints.dynamodb,
            "sns" => &mut options.service_endpoints.sns,
            "ses" => &mut options.service_endpoints.ses,
            _ => return Err(bad("SERVICE is one of dynamodb, sns, ses")),
        };
        *slot = Some(url.to_string());
    }
    Ok(options)
}

/// `print` of any serialisable result (the library's reports, the outbox).
fn print_serialised<T: Serialize>(value: &T) -> Result<(), RunnerError> {
    print(&serde_json::to_value(value).map_err(|e| RunnerError::Backend(e.to_string()))?);
    Ok(())
}

/// The real clock, or with `--virtual-clock` one on which waits and back-off take no time.
fn clock(virtual_clock: bool) -> Arc<dyn Clock> {
    if virtual_clock {
        Arc::new(VirtualClock::new(chrono::Utc::now()))
    } else {
        Arc::new(SystemClock)
    }
}

/// Ctrl-C or SIGTERM.
async fn shutdown_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{signal, SignalKind};
        match signal(SignalKind::terminate()) {
            Ok(mut term) => {
                tokio::select! {
                    _ = tokio::signal::ctrl_c() => {}
                    _ = term.recv() => {}
                }
            }
            Err(_) => {
                let _ = tokio::signal::ctrl_c().await;
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
}

pub async fn run(cli: Cli) -> Result<(), RunnerError> {
    // These read the template only, not the state directory (a `serve` may hold it).
    match &cli.command {
        Command::DlqReplay(args) => return stream::dlq_replay(&cli, args).await,
        Command::PipeStream(args) => return stream::pipe_stream(&cli, args).await,
        _ => {}
    }
    let runner = Runner::open(options(&cli)?).await?;
    let result = match &cli.command {
        Command::Serve(args) => serve::serve(runner.clone(), args).await,
        Command::StartExecution(args) => executions::start_execution(&runner, args).await,
        Command::DescribeExecution(args) => executions::describe_execution(&runner, args),
        Command::GetExecutionHistory(args) => executions::get_execution_history(&runner, args),
        Command::ListExecutions(args) => executions::list_executions(&runner, args),
        Command::RedriveExecution(args) => executions::redrive_execution(&runner, args).await,
        Command::Pipe(args) => pipe::pipe(&runner, args).await,
        Command::Outbox => pipe::outbox(&runner).await,
        Command::Evidence => pipe::evidence(&runner).await,
        Command::SeedExecutions(args) => executions::seed_executions(&runner, args).await,
        // Handled above, before the runner opens the state directory.
        Command::DlqReplay(_) | Command::PipeStream(_) => Ok(()),
    };
    // What is still queued (SES's Delivery a few seconds after a Send) goes to the state
    // directory for the next command, as SQS would keep it.
    let handed = runner.hand_over_evidence().await.map(|_| ());
    result.and(handed)
}
