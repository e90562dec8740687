//! `sfn-local`: the offline runner's CLI, with the AWS CLI's `stepfunctions` verbs plus `pipe`,
//! `pipe-stream`, `dlq-replay` and `outbox`. A thin layer over the `sfn_local` library.

mod cli;

use std::process::ExitCode;

use clap::Parser;

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
    // The handlers' EMF metric lines: stdout is this command's answer.
    unpaid_order::metrics::write_to_stderr();
    let cli = cli::Cli::parse();
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
    match runtime.block_on(cli::run(cli)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("sfn-local: error: {e}");
            ExitCode::from(cli::exit_code(&e))
        }
    }
}
