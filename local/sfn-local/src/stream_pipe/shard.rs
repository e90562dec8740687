//! The Pipe on one shard (read, filter, buffer, hand over full or windowed batches, with retries and
//! the DLQ), and the loop that follows every shard of the stream.

use std::cmp::Ordering;
use std::sync::Arc;
use std::time::Duration;

use asl::Clock;
use aws_sdk_dynamodbstreams::error::ProvideErrorMetadata;
use aws_sdk_dynamodbstreams::types::ShardIteratorType;
use chrono::{DateTime, SecondsFormat, TimeZone, Utc};
use serde_json::Value;

use crate::dlq::{DlqContext, DlqMessage, StreamBatchInfo};
use crate::stream_record::{compare_sequence, sequence_number, to_json};
use crate::template::PipeResource;

use super::{
    backoff, batch_name, shards, Checkpoint, Checkpoints, PendingBatch, StreamPipeError,
    POLL_INTERVAL,
};
use super::{BatchTarget, DeadLetters, Handed};

/// A record read from the shard.
#[derive(Debug, Clone)]
struct Read {
    sequence: String,
    record: Value,
    created: Option<DateTime<Utc>>,
}

/// What one [`ShardPipe::step`] did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Step {
    /// Records read from the shard (filtered ones included).
    pub records_read: usize,
    /// Batches the batch machine was started for.
    pub batches_started: usize,
    /// Batches whose execution already existed (handed over before a restart).
    pub batches_already_started: usize,
    /// Batches sent to the dead-letter queue (retries or record age exhausted).
    pub batches_to_dlq: usize,
    /// The shard is closed and fully handed over.
    pub shard_ended: bool,
}

/// The Pipe on one shard.
pub struct ShardPipe {
    pipe: Arc<PipeResource>,
    streams: aws_sdk_dynamodbstreams::Client,
    target: Arc<dyn BatchTarget>,
    dead_letters: Option<Arc<dyn DeadLetters>>,
    clock: Arc<dyn Clock>,
    checkpoints: Arc<Checkpoints>,
    stream_arn: String,
    shard_id: String,
    checkpoint: Checkpoint,
    iterator: Option<String>,
    started: bool,
    buffer: Vec<Read>,
    /// The last sequence number read (filtered records included).
    last_read: Option<String>,
    window_opened: Option<DateTime<Utc>>,
}

/// Everything a [`ShardPipe`] needs besides its shard.
#[derive(Clone)]
pub struct PipeParts {
    /// The Pipe as the template declares it.
    pub pipe: Arc<PipeResource>,
    /// The DynamoDB Streams client.
    pub streams: aws_sdk_dynamodbstreams::Client,
    /// Where batches go (StartExecution of the batch machine).
    pub target: Arc<dyn BatchTarget>,
    /// The DLQ, if the Pipe has a DeadLetterConfig.
    pub dead_letters: Option<Arc<dyn DeadLetters>>,
    /// The clock of the batching window and the back-off.
    pub clock: Arc<dyn Clock>,
    /// Where each shard's position is kept.
    pub checkpoints: Arc<Checkpoints>,
    /// The stream's ARN.
    pub stream_arn: String,
}

impl ShardPipe {
    /// The Pipe on `shard_id`, from its checkpoint.
    pub fn new(parts: &PipeParts, shard_id: &str) -> Result<Self, StreamPipeError> {
        let checkpoint = parts.checkpoints.load(shard_id)?;
        Ok(ShardPipe {
            pipe: parts.pipe.clone(),
            streams: parts.streams.clone(),
            target: parts.target.clone(),
            dead_letters: parts.dead_letters.clone(),
            clock: parts.clock.clone(),
            checkpoints: parts.checkpoints.clone(),
            stream_arn: parts.stream_arn.clone(),
            shard_id: shard_id.to_string(),
            checkpoint,
            iterator: None,
            started: false,
            buffer: Vec::new(),
            last_read: None,
            window_opened: None,
        })
    }

    /// The shard's position now.
    pub fn checkpoint(&self) -> &Checkpoint {
        &self.checkpoint
    }

