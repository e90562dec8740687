//! `sfn-console`: serves the operator console on loopback, and the same actions as CLI verbs for
//! scripts and runbooks (`find-order`, `redrive-failed`), against sfn-local or AWS.

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use chrono::{DateTime, Utc};
use clap::{Parser, Subcommand};
use console::backend::{Backend, ConsoleError, Endpoints};
use console::find::{self, MAX_BULK};
use console::handlers::App;
use console::select::{self, FailedFilter};
use console::stack::StackOptions;
use console::web::{self, Guard};

/// `println!` for a verb's answer, without its panic when the reader has gone
/// (`sfn-console find-order X | head`): the rest of the answer is dropped, the work stands.
macro_rules! say {
    ($($arg:tt)*) => {
        say(format_args!($($arg)*))
    };
}

#[derive(Parser)]
#[command(
    name = "sfn-console",
    version,
    about = "The operator console of process-unpaid-order, over the Step Functions API (sfn-local serve or AWS)"
)]
struct Cli {
    /// The Step Functions endpoint, e.g. http://127.0.0.1:8083 for `sfn-local serve`; without it,
    /// AWS's (credentials from the default chain: environment, profile, SSO, instance role).
    #[arg(long, global = true, env = "SFN_ENDPOINT", value_name = "URL")]
    endpoint_url: Option<String>,
    /// The AWS region (else AWS_REGION / the profile's).
    #[arg(long, global = true)]
    region: Option<String>,
    /// The AWS profile (else AWS_PROFILE / default).
    #[arg(long, global = true)]
    profile: Option<String>,
    /// The stack's Branch parameter: its two machines, and its order index, email log and
    /// attempt table as template.yaml names them. Default: the Branch of the one
    /// process-unpaid-order-<Branch> machine listed.
    #[arg(long, global = true, env = "BRANCH")]
    branch: Option<String>,
    /// The order index table (default payment3-unpaid-order-index-<Branch>). Without one,
    /// find-order scans the newest executions and says how many it searched.
    #[arg(long, global = true, env = "ORDER_INDEX_TABLE", value_name = "TABLE")]
    index_table: Option<String>,
    /// The email log table (default payment3-email-log-<Branch>).
    #[arg(long, global = true, env = "EMAIL_LOG_TABLE", value_name = "TABLE")]
    email_log_table: Option<String>,
    /// The attempt table (default payment3-process-unpaid-order-<Branch>).
    #[arg(
        long,
        global = true,
        env = "PROCESS_UNPAID_ORDER_TABLE",
        value_name = "TABLE"
    )]
    attempt_table: Option<String>,
    /// DynamoDB's endpoint (e.g. moto's); default: --endpoint-url when that is a loopback
    /// sfn-local serve (which answers DynamoDB too), else AWS's.
    #[arg(long, global = true, env = "DYNAMODB_ENDPOINT", value_name = "URL")]
    dynamodb_endpoint_url: Option<String>,
    /// Without an order index, find-order describes at most this many of each machine's newest
    /// executions (one DescribeExecution each; AWS refills 15 a second), and says so.
    #[arg(long, global = true, default_value_t = find::MAX_DESCRIBED, value_name = "N")]
    scan_limit: usize,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Serves the console; prints {"url": ...} on stdout once listening.
    Serve {
        #[arg(long, default_value = "127.0.0.1")]
        host: String,
        /// 0: any free port (read it from the printed line).
        #[arg(long, default_value_t = 8090)]
        port: u16,
        /// Listen on a non-loopback --host (anyone who reaches it acts with your credentials).
        #[arg(long)]
        allow_remote: bool,
        /// sfn-local's state directory (its --state-dir): the order page shows what was sent,
        /// from its outbox.
        #[arg(long, value_name = "DIR")]
        sfn_local_state_dir: Option<PathBuf>,
        /// Bulk redrives: at most this many RedriveExecution calls a second.
        #[arg(long, default_value_t = 5)]
        rate: u32,
    },
    /// Prints every execution of an order (matched on the input's orderId, or a batch's stream
    /// record), newest first.
    FindOrder {
        order_id: String,
        /// One JSON document instead of a table.
        #[arg(long)]
        json: bool,
        /// Scan the newest executions of each machine instead of querying the order index.
        #[arg(long)]
        scan: bool,
    },
    /// Redrives every FAILED execution that matches (machine, error type, start time), one
    /// result per execution.
    RedriveFailed {
        /// Machine name or ARN (repeatable; default every machine).
        #[arg(long = "machine")]
        machines: Vec<String>,
        /// Started at or after: 2h, 30m, 7d, or an RFC 3339 time.
        #[arg(long)]
        since: Option<String>,
        /// Started before: same forms as --since.
        #[arg(long)]
        until: Option<String>,
        /// Only executions that failed with this error type (e.g. TransientError).
        #[arg(long)]
        error: Option<String>,
        /// List what would be redriven; redrive nothing.
        #[arg(long)]
        dry_run: bool,
        /// At most this many executions.
        #[arg(long, default_value_t = 100)]
        limit: usize,
        /// At most this many RedriveExecution calls a second.
        #[arg(long, default_value_t = 5)]
        rate: u32,
        #[arg(long)]
        json: bool,
    },
}

