//! The Pipe's dead-letter queue for a DynamoDB stream source. AWS writes where the failed batch is
//! in the stream (shard, first and last sequence number), not its records; the stream keeps them
//! 24 hours. [`replay`] reads them back while they are there and builds the batch input again.

use std::cmp::Ordering;

use aws_sdk_dynamodbstreams::error::ProvideErrorMetadata;
use aws_sdk_dynamodbstreams::types::ShardIteratorType;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use sha2::{Digest, Sha256};

use crate::input_template::InputTemplateError;
use crate::stream_record::{compare_sequence, sequence_number, to_json};
use crate::template::PipeResource;

/// The message a Pipe sends to its DLQ for a batch from a DynamoDB stream.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DlqMessage {
    /// Who failed and why: the Pipe, the condition, the target's last error.
    pub context: DlqContext,
    /// The message format's version (`1.0`).
    pub version: String,
    /// When the Pipe gave up on the batch (ISO 8601).
    pub timestamp: String,
    /// Where the batch is in the stream.
    #[serde(rename = "DDBStreamBatchInfo")]
    pub batch: StreamBatchInfo,
}

/// The `context` of a DLQ message: the Pipe, why the batch was dropped, the last error.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DlqContext {
    /// The Pipe's ARN.
    pub partner_resource_arn: String,
    /// `RetryAttemptsExhausted` or `RecordAgeExceeded`.
    pub condition: String,
    /// The target's last error code (e.g. `ExecutionLimitExceeded`), when it answered.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error_code: Option<String>,
    /// The target's last error message.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error_message: Option<String>,
    /// How many times the Pipe tried to start the batch.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub approximate_invoke_count: Option<u64>,
}

/// `DDBStreamBatchInfo`: the batch's range in the stream, not its records.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct StreamBatchInfo {
    /// The shard the batch was read from.
    pub shard_id: String,
    /// The batch's first record.
    pub start_sequence_number: String,
    /// The batch's last record.
    pub end_sequence_number: String,
    /// When the first record reached the stream (ISO 8601).
    pub approximate_arrival_of_first_record: String,
    /// When the last record reached the stream (ISO 8601).
    pub approximate_arrival_of_last_record: String,
    /// How many records the batch held.
    pub batch_size: u64,
    /// The DynamoDB stream's ARN.
    pub stream_arn: String,
}

/// Why a DLQ message could not be read back into its batch.
#[derive(Debug, thiserror::Error)]
pub enum DlqError {
    /// The body is not a Pipe's DLQ message for a DynamoDB stream (the JSON error).
    #[error("not a Pipe DLQ message for a DynamoDB stream: {0}")]
    NotADlqMessage(String),
    /// The stream no longer holds the batch (older than 24 h, or the stream was re-created).
    #[error("the records of shard {shard_id} from {start} are no longer in the stream ({code}): recover from the failed-order table (docs/pipe.md)")]
    Expired {
        /// The shard of the lost batch.
        shard_id: String,
        /// The batch's first sequence number.
        start: String,
        /// The Streams error that said so (`TrimmedDataAccessException`, `ResourceNotFoundException`).
        code: String,
    },
    /// The stream returned fewer records of the range than the batch held.
    #[error("the stream returned {found} of the batch's {expected} records (shard {shard_id}, {start}..{end}): some are gone; recover from the failed-order table (docs/pipe.md)")]
    Incomplete {
        /// The shard of the batch.
        shard_id: String,
        /// The batch's first sequence number.
        start: String,
        /// The batch's last sequence number.
        end: String,
        /// The batch size the message states.
        expected: u64,
        /// How many records of the range the stream still returned.
        found: usize,
    },
    /// A DynamoDB Streams call failed (not because the records expired).
    #[error("DynamoDB Streams {operation}: {message}")]
    Streams {
        /// The DynamoDB Streams operation (`GetShardIterator`, `GetRecords`).
        operation: String,
        /// The SDK's error.
        message: String,
    },
    /// A record could not be transformed by the Pipe's InputTemplate.
    #[error("record {event_id}: {source}")]
    Template {
        /// The stream record's eventID.
        event_id: String,
        /// The InputTemplate error.
        source: InputTemplateError,
    },
    /// A record could not be matched against the Pipe's FilterCriteria.
    #[error("record {event_id}: FilterCriteria: {message}")]
    Filter {
        /// The stream record's eventID.
        event_id: String,
        /// The filter error.
        message: String,
    },
}

impl DlqMessage {
    /// Reads an SQS message body as a DLQ message.
    pub fn parse(body: &str) -> Result<Self, DlqError> {
        serde_json::from_str(body).map_err(|e| DlqError::NotADlqMessage(e.to_string()))
    }

