//! Wait states: the target time in either query language, and the sleep on the engine's clock.

use super::*;
use crate::jsonata::QUERY_EVALUATION_ERROR;

/// A JSONPath Wait's target: `Seconds`, `Timestamp`, `SecondsPath` or `TimestampPath`.
pub(super) fn jsonpath_target(
    now: DateTime<Utc>,
    state: &State,
    env: &Env,
) -> Result<DateTime<Utc>, Failure> {
    let f = &state.jsonpath;
    if let Some(s) = state.literals.seconds {
        return Ok(now + chrono::Duration::seconds(s.max(0)));
    }
    if let Some(t) = state.literals.timestamp.as_deref() {
        return choice::parse_timestamp(t)
            .map(|t| t.with_timezone(&Utc))
            .ok_or_else(|| Failure::runtime(causes::timestamp_field_invalid(t)));
    }
    if let Some(p) = &f.seconds_path {
        let v = p.evaluate("SecondsPath", env)?;
        let shown = display_value(&v);
        return match v.as_i64().filter(|_| v.is_number()) {
            Some(s) if s < 0 => Err(Failure::runtime(causes::seconds_path_negative(
                p.text(),
                &shown,
            ))),
            Some(s) => Ok(now + chrono::Duration::seconds(s)),
            None => Err(Failure::runtime(causes::seconds_path_not_long(
                p.text(),
                &shown,
            ))),
        };
    }
    if let Some(p) = &f.timestamp_path {
        let v = p.evaluate("TimestampPath", env)?;
        let shown = display_value(&v);
        return v
            .as_str()
            .and_then(choice::parse_timestamp)
            .map(|t| t.with_timezone(&Utc))
            .ok_or_else(|| Failure::runtime(causes::timestamp_path_invalid(p.text(), &shown)));
    }
    Ok(now)
}

/// A JSONata Wait's target from its evaluated `Seconds` (else `Timestamp`); a value of the
/// wrong kind is a query evaluation error, as AWS reports it.
pub(super) fn jsonata_target(
    now: DateTime<Utc>,
    seconds: Option<Value>,
    timestamp: Option<Value>,
) -> Result<DateTime<Utc>, Failure> {
    if let Some(s) = seconds {
        return match integer_value(&s).filter(|_| s.is_number()) {
            Some(n) if n >= 0 => Ok(now + chrono::Duration::seconds(n)),
            _ => Err(Failure::new(
                QUERY_EVALUATION_ERROR,
                causes::seconds_field_invalid(&display_value(&s)),
            )),
        };
    }
    if let Some(t) = timestamp {
        let s = display_value(&t);
        return choice::parse_timestamp(&s)
            .map(|t| t.with_timezone(&Utc))
            .ok_or_else(|| {
                Failure::new(QUERY_EVALUATION_ERROR, causes::timestamp_field_invalid(&s))
            });
    }
    Ok(now)
}

impl Engine {
    pub(super) async fn sleep_until(&self, until: DateTime<Utc>) {
        let now = self.clock.now();
        if until > now {
            if let Ok(d) = (until - now).to_std() {
                self.clock.sleep(d).await;
            }
        }
    }
}
