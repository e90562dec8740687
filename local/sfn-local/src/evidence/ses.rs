//! SES's sending events for the emails the embedded mailer "sent", as SES publishes them through a
//! configuration set (Send at once, then Delivery, Bounce or Complaint as the mailbox simulator
//! does), and the `ses-events` fault classes that lose, delay, duplicate or reorder them.

use std::sync::Mutex;

use chrono::{DateTime, Duration, Utc};
use serde_json::Value;
use unpaid_order::evidence::publish::{self, AcceptedEmail, Origin};
use unpaid_order::evidence::SesEventKind;
use unpaid_order::memory::SentEmail;

use crate::error::RunnerError;
use crate::functions::{Fault, FaultTimes};

/// The fault switch's name for SES's events: `--fail ses-events=CLASS:N|always`.
pub const SES_EVENTS: &str = "ses-events";

/// How SES's events of the next emails go wrong (`--fail ses-events=CLASS:N|always`; each email
/// counts one against N).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SesEventsFault {
    /// `lost`: none of the email's events is ever published.
    Lost,
    /// `delayed`: every event arrives a minute after the confirmation window has ended.
    Delayed,
    /// `duplicated`: every event is delivered twice (the same EventBridge id).
    Duplicated,
    /// `out-of-order`: the Send event arrives after the others (Delivery before Send).
    OutOfOrder,
}

impl SesEventsFault {
    /// Every class, by its name in `--fail`.
    pub const ALL: [(&'static str, SesEventsFault); 4] = [
        ("lost", SesEventsFault::Lost),
        ("delayed", SesEventsFault::Delayed),
        ("duplicated", SesEventsFault::Duplicated),
        ("out-of-order", SesEventsFault::OutOfOrder),
    ];

    fn parse(class: &str) -> Option<SesEventsFault> {
        Self::ALL
            .iter()
            .find(|(name, _)| *name == class)
            .map(|(_, f)| *f)
    }
}

/// Whether `fault` is about SES's events (`ses-events=...`) rather than a function or a port.
pub fn is_ses_events_fault(fault: &Fault) -> bool {
    fault.function == SES_EVENTS
}

/// Checks a `ses-events` fault's class.
pub fn check_ses_events_fault(fault: &Fault) -> Result<(), RunnerError> {
    match SesEventsFault::parse(&fault.error_type) {
        Some(_) if !fault.crash_after => Ok(()),
        _ => Err(RunnerError::argument(
            format!("--fail {SES_EVENTS}={}", fault.error_type),
            format!(
                "expected {SES_EVENTS}=CLASS:N|always with CLASS one of {}",
                SesEventsFault::ALL.map(|(n, _)| n).join(", ")
            ),
        )),
    }
}

/// When each kind of event follows the Send, as the mailbox simulator answers within seconds.
const DELIVERED_AFTER: Duration = Duration::seconds(2);
const COMPLAINED_AFTER: Duration = Duration::seconds(4);
/// How far past the confirmation window a `delayed` event arrives.
const LATE_BY: Duration = Duration::seconds(60);

/// The SES stand-in's event publisher: the configuration set the emails name, the faults in force.
pub struct SesEvents {
    configuration_set: Option<String>,
    window: Duration,
    origin: Origin,
    faults: Mutex<Vec<(SesEventsFault, FaultTimes, u64)>>,
}

/// One event to publish: the EventBridge event and when it reaches the queue.
pub type Publication = (Value, DateTime<Utc>);

impl SesEvents {
    /// Events for emails sent through `configuration_set` (none without one, as SES), `window`
    /// being notify-failure's confirmation window (what `delayed` is late for).
    pub fn new(configuration_set: Option<String>, window: std::time::Duration) -> Self {
        SesEvents {
            configuration_set: configuration_set.filter(|s| !s.is_empty()),
            window: Duration::from_std(window).unwrap_or(Duration::seconds(900)),
            origin: Origin::default(),
            faults: Mutex::new(Vec::new()),
        }
    }

    /// Replaces the `ses-events` faults (their counts start again).
    pub fn set_faults(&self, faults: &[Fault]) {
        let parsed = faults
            .iter()
            .filter(|f| is_ses_events_fault(f))
            .filter_map(|f| Some((SesEventsFault::parse(&f.error_type)?, f.times, 0)))
            .collect();
        *self.faults.lock().unwrap_or_else(|p| p.into_inner()) = parsed;
    }

    /// The faults that hit the next email (each counts it).
    fn fire(&self) -> Vec<SesEventsFault> {
        let mut faults = self.faults.lock().unwrap_or_else(|p| p.into_inner());
        faults
            .iter_mut()
            .filter_map(|(fault, times, n)| {
                *n += 1;
                match times {
                    FaultTimes::Always => Some(*fault),
                    FaultTimes::Times(limit) if *n <= *limit => Some(*fault),
                    FaultTimes::Times(_) => None,
                }
            })
            .collect()
    }

