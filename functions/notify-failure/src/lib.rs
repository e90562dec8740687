//! The `notify-failure` Lambda: publishes the failure to SNS and emails the customer, each once
//! per (order, attempt), by claiming an email-log record before sending; a send whose outcome is
//! unknown is published again (SNS) or decided by SES's own events (email, `policy`).

mod policy;
mod send;

use serde::{Deserialize, Serialize};
use serde_json::Value;
use tracing::Instrument;
use unpaid_order::evidence::ClaimTags;
use unpaid_order::notice::{mask_email, recipient_address, FailureNotification, OutgoingEmail};
use unpaid_order::ports::{Channel, Claim};
use unpaid_order::{
    parse_input, AttemptId, EmailLog, FunctionError, Mailer, Notifier, OrderData, OrderId,
    OrderTable, PaymentHeader,
};

pub use policy::{EvidencePolicy, NoEvidence, POLICY_VAR, WINDOW_VAR};
pub use send::MIN_TIME_TO_CLAIM;
use send::{Guarantee, Send};

/// What the state machine passes in after log-attempt.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Input {
    /// The order whose payment failed.
    pub order_id: OrderId,
    /// The attempt: each channel sends at most once per (order, attempt).
    pub attempt_id: AttemptId,
    /// The header save-order wrote; the SNS message carries it.
    pub payment_header: PaymentHeader,
    /// When the state was entered (`$$.State.EnteredTime`): the clock the email's confirmation
    /// window is measured on. Absent (an invocation by hand): the function's own clock.
    #[serde(default)]
    pub now: Option<String>,
}

/// What happened on one channel.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Delivery {
    /// Sent by this invocation.
    Sent,
    /// Sent by an earlier invocation of this attempt.
    Unchanged,
    /// The order has no usable email address: nothing to send.
    NoAddress,
}

/// The execution's result: what each channel did.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Output {
    /// The order notified about.
    pub order_id: OrderId,
    /// The attempt notified about.
    pub attempt_id: AttemptId,
    /// The failure topic's message.
    pub sns: Delivery,
    /// The customer's email.
    pub email: Delivery,
}

/// The ports notify-failure uses.
#[derive(Clone, Copy)]
pub struct Ports<'a> {
    /// Reads the order again, for the address and the is-it-paid-now check.
    pub orders: &'a dyn OrderTable,
    /// Claims each channel's slot so nothing is sent twice.
    pub email_log: &'a dyn EmailLog,
    /// The failure topic (SNS).
    pub notifier: &'a dyn Notifier,
    /// The customer's email (SES).
    pub mailer: &'a dyn Mailer,
    /// What to do about an email whose outcome stays unknown.
    pub policy: EvidencePolicy,
}

/// `{"orderId", "attemptId", "paymentHeader", "now"?}` -> `{"orderId", "attemptId", "sns", "email"}`.
/// `OrderNotFound`; `OrderAlreadyPaid` if the order was paid since it was saved (no failure
/// email to a paying customer: checked again right before the email); `InvalidInput` for an
/// address SES cannot take; `TransientError` for an SNS publish whose outcome is unknown (the
/// retry publishes again); `EmailAwaitingEvidence` while an email's outcome waits for SES's
/// events; `NotificationUnconfirmed` only under `AMBIGUOUS_EMAIL_POLICY=page`. Both channels are
/// tried; the first error is returned after. Bounded by the current
/// [`unpaid_order::deadline`] when one is set.
pub async fn handle(ports: Ports<'_>, event: Value) -> Result<Output, FunctionError> {
    let input: Input = parse_input(event)?;
    let span = tracing::info_span!("notify-failure", orderId = %input.order_id, attemptId = %input.attempt_id);
    async {
        let result = notify(ports, input).await;
        unpaid_order::log_result(&result);
        result
    }
    .instrument(span)
    .await
}

/// The invocation's clock: the state machine's `now`, else the function's own.
fn clock(input: &Input) -> Result<chrono::DateTime<chrono::Utc>, FunctionError> {
    match &input.now {
        None => Ok(chrono::Utc::now()),
        Some(t) => chrono::DateTime::parse_from_rfc3339(t)
            .map(|t| t.with_timezone(&chrono::Utc))
            .map_err(|e| FunctionError::invalid(format!("invalid input: now `{t}`: {e}"))),
    }
}

/// Reads the order (consistent) and refuses to notify unless it is clearly unpaid.
async fn unpaid_order_data(
    orders: &dyn OrderTable,
    order_id: &OrderId,
) -> Result<OrderData, FunctionError> {
    let order = orders
        .get(order_id)
        .await?
        .ok_or_else(|| FunctionError::OrderNotFound {
            order_id: order_id.to_string(),
        })?;
    order.data.ensure_unpaid(order_id)?;
    Ok(order.data)
}

async fn notify(ports: Ports<'_>, input: Input) -> Result<Output, FunctionError> {
    input.payment_header.validate_failed()?;
    let order_id = &input.order_id;
    let data = unpaid_order_data(ports.orders, order_id).await?;
    // Checked before anything is sent: an address SES cannot take fails the step visibly.
    let address = data.text("email");
    let to = match address.as_deref() {
        Some(a) => recipient_address(a)?,
        None => None,
    };
    let now = clock(&input)?;
    // One token per invocation: its own writes, seen again on an SDK retry, are recognised.
    let token = uuid::Uuid::new_v4().to_string();
    let claim = |channel, recipient: &str| Claim {
        order_id: order_id.clone(),
        attempt_id: input.attempt_id.clone(),
        channel,
        recipient: recipient.to_string(),
        claimed_at: now.to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
        token: token.clone(),
    };

    let notification = FailureNotification::new(order_id, &input.attempt_id, &input.payment_header);
    let sns_claim = claim(Channel::Sns, ports.notifier.topic());
    let sns = Send {
        log: ports.email_log,
        claim: &sns_claim,
        now,
        guarantee: Guarantee::AtLeastOnce,
    }
    .run(|| ports.notifier.publish(&notification))
    .await;

    let email = match to {
        None => {
            tracing::warn!(
                hasEmail = address.is_some(),
                "order has no usable email address; no email sent"
            );
            Ok(Delivery::NoAddress)
        }
        Some(to) => {
            async {
                // The customer may have paid while SNS was sent: read again right before the
                // claim, so a paying customer is not told the payment failed.
                let data = unpaid_order_data(ports.orders, order_id).await?;
                let email_claim = claim(Channel::Email, &to);
                let email =
                    OutgoingEmail::payment_failed(&to, order_id, &data, &input.payment_header)
                        .tagged(&ClaimTags {
                            email_id: email_claim.email_id(),
                            token: email_claim.token.clone(),
                        });
                Send {
                    log: ports.email_log,
                    claim: &email_claim,
                    now,
                    guarantee: Guarantee::Evidence(ports.policy),
                }
                .run(|| ports.mailer.send(&email))
                .await
            }
            .instrument(tracing::info_span!("email", to = %mask_email(&to)))
            .await
        }
    };

    Ok(Output {
        order_id: order_id.clone(),
        attempt_id: input.attempt_id.clone(),
        sns: sns?,
        email: email?,
    })
}
