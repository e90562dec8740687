//! The Pipe's DLQ recovery against moto's DynamoDB Streams and SQS: a DLQ message (AWS's shape for
//! a stream source: shard and sequence numbers, no records) turned back into the batch machine's
//! input by `sfn-local dlq-replay`, started on `sfn-local serve`, and refused the second time.

use std::process::Command;

use aws_sdk_dynamodb::types::{
    AttributeDefinition, AttributeValue, BillingMode, KeySchemaElement, KeyType,
    ScalarAttributeType, StreamSpecification, StreamViewType,
};
use aws_sdk_dynamodbstreams::types::ShardIteratorType;
use serde_json::{json, Value};
use test_support::{moto_endpoint, sdk_config, unique};
use workflow_tests::{project_root, sfn_local_binary, ApiServer, ARN_PREFIX, BATCH_MACHINE};

struct Stream {
    endpoint: String,
    ddb: aws_sdk_dynamodb::Client,
    streams: aws_sdk_dynamodbstreams::Client,
    sqs: aws_sdk_sqs::Client,
    table: String,
    arn: String,
}

async fn failed_order_table() -> Stream {
    let endpoint = moto_endpoint();
    let sdk = sdk_config(&endpoint);
    let ddb = aws_sdk_dynamodb::Client::new(&sdk);
    let table = unique("failed-order");
    let created = ddb
        .create_table()
        .table_name(&table)
        .attribute_definitions(
            AttributeDefinition::builder()
                .attribute_name("orderId")
                .attribute_type(ScalarAttributeType::S)
                .build()
                .unwrap(),
        )
        .key_schema(
            KeySchemaElement::builder()
                .attribute_name("orderId")
                .key_type(KeyType::Hash)
                .build()
                .unwrap(),
        )
        .billing_mode(BillingMode::PayPerRequest)
        .stream_specification(
            StreamSpecification::builder()
                .stream_enabled(true)
                .stream_view_type(StreamViewType::NewAndOldImages)
                .build()
                .unwrap(),
        )
        .send()
        .await
        .expect("create the failed-order table");
    let arn = created
        .table_description
        .and_then(|d| d.latest_stream_arn)
        .expect("the table's stream");
    Stream {
        endpoint,
        streams: aws_sdk_dynamodbstreams::Client::new(&sdk),
        sqs: aws_sdk_sqs::Client::new(&sdk),
        ddb,
        table,
        arn,
    }
}

impl Stream {
    async fn put(&self, order: &str, email: &str) {
        self.ddb
            .put_item()
            .table_name(&self.table)
            .item("orderId", AttributeValue::S(order.into()))
            .item("email", AttributeValue::S(email.into()))
            .send()
            .await
            .expect("put-item");
    }

    /// (shard id, every record's (eventID, eventName, sequence number)) from the start.
    async fn records(&self) -> (String, Vec<(String, String, String)>) {
        let d = self
            .streams
            .describe_stream()
            .stream_arn(&self.arn)
            .send()
            .await
            .expect("describe-stream");
        let shard = d.stream_description.unwrap().shards.unwrap()[0]
            .shard_id
            .clone()
            .unwrap();
        let it = self
            .streams
            .get_shard_iterator()
            .stream_arn(&self.arn)
            .shard_id(&shard)
            .shard_iterator_type(ShardIteratorType::TrimHorizon)
            .send()
            .await
            .expect("get-shard-iterator")
            .shard_iterator
            .unwrap();
        let page = self
            .streams
            .get_records()
            .shard_iterator(it)
            .send()
            .await
            .expect("get-records");
        let records = page
            .records
            .unwrap_or_default()
            .iter()
            .map(|r| {
                (
                    r.event_id.clone().unwrap(),
                    r.event_name.as_ref().unwrap().as_str().to_string(),
                    r.dynamodb
                        .as_ref()
                        .unwrap()
                        .sequence_number
                        .clone()
                        .unwrap(),
                )
            })
            .collect();
        (shard, records)
    }