#[derive(Debug, thiserror::Error)]
enum CliError {
    #[error("{0}")]
    Usage(String),
    #[error(transparent)]
    Api(#[from] ConsoleError),
    #[error("{0} redrive(s) failed")]
    Partial(usize),
}

/// Writes one line of an answer to stdout, and flushes it (see `say!`).
fn say(line: std::fmt::Arguments<'_>) {
    use std::io::Write;
    let mut out = std::io::stdout().lock();
    if let Err(e) = writeln!(out, "{line}").and_then(|()| out.flush()) {
        if e.kind() != std::io::ErrorKind::BrokenPipe {
            eprintln!("sfn-console: cannot write the answer: {e}");
        }
    }
}

fn print_json(v: &impl serde::Serialize) {
    match serde_json::to_string_pretty(v) {
        Ok(s) => say!("{s}"),
        Err(e) => eprintln!("sfn-console: cannot print the result: {e}"),
    }
}

fn when(text: &Option<String>, now: DateTime<Utc>) -> Result<Option<DateTime<Utc>>, CliError> {
    text.as_deref()
        .map(|t| find::parse_since(t, now).map_err(CliError::Usage))
        .transpose()
}

impl From<console::sfn::SfnError> for CliError {
    fn from(e: console::sfn::SfnError) -> Self {
        CliError::Api(e.into())
    }
}

async fn run(cli: Cli) -> Result<(), CliError> {
    let sdk = console::sfn::sdk_config(
        cli.endpoint_url.as_deref(),
        cli.region.as_deref(),
        cli.profile.as_deref(),
    )
    .await;
    let endpoints = Endpoints {
        sfn: cli.endpoint_url.clone(),
        dynamodb: cli.dynamodb_endpoint_url.clone(),
    };
    if cli.scan_limit == 0 || cli.scan_limit > find::MAX_DESCRIBED {
        return Err(CliError::Usage(format!(
            "--scan-limit is 1 to {}",
            find::MAX_DESCRIBED
        )));
    }
    let mut backend = Backend::new(
        &sdk,
        &endpoints,
        StackOptions {
            branch: cli.branch.clone(),
            index_table: cli.index_table.clone(),
            email_log_table: cli.email_log_table.clone(),
            attempt_table: cli.attempt_table.clone(),
        },
    );
    backend.scan_limit = cli.scan_limit;
    match cli.command {
        Command::Serve {
            host,
            port,
            allow_remote,
            sfn_local_state_dir,
            rate,
        } => {
            web::check_host(&host, allow_remote).map_err(CliError::Usage)?;
            let listener = tokio::net::TcpListener::bind((host.as_str(), port))
                .await
                .map_err(|e| CliError::Usage(format!("cannot listen on {host}:{port}: {e}")))?;
            let address = listener
                .local_addr()
                .map_err(|e| CliError::Usage(e.to_string()))?;
            let label = match &cli.endpoint_url {
                Some(e) => format!("endpoint {e}"),
                None => format!("AWS {}", backend.sfn.region()),
            };
            let app = Arc::new(App {
                backend,
                guard: Guard::new(address, uuid::Uuid::new_v4().simple().to_string()),
                label,
                sfn_local_state: sfn_local_state_dir,
                rate: rate.clamp(1, 50),
            });
            let url = format!("http://{address}/");
            say!("{}", serde_json::json!({ "url": url }));
            eprintln!("sfn-console: open {url} (Ctrl-C to stop)");
            web::serve(listener, app, shutdown()).await;
        }
        Command::FindOrder {
            order_id,
            json,
            scan,
        } => {
            let (found, _) = console::index::find_order(&backend, &order_id, scan).await?;
            let message = found.searched.message();
            if json {
                let mut searched = serde_json::json!(found.searched);
                searched["message"] = serde_json::json!(message);
                print_json(&serde_json::json!({
                    "orderId": order_id,
                    "executions": found.executions,
                    "searched": searched,
                }));
            } else {
                for a in &found.executions {
                    let e = &a.execution;
                    say!(
                        "{:<10} {:<26} redrives {:<2} {:<28} {} {}",
                        e.status,
                        e.start.to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
                        e.redrive_count,
                        a.machine,
                        e.arn,
                        e.error.as_deref().unwrap_or("")
                    );
                }
                eprintln!(
                    "{} execution(s) of order {order_id}. {message}",
                    found.executions.len()
                );
            }
        }
        Command::RedriveFailed {
            machines,
            since,
            until,
            error,
            dry_run,
            limit,
            rate,
            json,
        } => {
            if limit == 0 || limit > MAX_BULK {
                return Err(CliError::Usage(format!("--limit is 1 to {MAX_BULK}")));
            }
            let now = Utc::now();
            let filter = FailedFilter {
                machines,
                error,
                since: when(&since, now)?,
                until: when(&until, now)?,
                limit,
            };
            let selection = select::select_failed(&backend, &filter).await?;
            if selection.truncated {
                eprintln!(
                    "sfn-console: more than {limit} executions match; only the newest {limit} are taken (raise --limit or narrow the filter)"
                );
            }
            if dry_run {
                if json {
                    print_json(&serde_json::json!({
                        "dryRun": true,
                        "wouldRedrive": selection.executions,
                        "selectedHow": selection.message(),
                    }));
                } else {
                    for e in &selection.executions {
                        say!(
                            "would redrive {} ({})",
                            e.arn,
                            e.error.as_deref().unwrap_or("")
                        );
                    }
                    eprintln!(
                        "dry run: {} execution(s) would be redriven. {}",
                        selection.executions.len(),
                        selection.message()
                    );
                }
                return Ok(());
            }
            let arns: Vec<String> = selection.executions.iter().map(|e| e.arn.clone()).collect();
            let results = find::redrive_each(&backend.sfn, &arns, rate).await;
            let failed = results.iter().filter(|r| !r.ok).count();
            if json {
                print_json(&serde_json::json!({ "results": results }));
            } else {
                for r in &results {
                    say!(
                        "{} {} {}",
                        if r.ok { "redriven" } else { "FAILED  " },
                        r.execution_arn,
                        if r.ok { "" } else { &r.message }
                    );
                }
                eprintln!("{} of {} redriven", results.len() - failed, results.len());
            }
            if failed > 0 {
                return Err(CliError::Partial(failed));
            }
        }
    }
    Ok(())
}

async fn shutdown() {
    #[cfg(unix)]
    {
        if let Ok(mut term) =
            tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
        {
            tokio::select! {
                _ = tokio::signal::ctrl_c() => {},
                _ = term.recv() => {},
            }
            return;
        }
    }
    let _ = tokio::signal::ctrl_c().await;
}

fn main() -> ExitCode {
    // Structured JSON logs on stderr (execution names and ARNs; never an order document, never a
    // credential); warnings and actions unless RUST_LOG says otherwise.
    tracing_subscriber::fmt()
        .json()
        .with_writer(std::io::stderr)
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn,console=info")),
        )
        .init();
    let cli = Cli::parse();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => {
            eprintln!("sfn-console: cannot start the async runtime: {e}");
            return ExitCode::from(1);
        }
    };
    match runtime.block_on(run(cli)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("sfn-console: error: {e}");
            ExitCode::from(match e {
                CliError::Usage(_) => 2,
                CliError::Api(_) => 1,
                CliError::Partial(_) => 3,
            })
        }
    }
}