    /// A deterministic execution name for this batch's replay: replaying one message twice is
    /// refused by Step Functions (ExecutionAlreadyExists) instead of running the batch again.
    pub fn replay_name(&self) -> String {
        let b = &self.batch;
        let digest = Sha256::digest(
            format!(
                "{}\n{}\n{}\n{}",
                b.stream_arn, b.shard_id, b.start_sequence_number, b.end_sequence_number
            )
            .as_bytes(),
        );
        format!("dlq-replay-{}", &hex::encode(digest)[..40])
    }
}

/// The records of `info`, in stream order, read with GetShardIterator(AT_SEQUENCE_NUMBER) and
/// GetRecords until past the last sequence number.
/// Records the filter dropped inside the range are returned too ([`batch_input`] drops them again).
pub async fn read_batch(
    streams: &aws_sdk_dynamodbstreams::Client,
    info: &StreamBatchInfo,
) -> Result<Vec<Value>, DlqError> {
    let expired = |code: &str| DlqError::Expired {
        shard_id: info.shard_id.clone(),
        start: info.start_sequence_number.clone(),
        code: code.to_string(),
    };
    let iterator = streams
        .get_shard_iterator()
        .stream_arn(&info.stream_arn)
        .shard_id(&info.shard_id)
        .shard_iterator_type(ShardIteratorType::AtSequenceNumber)
        .sequence_number(&info.start_sequence_number)
        .send()
        .await;
    let mut iterator = match iterator {
        Ok(o) => o.shard_iterator,
        Err(e) => {
            let code = e.code().unwrap_or_default().to_string();
            if matches!(
                code.as_str(),
                "TrimmedDataAccessException" | "ResourceNotFoundException"
            ) {
                return Err(expired(&code));
            }
            return Err(DlqError::Streams {
                operation: "GetShardIterator".into(),
                message: e.to_string(),
            });
        }
    };
    let mut records = Vec::new();
    // An open shard's iterator never ends: stop at the last sequence number, or after a few
    // empty pages past the records there are (an emulator may number records sparsely).
    let mut empty_pages = 0;
    let mut reached_end = false;
    while let Some(it) = iterator.take() {
        let page = streams
            .get_records()
            .shard_iterator(it)
            .limit(1000)
            .send()
            .await
            .map_err(|e| match e.code() {
                Some(c @ "TrimmedDataAccessException") => expired(c),
                _ => DlqError::Streams {
                    operation: "GetRecords".into(),
                    message: e.to_string(),
                },
            })?;
        let got = page.records.unwrap_or_default();
        if got.is_empty() {
            empty_pages += 1;
            if empty_pages >= 3 {
                break;
            }
        }
        // The range may hold records the filter dropped (batchSize counts only the batch's).
        let mut past_end = false;
        for r in &got {
            let seq = sequence_number(r);
            let to_end = compare_sequence(seq, &info.end_sequence_number);
            if to_end == Ordering::Greater {
                past_end = true;
                break;
            }
            if compare_sequence(seq, &info.start_sequence_number) != Ordering::Less {
                records.push(to_json(r, &info.stream_arn));
            }
            if to_end == Ordering::Equal {
                past_end = true;
                break;
            }
        }
        if past_end {
            reached_end = true;
            break;
        }
        iterator = page.next_shard_iterator;
    }
    if !reached_end || (records.len() as u64) < info.batch_size {
        return Err(DlqError::Incomplete {
            shard_id: info.shard_id.clone(),
            start: info.start_sequence_number.clone(),
            end: info.end_sequence_number.clone(),
            expected: info.batch_size,
            found: records.len(),
        });
    }
    Ok(records)
}

/// The batch machine's input for `records`, as the Pipe built it: the records that pass the
/// FilterCriteria, each through the InputTemplate.
pub fn batch_input(pipe: &PipeResource, records: &[Value]) -> Result<Vec<Value>, DlqError> {
    let cx = crate::pipe::context(pipe);
    let mut input = Vec::new();
    for r in records {
        let event_id = r
            .get("eventID")
            .and_then(Value::as_str)
            .unwrap_or("?")
            .to_string();
        let passes = crate::pipe::passes(pipe, r).map_err(|message| DlqError::Filter {
            event_id: event_id.clone(),
            message,
        })?;
        if passes {
            input.push(
                crate::pipe::transform(pipe, r, &cx)
                    .map_err(|source| DlqError::Template { event_id, source })?,
            );
        }
    }
    Ok(input)
}

