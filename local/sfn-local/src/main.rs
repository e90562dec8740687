//! `sfn-local`: the offline runner's CLI, with the AWS CLI's `stepfunctions` verbs plus `pipe`,
//! `pipe-stream`, `dlq-replay` and `outbox`. A thin layer over the `sfn_local` library.

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
    /// The Pipe on a live DynamoDB stream: follows every shard of the failed-order table's stream
    /// at --endpoint-url and starts the batch machine through --sfn-endpoint-url, as template.yaml
    /// declares the Pipe (filter, batching, input template, retries, DLQ). Positions are kept per
    /// shard in the state directory. Runs until Ctrl-C or SIGTERM.
    PipeStream {
        /// DynamoDB (Streams) and SQS endpoint (moto); default AWS_ENDPOINT_URL or AWS.
        #[arg(long, value_name = "URL")]
        endpoint_url: Option<String>,
        /// The stream's table (its latest stream is followed).
        #[arg(long, required_unless_present = "stream_arn")]
        table_name: Option<String>,
        #[arg(long)]
        stream_arn: Option<String>,
        /// Step Functions endpoint (`sfn-local serve`); default AWS_ENDPOINT_URL or AWS.
        #[arg(long, value_name = "URL")]
        sfn_endpoint_url: Option<String>,
        /// The batch machine's ARN (default: the Pipe's target in template.yaml, local account).
        #[arg(long)]
        state_machine_arn: Option<String>,
        /// The DLQ's URL (default: the queue named by the Pipe's DeadLetterConfig, looked up).
        #[arg(long)]
        dlq_url: Option<String>,
    },
    /// Turns the Pipe's DLQ messages (shard and sequence numbers of a failed batch) back into the
    /// batch machine's input by reading the records from the DynamoDB stream, while it holds them
    /// (24 h); with --start starts each batch under a name derived from the message (a second
    /// replay of one message is refused by Step Functions). Prints one JSON object per message.
    DlqReplay {
        /// The DLQ's URL: replays up to --max-messages of its messages.
        #[arg(long, conflicts_with = "message", required_unless_present = "message")]
        queue_url: Option<String>,
        /// One DLQ message body instead: file://PATH or the JSON text.
        #[arg(long)]
        message: Option<String>,
        #[arg(long, default_value_t = 10)]
        max_messages: usize,
        /// DynamoDB Streams and SQS endpoint (moto); default AWS_ENDPOINT_URL or AWS.
        #[arg(long, value_name = "URL")]
        endpoint_url: Option<String>,
        /// Start each batch on the batch machine.
        #[arg(long)]
        start: bool,
        /// Step Functions endpoint for --start (`sfn-local serve`); default AWS_ENDPOINT_URL or AWS.
        #[arg(long, value_name = "URL")]
        sfn_endpoint_url: Option<String>,
        /// The batch machine's ARN (default: the Pipe's target in template.yaml, local account).
        #[arg(long)]
        state_machine_arn: Option<String>,
        /// Delete each message from --queue-url once its batch is started.
        #[arg(long, requires = "start", requires = "queue_url")]
        delete: bool,
    },
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
    if let Command::DlqReplay { .. } = &cli.command {
        return dlq_replay(&cli).await;
    }
    if let Command::PipeStream { .. } = &cli.command {
        return pipe_stream(&cli).await;
    }
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
        // Handled above, before the runner opens the state directory.
        Command::DlqReplay { .. } | Command::PipeStream { .. } => {}
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

/// `pipe-stream`: the template's Pipe on a live stream, in the state directory's `pipe/`.
async fn pipe_stream(cli: &Cli) -> Result<(), RunnerError> {
    let Command::PipeStream {
        endpoint_url,
        table_name,
        stream_arn,
        sfn_endpoint_url,
        state_machine_arn,
        dlq_url,
    } = &cli.command
    else {
        return Ok(());
    };
    let options = options(cli)?;
    let template = sfn_local::Template::load(
        &options.project_root.join("template.yaml"),
        &options.parameters,
    )?;
    let pipe = template.pipe.clone().ok_or_else(|| RunnerError::Template {
        path: template.path.clone(),
        message: "no AWS::Pipes::Pipe resource".into(),
    })?;
    let backend =
        |what: &str, e: &dyn std::fmt::Display| RunnerError::Backend(format!("{what}: {e}"));
    let aws = unpaid_order::aws::sdk_config(endpoint_url.as_deref()).await;
    let stream_arn = match (stream_arn, table_name) {
        (Some(a), _) => a.clone(),
        (None, Some(t)) => aws_sdk_dynamodb_stream_arn(&aws, t).await?,
        (None, None) => {
            return Err(RunnerError::argument(
                "--table-name",
                "--table-name or --stream-arn is required",
            ))
        }
    };
    let sqs = aws_sdk_sqs::Client::new(&aws);
    let dlq_url = match (dlq_url, &pipe.dead_letter_arn) {
        (Some(u), _) => Some(u.clone()),
        (None, Some(arn)) => {
            let name = arn.rsplit(':').next().unwrap_or(arn);
            let out = sqs
                .get_queue_url()
                .queue_name(name)
                .send()
                .await
                .map_err(|e| {
                    backend(
                        &format!("the Pipe's DLQ {name}"),
                        &aws_sdk_sqs::error::DisplayErrorContext(&e),
                    )
                })?;
            out.queue_url
        }
        (None, None) => None,
    };
    let sfn_config = unpaid_order::aws::sdk_config(sfn_endpoint_url.as_deref()).await;
    let arn = match state_machine_arn {
        Some(a) => a.clone(),
        None => template
            .state_machine(&pipe.target)
            .map(|m| m.arn.clone())
            .ok_or_else(|| RunnerError::StateMachineDoesNotExist(pipe.target.clone()))?,
    };
    let clock: Arc<dyn asl::Clock> = if cli.virtual_clock {
        Arc::new(VirtualClock::new(chrono::Utc::now()))
    } else {
        Arc::new(SystemClock)
    };
    let parts = sfn_local::stream_pipe::PipeParts {
        pipe: Arc::new(pipe),
        streams: aws_sdk_dynamodbstreams::Client::new(&aws),
        target: Arc::new(sfn_local::stream_pipe::SfnTarget {
            client: aws_sdk_sfn::Client::new(&sfn_config),
            state_machine_arn: arn.clone(),
        }),
        dead_letters: dlq_url.clone().map(|queue_url| {
            Arc::new(sfn_local::stream_pipe::SqsDeadLetters {
                client: sqs.clone(),
                queue_url,
            }) as Arc<dyn sfn_local::stream_pipe::DeadLetters>
        }),
        clock,
        checkpoints: Arc::new(sfn_local::stream_pipe::Checkpoints::new(
            &options.state_dir,
            &stream_arn,
        )),
        stream_arn: stream_arn.clone(),
    };
    let (tx, rx) = tokio::sync::watch::channel(false);
    tokio::spawn(async move {
        shutdown_signal().await;
        let _ = tx.send(true);
    });
    println!(
        "{}",
        json!({"stream": stream_arn, "target": arn, "deadLetterQueue": dlq_url})
    );
    sfn_local::stream_pipe::run(parts, rx)
        .await
        .map_err(|e| RunnerError::Backend(e.to_string()))
}

