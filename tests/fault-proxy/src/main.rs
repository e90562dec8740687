//! `aws-fault-proxy`: one proxy in front of one moto service, as a process (local/stack.sh runs it
//! in front of moto's SESv2). With `--evidence-queue-url`, every email moto accepts gets SES's
//! events (Send at once, then Delivery, Bounce or Complaint as SES's mailbox simulator does) sent
//! to that SQS queue, as SES's configuration set and the EventBridge rule deliver them on AWS.
//!
//! ```text
//! aws-fault-proxy --service ses --upstream http://127.0.0.1:5000 \
//!     [--evidence-queue-url URL] [--sqs-endpoint URL]      # prints {"endpoint": ...}, runs until SIGTERM
//! ```

use std::process::ExitCode;
use std::time::Duration;

use aws_fault_proxy::{ses_events_of, FaultProxy, Service};

/// The command line, read by hand (four options).
struct Args {
    service: Service,
    upstream: String,
    evidence_queue_url: Option<String>,
    sqs_endpoint: Option<String>,
}

const USAGE: &str = "usage: aws-fault-proxy --service ses|dynamodb|sns --upstream URL \
[--evidence-queue-url URL] [--sqs-endpoint URL]";

fn args() -> Result<Args, String> {
    let mut service = None;
    let mut upstream = None;
    let mut queue = None;
    let mut sqs = None;
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        let mut value = || it.next().ok_or_else(|| format!("{flag} needs a value"));
        match flag.as_str() {
            "--service" => {
                service = Some(match value()?.as_str() {
                    "ses" => Service::SesV2,
                    "dynamodb" => Service::DynamoDb,
                    "sns" => Service::Sns,
                    "states" => Service::StepFunctions,
                    other => return Err(format!("--service {other}: one of ses, dynamodb, sns")),
                })
            }
            "--upstream" => upstream = Some(value()?),
            "--evidence-queue-url" => queue = Some(value()?),
            "--sqs-endpoint" => sqs = Some(value()?),
            other => return Err(format!("unknown argument {other}")),
        }
    }
    Ok(Args {
        service: service.ok_or("--service is required")?,
        upstream: upstream.ok_or("--upstream is required")?,
        evidence_queue_url: queue,
        sqs_endpoint: sqs,
    })
}

/// Ctrl-C or SIGTERM.
async fn stopped() {
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

/// Sends SES's events of each accepted email to the SQS queue, each delayed as SES would
/// publish it after the acceptance (SQS's DelaySeconds).
fn publish_to_sqs(proxy: &FaultProxy, client: aws_sdk_sqs::Client, queue_url: String) {
    proxy.on_accepted_send(move |email| {
        for (event, at) in ses_events_of(&email) {
            let delay = (at - email.sent_at).num_seconds().clamp(0, 900) as i32;
            let request = client
                .send_message()
                .queue_url(&queue_url)
                .message_body(event.to_string())
                .delay_seconds(delay);
            tokio::spawn(async move {
                if let Err(e) = request.send().await {
                    eprintln!(
                        "aws-fault-proxy: an SES event was not sent to the evidence queue: {}",
                        aws_sdk_sqs::error::DisplayErrorContext(&e)
                    );
                }
            });
        }
    });
}

fn main() -> ExitCode {
    let args = match args() {
        Ok(a) => a,
        Err(e) => {
            eprintln!("aws-fault-proxy: {e}\n{USAGE}");
            return ExitCode::from(2);
        }
    };
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => {
            eprintln!("aws-fault-proxy: cannot start the async runtime: {e}");
            return ExitCode::from(1);
        }
    };
    runtime.block_on(async {
        // No fault is scripted: a passthrough (its answers are held back by nothing).
        let proxy = match FaultProxy::start(args.service, &args.upstream, Duration::ZERO).await {
            Ok(p) => p,
            Err(e) => {
                eprintln!("aws-fault-proxy: cannot listen: {e}");
                return ExitCode::from(1);
            }
        };
        if let Some(queue_url) = args.evidence_queue_url {
            let endpoint = args.sqs_endpoint.unwrap_or_else(|| args.upstream.clone());
            let sdk = unpaid_order::aws::sdk_config(Some(&endpoint)).await;
            let client = aws_sdk_sqs::Client::new(&sdk);
            publish_to_sqs(&proxy, client, queue_url);
        }
        println!("{}", serde_json::json!({"endpoint": proxy.endpoint()}));
        stopped().await;
        ExitCode::SUCCESS
    })
}
