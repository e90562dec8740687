//! What notify-failure sends: the SNS failure notification and the customer's email (text and
//! HTML), built from untrusted order fields; and the email masking used in logs.

use serde::{Deserialize, Serialize};

use crate::model::{AttemptId, OrderData, OrderId, PaymentHeader};
use crate::FunctionError;

/// The message attribute every failure notification carries: the same value on every copy of
/// one (order, attempt)'s notification, for subscribers to drop duplicates by (SNS is sent at
/// least once: a publish whose outcome is unknown is published again).
pub const DEDUPE_ATTRIBUTE: &str = "dedupeId";

/// The SNS message announcing a failed payment (no customer data: subscribers look the order up).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FailureNotification {
    /// The SNS subject: at most 100 characters on one line.
    pub subject: String,
    /// JSON: `{"type": "PaymentFailed", "orderId", "attemptId", "paymentHeader"}`.
    pub message: String,
    /// The [`DEDUPE_ATTRIBUTE`] value: the (order, attempt)'s email-log key of the SNS channel.
    pub dedupe_id: String,
}

impl FailureNotification {
    /// The notification of a failed payment for this attempt, with its header.
    pub fn new(order_id: &OrderId, attempt_id: &AttemptId, header: &PaymentHeader) -> Self {
        let message = serde_json::json!({
            "type": "PaymentFailed",
            "orderId": order_id,
            "attemptId": attempt_id,
            "paymentHeader": header.to_json(),
        });
        FailureNotification {
            dedupe_id: format!("{order_id}#{attempt_id}#sns"),
            // SNS subjects: at most 100 printable characters, no line breaks.
            subject: truncate(
                &single_line(&format!("Payment failed for order {order_id}")),
                100,
            ),
            message: message.to_string(),
        }
    }
}

/// The customer's email. The sender is the mailer's configuration (SENDER_EMAIL).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OutgoingEmail {
    /// The customer's address from the order.
    pub to: String,
    /// The subject line.
    pub subject: String,
    /// The plain-text body.
    pub text: String,
    /// The HTML body (order data escaped).
    pub html: String,
    /// The SES message tags naming the claim it is sent under ([`crate::evidence::ClaimTags`]),
    /// so that SES's sending events about it can be matched to the email-log record.
    pub tags: Vec<(String, String)>,
}

impl OutgoingEmail {
    /// The failed-payment email. Every order field is untrusted: single-lined in the subject,
    /// HTML-escaped in the HTML part.
    pub fn payment_failed(
        to: &str,
        order_id: &OrderId,
        order: &OrderData,
        header: &PaymentHeader,
    ) -> Self {
        let name = order
            .text("name")
            .map(|n| single_line(&n))
            .filter(|n| !n.trim().is_empty());
        let greeting = match &name {
            Some(n) => format!("Hello {},", truncate(n, 100)),
            None => "Hello,".to_string(),
        };
        let order_text = single_line(order_id.as_str());
        let method = single_line(&header.payment_method);
        let subject = truncate(
            &format!("Your payment for order {order_text} did not go through"),
            200,
        );
        let text = format!(
            "{greeting}\n\nWe could not take the payment for your order {order_text} \
             (payment method: {method}). Nothing has been charged.\n\n\
             Please try again from your order page, or choose another payment method.\n"
        );
        let html = format!(
            "<!DOCTYPE html><html><body>\
             <p>{}</p>\
             <p>We could not take the payment for your order <strong>{}</strong> \
             (payment method: {}). Nothing has been charged.</p>\
             <p>Please try again from your order page, or choose another payment method.</p>\
             </body></html>",
            escape_html(&greeting),
            escape_html(&order_text),
            escape_html(&method),
        );
        OutgoingEmail {
            to: to.to_string(),
            subject,
            text,
            html,
            tags: Vec::new(),
        }
    }

    /// The email tagged with the claim it is sent under.
    pub fn tagged(mut self, claim: &crate::evidence::ClaimTags) -> Self {
        self.tags = claim.to_tags();
        self
    }
}

/// Escapes text for HTML element content and attribute values.
pub fn escape_html(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#x27;"),
            _ => out.push(c),
        }
    }
    out
}

/// Control characters (CR, LF, ...) become spaces, so nothing can start a new header line.
pub fn single_line(text: &str) -> String {
    text.chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect()
}

fn truncate(text: &str, max_chars: usize) -> String {
    text.chars().take(max_chars).collect()
}

/// A single plain address (`local@domain.tld`) SES can send to, as SES wants it: 7-bit ASCII,
/// the domain in Punycode (IDNA). `Ok(None)`: no usable address (display names, lists,
/// whitespace, control characters are refused rather than passed on). `InvalidInput`: an
/// address SES cannot take at all (a non-ASCII local part: SES has no SMTPUTF8).
pub fn recipient_address(address: &str) -> Result<Option<String>, FunctionError> {
    let address = address.trim();
    if address.is_empty() || address.len() > 254 {
        return Ok(None);
    }
    if address
        .chars()
        .any(|c| c.is_whitespace() || c.is_control() || "<>,;:\"()[]\\".contains(c))
    {
        return Ok(None);
    }
    let Some((local, domain)) = address.split_once('@') else {
        return Ok(None);
    };
    if local.is_empty() || local.len() > 64 || domain.contains('@') {
        return Ok(None);
    }
    if !local.is_ascii() {
        return Err(FunctionError::invalid(
            "the order's email address has a non-ASCII local part, which SES cannot send to; \
             correct the address and start a new execution for the order",
        ));
    }
    let Ok(domain) = idna::domain_to_ascii(domain) else {
        return Ok(None);
    };
    let domain_ok = domain.contains('.') && !domain.starts_with('.') && !domain.ends_with('.');
    Ok(domain_ok.then(|| format!("{local}@{domain}")))
}

