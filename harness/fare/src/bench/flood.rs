//! `fare bench --login-flood N`: N logins kept in flight against users
//! while a second round of the bench's orders runs, each with valid
//! credentials of an account the bench signed up (so each that users does
//! not refuse costs it a password hash), beside the first round's figures
//! without the flood. What users answered is counted: 201 (a session),
//! 429 (refused by its rate limits before any hash), anything else.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use serde::Serialize;
use serde_json::json;
use tokio_util::sync::CancellationToken;

use super::BenchError;
use super::orders::{self, Chain};
use super::stats::Spread;

/// Accounts the flood logs in to, round robin: its logins never fail, so
/// how many there are does not change what users' limits do.
const ACCOUNTS: usize = 8;

/// One round of orders, as the flood's figures compare them.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize)]
pub struct Round {
    /// Each `POST /orders`, request to answer.
    pub post_orders: Spread,
    /// Each order's chain, `POST /orders` to its end.
    pub chain: Spread,
    pub orders_per_second: f64,
}

impl Round {
    pub fn of(post_orders_ms: &[f64], chains: &[Chain]) -> Round {
        let chain: Vec<f64> = chains.iter().map(Chain::millis).collect();
        Round {
            post_orders: Spread::of(post_orders_ms),
            chain: Spread::of(&chain),
            orders_per_second: orders::throughput(chains),
        }
    }
}

/// What users answered the flood's logins.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct Answers {
    pub created: u64,
    pub too_many: u64,
    /// Any other status.
    pub other: u64,
    /// No answer (a refused connection, a timeout).
    pub no_answer: u64,
}

impl Answers {
    pub fn total(&self) -> u64 {
        self.created + self.too_many + self.other + self.no_answer
    }
}

/// The flood's figures: the orders without it and with it, and the logins.
#[derive(Debug, Clone, Serialize)]
pub struct Flood {
    /// Logins kept in flight at once.
    pub logins: usize,
    pub without: Round,
    pub with: Round,
    pub answers: Answers,
    /// How long the flood ran (the second round of orders), in seconds.
    pub seconds: f64,
}

impl Flood {
    /// `with` ÷ `without` for POST /orders p50 and p95, chain p50 and p95.
    pub fn ratios(&self) -> [f64; 4] {
        let (w, o) = (&self.with, &self.without);
        let ratio = |a: f64, b: f64| if b > 0.0 { a / b } else { f64::NAN };
        [
            ratio(w.post_orders.p50, o.post_orders.p50),
            ratio(w.post_orders.p95, o.post_orders.p95),
            ratio(w.chain.p50, o.chain.p50),
            ratio(w.chain.p95, o.chain.p95),
        ]
    }
}

/// The counts of a running flood, shared by its workers.
#[derive(Debug, Default)]
struct Tally {
    created: AtomicU64,
    too_many: AtomicU64,
    other: AtomicU64,
    no_answer: AtomicU64,
}

impl Tally {
    /// Counts one login's outcome: its status, or none.
    fn count(&self, status: Option<u16>) {
        let counter = match status {
            Some(201) => &self.created,
            Some(429) => &self.too_many,
            Some(_) => &self.other,
            None => &self.no_answer,
        };
        counter.fetch_add(1, Ordering::Relaxed);
    }

    fn answers(&self) -> Answers {
        Answers {
            created: self.created.load(Ordering::Relaxed),
            too_many: self.too_many.load(Ordering::Relaxed),
            other: self.other.load(Ordering::Relaxed),
            no_answer: self.no_answer.load(Ordering::Relaxed),
        }
    }
}

/// A flood in progress: `stop` ends it and says what users answered.
pub struct LoginFlood {
    stop: CancellationToken,
    workers: tokio::task::JoinSet<()>,
    tally: Arc<Tally>,
}

impl LoginFlood {
    /// Signs up the flood's accounts at `users` (not timed), then starts
    /// `logins` workers, each logging in again as soon as it is answered.
    pub async fn start(users: &str, run: &str, logins: usize) -> Result<LoginFlood, BenchError> {
        let http = reqwest::Client::builder().timeout(Duration::from_secs(30)).build().unwrap_or_default();
        let password = "correct horse battery staple";
        let mut accounts = Vec::new();
        for i in 0..ACCOUNTS.min(logins) {
            let email = format!("flood-{run}-{i}@example.com");
            let body = json!({"email": email, "password": password, "name": "Flood"});
            let resp = http
                .post(format!("{users}/users"))
                .json(&body)
                .send()
                .await
                .map_err(BenchError::request("POST /users (the flood's accounts)"))?;
            super::orders::check(resp.status(), "POST /users (the flood's accounts)")?;
            accounts.push(json!({"email": email, "password": password}));
        }
        let (stop, tally) = (CancellationToken::new(), Arc::new(Tally::default()));
        let mut workers = tokio::task::JoinSet::new();
        for i in 0..logins {
            let (http, stop, tally) = (http.clone(), stop.clone(), tally.clone());
            let (url, body) = (format!("{users}/sessions"), accounts[i % accounts.len()].clone());
            workers.spawn(async move {
                loop {
                    let answer = tokio::select! {
                        _ = stop.cancelled() => return,
                        answer = http.post(&url).json(&body).send() => answer,
                    };
                    tally.count(answer.ok().map(|r| r.status().as_u16()));
                }
            });
        }
        Ok(LoginFlood { stop, workers, tally })
    }

    /// Ends the flood (logins in flight are dropped, not counted).
    pub async fn stop(mut self) -> Answers {
        self.stop.cancel();
        while self.workers.join_next().await.is_some() {}
        self.tally.answers()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_login_is_counted_by_what_users_answered() {
        let tally = Tally::default();
        for status in [Some(201), Some(429), Some(201), Some(500), None, Some(401), Some(429), Some(429)] {
            tally.count(status);
        }
        let answers = tally.answers();
        assert_eq!(answers, Answers { created: 2, too_many: 3, other: 2, no_answer: 1 });
        assert_eq!(answers.total(), 8);
    }

    #[test]
    fn ratios_are_with_the_flood_over_without() {
        let chain = |ms: u64| Chain { correlation_id: String::new(), started: 0, ended: ms * 1_000_000 };
        let without = Round::of(&[10.0, 20.0], &[chain(100), chain(200)]);
        let with = Round::of(&[30.0, 80.0], &[chain(150), chain(600)]);
        assert_eq!((without.post_orders.p50, without.chain.p95), (10.0, 200.0));
        let flood = Flood { logins: 4, without, with, answers: Answers::default(), seconds: 1.0 };
        assert_eq!(flood.ratios(), [3.0, 4.0, 1.5, 3.0]);
        let none = Flood { without: Round::default(), ..flood };
        assert!(none.ratios()[0].is_nan(), "no figure without the flood: no ratio");
    }
}