/// Where a replay starts the batch machine.
pub struct StartTarget<'a> {
    /// The Step Functions client (`sfn-local serve`, or AWS).
    pub sfn: &'a aws_sdk_sfn::Client,
    /// The batch machine's ARN.
    pub state_machine_arn: &'a str,
}

/// What a replay did with one DLQ message.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Replay {
    /// The SQS message's id (absent when the message did not come from SQS).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub message_id: Option<String>,
    /// Why the Pipe dropped the batch (`RetryAttemptsExhausted`, `RecordAgeExceeded`).
    pub condition: String,
    /// The shard the batch came from.
    pub shard_id: String,
    /// The batch's first sequence number.
    pub start_sequence_number: String,
    /// The batch's last sequence number.
    pub end_sequence_number: String,
    /// How many records the stream returned for the range.
    pub records: usize,
    /// The batch machine's input: what the Pipe would have passed.
    pub input: Vec<Value>,
    /// The replay's execution name (see [`DlqMessage::replay_name`]).
    pub name: String,
    /// The batch machine's execution, once started (or found already started).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub execution_arn: Option<String>,
    /// `started`, `already-started` (ExecutionAlreadyExists: an earlier replay ran it) or
    /// `not-started` (without --start).
    pub outcome: String,
    /// The SQS message was deleted (only once its batch was started).
    pub deleted: bool,
}

/// Why a DLQ replay stopped.
#[derive(Debug, thiserror::Error)]
pub enum ReplayError {
    /// One message could not be replayed.
    #[error("message {message_id}: {source}")]
    Message {
        /// The SQS message's id.
        message_id: String,
        /// Why its batch could not be rebuilt.
        #[source]
        source: DlqError,
    },
    /// An SQS call (ReceiveMessage, DeleteMessage) failed.
    #[error("SQS {operation}: {message}")]
    Sqs {
        /// The SQS operation.
        operation: String,
        /// The SDK's error.
        message: String,
    },
    /// StartExecution of the batch machine failed (other than ExecutionAlreadyExists).
    #[error("StartExecution {name}: {message}")]
    Start {
        /// The replay's execution name.
        name: String,
        /// The SDK's error.
        message: String,
    },
}

/// Replays one DLQ message: reads its records from the stream, rebuilds the batch input and
/// (with `start`) starts the batch machine under the message's deterministic name.
pub async fn replay(
    pipe: &PipeResource,
    streams: &aws_sdk_dynamodbstreams::Client,
    message: &DlqMessage,
) -> Result<Replay, DlqError> {
    let records = read_batch(streams, &message.batch).await?;
    let input = batch_input(pipe, &records)?;
    let b = &message.batch;
    Ok(Replay {
        message_id: None,
        condition: message.context.condition.clone(),
        shard_id: b.shard_id.clone(),
        start_sequence_number: b.start_sequence_number.clone(),
        end_sequence_number: b.end_sequence_number.clone(),
        records: records.len(),
        input,
        name: message.replay_name(),
        execution_arn: None,
        outcome: "not-started".into(),
        deleted: false,
    })
}

/// Starts `replay`'s batch; an execution of the same name already there counts as started.
pub async fn start(target: &StartTarget<'_>, replay: &mut Replay) -> Result<(), ReplayError> {
    let err = |message: String| ReplayError::Start {
        name: replay.name.clone(),
        message,
    };
    let input = serde_json::to_string(&replay.input).map_err(|e| err(e.to_string()))?;
    match target
        .sfn
        .start_execution()
        .state_machine_arn(target.state_machine_arn)
        .name(&replay.name)
        .input(input)
        .send()
        .await
    {
        Ok(o) => {
            replay.execution_arn = Some(o.execution_arn);
            replay.outcome = "started".into();
        }
        Err(e)
            if e.as_service_error()
                .is_some_and(|s| s.is_execution_already_exists()) =>
        {
            replay.outcome = "already-started".into();
        }
        Err(e) => {
            return Err(err(aws_sdk_sfn::error::DisplayErrorContext(&e).to_string()));
        }
    }
    Ok(())
}

