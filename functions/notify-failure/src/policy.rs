//! What notify-failure does about a send whose outcome is unknown, per channel: SNS is sent
//! again at once (at least once, one dedupe id); the email waits for SES's evidence for a
//! confirmation window, then is sent again under a new claim (`resend`) or left to a person (`page`).

use std::time::Duration;

use unpaid_order::ConfigError;

/// `EMAIL_CONFIRMATION_WINDOW_SECONDS`: how long an email handed to SES may wait for an SES event
/// of its claim before notify-failure concludes SES did not accept it (default 900).
pub const WINDOW_VAR: &str = "EMAIL_CONFIRMATION_WINDOW_SECONDS";
/// `AMBIGUOUS_EMAIL_POLICY`: `resend` (default) or `page`.
pub const POLICY_VAR: &str = "AMBIGUOUS_EMAIL_POLICY";

/// What to do when the window passes with no SES event for the claim.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NoEvidence {
    /// Supersede the claim and send again (`AmbiguousSendsResent`). The one residual risk: SES
    /// accepted it and AWS lost every event of it, and the customer gets two emails.
    Resend,
    /// Fail the execution with `NotificationUnconfirmed` for an operator (the old behaviour).
    Page,
}

/// The email channel's evidence policy.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EvidencePolicy {
    /// How long to wait for an SES event after the send.
    pub window: Duration,
    /// What to do after it.
    pub on_no_evidence: NoEvidence,
}

/// The shortest and longest wait between two checks of the email log.
const FIRST_CHECK: Duration = Duration::from_secs(15);
const LONGEST_WAIT: Duration = Duration::from_secs(300);
/// Bounds of the window: under a minute an SES event in normal transit would be missed; over an
/// hour the per-order execution's timeout (7,200 s) could cut the wait short.
const MIN_WINDOW: u64 = 60;
const MAX_WINDOW: u64 = 3600;

impl Default for EvidencePolicy {
    fn default() -> Self {
        EvidencePolicy {
            window: Duration::from_secs(900),
            on_no_evidence: NoEvidence::Resend,
        }
    }
}

impl EvidencePolicy {
    /// From the process environment (defaults when unset).
    pub fn from_env() -> Result<EvidencePolicy, ConfigError> {
        EvidencePolicy::from_lookup(|name| std::env::var(name).ok())
    }

    /// From `lookup` (variable name -> value); unset or empty variables take the defaults.
    pub fn from_lookup(
        lookup: impl Fn(&str) -> Option<String>,
    ) -> Result<EvidencePolicy, ConfigError> {
        let get = |name| {
            lookup(name)
                .map(|v| v.trim().to_string())
                .filter(|v| !v.is_empty())
        };
        let mut policy = EvidencePolicy::default();
        if let Some(w) = get(WINDOW_VAR) {
            let secs: u64 = w.parse().map_err(|_| {
                ConfigError::Invalid(WINDOW_VAR, format!("`{w}` is not a number of seconds"))
            })?;
            if !(MIN_WINDOW..=MAX_WINDOW).contains(&secs) {
                return Err(ConfigError::Invalid(
                    WINDOW_VAR,
                    format!("{secs} is outside {MIN_WINDOW}..={MAX_WINDOW} seconds"),
                ));
            }
            policy.window = Duration::from_secs(secs);
        }
        if let Some(p) = get(POLICY_VAR) {
            policy.on_no_evidence = match p.as_str() {
                "resend" => NoEvidence::Resend,
                "page" => NoEvidence::Page,
                other => {
                    return Err(ConfigError::Invalid(
                        POLICY_VAR,
                        format!("`{other}` is not `resend` or `page`"),
                    ))
                }
            };
        }
        Ok(policy)
    }

    /// When to look again, `elapsed` after the send: as long again as has passed (at least
    /// 15 s, at most 5 min), never past the window's end. `None`: the window is over.
    pub fn next_check(&self, elapsed: Duration) -> Option<Duration> {
        let left = self.window.checked_sub(elapsed).filter(|l| !l.is_zero())?;
        Some(elapsed.clamp(FIRST_CHECK, LONGEST_WAIT).min(left))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lookup(vars: &'static [(&'static str, &'static str)]) -> impl Fn(&str) -> Option<String> {
        move |name| {
            vars.iter()
                .find(|(k, _)| *k == name)
                .map(|(_, v)| v.to_string())
        }
    }

    #[test]
    fn defaults_and_bad_values() {
        assert_eq!(
            EvidencePolicy::from_lookup(lookup(&[])).unwrap(),
            EvidencePolicy::default()
        );
        let p = EvidencePolicy::from_lookup(lookup(&[(WINDOW_VAR, "120"), (POLICY_VAR, "page")]))
            .unwrap();
        assert_eq!(p.window, Duration::from_secs(120));
        assert_eq!(p.on_no_evidence, NoEvidence::Page);
        for bad in [
            &[(WINDOW_VAR, "soon")][..],
            &[(WINDOW_VAR, "10")],
            &[(POLICY_VAR, "guess")],
        ] {
            let vars: &'static [(&'static str, &'static str)] = bad;
            let err = EvidencePolicy::from_lookup(lookup(vars)).unwrap_err();
            assert!(err.to_string().contains("is invalid"), "{err}");
        }
    }

    #[test]
    fn checks_grow_and_end_with_the_window() {
        let policy = EvidencePolicy::default();
        let mut elapsed = Duration::ZERO;
        let mut waits = Vec::new();
        while let Some(wait) = policy.next_check(elapsed) {
            waits.push(wait.as_secs());
            elapsed += wait;
        }
        assert_eq!(waits, [15, 15, 30, 60, 120, 240, 300, 120]);
        assert_eq!(elapsed, policy.window);
    }
}
