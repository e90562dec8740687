//! `serve`: the Step Functions API (AWS JSON 1.0) on a local port for the AWS CLI and SDKs, and the
//! evidence queue delivered to record-event as events fall due, until Ctrl-C or SIGTERM.

use std::sync::Arc;

use clap::Args;
use serde_json::json;
use sfn_local::api::{check_host, Api, ApiOptions};
use sfn_local::{Runner, RunnerError};

use super::shutdown_signal;

#[derive(Args)]
pub struct Serve {
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
}

pub async fn serve(runner: Runner, args: &Serve) -> Result<(), RunnerError> {
    let (host, port) = (args.host.as_str(), args.port);
    check_host(host, args.allow_remote)?;
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
    say!(
        "{}",
        json!({"endpoint": format!("http://{address}"), "address": address.to_string(), "stateDir": state_dir})
    );
    use std::io::Write;
    let _ = std::io::stdout().flush();
    let api_options = ApiOptions {
        account: args.account.clone(),
        region: args.region.clone(),
    };
    // The evidence queue's event source mapping: record-event gets the events as they fall due.
    let poller = runner.spawn_evidence_poller();
    let api = Arc::new(Api::new(runner, api_options));
    let served = sfn_local::api::serve(listener, api, shutdown_signal()).await;
    poller.abort();
    served
}
