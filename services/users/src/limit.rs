//! Login rate limits: failed logins per account, and login attempts per
//! client address, each counted over a fixed window. Over either limit a
//! login is answered 429 with `Retry-After` before any password is hashed,
//! so a flood costs users a map lookup, not an argon2 hash each.
//!
//! The counts live in memory: a restart forgets them, and two users
//! processes would count apart. Enough for one process; a fleet would keep
//! them where every instance sees them.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Limits, from `LOGIN_FAILURES_PER_ACCOUNT`, `LOGINS_PER_CLIENT` and
/// `LOGIN_WINDOW_SECONDS`.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    pub failures_per_account: u32,
    pub attempts_per_client: u32,
    pub window: Duration,
}

/// Counts per key within the current window of each.
#[derive(Debug, Default)]
struct Windows(HashMap<String, (Instant, u32)>);

impl Windows {
    /// The count of `key` in its window, the window restarted if it ran out.
    fn current(&mut self, key: &str, window: Duration, now: Instant) -> &mut (Instant, u32) {
        // Old windows go when the map grows, so it stays bounded by the
        // keys seen in one window.
        if self.0.len() > 10_000 {
            self.0.retain(|_, (start, _)| now.duration_since(*start) < window);
        }
        let entry = self.0.entry(key.to_owned()).or_insert((now, 0));
        if now.duration_since(entry.0) >= window {
            *entry = (now, 0);
        }
        entry
    }
}

#[derive(Debug)]
pub struct Limiter {
    limits: Limits,
    accounts: Mutex<Windows>,
    clients: Mutex<Windows>,
}

impl Limiter {
    pub fn new(limits: Limits) -> Limiter {
        Limiter { limits, accounts: Mutex::default(), clients: Mutex::default() }
    }

    /// Counts an attempt by `client` at `account`: `Err(retry_after)` when
    /// either is over its limit.
    pub fn attempt(&self, account: &str, client: &str) -> Result<(), Duration> {
        let now = Instant::now();
        let window = self.limits.window;
        let wait = |start: Instant| window.saturating_sub(now.duration_since(start)).max(Duration::from_secs(1));
        {
            let mut accounts = self.accounts.lock().unwrap_or_else(|p| p.into_inner());
            let (start, failures) = *accounts.current(account, window, now);
            if failures >= self.limits.failures_per_account {
                return Err(wait(start));
            }
        }
        let mut clients = self.clients.lock().unwrap_or_else(|p| p.into_inner());
        let entry = clients.current(client, window, now);
        if entry.1 >= self.limits.attempts_per_client {
            return Err(wait(entry.0));
        }
        entry.1 += 1;
        Ok(())
    }

    /// Counts a failed login at `account`.
    pub fn failed(&self, account: &str) {
        let mut accounts = self.accounts.lock().unwrap_or_else(|p| p.into_inner());
        accounts.current(account, self.limits.window, Instant::now()).1 += 1;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_account_is_held_after_its_failures_and_a_client_after_its_attempts() {
        let limits = Limits { failures_per_account: 2, attempts_per_client: 4, window: Duration::from_secs(60) };
        let limiter = Limiter::new(limits);
        for _ in 0..2 {
            limiter.attempt("ada", "1.2.3.4").unwrap();
            limiter.failed("ada");
        }
        let wait = limiter.attempt("ada", "5.6.7.8").unwrap_err();
        assert!(wait > Duration::from_secs(58) && wait <= Duration::from_secs(60), "{wait:?}");
        limiter.attempt("grace", "1.2.3.4").unwrap();
        limiter.attempt("grace", "1.2.3.4").unwrap();
        assert!(limiter.attempt("linus", "1.2.3.4").is_err(), "the client used its 4 attempts");
        assert!(limiter.attempt("linus", "9.9.9.9").is_ok(), "another client is not held");
    }
}