    /// The events SES publishes for `email`, accepted at `sent_at`: the mailbox simulator's
    /// (`unpaid_order::evidence::publish::simulated_events`), with the faults in force applied.
    pub fn events_of(&self, email: &SentEmail, sent_at: DateTime<Utc>) -> Vec<Publication> {
        let Some(set) = &self.configuration_set else {
            return Vec::new();
        };
        let faults = self.fire();
        if faults.contains(&SesEventsFault::Lost) {
            tracing::warn!(messageId = %email.message_id, "ses-events=lost: SES's events of this email are never published");
            return Vec::new();
        }
        let accepted = AcceptedEmail {
            message_id: email.message_id.clone(),
            from: email.from.clone(),
            to: vec![email.to.clone()],
            subject: email.subject.clone(),
            tags: email.tags.clone(),
            configuration_set: Some(set.clone()),
            sent_at,
        };
        let mut timed: Vec<(SesEventKind, DateTime<Utc>)> = publish::simulated_events(&email.to)
            .into_iter()
            .map(|kind| {
                let after = match kind {
                    SesEventKind::Send => Duration::zero(),
                    SesEventKind::Complaint => COMPLAINED_AFTER,
                    _ => DELIVERED_AFTER,
                };
                (kind, sent_at + after)
            })
            .collect();
        if faults.contains(&SesEventsFault::OutOfOrder) {
            let last = timed.iter().map(|(_, at)| *at).max().unwrap_or(sent_at);
            for (kind, at) in &mut timed {
                *at = if *kind == SesEventKind::Send {
                    last + Duration::seconds(1)
                } else {
                    *at - DELIVERED_AFTER + Duration::milliseconds(1)
                };
            }
        }
        if faults.contains(&SesEventsFault::Delayed) {
            for (_, at) in &mut timed {
                *at += self.window + LATE_BY;
            }
        }
        let copies = if faults.contains(&SesEventsFault::Duplicated) {
            2
        } else {
            1
        };
        let mut out = Vec::new();
        for (kind, at) in timed {
            // One id per (message, kind): a redelivered or duplicated event repeats it.
            let id = uuid::Uuid::new_v5(
                &uuid::Uuid::NAMESPACE_OID,
                format!("ses:{}:{}", email.message_id, kind.as_str()).as_bytes(),
            )
            .to_string();
            let event = publish::ses_event(kind, &accepted, &id, at, &self.origin);
            for copy in 0..copies {
                out.push((event.clone(), at + Duration::seconds(copy)));
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use unpaid_order::evidence::AwsEvent;

    fn email(to: &str) -> SentEmail {
        SentEmail {
            message_id: "m-1".into(),
            from: "payments@example.com".into(),
            to: to.into(),
            subject: "s".into(),
            text: String::new(),
            html: String::new(),
            tags: vec![
                ("emailLogKey".into(), "1_23a_23email".into()),
                ("claimToken".into(), "t".into()),
            ],
        }
    }

    fn kinds(events: &[Publication]) -> Vec<(String, i64)> {
        events
            .iter()
            .map(|(e, at)| {
                let AwsEvent::Ses(s) = AwsEvent::parse(&e.to_string()).unwrap() else {
                    panic!("{e}")
                };
                (s.kind.as_str().to_string(), at.timestamp() - 1_800_000_000)
            })
            .collect()
    }

    fn at0() -> DateTime<Utc> {
        DateTime::from_timestamp(1_800_000_000, 0).unwrap_or_default()
    }

    #[test]
    fn the_simulator_addresses_and_the_fault_classes() {
        let ses = SesEvents::new(Some("set".into()), std::time::Duration::from_secs(900));
        let s = |v: &[(&str, i64)]| {
            v.iter()
                .map(|(k, t)| (k.to_string(), *t))
                .collect::<Vec<_>>()
        };
        assert_eq!(
            kinds(&ses.events_of(&email("jane@example.com"), at0())),
            s(&[("Send", 0), ("Delivery", 2)])
        );
        assert_eq!(
            kinds(&ses.events_of(&email("bounce@simulator.amazonses.com"), at0())),
            s(&[("Send", 0), ("Bounce", 2)])
        );
        assert_eq!(
            kinds(&ses.events_of(&email("complaint@simulator.amazonses.com"), at0())),
            s(&[("Send", 0), ("Delivery", 2), ("Complaint", 4)])
        );
        let fault = |spec: &str| -> Fault { spec.parse().unwrap() };
        ses.set_faults(&[fault("ses-events=lost:1")]);
        assert!(ses.events_of(&email("a@example.com"), at0()).is_empty());
        assert_eq!(
            ses.events_of(&email("a@example.com"), at0()).len(),
            2,
            "only the next one"
        );
        ses.set_faults(&[fault("ses-events=delayed:1")]);
        assert_eq!(
            kinds(&ses.events_of(&email("a@example.com"), at0())),
            s(&[("Send", 960), ("Delivery", 962)])
        );
        ses.set_faults(&[fault("ses-events=out-of-order:always")]);
        assert_eq!(
            kinds(&ses.events_of(&email("a@example.com"), at0())),
            s(&[("Send", 3), ("Delivery", 0)])
        );
        ses.set_faults(&[fault("ses-events=duplicated:always")]);
        let twice = ses.events_of(&email("a@example.com"), at0());
        assert_eq!(
            kinds(&twice),
            s(&[("Send", 0), ("Send", 1), ("Delivery", 2), ("Delivery", 3)])
        );
        assert_eq!(
            twice[0].0["id"], twice[1].0["id"],
            "a duplicate repeats the event id"
        );
        assert_ne!(twice[0].0["id"], twice[2].0["id"]);
        // No configuration set: SES publishes nothing.
        let none = SesEvents::new(None, std::time::Duration::from_secs(900));
        assert!(none.events_of(&email("a@example.com"), at0()).is_empty());
        assert!(check_ses_events_fault(&fault("ses-events=sometimes:1")).is_err());
    }
}
