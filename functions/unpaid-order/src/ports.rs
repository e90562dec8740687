//! The ports the functions use. Each has a DynamoDB/SNS/SESv2 adapter ([`crate::aws`]) and an
//! in-memory one ([`crate::memory`]) with the same semantics.

use async_trait::async_trait;
use serde::{Deserialize, Serialize};

use crate::evidence::{IndexEntry, IndexOutcome, SesEvent, SesOutcome};
use crate::model::{
    AttemptId, AttemptRecord, CheckStatus, LogOutcome, OrderId, PaymentHeader, SaveOutcome,
    StoredOrder,
};
use crate::notice::{FailureNotification, OutgoingEmail};
use crate::FunctionError;

/// The order table (hash key `orderId`, document in `data`).
#[async_trait]
pub trait OrderTable: Send + Sync {
    /// Strongly consistent read.
    async fn get(&self, order_id: &OrderId) -> Result<Option<StoredOrder>, FunctionError>;

    /// Sets `data.payment` to the header, writing nothing else, on condition that the order still
    /// exists and is not paid ([`crate::model::plan_save`]). `OrderNotFound`, `OrderAlreadyPaid`.
    async fn save_payment_header(
        &self,
        order_id: &OrderId,
        header: &PaymentHeader,
    ) -> Result<SaveOutcome, FunctionError>;
}

/// The check-status table (hash `orderId`, range `created_at`).
#[async_trait]
pub trait CheckStatusTable: Send + Sync {
    /// The record with the oldest `created_at`, as the seed's first query result.
    async fn oldest(&self, order_id: &OrderId) -> Result<Option<CheckStatus>, FunctionError>;
}

/// The process-unpaid-order table: one item per attempt.
#[async_trait]
pub trait AttemptLog: Send + Sync {
    /// Puts the attempt's item if this attempt has none yet (`logged: false` when it has).
    async fn record(&self, attempt: &AttemptRecord) -> Result<LogOutcome, FunctionError>;
}

/// A notification channel: each is sent at most once per (order, attempt).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Channel {
    /// The failure topic.
    Sns,
    /// The customer's email.
    Email,
}

impl Channel {
    /// The channel's name in the `emailId` key and the logs.
    pub fn as_str(self) -> &'static str {
        match self {
            Channel::Sns => "sns",
            Channel::Email => "email",
        }
    }
}

/// One (order, attempt, channel) slot in the email log, keyed `emailId = "{orderId}#{attemptId}#{channel}"`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Claim {
    /// The order notified about.
    pub order_id: OrderId,
    /// The attempt notified about.
    pub attempt_id: AttemptId,
    /// Which channel the slot is for.
    pub channel: Channel,
    /// The email address (email channel) or topic ARN (SNS channel) it goes to.
    pub recipient: String,
    /// When the slot was claimed (RFC 3339), stored as `claimedAt`.
    pub claimed_at: String,
    /// Unique per invocation: tells this invocation's own writes (seen again when the SDK
    /// retries a call whose reply was lost) from another invocation's.
    pub token: String,
}

impl Claim {
    /// The email-log key: `{orderId}#{attemptId}#{channel}`.
    pub fn email_id(&self) -> String {
        format!(
            "{}#{}#{}",
            self.order_id,
            self.attempt_id,
            self.channel.as_str()
        )
    }
}

/// Email-log record states, in order:
/// - `pending`: claimed, not yet handed to SNS/SES. Nothing went out; a later invocation takes
///   it over (its owner died before sending).
/// - `sending`: handed over, outcome not recorded yet. It may have gone out. SNS: sent again
///   (at least once, same dedupe id). Email: decided by SES's events for the claim (any of them
///   proves SES accepted it: the recorder moves it to `sent`); with none after the confirmation
///   window, superseded by a new claim and sent again (`AMBIGUOUS_EMAIL_POLICY=resend`), or left
///   for an operator (`page`: `NotificationUnconfirmed`).
/// - `sent`: done.
/// - `failed`: refused for certain (nothing went out); a later invocation claims it again.
pub mod status {
    /// Claimed, not yet handed to SNS/SES.
    pub const PENDING: &str = "pending";
    /// Handed over, outcome not recorded yet.
    pub const SENDING: &str = "sending";
    /// Sent.
    pub const SENT: &str = "sent";
    /// Refused for certain: nothing went out.
    pub const FAILED: &str = "failed";
}

/// The answer to [`EmailLog::claim`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ClaimOutcome {
    /// This invocation owns the slot (`pending` with its token): it may send.
    Claimed,
    /// The slot is `sending` or `sent`: do not send under this claim.
    AlreadyClaimed(ExistingClaim),
}