/// Replays up to `max` messages of the DLQ at `queue_url`. A message is deleted (with `delete`)
/// only once its batch is started; one that cannot be replayed stays in the queue and is reported.
pub async fn replay_queue(
    pipe: &PipeResource,
    streams: &aws_sdk_dynamodbstreams::Client,
    sqs: &aws_sdk_sqs::Client,
    queue_url: &str,
    max: usize,
    start_target: Option<&StartTarget<'_>>,
    delete: bool,
) -> (Vec<Replay>, Vec<ReplayError>) {
    let mut done = Vec::new();
    let mut failed = Vec::new();
    // Messages received and not deleted (looked at, or not replayable): visible again at the end,
    // so a look is followed at once by the replay, not 60 s later.
    let mut held = Vec::new();
    while done.len() + failed.len() < max {
        let want = (max - done.len() - failed.len()).min(10) as i32;
        let page = match sqs
            .receive_message()
            .queue_url(queue_url)
            .max_number_of_messages(want)
            // Hidden from other readers while this replay works on them; back if it fails.
            .visibility_timeout(60)
            .send()
            .await
        {
            Ok(p) => p,
            Err(e) => {
                failed.push(ReplayError::Sqs {
                    operation: "ReceiveMessage".into(),
                    message: aws_sdk_sqs::error::DisplayErrorContext(&e).to_string(),
                });
                break;
            }
        };
        let messages = page.messages.unwrap_or_default();
        if messages.is_empty() {
            break;
        }
        for m in messages {
            let message_id = m.message_id.clone().unwrap_or_default();
            let outcome = async {
                let body = m.body.as_deref().unwrap_or_default();
                let parsed = DlqMessage::parse(body).map_err(|source| ReplayError::Message {
                    message_id: message_id.clone(),
                    source,
                })?;
                let mut r = replay(pipe, streams, &parsed).await.map_err(|source| {
                    ReplayError::Message {
                        message_id: message_id.clone(),
                        source,
                    }
                })?;
                r.message_id = Some(message_id.clone());
                if let Some(t) = start_target {
                    start(t, &mut r).await?;
                    if delete {
                        if let Some(handle) = &m.receipt_handle {
                            sqs.delete_message()
                                .queue_url(queue_url)
                                .receipt_handle(handle)
                                .send()
                                .await
                                .map_err(|e| ReplayError::Sqs {
                                    operation: "DeleteMessage".into(),
                                    message: aws_sdk_sqs::error::DisplayErrorContext(&e)
                                        .to_string(),
                                })?;
                            r.deleted = true;
                        }
                    }
                }
                Ok::<_, ReplayError>(r)
            }
            .await;
            let deleted = matches!(&outcome, Ok(r) if r.deleted);
            if let (false, Some(handle)) = (deleted, m.receipt_handle) {
                held.push(handle);
            }
            match outcome {
                Ok(r) => done.push(r),
                Err(e) => failed.push(e),
            }
        }
    }
    for handle in held {
        if let Err(e) = sqs
            .change_message_visibility()
            .queue_url(queue_url)
            .receipt_handle(handle)
            .visibility_timeout(0)
            .send()
            .await
        {
            failed.push(ReplayError::Sqs {
                operation: "ChangeMessageVisibility".into(),
                message: aws_sdk_sqs::error::DisplayErrorContext(&e).to_string(),
            });
        }
    }
    (done, failed)
}

#[cfg(test)]
mod tests {
    use super::*;

    const MESSAGE: &str = r#"{
      "context": {
        "partnerResourceArn": "arn:aws:pipes:eu-west-2:123456789123:pipe/p",
        "condition": "RetryAttemptsExhausted"
      },
      "version": "1.0",
      "timestamp": "2024-03-08T00:00:00Z",
      "DDBStreamBatchInfo": {
        "shardId": "shardId-00000001234567891234-aaa1abcd",
        "startSequenceNumber": "1234567800000000001234567891",
        "endSequenceNumber": "1234567800000000001234567899",
        "approximateArrivalOfFirstRecord": "2024-03-08T00:00:00Z",
        "approximateArrivalOfLastRecord": "2024-03-08T00:00:00Z",
        "batchSize": 2,
        "streamArn": "arn:aws:dynamodb:eu-west-2:123456789123:table/t/stream/2023-01-01T00:00:00Z"
      }
    }"#;

    #[test]
    fn reads_the_pipes_dlq_message_and_names_its_replay() {
        let m = DlqMessage::parse(MESSAGE).unwrap();
        assert_eq!(m.batch.batch_size, 2);
        assert_eq!(m.context.condition, "RetryAttemptsExhausted");
        let name = m.replay_name();
        assert!(
            name.len() <= 80 && name.starts_with("dlq-replay-"),
            "{name}"
        );
        let mut other = m.clone();
        other.batch.end_sequence_number.push('0');
        assert_ne!(other.replay_name(), name);
        assert!(matches!(
            DlqMessage::parse(r#"{"Records": []}"#),
            Err(DlqError::NotADlqMessage(_))
        ));
    }
}
