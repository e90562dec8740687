//! `sfn-local`: the offline runner's CLI, with the AWS CLI's `stepfunctions` verbs plus `pipe` and
//! `outbox`. A thin layer over the `sfn_local` library.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use asl::{SystemClock, VirtualClock};
use clap::{Parser, Subcommand};
use serde_json::{json, Value};
use sfn_local::api::{check_host, Api, ApiOptions};
use sfn_local::functions::OUTBOX_FILE;
use sfn_local::{cli_date, Fault, PipeReport, Runner, RunnerError, RunnerOptions};

#[derive(Parser)]
#[command(
    name = "sfn-local",
    version,
    about = "Runs the project's Step Functions workflows offline, with the AWS CLI's stepfunctions verbs"
)]
struct Cli {
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
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Starts an execution and waits for its end (prints executionArn, startDate, status, output).
    StartExecution {
        /// The state machine's name (process-unpaid-order, process-unpaid-order-dev) or ARN.
        #[arg(long)]
        state_machine_arn: String,
        /// file://PATH or the JSON text.
        #[arg(long, default_value = "{}")]
        input: String,
        #[arg(long)]
        name: Option<String>,
    },
    DescribeExecution {
        #[arg(long)]
        execution_arn: String,
    },
    GetExecutionHistory {
        #[arg(long)]
        execution_arn: String,
        #[arg(long)]
        reverse_order: bool,
    },
    ListExecutions {
        #[arg(long)]
        state_machine_arn: String,
        /// RUNNING, SUCCEEDED, FAILED, TIMED_OUT, ABORTED, PENDING_REDRIVE.
        #[arg(long)]
        status_filter: Option<String>,
    },
    /// Re-runs a failed execution from the state that failed; waits for its end.
    RedriveExecution {
        #[arg(long)]
        execution_arn: String,
    },
    /// The EventBridge Pipe: filters the records, batches them and starts the batch workflow.
    Pipe {
        /// file://PATH of a JSON array of DynamoDB stream records (or {"Records": [...]}).
        #[arg(long)]
        records: String,
        /// Print the full report as JSON instead of the summary.
        #[arg(long)]
        json: bool,
    },
    /// Prints the SNS messages and emails that would have been sent.
    Outbox,
    /// Serves the Step Functions API (AWS JSON 1.0) for the AWS CLI and SDKs (`--endpoint-url`);
    /// prints `{"endpoint": ..., "address": ...}` on stdout once listening.
    Serve {
        /// 0: any free port (read it from the printed line).
        #[arg(long, default_value_t = 8083)]
        port: u16,
        #[arg(long, default_value = "127.0.0.1")]
        host: String,
        /// Listen on a non-loopback --host (the API has no authentication).
        #[arg(long)]
        allow_remote: bool,
        /// The account in the ARNs the API shows and accepts.
        #[arg(long, default_value = sfn_local::template::ACCOUNT)]
        account: String,
        /// The region in the ARNs the API shows and accepts.
        #[arg(long, default_value = sfn_local::template::REGION)]
        region: String,
    },
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

fn print(v: &Value) {
    match serde_json::to_string_pretty(v) {
        Ok(s) => println!("{s}"),
        Err(e) => eprintln!("sfn-local: cannot print the result: {e}"),
    }
}

/// The AWS CLI's exit codes: 252 for a bad command line or file, 254 for an error of the service.
fn exit_code(e: &RunnerError) -> u8 {
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
    options.clock = if cli.virtual_clock {
        Arc::new(VirtualClock::new(chrono::Utc::now()))
    } else {
        Arc::new(SystemClock)
    };
    options.aws_endpoint = cli.aws_endpoint.clone();
    options.lambda_endpoint = cli.lambda_endpoint.clone();
    options.progress = !cli.quiet;
    Ok(options)
}

fn print_pipe_summary(report: &PipeReport, runner: &Runner) {
    println!(
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
        println!(
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
        let order = o.get("orderId").and_then(Value::as_str).unwrap_or("-");
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
        println!("  record {record:>3}  order {order:<14} {outcome:<10} {detail}{error}");
    }
    for f in &report.filtered {
        println!(
            "  record {:>3}  filtered by the Pipe ({}): {}",
            f.index,
            f.event_name.as_deref().unwrap_or("no eventName"),
            f.reason
        );
    }
    println!(
        "outbox: {} (print it with: sfn-local outbox); executions: {}",
        runner.state_dir().join(OUTBOX_FILE).display(),
        runner.state_dir().join("executions").display()
    );
}

/// `serve`: until Ctrl-C or SIGTERM.
async fn serve(
    runner: Runner,
    host: &str,
    port: u16,
    allow_remote: bool,
    api_options: ApiOptions,
) -> Result<(), RunnerError> {
    check_host(host, allow_remote)?;
    let listener = tokio::net::TcpListener::bind((host, port))
        .await
        .map_err(|e| {
            RunnerError::argument(
                "--host/--port",
                format!("cannot listen on {host}:{port}: {e}"),
            )
        })?;
    let address = listener
        .local_addr()
        .map_err(|e| RunnerError::Backend(e.to_string()))?;
    let state_dir = runner.state_dir().display().to_string();
    println!(
        "{}",
        json!({"endpoint": format!("http://{address}"), "address": address.to_string(), "stateDir": state_dir})
    );
    use std::io::Write;
    let _ = std::io::stdout().flush();
    let api = Arc::new(Api::new(runner, api_options));
    let shutdown = async {
        #[cfg(unix)]
        {
            match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
                Ok(mut term) => {
                    tokio::select! {
                        _ = tokio::signal::ctrl_c() => {},
                        _ = term.recv() => {},
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
    };
    sfn_local::api::serve(listener, api, shutdown).await
}

async fn run(cli: Cli) -> Result<(), RunnerError> {
    let options = options(&cli)?;
    let runner = Runner::open(options).await?;
    match &cli.command {
        Command::Serve {
            port,
            host,
            allow_remote,
            account,
            region,
        } => {
            let api_options = ApiOptions {
                account: account.clone(),
                region: region.clone(),
            };
            serve(runner, host, *port, *allow_remote, api_options).await?;
        }
        Command::StartExecution {
            state_machine_arn,
            input,
            name,
        } => {
            let input = read_json_argument("--input", input)?;
            let r = runner.start_execution(state_machine_arn, input, name.as_deref()).await?;
            let mut out = json!({"executionArn": r.execution_arn, "startDate": cli_date(&r.start_date), "status": r.status});
            for (k, v) in [("output", r.output.map(|o| json!(o.to_string()))), ("error", r.error.map(Value::from)), ("cause", r.cause.map(Value::from))] {
                if let Some(v) = v {
                    out[k] = v;
                }
            }
            print(&out);
        }
        Command::DescribeExecution { execution_arn } => print(&runner.describe_execution(execution_arn)?.describe()),
        Command::GetExecutionHistory {
            execution_arn,
            reverse_order,
        } => print(&json!({"events": runner.get_execution_history(execution_arn, *reverse_order)?})),
        Command::ListExecutions {
            state_machine_arn,
            status_filter,
        } => {
            let items: Vec<Value> = runner
                .list_executions(state_machine_arn, status_filter.as_deref())?
                .iter()
                .map(|r| r.list_item())
                .collect();
            print(&json!({ "executions": items }));
        }
        Command::RedriveExecution { execution_arn } => {
            let r = runner.redrive_execution(execution_arn).await?;
            let mut out = json!({
                "redriveDate": r.redrive_date.as_ref().map(cli_date),
                "executionArn": r.execution_arn,
                "status": r.status,
                "redriveCount": r.redrive_count,
            });
            for (k, v) in [("output", r.output.map(|o| json!(o.to_string()))), ("error", r.error.map(Value::from)), ("cause", r.cause.map(Value::from))] {
                if let Some(v) = v {
                    out[k] = v;
                }
            }
            print(&out);
        }
        Command::Pipe { records, json } => {
            if !records.starts_with("file://") {
                return Err(RunnerError::argument("--records", "expected file://PATH"));
            }
            let records = read_json_argument("--records", records)?;
            let report = runner.pipe(records).await?;
            if *json {
                print(&serde_json::to_value(&report).map_err(|e| RunnerError::Backend(e.to_string()))?);
            } else {
                print_pipe_summary(&report, &runner);
            }
        }
        Command::Outbox => match runner.outbox().await? {
            Some(outbox) => print(&serde_json::to_value(&outbox).map_err(|e| RunnerError::Backend(e.to_string()))?),
            None => {
                return Err(RunnerError::argument(
                    "outbox",
                    "there is no local outbox with --aws-endpoint/--lambda-endpoint: the messages went to that endpoint",
                ))
            }
        },
    }
    Ok(())
}

fn main() -> ExitCode {
    // Structured JSON logs (the handlers' too) on stderr; warnings only unless RUST_LOG says more.
    tracing_subscriber::fmt()
        .json()
        .with_writer(std::io::stderr)
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn")),
        )
        .init();
    let cli = Cli::parse();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => {
            eprintln!("sfn-local: cannot start the async runtime: {e}");
            return ExitCode::from(1);
        }
    };
    match runtime.block_on(run(cli)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("sfn-local: error: {e}");
            ExitCode::from(exit_code(&e))
        }
    }
}
