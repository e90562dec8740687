//! The claim an email belongs to, carried in the message's SES tags (`EmailTags`) and read back
//! from `mail.tags` of every sending event. Tag values allow only `[A-Za-z0-9_-]`, at most 256
//! characters: the email-log key is escaped (`_XX` per other byte) and split over several tags.

use std::collections::BTreeMap;

/// The tag (and its continuations `emailLogKey-2`, ...) holding the escaped email-log key.
pub const EMAIL_LOG_KEY_TAG: &str = "emailLogKey";
/// The tag holding the claim token (a UUID: already of the allowed characters).
pub const CLAIM_TOKEN_TAG: &str = "claimToken";
/// SES's limit on a tag value.
const MAX_TAG_VALUE: usize = 256;
/// Most continuation tags read (an order id of 256 bytes escapes to at most 4 of them).
const MAX_KEY_PARTS: usize = 8;

/// What identifies the claim a message was sent under: the email-log key and the claim token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClaimTags {
    /// The email-log record's key (`{orderId}#{attemptId}#email`).
    pub email_id: String,
    /// The claim's token (one per notify-failure invocation that claimed it).
    pub token: String,
}

fn allowed(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'-'
}

/// `a#b_c` -> `a_23b_5Fc`: every byte that is not a letter, digit or `-` as `_` + two hex digits.
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for b in text.bytes() {
        if allowed(b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("_{b:02X}"));
        }
    }
    out
}

/// The inverse of [`escape`]; `None` for a value no escape could have produced.
pub fn unescape(text: &str) -> Option<String> {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'_' => {
                let hex = text.get(i + 1..i + 3)?;
                let b = u8::from_str_radix(hex, 16).ok()?;
                if allowed(b) || hex.bytes().any(|h| h.is_ascii_lowercase()) {
                    return None;
                }
                out.push(b);
                i += 3;
            }
            b if allowed(b) => {
                out.push(b);
                i += 1;
            }
            _ => return None,
        }
    }
    String::from_utf8(out).ok()
}

fn part_name(n: usize) -> String {
    if n == 0 {
        EMAIL_LOG_KEY_TAG.to_string()
    } else {
        format!("{EMAIL_LOG_KEY_TAG}-{}", n + 1)
    }
}

impl ClaimTags {
    /// The message tags (name, value) to send with the email: `emailLogKey[-N]` and `claimToken`.
    pub fn to_tags(&self) -> Vec<(String, String)> {
        let escaped = escape(&self.email_id);
        let mut tags: Vec<(String, String)> = escaped
            .as_bytes()
            .chunks(MAX_TAG_VALUE)
            .enumerate()
            // Escaped text is ASCII: every chunk is valid UTF-8.
            .map(|(n, chunk)| (part_name(n), String::from_utf8_lossy(chunk).into_owned()))
            .collect();
        tags.push((CLAIM_TOKEN_TAG.to_string(), escape(&self.token)));
        tags
    }

    /// The claim named by an event's `mail.tags` (each tag a list of values, as SES publishes
    /// them); `None` when the message carries no claim of ours.
    pub fn from_mail_tags(tags: &BTreeMap<String, Vec<String>>) -> Option<ClaimTags> {
        let first = |name: &str| tags.get(name).and_then(|v| v.first()).map(String::as_str);
        let mut escaped = String::new();
        for n in 0..MAX_KEY_PARTS {
            match first(&part_name(n)) {
                Some(part) => escaped.push_str(part),
                None => break,
            }
        }
        let email_id = unescape(&escaped).filter(|id| !id.is_empty())?;
        let token = unescape(first(CLAIM_TOKEN_TAG)?).filter(|t| !t.is_empty())?;
        Some(ClaimTags { email_id, token })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn as_mail_tags(tags: &[(String, String)]) -> BTreeMap<String, Vec<String>> {
        tags.iter()
            .map(|(k, v)| (k.clone(), vec![v.clone()]))
            .collect()
    }

    #[test]
    fn keys_escape_to_the_allowed_characters_and_back() {
        let claim = ClaimTags {
            email_id: "492500005643#492500005643-manual_1#email".into(),
            token: "0b6a4b0e-7c1b-4b8e-9a57-5f0c3e1d2a90".into(),
        };
        let tags = claim.to_tags();
        assert_eq!(
            tags[0],
            (
                "emailLogKey".to_string(),
                "492500005643_23492500005643-manual_5F1_23email".to_string()
            )
        );
        assert_eq!(tags[1].0, "claimToken");
        assert_eq!(ClaimTags::from_mail_tags(&as_mail_tags(&tags)), Some(claim));
    }

    #[test]
    fn a_message_without_our_tags_names_no_claim() {
        let mut tags = BTreeMap::new();
        tags.insert(
            "ses:configuration-set".to_string(),
            vec!["payment3-unpaid-order-dev".to_string()],
        );
        assert_eq!(ClaimTags::from_mail_tags(&tags), None);
        tags.insert("emailLogKey".into(), vec!["a_2".into()]);
        tags.insert("claimToken".into(), vec!["t".into()]);
        assert_eq!(ClaimTags::from_mail_tags(&tags), None, "a cut escape");
        tags.insert("emailLogKey".into(), vec!["a_61".into()]);
        assert_eq!(
            ClaimTags::from_mail_tags(&tags),
            None,
            "an escaped letter is not what escape writes"
        );
    }

    proptest! {
        #[test]
        fn any_key_round_trips_within_ses_limits(order in "\\PC{1,256}", attempt in "[!-~]{1,80}") {
            // An order id is at most 256 bytes (OrderId::parse).
            prop_assume!(order.len() <= 256);
            let claim = ClaimTags { email_id: format!("{order}#{attempt}#email"), token: uuid_like() };
            let tags = claim.to_tags();
            for (name, value) in &tags {
                prop_assert!(value.len() <= MAX_TAG_VALUE);
                prop_assert!(name.bytes().chain(value.bytes()).all(|b| allowed(b) || b == b'_'));
            }
            prop_assert_eq!(ClaimTags::from_mail_tags(&as_mail_tags(&tags)), Some(claim));
        }
    }

    fn uuid_like() -> String {
        "5d1f0c2e-0000-4000-8000-000000000000".to_string()
    }
}
