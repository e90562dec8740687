//! The `notify-failure` Lambda: publishes the failure to SNS and emails the customer, each at most
//! once per (order, attempt), by claiming an email-log record before sending.

use std::future::Future;
use std::time::Duration;

use serde::{Deserialize, Serialize};
use serde_json::Value;
use tracing::Instrument;
use unpaid_order::notice::{mask_email, recipient_address, FailureNotification, OutgoingEmail};
use unpaid_order::ports::{status, Channel, Claim, ClaimOutcome, SendError};
use unpaid_order::{
    deadline, parse_input, AttemptId, EmailLog, FunctionError, Mailer, Notifier, OrderData,
    OrderId, OrderTable, PaymentHeader,
};

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
}

/// `{"orderId", "attemptId", "paymentHeader"}` -> `{"orderId", "attemptId", "sns", "email"}`.
/// `OrderNotFound`; `OrderAlreadyPaid` if the order was paid since it was saved (no failure
/// email to a paying customer: checked again right before the email); `InvalidInput` for an
/// address SES cannot take; `NotificationUnconfirmed` when a send's outcome is unknown. Both
/// channels are tried; the first error is returned after. Bounded by the current
/// [`deadline`] when one is set.
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

fn now() -> String {
    chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}

/// A channel is claimed only with at least this much of the invocation left: enough to claim,
/// hand over, send and record, so a deadline does not cut a send off half-recorded.
pub const MIN_TIME_TO_CLAIM: Duration = Duration::from_secs(4);

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
    // One token per invocation: its own writes, seen again on an SDK retry, are recognised.
    let token = uuid::Uuid::new_v4().to_string();
    let claim = |channel, recipient: &str| Claim {
        order_id: order_id.clone(),
        attempt_id: input.attempt_id.clone(),
        channel,
        recipient: recipient.to_string(),
        claimed_at: now(),
        token: token.clone(),
    };

    let notification = FailureNotification::new(order_id, &input.attempt_id, &input.payment_header);
    let sns = send_once(
        ports.email_log,
        &claim(Channel::Sns, ports.notifier.topic()),
        || ports.notifier.publish(&notification),
    )
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
                let email =
                    OutgoingEmail::payment_failed(&to, order_id, &data, &input.payment_header);
                send_once(ports.email_log, &claim(Channel::Email, &to), || {
                    ports.mailer.send(&email)
                })
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

/// Claim, hand over, send, record (see [`unpaid_order::ports::EmailLog`] for the states).
/// - `sent` before: done, not sent again.
/// - `sending` before, or an unknown outcome now: it may have gone out; never resent
///   automatically, `NotificationUnconfirmed` for an operator.
/// - refused for certain: recorded `failed` (a retry claims it again), the refusal returned.
async fn send_once<F, Fut>(
    log: &dyn EmailLog,
    claim: &Claim,
    send: F,
) -> Result<Delivery, FunctionError>
where
    F: FnOnce() -> Fut,
    Fut: Future<Output = Result<String, SendError>>,
{
    let channel = claim.channel.as_str();
    let unconfirmed = |cause: String| FunctionError::NotificationUnconfirmed {
        channel: channel.to_string(),
        email_id: claim.email_id(),
        cause,
    };
    if let Some(left) = deadline::remaining() {
        if left < MIN_TIME_TO_CLAIM {
            return Err(FunctionError::transient(format!(
                "{channel}: {} ms left in this invocation, too little to send and record; not claimed",
                left.as_millis()
            )));
        }
    }
    match log.claim(claim).await? {
        ClaimOutcome::AlreadyClaimed { status } if status == status::SENT => {
            tracing::info!(channel, "already sent for this attempt");
            return Ok(Delivery::Unchanged);
        }
        ClaimOutcome::AlreadyClaimed { status } => {
            tracing::error!(channel, status = %status, "handed over before but never confirmed; not sending again");
            return Err(unconfirmed(format!(
                "an earlier invocation handed it over and never recorded the outcome (status {status})"
            )));
        }
        ClaimOutcome::Claimed => {}
    }
    if !log.begin_send(claim).await? {
        return Err(FunctionError::transient(format!(
            "{channel}: the claim was taken over by another invocation"
        )));
    }
    match send().await {
        Ok(message_id) => {
            tracing::info!(channel, messageId = %message_id, "sent");
            // It went out: a failure to record it must not look like "send again".
            log.mark_sent(claim, &message_id, &now())
                .await
                .map_err(|e| unconfirmed(format!("sent as {message_id}, not recorded: {e}")))?;
            Ok(Delivery::Sent)
        }
        Err(SendError::NotSent(error)) => {
            log.mark_failed(claim, &error.to_string())
                .await
                .map_err(|e| unconfirmed(format!("refused ({error}), not recorded: {e}")))?;
            Err(error)
        }
        Err(SendError::Unknown(error)) => {
            tracing::error!(channel, error = %error, "send outcome unknown; left 'sending' for an operator");
            Err(unconfirmed(error.to_string()))
        }
    }
}
