//! `fare bench --login-flood N`: N of the load workload's `flood` requests
//! (on the reference platform, a login with valid credentials: each one
//! users does not refuse costs it a password hash) kept in flight while a
//! second round of the bench's orders runs, each as one of a few users the
//! workload signed up, beside the first round's figures without the flood.
//! What the flood was answered is counted: as the request expects, 429
//! (refused by rate limits), anything else.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use serde::Serialize;
use tokio_util::sync::CancellationToken;

use super::BenchError;
use super::orders::{self, Chain};
use super::stats::Spread;
use crate::scenario::failure::Failure;
use crate::scenario::http;
use crate::workload::Client;

/// Users the flood's requests go as, round robin: the requests never fail,
/// so how many there are does not change what the platform's limits do.
const ACCOUNTS: usize = 8;

/// One round of orders, as the flood's figures compare them.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize)]
pub struct Round {
    /// Each order's request (the workload's `order.place`), request to answer.
    pub post_orders: Spread,
    /// Each order's chain, its request to its end.
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

/// What the flood's requests were answered.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct Answers {
    /// As the request expects (its `status`, or any 2xx).
    pub ok: u64,
    pub too_many: u64,
    /// Any other status.
    pub other: u64,
    /// No answer (a refused connection, a timeout).
    pub no_answer: u64,
}

impl Answers {
    pub fn total(&self) -> u64 {
        self.ok + self.too_many + self.other + self.no_answer
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
    /// `with` ÷ `without` for the order request p50 and p95, chain p50 and p95.
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
    ok: AtomicU64,
    too_many: AtomicU64,
    other: AtomicU64,
    no_answer: AtomicU64,
}

impl Tally {
    /// Counts one request's outcome: as expected, or its status, or none.
    fn count(&self, outcome: Result<(), Option<u16>>) {
        let counter = match outcome {
            Ok(()) => &self.ok,
            Err(Some(429)) => &self.too_many,
            Err(Some(_)) => &self.other,
            Err(None) => &self.no_answer,
        };
        counter.fetch_add(1, Ordering::Relaxed);
    }

    fn answers(&self) -> Answers {
        Answers {
            ok: self.ok.load(Ordering::Relaxed),
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
    /// Signs up the flood's users by the workload's `user` steps (not
    /// timed), then starts `requests` workers, each sending the workload's
    /// `flood` request again as soon as it is answered.
    /// Its users are numbered (`{{user}}`) from `first_user`, after those of the run.
    pub async fn start(client: &Client<'_>, requests: usize, first_user: usize) -> Result<LoginFlood, BenchError> {
        let flood = client.workload.file.flood.clone().ok_or(BenchError::NoFlood)?;
        let mut users = Vec::new();
        for i in 0..ACCOUNTS.min(requests) {
            users.push(client.sign_up("flood", first_user + i).await?.0);
        }
        let (stop, tally) = (CancellationToken::new(), Arc::new(Tally::default()));
        let mut workers = tokio::task::JoinSet::new();
        for i in 0..requests {
            let (target, stop, tally, flood) = (client.target.clone(), stop.clone(), tally.clone(), flood.clone());
            let user = users[i % users.len()].clone();
            workers.spawn(async move {
                loop {
                    // Afresh each time: what a request notes of its answer is not kept.
                    let mut vars = user.vars.clone();
                    let answer = tokio::select! {
                        _ = stop.cancelled() => return,
                        answer = http::ask(&target, &mut vars, &flood, &user.correlation_id) => answer,
                    };
                    tally.count(match answer {
                        Ok(_) => Ok(()),
                        Err(Failure::Status { status, .. }) => Err(Some(status)),
                        Err(_) => Err(None),
                    });
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
        for outcome in
            [Ok(()), Err(Some(429)), Ok(()), Err(Some(500)), Err(None), Err(Some(401)), Err(Some(429)), Err(Some(429))]
        {
            tally.count(outcome);
        }
        let answers = tally.answers();
        assert_eq!(answers, Answers { ok: 2, too_many: 3, other: 2, no_answer: 1 });
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