/// `jane@example.com` -> `j***@example.com`: what logs may show of an address.
pub fn mask_email(address: &str) -> String {
    match address.split_once('@') {
        Some((local, domain)) => {
            let first: String = local.chars().take(1).collect();
            format!("{first}***@{domain}")
        }
        None => "***".to_string(),
    }
}

/// The text with every email address in it masked (`j***@example.com`). SES error messages
/// quote the recipient, and these texts reach logs, the execution history and the email log.
pub fn redacted(text: &str) -> String {
    let is_part = |c: char| !c.is_whitespace() && !"<>()[]{}\"',;:".contains(c);
    let mut out = String::with_capacity(text.len());
    let mut token = String::new();
    let flush = |token: &mut String, out: &mut String| {
        if token.contains('@') {
            out.push_str(&mask_email(token));
        } else {
            out.push_str(token);
        }
        token.clear();
    };
    for c in text.chars() {
        if is_part(c) {
            token.push(c);
        } else {
            flush(&mut token, &mut out);
            out.push(c);
        }
    }
    flush(&mut token, &mut out);
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::attr::Attr;
    use crate::model::CheckStatus;

    fn header(method: &str) -> PaymentHeader {
        PaymentHeader::failed(
            &CheckStatus {
                charge_id: "ch_1".into(),
                payment_method: method.into(),
                status: "failed".into(),
                created_at: "2026-11-25T06:00:01Z".into(),
            },
            "2026-11-25T06:10:00Z",
        )
        .unwrap()
    }

    #[test]
    fn masks_addresses() {
        assert_eq!(mask_email("jane.doe@example.com"), "j***@example.com");
        assert_eq!(mask_email("nonsense"), "***");
    }

    #[test]
    fn addresses_are_masked_in_error_texts() {
        assert_eq!(
            redacted("MessageRejected: Email address is not verified: <jane.doe@example.com>, bob@x.org."),
            "MessageRejected: Email address is not verified: <j***@example.com>, b***@x.org."
        );
        assert_eq!(redacted("no address here"), "no address here");
    }

    #[test]
    fn idn_domains_are_punycoded_and_non_ascii_local_parts_refused() {
        assert_eq!(
            recipient_address("jane@bücher.example").unwrap().as_deref(),
            Some("jane@xn--bcher-kva.example")
        );
        assert_eq!(
            recipient_address("JANE@Example.COM").unwrap().as_deref(),
            Some("JANE@example.com")
        );
        let err = recipient_address("jürgen@example.com").unwrap_err();
        assert_eq!(err.error_type(), "InvalidInput");
        assert!(!err.to_string().contains("rgen"), "{err}");
    }

    #[test]
    fn only_plain_single_addresses_are_usable() {
        let usable_address = |a: &str| recipient_address(a).unwrap();
        assert_eq!(
            usable_address(" jane@example.com ").as_deref(),
            Some("jane@example.com")
        );
        for bad in [
            "",
            "jane",
            "jane@localhost",
            "a@b.com, c@d.com",
            "Jane <jane@example.com>",
            "jane@example.com\r\nBcc: x@y.com",
            "a@b@c.com",
        ] {
            assert_eq!(usable_address(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn email_escapes_untrusted_fields_and_has_both_parts() {
        let order = OrderData::Map(
            [(
                "name".to_string(),
                Attr::s("<script>alert('x')</script>\r\nBcc: evil@x.com"),
            )]
            .into_iter()
            .collect(),
        );
        let id = OrderId::parse("492500005643").unwrap();
        let email =
            OutgoingEmail::payment_failed("jane@example.com", &id, &order, &header("card & <b>"));
        assert!(!email.html.contains("<script>"), "{}", email.html);
        assert!(email
            .html
            .contains("&lt;script&gt;alert(&#x27;x&#x27;)&lt;/script&gt;"));
        assert!(email.html.contains("card &amp; &lt;b&gt;"));
        assert!(email
            .text
            .contains("<script>alert('x')</script>  Bcc: evil@x.com"));
        assert!(!email.text.contains('\r'));
        assert!(email.text.contains("order 492500005643"));
        assert!(!email.subject.contains('\n') && !email.subject.contains('\r'));
        assert_eq!(
            email.subject,
            "Your payment for order 492500005643 did not go through"
        );
    }

    #[test]
    fn notification_carries_ids_and_header_but_no_customer_data() {
        let id = OrderId::parse("1").unwrap();
        let attempt = AttemptId::parse("1-abc").unwrap();
        let n = FailureNotification::new(&id, &attempt, &header("card"));
        let message: serde_json::Value = serde_json::from_str(&n.message).unwrap();
        assert_eq!(message["type"], "PaymentFailed");
        assert_eq!(message["orderId"], "1");
        assert_eq!(message["attemptId"], "1-abc");
        assert_eq!(message["paymentHeader"]["paymentId"], "ch_1");
        assert_eq!(n.subject, "Payment failed for order 1");
        assert_eq!(n.dedupe_id, "1#1-abc#sns");
    }
}