/// The latest stream of `table`.
async fn aws_sdk_dynamodb_stream_arn(
    aws: &aws_config::SdkConfig,
    table: &str,
) -> Result<String, RunnerError> {
    let streams = aws_sdk_dynamodbstreams::Client::new(aws);
    let out = streams
        .list_streams()
        .table_name(table)
        .send()
        .await
        .map_err(|e| {
            RunnerError::Backend(format!(
                "ListStreams {table}: {}",
                aws_sdk_dynamodbstreams::error::DisplayErrorContext(&e)
            ))
        })?;
    out.streams
        .unwrap_or_default()
        .into_iter()
        .filter_map(|s| s.stream_arn)
        .next_back()
        .ok_or_else(|| {
            RunnerError::argument("--table-name", format!("table {table} has no stream"))
        })
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

/// `dlq-replay`: reads the template (not the state directory: a `serve` may hold it).
async fn dlq_replay(cli: &Cli) -> Result<(), RunnerError> {
    let Command::DlqReplay {
        queue_url,
        message,
        max_messages,
        endpoint_url,
        start,
        sfn_endpoint_url,
        state_machine_arn,
        delete,
    } = &cli.command
    else {
        return Ok(());
    };
    let options = options(cli)?;
    let template = sfn_local::Template::load(
        &options.project_root.join("template.yaml"),
        &options.parameters,
    )?;
    let pipe = template.pipe.clone().ok_or_else(|| RunnerError::Template {
        path: template.path.clone(),
        message: "no AWS::Pipes::Pipe resource".into(),
    })?;
    let aws = unpaid_order::aws::sdk_config(endpoint_url.as_deref()).await;
    let streams = aws_sdk_dynamodbstreams::Client::new(&aws);
    let sfn_config = unpaid_order::aws::sdk_config(sfn_endpoint_url.as_deref()).await;
    let sfn = aws_sdk_sfn::Client::new(&sfn_config);
    let arn = match state_machine_arn {
        Some(a) => a.clone(),
        None => template
            .state_machine(&pipe.target)
            .map(|m| m.arn.clone())
            .ok_or_else(|| RunnerError::StateMachineDoesNotExist(pipe.target.clone()))?,
    };
    let target = sfn_local::dlq::StartTarget {
        sfn: &sfn,
        state_machine_arn: &arn,
    };
    let target = start.then_some(&target);
    let backend = |e: &dyn std::fmt::Display| RunnerError::Backend(e.to_string());
    if let Some(m) = message {
        let body = read_json_argument("--message", m)?;
        let parsed = sfn_local::dlq::DlqMessage::parse(&body.to_string())
            .map_err(|e| RunnerError::argument("--message", e.to_string()))?;
        let mut r = sfn_local::dlq::replay(&pipe, &streams, &parsed)
            .await
            .map_err(|e| backend(&e))?;
        if let Some(t) = target {
            sfn_local::dlq::start(t, &mut r)
                .await
                .map_err(|e| backend(&e))?;
        }
        print(&serde_json::to_value(&r).map_err(|e| backend(&e))?);
        return Ok(());
    }
    let sqs = aws_sdk_sqs::Client::new(&aws);
    let queue_url = queue_url.as_deref().unwrap_or_default();
    let (done, failed) = sfn_local::dlq::replay_queue(
        &pipe,
        &streams,
        &sqs,
        queue_url,
        *max_messages,
        target,
        *delete,
    )
    .await;
    for r in &done {
        print(&serde_json::to_value(r).map_err(|e| backend(&e))?);
    }
    for e in &failed {
        eprintln!("sfn-local: dlq-replay: {e}");
    }
    match failed.len() {
        0 => Ok(()),
        n => Err(RunnerError::Backend(format!(
            "{n} DLQ message(s) not replayed (left in the queue)"
        ))),
    }
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
