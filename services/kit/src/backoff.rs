//! Waiting longer after each failure: a first delay that doubles with every
//! further attempt, up to a ceiling. The consumer's retries (as visibility
//! timeouts), its reconnects and the outbox relay's, the HTTP client's
//! retries and fare's restart policy all wait by this one rule.

use std::time::Duration;

use tokio_util::sync::CancellationToken;

/// The delay before each attempt of a run of attempts: `first` before the
/// first retry, doubled for each one after, never more than `ceiling`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Backoff {
    pub first: Duration,
    pub ceiling: Duration,
}

impl Backoff {
    pub const fn new(first: Duration, ceiling: Duration) -> Backoff {
        Backoff { first, ceiling }
    }

    /// The delay after failed attempt number `attempt` (1 for the first):
    /// `first`, then twice that, and so on up to `ceiling`. Never overflows.
    pub fn delay(&self, attempt: u32) -> Duration {
        // Past 2^20 times `first` every ceiling in use has long been reached.
        let doubled = self.first.saturating_mul(1u32 << attempt.saturating_sub(1).min(20));
        doubled.min(self.ceiling)
    }

    /// Sleeps [`Backoff::delay`] of `attempt`; `false` if `cancel` came first.
    pub async fn sleep(&self, attempt: u32, cancel: &CancellationToken) -> bool {
        tokio::select! {
            _ = tokio::time::sleep(self.delay(attempt)) => true,
            _ = cancel.cancelled() => false,
        }
    }

    /// A run of failures waited out by this backoff, from the first.
    pub fn failures(self) -> Failures {
        Failures { backoff: self, failed: 0 }
    }
}

/// Failures in a row, each waited out a little longer than the one
/// before; a success starts again from the first delay.
#[derive(Debug, Clone)]
pub struct Failures {
    backoff: Backoff,
    failed: u32,
}

impl Failures {
    /// It worked: the next failure waits the first delay again.
    pub fn reset(&mut self) {
        self.failed = 0;
    }

    /// Counts one more failure and sleeps its delay; `false` if `cancel`
    /// came first.
    pub async fn sleep(&mut self, cancel: &CancellationToken) -> bool {
        self.failed = self.failed.saturating_add(1);
        self.backoff.sleep(self.failed, cancel).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MS: fn(u64) -> Duration = Duration::from_millis;

    #[test]
    fn the_delay_doubles_from_the_first_up_to_the_ceiling() {
        let b = Backoff::new(MS(100), MS(1000));
        let delays: Vec<Duration> = (1..=6).map(|n| b.delay(n)).collect();
        assert_eq!(delays, [MS(100), MS(200), MS(400), MS(800), MS(1000), MS(1000)]);
        // Attempt 0 is taken as the first; a huge attempt stays at the ceiling.
        assert_eq!(b.delay(0), MS(100));
        assert_eq!(b.delay(u32::MAX), MS(1000));
        assert_eq!(Backoff::new(MS(100), Duration::MAX).delay(u32::MAX), MS(100 << 20));
        assert_eq!(Backoff::new(Duration::ZERO, MS(1000)).delay(5), Duration::ZERO);
    }

    #[tokio::test]
    async fn failures_count_up_a_reset_starts_again_and_a_cancel_ends_the_wait() {
        let cancel = CancellationToken::new();
        let mut failures = Backoff::new(MS(1), MS(2)).failures();
        for _ in 0..3 {
            assert!(failures.sleep(&cancel).await);
        }
        assert_eq!(failures.failed, 3);
        failures.reset();
        assert_eq!(failures.failed, 0);
        let hour = Duration::from_secs(3600);
        let mut long = Backoff::new(hour, hour).failures();
        cancel.cancel();
        assert!(!long.sleep(&cancel).await, "a cancelled wait does not sleep the hour");
    }
}
