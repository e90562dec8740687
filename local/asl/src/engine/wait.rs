//! Wait states: the target time and the sleep on the engine's clock.

use super::*;

impl Engine {
    pub(super) fn wait_target(&self, state: &State, env: &Env) -> Result<DateTime<Utc>, Failure> {
        let now = self.clock.now();
        if let Some(s) = state.field("Seconds").and_then(Value::as_i64) {
            return Ok(now + chrono::Duration::seconds(s.max(0)));
        }
        if let Some(t) = state.str_field("Timestamp") {
            return choice::parse_timestamp(t)
                .map(|t| t.with_timezone(&Utc))
                .ok_or_else(|| Failure::runtime(format!("The Timestamp parameter does not reference a valid ISO-8601 extended offset date-time format string: {t}")));
        }
        if let Some(p) = state.str_field("SecondsPath") {
            let v = eval_expr(p, "SecondsPath", env)?;
            let shown = display_value(&v);
            return match &v {
                Value::Number(n) if n.as_i64().is_some() => {
                    let s = n.as_i64().unwrap_or(0);
                    if s < 0 {
                        Err(Failure::runtime(format!(
                            "The SecondsPath parameter references a negative value: {p} == {shown}"
                        )))
                    } else {
                        Ok(now + chrono::Duration::seconds(s))
                    }
                }
                _ => Err(Failure::runtime(format!(
                    "The SecondsPath parameter cannot be parsed as a long value: {p} == {shown}"
                ))),
            };
        }
        if let Some(p) = state.str_field("TimestampPath") {
            let v = eval_expr(p, "TimestampPath", env)?;
            let shown = display_value(&v);
            return v
                .as_str()
                .and_then(choice::parse_timestamp)
                .map(|t| t.with_timezone(&Utc))
                .ok_or_else(|| {
                    Failure::runtime(format!(
                        "The TimestampPath parameter does not reference a valid ISO-8601 extended offset date-time format string: {p} == {shown}"
                    ))
                });
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
