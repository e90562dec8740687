//! The Pipe against live AWS services (moto, or AWS): `pipe-stream` follows a DynamoDB stream and
//! starts the batch machine; `dlq-replay` turns DLQ messages back into batches. Template only.

use std::sync::Arc;

use clap::Args;
use serde_json::json;
use sfn_local::template::PipeResource;
use sfn_local::{RunnerError, RunnerOptions, Template};

use super::{clock, options, print_serialised, read_json_argument, shutdown_signal, Cli};

#[derive(Args)]
pub struct PipeStream {
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
}

#[derive(Args)]
pub struct DlqReplay {
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
}

/// The template and its Pipe (an error if it declares none).
fn template_and_pipe(options: &RunnerOptions) -> Result<(Template, PipeResource), RunnerError> {
    let template = Template::load(
        &options.project_root.join("template.yaml"),
        &options.parameters,
    )?;
    let pipe = template.pipe.clone().ok_or_else(|| RunnerError::Template {
        path: template.path.clone(),
        message: "no AWS::Pipes::Pipe resource".into(),
    })?;
    Ok((template, pipe))
}

/// `--state-machine-arn`, or the Pipe's target in the template (local account).
fn batch_machine_arn(
    template: &Template,
    pipe: &PipeResource,
    state_machine_arn: Option<&str>,
) -> Result<String, RunnerError> {
    match state_machine_arn {
        Some(a) => Ok(a.to_string()),
        None => template
            .state_machine(&pipe.target)
            .map(|m| m.arn.clone())
            .ok_or_else(|| RunnerError::StateMachineDoesNotExist(pipe.target.clone())),
    }
}

/// `pipe-stream`: the template's Pipe on a live stream, in the state directory's `pipe/`.
pub async fn pipe_stream(cli: &Cli, args: &PipeStream) -> Result<(), RunnerError> {
    let PipeStream {
        endpoint_url,
        table_name,
        stream_arn,
        sfn_endpoint_url,
        state_machine_arn,
        dlq_url,
    } = args;
    let options = options(cli)?;
    let (template, pipe) = template_and_pipe(&options)?;
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
    let arn = batch_machine_arn(&template, &pipe, state_machine_arn.as_deref())?;
    let clock = clock(cli.virtual_clock);
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
    say!(
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

/// `dlq-replay`: reads the template (not the state directory: a `serve` may hold it).
pub async fn dlq_replay(cli: &Cli, args: &DlqReplay) -> Result<(), RunnerError> {
    let DlqReplay {
        queue_url,
        message,
        max_messages,
        endpoint_url,
        start,
        sfn_endpoint_url,
        state_machine_arn,
        delete,
    } = args;
    let options = options(cli)?;
    let (template, pipe) = template_and_pipe(&options)?;
    let aws = unpaid_order::aws::sdk_config(endpoint_url.as_deref()).await;
    let streams = aws_sdk_dynamodbstreams::Client::new(&aws);
    let sfn_config = unpaid_order::aws::sdk_config(sfn_endpoint_url.as_deref()).await;
    let sfn = aws_sdk_sfn::Client::new(&sfn_config);
    let arn = batch_machine_arn(&template, &pipe, state_machine_arn.as_deref())?;
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
        print_serialised(&r)?;
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
        print_serialised(r)?;
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