    async fn queue(&self) -> String {
        self.sqs
            .create_queue()
            .queue_name(unique("pipe-dlq"))
            .send()
            .await
            .expect("create-queue")
            .queue_url
            .unwrap()
    }

    async fn messages_in(&self, queue: &str) -> u64 {
        let a = self
            .sqs
            .get_queue_attributes()
            .queue_url(queue)
            .attribute_names(aws_sdk_sqs::types::QueueAttributeName::All)
            .send()
            .await
            .expect("get-queue-attributes")
            .attributes
            .unwrap_or_default();
        [
            "ApproximateNumberOfMessages",
            "ApproximateNumberOfMessagesNotVisible",
        ]
        .iter()
        .map(|k| {
            a.get(&aws_sdk_sqs::types::QueueAttributeName::from(*k))
                .and_then(|v| v.parse::<u64>().ok())
                .unwrap_or(0)
        })
        .sum()
    }
}

/// The message AWS's Pipe writes to its DLQ for a failed batch of a DynamoDB stream.
fn dlq_message(stream: &Stream, shard: &str, start: &str, end: &str, size: u64) -> Value {
    json!({
        "context": {
            "partnerResourceArn": "arn:aws:pipes:us-east-1:123456789012:pipe/payment3-unpaid-order-dev",
            "condition": "RetryAttemptsExhausted",
            "errorCode": "StepFunctions.ThrottlingException",
            "approximateInvokeCount": 4
        },
        "version": "1.0",
        "timestamp": "2026-12-01T00:00:00Z",
        "DDBStreamBatchInfo": {
            "shardId": shard,
            "startSequenceNumber": start,
            "endSequenceNumber": end,
            "approximateArrivalOfFirstRecord": "2026-12-01T00:00:00Z",
            "approximateArrivalOfLastRecord": "2026-12-01T00:00:00Z",
            "batchSize": size,
            "streamArn": stream.arn
        }
    })
}

