//! The invocation's deadline (Lambda's `Context.deadline`, or the offline runner's function
//! `Timeout`), set for the duration of one invocation so every AWS call can be bounded by it.

use std::future::Future;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use tokio::time::Instant;

/// The instant an invocation is cut off. On tokio's clock, so a paused test clock moves it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Deadline(Instant);

impl Deadline {
    /// `timeout` from now.
    pub fn after(timeout: Duration) -> Deadline {
        Deadline(Instant::now() + timeout)
    }

    /// Lambda's deadline: milliseconds since the Unix epoch (`lambda_runtime::Context::deadline`).
    pub fn from_epoch_millis(deadline_ms: u64) -> Deadline {
        let now_ms = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_millis() as u64)
            .unwrap_or(0);
        Deadline::after(Duration::from_millis(deadline_ms.saturating_sub(now_ms)))
    }

    /// Time left (zero once passed).
    pub fn remaining(&self) -> Duration {
        self.0.saturating_duration_since(Instant::now())
    }
}

tokio::task_local! {
    static CURRENT: Deadline;
}

/// Runs `work` with `deadline` as the current invocation's deadline.
pub async fn scope<F: Future>(deadline: Deadline, work: F) -> F::Output {
    CURRENT.scope(deadline, work).await
}

/// Time left in the current invocation; `None` outside [`scope`] (no deadline known).
pub fn remaining() -> Option<Duration> {
    CURRENT.try_with(Deadline::remaining).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn remaining_follows_the_clock_inside_the_scope_only() {
        assert_eq!(remaining(), None);
        scope(Deadline::after(Duration::from_secs(10)), async {
            assert_eq!(remaining(), Some(Duration::from_secs(10)));
            tokio::time::advance(Duration::from_secs(4)).await;
            assert_eq!(remaining(), Some(Duration::from_secs(6)));
            tokio::time::advance(Duration::from_secs(7)).await;
            assert_eq!(remaining(), Some(Duration::ZERO));
        })
        .await;
    }

    #[test]
    fn epoch_deadline_in_the_past_is_zero() {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_time()
            .build()
            .unwrap();
        rt.block_on(async {
            assert_eq!(Deadline::from_epoch_millis(1).remaining(), Duration::ZERO);
            let soon = SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .unwrap()
                .as_millis() as u64
                + 60_000;
            let left = Deadline::from_epoch_millis(soon).remaining();
            assert!(left > Duration::from_secs(50) && left <= Duration::from_secs(60));
        });
    }
}
