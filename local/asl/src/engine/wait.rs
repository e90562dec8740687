//! Wait states: the target time and the sleep on the engine's clock.

use super::*;

impl Engine {
    pub(super) fn wait_target(&self, state: &State, env: &Env) -> Result<DateTime<Utc>, Failure> {
        let now = self.clock.now();
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

    pub(super) async fn sleep_until(&self, until: DateTime<Utc>) {
        let now = self.clock.now();
        if until > now {
            if let Ok(d) = (until - now).to_std() {
                self.clock.sleep(d).await;
            }
        }
    }
}