/// The claim already on a slot that could not be claimed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExistingClaim {
    /// The slot's status (`sending` or `sent`).
    pub status: String,
    /// The token of the invocation that claimed it.
    pub token: Option<String>,
    /// When it was claimed (RFC 3339; the send follows within seconds): the start of the
    /// confirmation window of a `sending` email.
    pub claimed_at: Option<String>,
}

/// The email-log table: claim, hand over, record. Every transition is conditional on the
/// record's status and this invocation's token, and recognises its own earlier write (a retried
/// call whose first attempt landed) as done.
#[async_trait]
pub trait EmailLog: Send + Sync {
    /// New, `pending` or `failed` -> `pending` with this claim's token.
    async fn claim(&self, claim: &Claim) -> Result<ClaimOutcome, FunctionError>;
    /// `pending` (ours) -> `sending`, just before the send. `false`: another invocation took
    /// the slot over meanwhile; do not send.
    async fn begin_send(&self, claim: &Claim) -> Result<bool, FunctionError>;
    /// `sending` (ours) -> `sent`, with the provider's message id.
    async fn mark_sent(
        &self,
        claim: &Claim,
        message_id: &str,
        sent_at: &str,
    ) -> Result<(), FunctionError>;
    /// `sending` (ours) -> `failed` (the provider refused it: nothing went out).
    async fn mark_failed(&self, claim: &Claim, reason: &str) -> Result<(), FunctionError>;
    /// `sending` with `superseded_token` -> `pending` with `claim`'s token: a send whose outcome
    /// stayed unknown is taken over by a new claim (SNS at once; email after the confirmation
    /// window). The old token is kept (`supersededTokens`), so a late event of the old send is
    /// recognised as a second copy. `false`: the slot is no longer in that state.
    async fn supersede(&self, superseded_token: &str, claim: &Claim)
        -> Result<bool, FunctionError>;
    /// Records one SES sending event on the slot its tags name, once per EventBridge event id:
    /// any event of the current claim proves SES accepted the message, so `pending`/`sending`/
    /// `failed` become `sent` (with the message id); otherwise the event is kept on the record.
    async fn record_ses_event(&self, event: &SesEvent) -> Result<SesOutcome, FunctionError>;
}

/// The order index: every execution that named an order, in its newest known state (one item
/// per (orderId, execution), fed by Step Functions' status-change events).
#[async_trait]
pub trait OrderIndex: Send + Sync {
    /// Writes the item unless the index already holds the same or a newer state of that
    /// execution for that order ([`crate::evidence::rank`]).
    async fn record(&self, entry: &IndexEntry) -> Result<IndexOutcome, FunctionError>;
    /// Every execution indexed under the order (one Query), in no particular order.
    async fn executions_of(&self, order_id: &str) -> Result<Vec<IndexEntry>, FunctionError>;
}

/// DescribeExecution's input: for a status-change event that left the input out (too large).
#[async_trait]
pub trait ExecutionInputs: Send + Sync {
    /// The execution's input (JSON text); `None` when the execution does not exist (any more).
    async fn input_of(&self, execution_arn: &str) -> Result<Option<String>, FunctionError>;
}

/// Why a send failed, as far as we can know.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SendError {
    /// Nothing went out: a 4xx refusal, or a connection that never opened.
    #[error("not sent: {0}")]
    NotSent(FunctionError),
    /// A 5xx, a timeout, a connection cut after the request went out: it may have been sent.
    #[error("outcome unknown: {0}")]
    Unknown(FunctionError),
}

impl SendError {
    /// The underlying error, whether or not anything went out.
    pub fn into_error(self) -> FunctionError {
        match self {
            SendError::NotSent(e) | SendError::Unknown(e) => e,
        }
    }
}

/// The failure topic (SNS).
#[async_trait]
pub trait Notifier: Send + Sync {
    /// The topic's ARN (or name) the notification goes to, for the email log.
    fn topic(&self) -> &str;
    /// Publishes once (no SDK-level retry); returns the message id. The message carries the
    /// notification's dedupe id as a message attribute: SNS is at least once here.
    async fn publish(&self, notification: &FailureNotification) -> Result<String, SendError>;
}

/// The customer email sender (SESv2).
#[async_trait]
pub trait Mailer: Send + Sync {
    /// Sends once (no SDK-level retry), tagged with the email's claim so that SES's sending
    /// events name it; returns the message id.
    async fn send(&self, email: &OutgoingEmail) -> Result<String, SendError>;
}
