//! One channel's send: claim the email-log slot, hand the message over, record the outcome; and
//! what an earlier, undecided send of the same slot means for this one, per channel.

use std::future::Future;
use std::time::Duration;

use chrono::{DateTime, Utc};
use unpaid_order::metrics::{self, Metric};
use unpaid_order::ports::{status, Claim, ClaimOutcome, ExistingClaim, SendError};
use unpaid_order::{deadline, EmailLog, FunctionError};

use crate::policy::{EvidencePolicy, NoEvidence};
use crate::Delivery;

/// A channel is claimed only with at least this much of the invocation left: enough to claim,
/// hand over, send and record, so a deadline does not cut a send off half-recorded.
pub const MIN_TIME_TO_CLAIM: Duration = Duration::from_secs(4);

/// What an unknown outcome means on a channel.
#[derive(Debug, Clone, Copy)]
pub enum Guarantee {
    /// SNS, the team's own topic: send again (same dedupe id); a duplicate is harmless.
    AtLeastOnce,
    /// The customer's email: SES's events decide, within the policy's window.
    Evidence(EvidencePolicy),
}

/// One send of one channel for one invocation.
pub struct Send<'a> {
    /// The email log.
    pub log: &'a dyn EmailLog,
    /// This invocation's claim on the slot.
    pub claim: &'a Claim,
    /// The invocation's clock: the state's entry time from the state machine (so a redriven or
    /// offline run on a virtual clock measures the window on the same clock as the send).
    pub now: DateTime<Utc>,
    /// What an unknown outcome means here.
    pub guarantee: Guarantee,
}

fn secs(d: Duration) -> u64 {
    d.as_secs()
}

impl Send<'_> {
    fn channel(&self) -> &'static str {
        self.claim.channel.as_str()
    }

    fn unconfirmed(&self, cause: String) -> FunctionError {
        FunctionError::NotificationUnconfirmed {
            channel: self.channel().to_string(),
            email_id: self.claim.email_id(),
            cause,
        }
    }

    fn awaiting(&self, policy: &EvidencePolicy, elapsed: Duration) -> FunctionError {
        match policy.next_check(elapsed) {
            Some(next) => FunctionError::EmailAwaitingEvidence {
                email_id: self.claim.email_id(),
                elapsed_secs: secs(elapsed),
                next_check_secs: secs(next).max(1),
                window_secs: secs(policy.window),
            },
            // A window too short to wait in (cannot happen with the policy's bounds): decide now.
            None => self.unconfirmed("no time left in the confirmation window".into()),
        }
    }

    /// The outcome is unknown (or known but not recorded): per channel, retry or wait.
    fn undecided(&self, cause: String) -> FunctionError {
        match self.guarantee {
            Guarantee::AtLeastOnce => FunctionError::transient(format!(
                "{}: {cause}; published again on the retry (same dedupe id)",
                self.channel()
            )),
            Guarantee::Evidence(policy) => {
                tracing::warn!(channel = self.channel(), cause = %cause, "handed to SES, outcome unknown: waiting for SES's events");
                self.awaiting(&policy, Duration::ZERO)
            }
        }
    }

    /// A slot an earlier invocation left `sending`. `Ok(())`: superseded, send again now.
    async fn earlier_send(&self, existing: &ExistingClaim) -> Result<(), FunctionError> {
        let token = existing.token.clone().unwrap_or_default();
        match self.guarantee {
            Guarantee::AtLeastOnce => {
                tracing::warn!(
                    channel = self.channel(),
                    "an earlier publish's outcome is unknown: publishing again"
                );
            }
            Guarantee::Evidence(policy) => {
                let claimed_at = existing
                    .claimed_at
                    .as_deref()
                    .and_then(|t| DateTime::parse_from_rfc3339(t).ok())
                    .map(|t| t.with_timezone(&Utc));
                // An unreadable claim time cannot start a window: the window is taken as over.
                let elapsed = claimed_at.map_or(policy.window, |at| {
                    (self.now - at).to_std().unwrap_or(Duration::ZERO)
                });
                if policy.next_check(elapsed).is_some() {
                    return Err(self.awaiting(&policy, elapsed));
                }
                if policy.on_no_evidence == NoEvidence::Page {
                    tracing::error!(channel = self.channel(), "no SES event within the confirmation window; left for an operator (AMBIGUOUS_EMAIL_POLICY=page)");
                    return Err(self.unconfirmed(format!(
                        "handed to SES {} s ago and no SES event for its claim arrived within the {} s confirmation window",
                        secs(elapsed),
                        secs(policy.window)
                    )));
                }
                tracing::warn!(
                    channel = self.channel(),
                    elapsedSecs = secs(elapsed),
                    "no SES event within the confirmation window: SES did not accept it; sending again under a new claim"
                );
                metrics::count(Metric::AmbiguousSendsResent);
            }
        }
        if self.log.supersede(&token, self.claim).await? {
            Ok(())
        } else {
            Err(FunctionError::transient(format!(
                "{}: the slot changed while it was being taken over; looked at again on the retry",
                self.channel()
            )))
        }
    }

    /// Claim, hand over, send, record (see [`unpaid_order::ports::EmailLog`] for the states).
    pub async fn run<F, Fut>(&self, send: F) -> Result<Delivery, FunctionError>
    where
        F: FnOnce() -> Fut,
        Fut: Future<Output = Result<String, SendError>>,
    {
        let channel = self.channel();
        if let Some(left) = deadline::remaining() {
            if left < MIN_TIME_TO_CLAIM {
                return Err(FunctionError::transient(format!(
                    "{channel}: {} ms left in this invocation, too little to send and record; not claimed",
                    left.as_millis()
                )));
            }
        }
        match self.log.claim(self.claim).await? {
            ClaimOutcome::Claimed => {}
            ClaimOutcome::AlreadyClaimed(existing) if existing.status == status::SENT => {
                tracing::info!(channel, "already sent for this attempt");
                return Ok(Delivery::Unchanged);
            }
            ClaimOutcome::AlreadyClaimed(existing) => self.earlier_send(&existing).await?,
        }
        if !self.log.begin_send(self.claim).await? {
            return Err(FunctionError::transient(format!(
                "{channel}: the claim was taken over by another invocation"
            )));
        }
        match send().await {
            Ok(message_id) => {
                tracing::info!(channel, messageId = %message_id, "sent");
                match self
                    .log
                    .mark_sent(self.claim, &message_id, &now_text())
                    .await
                {
                    Ok(()) => Ok(Delivery::Sent),
                    // It went out: a failure to record it must not look like "send again" for
                    // the email (its SES events will record it); SNS may publish again.
                    Err(e) => {
                        Err(self.undecided(format!("sent as {message_id}, not recorded: {e}")))
                    }
                }
            }
            Err(SendError::NotSent(error)) => {
                self.log
                    .mark_failed(self.claim, &error.to_string())
                    .await
                    .map_err(|e| self.undecided(format!("refused ({error}), not recorded: {e}")))?;
                Err(error)
            }
            Err(SendError::Unknown(error)) => Err(self.undecided(error.to_string())),
        }
    }
}

/// Wall-clock time for the audit fields (`sentAt`).
pub fn now_text() -> String {
    Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}