fn dlq_replay(stream: &Stream, args: &[&str]) -> (bool, Vec<Value>, String) {
    let out = Command::new(sfn_local_binary())
        .arg("--project-root")
        .arg(project_root())
        .args(["dlq-replay", "--endpoint-url", &stream.endpoint])
        .args(args)
        .env("AWS_ACCESS_KEY_ID", "testing")
        .env("AWS_SECRET_ACCESS_KEY", "testing")
        .env("AWS_REGION", "us-east-1")
        .output()
        .expect("run sfn-local dlq-replay");
    let stdout = String::from_utf8_lossy(&out.stdout).to_string();
    let values = serde_json::Deserializer::from_str(&stdout)
        .into_iter::<Value>()
        .map(|v| v.expect("dlq-replay prints JSON"))
        .collect();
    (
        out.status.success(),
        values,
        String::from_utf8_lossy(&out.stderr).to_string(),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[cfg_attr(
    not(feature = "emulator"),
    ignore = "needs moto: run by tests/run.sh, or --features emulator with .tools/moto"
)]
async fn a_dlq_message_is_replayed_from_the_stream_once() {
    let stream = failed_order_table().await;
    stream.put("dlq-a", "a@example.com").await;
    stream.put("dlq-b", "b@example.com").await;
    stream.put("dlq-a", "a2@example.com").await; // MODIFY: the filter drops it
    stream.put("dlq-c", "c@example.com").await;
    stream.put("dlq-d", "d@example.com").await; // after the failed batch
    let (shard, records) = stream.records().await;
    assert_eq!(records.len(), 5, "{records:?}");
    assert_eq!(records[2].1, "MODIFY");
    // The failed batch: the first four records.
    let message = dlq_message(&stream, &shard, &records[0].2, &records[3].2, 4);
    let queue = stream.queue().await;
    stream
        .sqs
        .send_message()
        .queue_url(&queue)
        .message_body(message.to_string())
        .send()
        .await
        .expect("send the DLQ message");

    let dir = tempfile::tempdir().unwrap();
    let server = ApiServer::start(dir.path(), &["--virtual-clock"]);
    let replay = |args: Vec<&str>| {
        let mut all = vec!["--queue-url", queue.as_str(), "--start", "--delete"];
        all.extend(["--sfn-endpoint-url", server.endpoint.as_str()]);
        all.extend(args);
        dlq_replay(&stream, &all)
    };
    let (ok, out, stderr) = replay(vec![]);
    assert!(ok, "{stderr}");
    assert_eq!(out.len(), 1, "{out:?}");
    let r = &out[0];
    assert_eq!(r["records"], 4);
    assert_eq!(r["outcome"], "started", "{r}");
    assert_eq!(r["deleted"], true);
    // The batch input the Pipe would have passed: the three INSERTs, trimmed, in stream order.
    let want: Vec<Value> = [(0, "dlq-a"), (1, "dlq-b"), (3, "dlq-c")]
        .iter()
        .map(|(i, order)| {
            json!({"eventID": records[*i].0, "eventName": "INSERT",
                   "dynamodb": {"Keys": {"orderId": {"S": order}}}})
        })
        .collect();
    assert_eq!(r["input"], json!(want));
    assert!(
        !r.to_string().contains("example.com"),
        "no customer data: {r}"
    );
    let arn = r["executionArn"].as_str().unwrap();
    assert!(
        arn.starts_with(&format!("{ARN_PREFIX}:execution:{BATCH_MACHINE}")),
        "{arn}"
    );
    // sfn-local serve ran it with that input.
    let sdk = sdk_config(&server.endpoint);
    let sfn = aws_sdk_sfn::Client::new(&sdk);
    let d = sfn
        .describe_execution()
        .execution_arn(arn)
        .send()
        .await
        .expect("describe the replayed batch");
    let input: Value = serde_json::from_str(d.input().unwrap()).unwrap();
    assert_eq!(input, json!(want));
    assert_eq!(
        stream.messages_in(&queue).await,
        0,
        "the message is deleted"
    );

    // The same message again (e.g. a copy left by a crash before the delete): refused by its name.
    stream
        .sqs
        .send_message()
        .queue_url(&queue)
        .message_body(message.to_string())
        .send()
        .await
        .unwrap();
    let (ok, out, stderr) = replay(vec![]);
    assert!(ok, "{stderr}");
    assert_eq!(out[0]["outcome"], "already-started", "{:?}", out);
    assert_eq!(out[0]["name"], r["name"]);
    let batches = sfn
        .list_executions()
        .state_machine_arn(d.state_machine_arn())
        .send()
        .await
        .unwrap();
    assert_eq!(batches.executions().len(), 1, "one batch, not two");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[cfg_attr(
    not(feature = "emulator"),
    ignore = "needs moto: run by tests/run.sh, or --features emulator with .tools/moto"
)]
async fn a_batch_no_longer_in_the_stream_is_reported_and_kept() {
    let stream = failed_order_table().await;
    stream.put("gone-a", "a@example.com").await;
    let (shard, records) = stream.records().await;
    // A batch of two records of which the stream holds one (the other trimmed or never there).
    let message = dlq_message(&stream, &shard, &records[0].2, &records[0].2, 2);
    let queue = stream.queue().await;
    stream
        .sqs
        .send_message()
        .queue_url(&queue)
        .message_body(message.to_string())
        .send()
        .await
        .unwrap();
    let (ok, out, stderr) = dlq_replay(&stream, &["--queue-url", &queue, "--start", "--delete"]);
    assert!(!ok, "{out:?}");
    assert!(out.is_empty(), "{out:?}");
    assert!(stderr.contains("1 of the batch's 2 records"), "{stderr}");
    assert!(stderr.contains("failed-order table"), "{stderr}");
    assert_eq!(stream.messages_in(&queue).await, 1, "the message stays");

    // Without --start it only prints the input (here of the one record, as a message of one).
    let one = dlq_message(&stream, &shard, &records[0].2, &records[0].2, 1);
    let (ok, out, stderr) = dlq_replay(&stream, &["--message", &one.to_string()]);
    assert!(ok, "{stderr}");
    assert_eq!(out[0]["outcome"], "not-started");
    assert_eq!(
        out[0]["input"][0]["dynamodb"]["Keys"]["orderId"]["S"],
        "gone-a"
    );
}

// ---------------------------------------------------------------- the Pipe on a live stream

mod live {
    use super::*;
    use std::sync::atomic::{AtomicU64, Ordering};
    use std::sync::Arc;
    use std::time::Duration;

    use asl::{Clock, VirtualClock};
    use async_trait::async_trait;
    use sfn_local::stream_pipe::{
        batch_name, BatchTarget, Checkpoints, Handed, PendingBatch, PipeParts, SfnTarget,
        ShardPipe, SqsDeadLetters,
    };

    /// StartExecution refused (a fault in front of the real client): counts the attempts.
    struct Refused {
        attempts: AtomicU64,
    }

    #[async_trait]
    impl BatchTarget for Refused {
        async fn start(&self, _: &str, _: &str) -> Result<Handed, (String, String)> {
            self.attempts.fetch_add(1, Ordering::SeqCst);
            Err(("ThrottlingException".into(), "Rate exceeded".into()))
        }
    }

    fn real_pipe() -> sfn_local::template::PipeResource {
        sfn_local::Template::load(&project_root().join("template.yaml"), &Default::default())
            .unwrap()
            .pipe
            .unwrap()
    }

    /// The batch machine's executions, in the stream order of their first record (eventIDs are
    /// random, so they only say where a batch starts by their place in the stream).
    async fn batches(sfn: &aws_sdk_sfn::Client, stream: &Stream) -> Vec<(String, Vec<Value>)> {
        let arn = format!("{ARN_PREFIX}:stateMachine:{BATCH_MACHINE}-dev");
        let list = sfn
            .list_executions()
            .state_machine_arn(&arn)
            .send()
            .await
            .expect("list-executions");
        let mut out = Vec::new();
        for e in list.executions() {
            let d = sfn
                .describe_execution()
                .execution_arn(e.execution_arn())
                .send()
                .await
                .unwrap();
            let input: Vec<Value> = serde_json::from_str(d.input().unwrap()).unwrap();
            out.push((e.name().to_string(), input));
        }
        let (_, records) = stream.records().await;
        let place = |input: &[Value]| {
            let id = input[0]["eventID"].as_str().unwrap_or_default();
            records.iter().position(|(event_id, _, _)| event_id == id)
        };
        out.sort_by_key(|(_, input)| place(input));
        out
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    #[cfg_attr(
        not(feature = "emulator"),
        ignore = "needs moto: run by tests/run.sh, or --features emulator with .tools/moto"
    )]
    async fn the_pipe_follows_the_stream_batches_filters_and_resumes() {
        let stream = failed_order_table().await;
        let dir = tempfile::tempdir().unwrap();
        let server = ApiServer::start(dir.path(), &["--virtual-clock"]);
        let sfn = aws_sdk_sfn::Client::new(&sdk_config(&server.endpoint));
        let clock = Arc::new(VirtualClock::new(chrono::Utc::now()));
        let pipe_dir = tempfile::tempdir().unwrap();
        let parts = PipeParts {
            pipe: Arc::new(real_pipe()),
            streams: stream.streams.clone(),
            target: Arc::new(SfnTarget {
                client: sfn.clone(),
                state_machine_arn: format!("{ARN_PREFIX}:stateMachine:{BATCH_MACHINE}-dev"),
            }),
            dead_letters: None,
            clock: clock.clone(),
            checkpoints: Arc::new(Checkpoints::new(pipe_dir.path(), &stream.arn)),
            stream_arn: stream.arn.clone(),
        };
        let (shard, _) = stream.records().await;
        let mut p = ShardPipe::new(&parts, &shard).unwrap();
        // StartingPosition LATEST: the first poll takes the position, then the writes come.
        assert_eq!(p.step().await.unwrap().records_read, 0);
        for i in 0..3 {
            stream.put(&format!("live-{i:02}"), "x@example.com").await;
        }
        assert_eq!(p.step().await.unwrap().records_read, 3);
        // Stopped with those 3 buffered and nothing handed over yet (no position): the restart
        // reads them again from the first one, not from a new LATEST that would skip them.
        let mut p = ShardPipe::new(&parts, &shard).unwrap();
        for i in 3..45 {
            stream.put(&format!("live-{i:02}"), "x@example.com").await;
        }
        stream.put("live-00", "y@example.com").await; // MODIFY
        stream
            .ddb
            .delete_item()
            .table_name(&stream.table)
            .key("orderId", AttributeValue::S("live-01".into()))
            .send()
            .await
            .unwrap(); // REMOVE
        let s = p.step().await.unwrap();
        assert_eq!(s.records_read, 47);
        // BatchSize 40 goes at once; the other 5 wait for the 5 s window.
        assert_eq!(s.batches_started, 1, "{s:?}");
        assert_eq!(p.step().await.unwrap().batches_started, 0);
        clock.advance(Duration::from_secs(4));
        assert_eq!(p.step().await.unwrap().batches_started, 0);
        clock.advance(Duration::from_secs(1));
        assert_eq!(p.step().await.unwrap().batches_started, 1);

        let got = batches(&sfn, &stream).await;
        assert_eq!(got.len(), 2, "{got:?}");
        let orders: Vec<Vec<String>> = got
            .iter()
            .map(|(_, input)| {
                input
                    .iter()
                    .map(|r| {
                        r["dynamodb"]["Keys"]["orderId"]["S"]
                            .as_str()
                            .unwrap()
                            .to_string()
                    })
                    .collect()
            })
            .collect();
        let want: Vec<String> = (0..45).map(|i| format!("live-{i:02}")).collect();
        assert_eq!(
            orders[0],
            want[..40],
            "stream order, the filter's drops out"
        );
        assert_eq!(orders[1], want[40..]);
        for (_, input) in &got {
            for r in input {
                assert_eq!(r["eventName"], "INSERT");
                assert_eq!(r.as_object().unwrap().len(), 3, "trimmed: {r}");
            }
        }

        // The checkpoint is past the REMOVE: a new runner reads nothing again.
        let (_, all) = stream.records().await;
        let last = &all.last().unwrap().2;
        assert_eq!(p.checkpoint().sequence_number.as_ref(), Some(last));
        let mut again = ShardPipe::new(&parts, &shard).unwrap();
        let s = again.step().await.unwrap();
        assert_eq!((s.records_read, s.batches_started), (0, 0), "{s:?}");

        // Killed after StartExecution of the second batch, before its commit: the restart
        // hands the same range over under the same name, and Step Functions refuses it.
        let second_first = &all[40].2;
        let second_last = &all[44].2;
        let (name, _) = &got[1];
        assert_eq!(
            name,
            &batch_name(&stream.arn, &shard, second_first, second_last)
        );
        // Step Functions answers a StartExecution of a RUNNING execution with the same name and
        // input with success (idempotent); only once it has ended is the name refused. Wait for
        // the end (bounded polling) so the restart below meets the refusal.
        let arn = format!("{ARN_PREFIX}:execution:{BATCH_MACHINE}-dev:{name}");
        let mut ended = false;
        for _ in 0..1200 {
            let d = sfn
                .describe_execution()
                .execution_arn(&arn)
                .send()
                .await
                .unwrap();
            if d.status().as_str() != "RUNNING" {
                ended = true;
                break;
            }
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        }
        assert!(ended, "the second batch did not end within 60 s");
        parts
            .checkpoints
            .save(
                &shard,
                &sfn_local::stream_pipe::Checkpoint {
                    sequence_number: Some(all[19].2.clone()),
                    pending: Some(PendingBatch {
                        name: name.clone(),
                        first: second_first.clone(),
                        last: second_last.clone(),
                        records: 5,
                    }),
                    start_at: None,
                },
            )
            .unwrap();
        let mut restarted = ShardPipe::new(&parts, &shard).unwrap();
        let s = restarted.step().await.unwrap();
        assert_eq!(s.batches_already_started, 1, "{s:?}");
        assert_eq!(s.batches_started, 0, "{s:?}");
        assert_eq!(batches(&sfn, &stream).await.len(), 2, "no batch twice");
        assert_eq!(restarted.checkpoint().pending, None);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    #[cfg_attr(
        not(feature = "emulator"),
        ignore = "needs moto: run by tests/run.sh, or --features emulator with .tools/moto"
    )]
    async fn a_refused_batch_is_retried_with_back_off_then_sent_to_the_dlq() {
        let stream = failed_order_table().await;
        let queue = stream.queue().await;
        let clock = Arc::new(VirtualClock::new(chrono::Utc::now()));
        let started_at = clock.now();
        let refused = Arc::new(Refused {
            attempts: AtomicU64::new(0),
        });
        let pipe_dir = tempfile::tempdir().unwrap();
        let parts = PipeParts {
            pipe: Arc::new(real_pipe()),
            streams: stream.streams.clone(),
            target: refused.clone(),
            dead_letters: Some(Arc::new(SqsDeadLetters {
                client: stream.sqs.clone(),
                queue_url: queue.clone(),
            })),
            clock: clock.clone(),
            checkpoints: Arc::new(Checkpoints::new(pipe_dir.path(), &stream.arn)),
            stream_arn: stream.arn.clone(),
        };
        let (shard, _) = stream.records().await;
        let mut p = ShardPipe::new(&parts, &shard).unwrap();
        p.step().await.unwrap();
        stream.put("refused-1", "r@example.com").await;
        assert_eq!(p.step().await.unwrap().records_read, 1);
        clock.advance(Duration::from_secs(5));
        let s = p.step().await.unwrap();
        assert_eq!(s.batches_to_dlq, 1, "{s:?}");
        // MaximumRetryAttempts 3: four calls, 1 + 2 + 4 s of back-off on the virtual clock.
        assert_eq!(refused.attempts.load(Ordering::SeqCst), 4);
        assert_eq!((clock.now() - started_at).num_seconds(), 5 + 7);

        let got = stream
            .sqs
            .receive_message()
            .queue_url(&queue)
            .send()
            .await
            .unwrap();
        let messages = got.messages();
        assert_eq!(messages.len(), 1);
        let m = sfn_local::dlq::DlqMessage::parse(messages[0].body().unwrap()).unwrap();
        assert_eq!(m.context.condition, "RetryAttemptsExhausted");
        assert_eq!(m.context.error_code.as_deref(), Some("ThrottlingException"));
        assert_eq!(m.context.approximate_invoke_count, Some(4));
        assert_eq!(m.batch.batch_size, 1);
        assert_eq!(m.batch.shard_id, shard);
        assert_eq!(m.batch.start_sequence_number, m.batch.end_sequence_number);
        assert!(!messages[0].body().unwrap().contains("r@example.com"));
        // And dlq-replay turns it back into the batch input.
        let r = sfn_local::dlq::replay(&real_pipe(), &stream.streams, &m)
            .await
            .unwrap();
        assert_eq!(r.input[0]["dynamodb"]["Keys"]["orderId"]["S"], "refused-1");
        // The shard moved on: the batch is in the DLQ, not retried forever.
        assert_eq!(
            p.checkpoint().sequence_number.as_ref(),
            Some(&m.batch.end_sequence_number)
        );
    }
}