    /// One poll: hand over a pending batch left by a stop, read a page, hand over what is due.
    pub async fn step(&mut self) -> Result<Step, StreamPipeError> {
        let mut step = Step::default();
        if !self.started {
            if let Some(p) = self.checkpoint.pending.clone() {
                self.resume_pending(&p, &mut step).await?;
            }
            self.iterator = Some(self.first_iterator().await?);
            self.started = true;
        }
        let Some(iterator) = self.iterator.take() else {
            step.shard_ended = self.buffer.is_empty();
            return Ok(step);
        };
        let page = match self
            .streams
            .get_records()
            .shard_iterator(iterator)
            .limit(1000)
            .send()
            .await
        {
            Ok(p) => p,
            Err(e) => {
                // An expired iterator or a lost answer: start again from the checkpoint (the
                // buffered records are read again, none is lost).
                self.started = false;
                self.buffer.clear();
                self.window_opened = None;
                self.last_read = None;
                return Err(StreamPipeError::Streams {
                    operation: "GetRecords".into(),
                    message: aws_sdk_dynamodbstreams::error::DisplayErrorContext(&e).to_string(),
                });
            }
        };
        self.iterator = page.next_shard_iterator;
        for r in page.records.unwrap_or_default() {
            step.records_read += 1;
            let sequence = sequence_number(&r).to_string();
            let record = to_json(&r, &self.stream_arn);
            if self.checkpoint.sequence_number.is_none() && self.checkpoint.start_at.is_none() {
                self.checkpoint.start_at = Some(sequence.clone());
                self.checkpoints.save(&self.shard_id, &self.checkpoint)?;
            }
            self.last_read = Some(sequence.clone());
            let passes = crate::pipe::passes(&self.pipe, &record).map_err(|message| {
                StreamPipeError::Record {
                    event_id: r.event_id.clone().unwrap_or_default(),
                    message,
                }
            })?;
            if passes {
                if self.buffer.is_empty() {
                    self.window_opened = Some(self.clock.now());
                }
                let created = r
                    .dynamodb
                    .as_ref()
                    .and_then(|d| d.approximate_creation_date_time)
                    .and_then(|t| Utc.timestamp_opt(t.secs(), 0).single());
                self.buffer.push(Read {
                    sequence,
                    record,
                    created,
                });
                if self.buffer.len() >= self.pipe.batch_size {
                    self.flush(&mut step).await?;
                }
            }
        }
        let window = Duration::from_secs(self.pipe.batching_window_seconds);
        let due = match self.window_opened {
            Some(opened) => {
                self.iterator.is_none()
                    || (self.clock.now() - opened).to_std().unwrap_or_default() >= window
            }
            None => false,
        };
        if !self.buffer.is_empty() && due {
            self.flush(&mut step).await?;
        }
        if self.buffer.is_empty() {
            // Records the filter dropped after the last batch: move past them.
            if let Some(l) = &self.last_read {
                let behind = match &self.checkpoint.sequence_number {
                    Some(c) => compare_sequence(l, c) == Ordering::Greater,
                    None => true,
                };
                if behind {
                    self.checkpoint.sequence_number = Some(l.clone());
                    self.checkpoints.save(&self.shard_id, &self.checkpoint)?;
                }
            }
        }
        step.shard_ended = self.iterator.is_none() && self.buffer.is_empty();
        Ok(step)
    }

    async fn first_iterator(&self) -> Result<String, StreamPipeError> {
        let mut req = self
            .streams
            .get_shard_iterator()
            .stream_arn(&self.stream_arn)
            .shard_id(&self.shard_id);
        req = match (&self.checkpoint.sequence_number, &self.checkpoint.start_at) {
            (Some(s), _) => req
                .shard_iterator_type(ShardIteratorType::AfterSequenceNumber)
                .sequence_number(s),
            (None, Some(s)) => req
                .shard_iterator_type(ShardIteratorType::AtSequenceNumber)
                .sequence_number(s),
            (None, None) if self.pipe.starting_position == "TRIM_HORIZON" => {
                req.shard_iterator_type(ShardIteratorType::TrimHorizon)
            }
            (None, None) => req.shard_iterator_type(ShardIteratorType::Latest),
        };
        let out = req.send().await.map_err(|e| StreamPipeError::Streams {
            operation: format!("GetShardIterator ({})", e.code().unwrap_or("error")),
            message: aws_sdk_dynamodbstreams::error::DisplayErrorContext(&e).to_string(),
        })?;
        out.shard_iterator.ok_or_else(|| StreamPipeError::Streams {
            operation: "GetShardIterator".into(),
            message: "no ShardIterator in the answer".into(),
        })
    }

