//! The `notify-failure` Lambda: publishes the failure to SNS and emails the customer, each at most
//! once per (order, attempt), by claiming an email-log record before sending.

use std::future::Future;

use serde::{Deserialize, Serialize};
use serde_json::Value;
use tracing::Instrument;
use unpaid_order::notice::{mask_email, usable_address, FailureNotification, OutgoingEmail};
use unpaid_order::ports::{status, Channel, Claim, ClaimOutcome, SendError};
use unpaid_order::{
    parse_input, AttemptId, EmailLog, FunctionError, Mailer, Notifier, OrderId, OrderTable,
    PaymentHeader,
};

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Input {
    pub order_id: OrderId,
    pub attempt_id: AttemptId,
    pub payment_header: PaymentHeader,
}

/// What happened on one channel.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Delivery {
    /// Sent by this invocation.
    Sent,
    /// Claimed by an earlier invocation of this attempt (sent, or lost in a crash: see README).
    Unchanged,
    /// The order has no usable email address: nothing to send.
    NoAddress,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Output {
    pub order_id: OrderId,
    pub attempt_id: AttemptId,
    pub sns: Delivery,
    pub email: Delivery,
}

/// The ports notify-failure uses.
#[derive(Clone, Copy)]
pub struct Ports<'a> {
    pub orders: &'a dyn OrderTable,
    pub email_log: &'a dyn EmailLog,
    pub notifier: &'a dyn Notifier,
    pub mailer: &'a dyn Mailer,
}

/// `{"orderId", "attemptId", "paymentHeader"}` -> `{"orderId", "attemptId", "sns", "email"}`.
/// `OrderNotFound`; `OrderAlreadyPaid` if the order was paid since it was saved (no failure
/// email to a paying customer). Both channels are tried; the first error is returned after.
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

async fn notify(ports: Ports<'_>, input: Input) -> Result<Output, FunctionError> {
    input.payment_header.validate_failed()?;
    let order_id = &input.order_id;
    let order = ports
        .orders
        .get(order_id)
        .await?
        .ok_or_else(|| FunctionError::OrderNotFound {
            order_id: order_id.to_string(),
        })?;
    if order.data.is_paid() {
        return Err(FunctionError::OrderAlreadyPaid {
            order_id: order_id.to_string(),
        });
    }
    let claim = |channel, recipient: &str| Claim {
        order_id: order_id.clone(),
        attempt_id: input.attempt_id.clone(),
        channel,
        recipient: recipient.to_string(),
        claimed_at: now(),
    };

    let notification = FailureNotification::new(order_id, &input.attempt_id, &input.payment_header);
    let sns = send_once(
        ports.email_log,
        &claim(Channel::Sns, ports.notifier.topic()),
        || ports.notifier.publish(&notification),
    )
    .await;

    let address = order.data.text("email");
    let email = match address.as_deref().and_then(usable_address) {
        None => {
            tracing::warn!(
                hasEmail = address.is_some(),
                "order has no usable email address; no email sent"
            );
            Ok(Delivery::NoAddress)
        }
        Some(to) => {
            let email =
                OutgoingEmail::payment_failed(to, order_id, &order.data, &input.payment_header);
            async {
                send_once(ports.email_log, &claim(Channel::Email, to), || {
                    ports.mailer.send(&email)
                })
                .await
            }
            .instrument(tracing::info_span!("email", to = %mask_email(to)))
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

/// Claim, send, mark. A claim found from before means an earlier invocation of this attempt
/// sent it (or crashed between claim and mark): not sent again. A send the provider refused is
/// marked `failed`, so the retry may claim it again; a send with unknown outcome stays `pending`.
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
    match log.claim(claim).await? {
        ClaimOutcome::AlreadyClaimed { status } => {
            if status == status::PENDING {
                tracing::warn!(
                    channel,
                    "claimed before but never confirmed sent; not sending again (at most once)"
                );
            } else {
                tracing::info!(channel, status = %status, "already done for this attempt");
            }
            Ok(Delivery::Unchanged)
        }
        ClaimOutcome::Claimed => match send().await {
            Ok(message_id) => {
                log.mark_sent(claim, &message_id, &now()).await?;
                tracing::info!(channel, messageId = %message_id, "sent");
                Ok(Delivery::Sent)
            }
            Err(SendError::NotSent(error)) => {
                log.mark_failed(claim, &error.to_string()).await?;
                Err(error)
            }
            Err(SendError::Unknown(error)) => {
                tracing::warn!(channel, error = %error, "send outcome unknown; the claim stays pending");
                Err(error)
            }
        },
    }
}
