//! `serve`: the Step Functions API (AWS JSON 1.0) on a local port for the AWS CLI and SDKs, and the
//! evidence queue delivered to record-event as events fall due, until Ctrl-C or SIGTERM.

use std::sync::Arc;

use clap::Args;
use serde_json::json;
use sfn_local::api::{check_host, quotas, Api, ApiOptions};
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
    /// Throttle the Step Functions API as AWS does: its documented token bucket per action for
    /// --region (ThrottlingException past it). docs/performance.md cites the values.
    #[arg(long)]
    aws_quotas: bool,
    /// With --aws-quotas: another quota for one action, ACTION=SIZE/REFILL (repeatable), e.g.
    /// DescribeExecution=5/1 to see throttling without thousands of calls.
    #[arg(
        long = "quota",
        value_name = "ACTION=SIZE/REFILL",
        requires = "aws_quotas"
    )]
    quota: Vec<String>,
}

pub async fn serve(runner: Runner, args: &Serve) -> Result<(), RunnerError> {
    let (host, port) = (args.host.as_str(), args.port);
    check_host(host, args.allow_remote)?;
    let throttling = match args.aws_quotas {
        false => None,
        true => {
            let mut documented = quotas::documented(&args.region);
            for spec in &args.quota {
                let (action, q) = quotas::parse_override(spec)
                    .map_err(|m| RunnerError::argument("--quota", m))?;
                documented.insert(action, q);
            }
            Some(quotas::Quotas::new(documented))
        }
    };
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
    let mut api = Api::new(runner, api_options);
    if let Some(q) = throttling {
        api = api.with_quotas(q);
    }
    let api = Arc::new(api);
    let served = sfn_local::api::serve(listener, api, shutdown_signal()).await;
    poller.abort();
    served
}
