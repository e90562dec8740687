//! The Pipe following a live DynamoDB stream (DynamoDB Streams API of any endpoint: moto offline),
//! applied as template.yaml declares it: FilterCriteria, BatchSize, MaximumBatchingWindowInSeconds,
//! StartingPosition, InputTemplate, MaximumRetryAttempts, MaximumRecordAgeInSeconds, the DLQ.
//!
//! Per shard, in order: records are read, filtered and buffered; a batch is handed over when it is
//! full, or when the window since its first record has passed. Before a batch is handed over its
//! range is written to the shard's checkpoint as *pending*; after (started, or sent to the DLQ) the
//! checkpoint moves past it. A restart first hands the pending batch over again, under the same
//! execution name (derived from the shard and its sequence numbers), so Step Functions refuses a
//! second start. Time comes from an [`asl::Clock`]: a virtual clock makes the window and the
//! back-off testable without sleeping.
//!
//! `shard` is the polling and batching loop, `checkpoint` the shards' positions, `targets` where a
//! batch goes (Step Functions, the DLQ).

mod checkpoint;
mod shard;
mod targets;

pub use checkpoint::{Checkpoint, Checkpoints, PendingBatch};
pub use shard::{run, PipeParts, ShardPipe, Step};
pub use targets::{BatchTarget, DeadLetters, Handed, SfnTarget, SqsDeadLetters};

use std::path::PathBuf;
use std::time::Duration;

use sha2::{Digest, Sha256};

/// EventBridge polls a shard four times a second.
pub const POLL_INTERVAL: Duration = Duration::from_millis(250);

/// Why the Pipe stopped on a shard.
#[derive(Debug, thiserror::Error)]
pub enum StreamPipeError {
    #[error("DynamoDB Streams {operation}: {message}")]
    /// A DynamoDB Streams call failed.
    Streams {
        /// The operation (`DescribeStream`, `GetShardIterator`, `GetRecords`).
        operation: String,
        /// The SDK's error.
        message: String,
    },
    /// A shard's checkpoint could not be read or written.
    #[error("checkpoint {}: {message}", path.display())]
    Checkpoint {
        /// The checkpoint file.
        path: PathBuf,
        /// The I/O or JSON error.
        message: String,
    },
    /// A batch could not be sent to the dead-letter queue.
    #[error("dead-letter queue: {0}")]
    DeadLetter(String),
    /// A record could not be read, filtered or transformed.
    #[error("record {event_id}: {message}")]
    Record {
        /// The stream record's eventID.
        event_id: String,
        /// What was wrong.
        message: String,
    },
}

/// The batch's execution name: the same range always gets the same name (≤ 80 characters).
pub fn batch_name(stream_arn: &str, shard: &str, first: &str, last: &str) -> String {
    let digest = Sha256::digest(format!("{stream_arn}\n{shard}\n{first}\n{last}").as_bytes());
    format!("pipe-{}", &hex::encode(digest)[..40])
}

/// Exponential back-off between StartExecution attempts: 1 s, 2 s, 4 s ... up to 60 s.
pub fn backoff(attempt: u64) -> Duration {
    Duration::from_secs(1u64 << attempt.saturating_sub(1).min(6)).min(Duration::from_secs(60))
}

/// The stream's shards, parents before children.
pub async fn shards(
    streams: &aws_sdk_dynamodbstreams::Client,
    stream_arn: &str,
) -> Result<Vec<String>, StreamPipeError> {
    let mut out = Vec::new();
    let mut start: Option<String> = None;
    loop {
        let d = streams
            .describe_stream()
            .stream_arn(stream_arn)
            .set_exclusive_start_shard_id(start.clone())
            .send()
            .await
            .map_err(|e| StreamPipeError::Streams {
                operation: "DescribeStream".into(),
                message: aws_sdk_dynamodbstreams::error::DisplayErrorContext(&e).to_string(),
            })?;
        let Some(desc) = d.stream_description else {
            break;
        };
        for s in desc.shards.unwrap_or_default() {
            if let Some(id) = s.shard_id {
                out.push(id);
            }
        }
        start = desc.last_evaluated_shard_id;
        if start.is_none() {
            break;
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_up_to_a_minute() {
        let s: Vec<u64> = (1..=9).map(|a| backoff(a).as_secs()).collect();
        assert_eq!(s, [1, 2, 4, 8, 16, 32, 60, 60, 60]);
    }

    #[test]
    fn batch_names_are_valid_and_follow_the_range() {
        let n = batch_name("arn", "shard-1", "100", "200");
        assert!(n.len() <= 80 && n.chars().all(|c| c.is_ascii_alphanumeric() || c == '-'));
        assert_eq!(n, batch_name("arn", "shard-1", "100", "200"));
        assert_ne!(n, batch_name("arn", "shard-1", "100", "201"));
    }
}