    /// The batch handed over when the runner stopped: read again and handed over under its name.
    async fn resume_pending(
        &mut self,
        p: &PendingBatch,
        step: &mut Step,
    ) -> Result<(), StreamPipeError> {
        let info = StreamBatchInfo {
            shard_id: self.shard_id.clone(),
            start_sequence_number: p.first.clone(),
            end_sequence_number: p.last.clone(),
            approximate_arrival_of_first_record: String::new(),
            approximate_arrival_of_last_record: String::new(),
            batch_size: p.records,
            stream_arn: self.stream_arn.clone(),
        };
        let records = crate::dlq::read_batch(&self.streams, &info)
            .await
            .map_err(|e| StreamPipeError::Streams {
                operation: "GetRecords (pending batch)".into(),
                message: e.to_string(),
            })?;
        let mut reads = Vec::new();
        for record in records {
            if crate::pipe::passes(&self.pipe, &record).unwrap_or(false) {
                let sequence = record
                    .pointer("/dynamodb/SequenceNumber")
                    .and_then(Value::as_str)
                    .unwrap_or_default()
                    .to_string();
                let created = record
                    .pointer("/dynamodb/ApproximateCreationDateTime")
                    .and_then(Value::as_i64)
                    .and_then(|s| Utc.timestamp_opt(s, 0).single());
                reads.push(Read {
                    sequence,
                    record,
                    created,
                });
            }
        }
        self.hand_over(&p.name, p, reads, step).await
    }

    /// Hands the buffer over as one batch.
    async fn flush(&mut self, step: &mut Step) -> Result<(), StreamPipeError> {
        let batch = std::mem::take(&mut self.buffer);
        self.window_opened = None;
        let (Some(first), Some(last)) = (batch.first(), batch.last()) else {
            return Ok(());
        };
        // The batch's range starts at its first record; filtered records before it are skipped.
        let first = first.sequence.clone();
        let last = last.sequence.clone();
        let records = batch.len() as u64;
        let name = batch_name(&self.stream_arn, &self.shard_id, &first, &last);
        let pending = PendingBatch {
            name: name.clone(),
            first,
            last,
            records,
        };
        self.checkpoint.pending = Some(pending.clone());
        self.checkpoints.save(&self.shard_id, &self.checkpoint)?;
        self.hand_over(&name, &pending, batch, step).await
    }

    /// Starts the batch with retries, or sends it to the DLQ; then commits the checkpoint.
    async fn hand_over(
        &mut self,
        name: &str,
        pending: &PendingBatch,
        batch: Vec<Read>,
        step: &mut Step,
    ) -> Result<(), StreamPipeError> {
        let now = self.clock.now();
        let max_age = self.pipe.maximum_record_age_seconds;
        let too_old =
            |r: &Read| max_age >= 0 && r.created.is_some_and(|c| (now - c).num_seconds() > max_age);
        let outcome = if batch.iter().any(too_old) {
            Err(("RecordAgeExceeded".to_string(), None, None, 0))
        } else {
            self.start_with_retries(name, &batch).await
        };
        tracing::info!(batch = name, records = batch.len(), outcome = ?outcome.as_ref().map_err(|e| &e.0), "batch handed over");
        match outcome {
            Ok(Handed::Started) => step.batches_started += 1,
            Ok(Handed::AlreadyStarted) => step.batches_already_started += 1,
            Err((condition, code, message, attempts)) => {
                self.dead_letter(pending, &batch, &condition, code, message, attempts)
                    .await?;
                step.batches_to_dlq += 1;
            }
        }
        self.checkpoint.sequence_number = Some(pending.last.clone());
        self.checkpoint.pending = None;
        self.checkpoints.save(&self.shard_id, &self.checkpoint)?;
        Ok(())
    }

    /// `Err((condition, errorCode, errorMessage, invocations))` once the retries are spent.
    async fn start_with_retries(
        &self,
        name: &str,
        batch: &[Read],
    ) -> Result<Handed, (String, Option<String>, Option<String>, u64)> {
        let cx = crate::pipe::context(&self.pipe);
        let mut input = Vec::with_capacity(batch.len());
        for r in batch {
            match crate::pipe::transform(&self.pipe, &r.record, &cx) {
                Ok(v) => input.push(v),
                // The target refuses such a batch every time: no retry helps.
                Err(e) => {
                    return Err((
                        "RetryAttemptsExhausted".into(),
                        Some("InvalidExecutionInput".into()),
                        Some(e.to_string()),
                        0,
                    ))
                }
            }
        }
        let input = Value::Array(input).to_string();
        let mut attempts: u64 = 0;
        loop {
            attempts += 1;
            match self.target.start(name, &input).await {
                Ok(h) => return Ok(h),
                Err((code, message)) => {
                    let retries = attempts - 1;
                    let max = self.pipe.maximum_retry_attempts;
                    if max >= 0 && retries >= max as u64 {
                        return Err((
                            "RetryAttemptsExhausted".into(),
                            Some(code),
                            Some(message),
                            attempts,
                        ));
                    }
                    tracing::warn!(batch = name, attempt = attempts, error = %code, "StartExecution failed; retrying");
                    self.clock.sleep(backoff(attempts)).await;
                }
            }
        }
    }

    async fn dead_letter(
        &self,
        pending: &PendingBatch,
        batch: &[Read],
        condition: &str,
        error_code: Option<String>,
        error_message: Option<String>,
        attempts: u64,
    ) -> Result<(), StreamPipeError> {
        let Some(dlq) = &self.dead_letters else {
            tracing::warn!(
                batch = pending.name,
                condition,
                "no dead-letter queue: the batch is dropped"
            );
            return Ok(());
        };
        let iso = |t: Option<DateTime<Utc>>| {
            t.unwrap_or_else(|| self.clock.now())
                .to_rfc3339_opts(SecondsFormat::Secs, true)
        };
        let message = DlqMessage {
            context: DlqContext {
                partner_resource_arn: crate::pipe::context(&self.pipe).pipe_arn,
                condition: condition.to_string(),
                error_code,
                error_message,
                approximate_invoke_count: (attempts > 0).then_some(attempts),
            },
            version: "1.0".into(),
            timestamp: self
                .clock
                .now()
                .to_rfc3339_opts(SecondsFormat::Millis, true),
            batch: StreamBatchInfo {
                shard_id: self.shard_id.clone(),
                start_sequence_number: pending.first.clone(),
                end_sequence_number: pending.last.clone(),
                approximate_arrival_of_first_record: iso(batch.first().and_then(|r| r.created)),
                approximate_arrival_of_last_record: iso(batch.last().and_then(|r| r.created)),
                batch_size: batch.len() as u64,
                stream_arn: self.stream_arn.clone(),
            },
        };
        let body = serde_json::to_string(&message)
            .map_err(|e| StreamPipeError::DeadLetter(e.to_string()))?;
        // Not delivered: the checkpoint stays before the batch and the next run tries again.
        dlq.send(body).await.map_err(StreamPipeError::DeadLetter)?;
        tracing::warn!(
            batch = pending.name,
            condition,
            "batch sent to the dead-letter queue"
        );
        Ok(())
    }
}

/// Follows every shard of the stream until `stop` turns true (then returns; buffered records that
/// were not handed over are read again by the next run, from the checkpoint). A failed poll is
/// logged and tried again on the next round.
pub async fn run(
    parts: PipeParts,
    mut stop: tokio::sync::watch::Receiver<bool>,
) -> Result<(), StreamPipeError> {
    let mut pipes: Vec<ShardPipe> = Vec::new();
    let mut known: Vec<String> = Vec::new();
    let mut rounds: u64 = 0;
    loop {
        if *stop.borrow() {
            return Ok(());
        }
        // New shards (DynamoDB rolls them over about every four hours) every 40 rounds (~10 s).
        if rounds % 40 == 0 {
            match shards(&parts.streams, &parts.stream_arn).await {
                Ok(ids) => {
                    for id in ids {
                        if !known.contains(&id) {
                            pipes.push(ShardPipe::new(&parts, &id)?);
                            known.push(id);
                        }
                    }
                }
                Err(e) => tracing::warn!(error = %e, "cannot list the stream's shards"),
            }
        }
        rounds += 1;
        let mut read = 0;
        for p in pipes.iter_mut() {
            match p.step().await {
                Ok(step) => read += step.records_read,
                Err(e) => {
                    tracing::warn!(shard = p.shard_id, error = %e, "poll failed; trying again")
                }
            }
        }
        pipes.retain(|p| !(p.started && p.iterator.is_none() && p.buffer.is_empty()));
        if read == 0 {
            tokio::select! {
                _ = parts.clock.sleep(POLL_INTERVAL) => {}
                _ = stop.changed() => {}
            }
        }
    }
}
