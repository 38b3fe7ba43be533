//! Quiescence: the platform is quiet when every queue of the namespace
//! (dead-letter queues aside) holds nothing, waiting or in flight, and every
//! service reports nothing in hand (`/pending`), twice in a row. Scenarios
//! wait for this instead of sleeping.
//!
//! Quiet is told from stuck: when what is pending has not changed for
//! [`QuietOptions::stuck_after`], the wait ends at once with what is stuck,
//! rather than running out its timeout.

use std::fmt;
use std::time::{Duration, Instant};

use kit::bus::Bus;
use kit::probe::{Look, wait_until};
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone)]
pub struct QuietOptions {
    pub timeout: Duration,
    pub interval: Duration,
    /// Pending work that has not changed for this long is stuck.
    pub stuck_after: Duration,
    /// How long a message in flight (or delayed) may sit unchanged before
    /// it counts as stuck: a message a dead or hung consumer had taken
    /// comes back only when its visibility timeout runs out (30 s on the
    /// reference platform's queues).
    pub in_flight_grace: Duration,
}

impl Default for QuietOptions {
    fn default() -> Self {
        QuietOptions {
            timeout: Duration::from_secs(60),
            interval: Duration::from_millis(100),
            stuck_after: Duration::from_secs(10),
            in_flight_grace: Duration::from_secs(35),
        }
    }
}

/// One thing not yet done.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Pending {
    Queue {
        queue: String,
        waiting: u64,
        in_flight: u64,
        delayed: u64,
    },
    /// A service's own count of what it has in hand (`/pending`).
    InHand {
        service: String,
        handling: u64,
        outbox: u64,
        work: u64,
    },
    Unreachable {
        service: String,
        url: String,
    },
    /// A probe that could not be read: the emulator, or an odd answer.
    Unreadable {
        what: String,
        error: String,
    },
}

impl Pending {
    /// Whether this is about `service` or its queue `queue`.
    pub fn concerns(&self, service: &str, queue: &str) -> bool {
        match self {
            Pending::Queue { queue: q, .. } => q == queue,
            Pending::InHand { service: s, .. } | Pending::Unreachable { service: s, .. } => s == service,
            Pending::Unreadable { .. } => false,
        }
    }
}

impl fmt::Display for Pending {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Pending::Queue { queue, waiting, in_flight, delayed } => {
                write!(f, "queue {queue}: {waiting} waiting, {in_flight} in flight, {delayed} delayed")
            }
            Pending::InHand { service, handling, outbox, work } => {
                let parts: Vec<String> = [("handling", handling), ("outbox", outbox), ("work", work)]
                    .iter()
                    .filter(|(_, n)| **n > 0)
                    .map(|(k, n)| format!("{k} {n}"))
                    .collect();
                write!(f, "{service}: {}", parts.join(", "))
            }
            Pending::Unreachable { service, url } => write!(f, "{service}: not answering on {url}"),
            Pending::Unreadable { what, error } => write!(f, "{what}: {error}"),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, thiserror::Error, schemars::JsonSchema)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum NotQuiet {
    #[error("not quiet after {waited:?}; still pending:\n{}", lines(.pending))]
    Timeout {
        #[serde(with = "crate::millis")]
        #[schemars(with = "u64")]
        waited: Duration,
        pending: Vec<Pending>,
    },
    #[error("stuck: nothing changed for {unchanged:?} (after {waited:?}); pending:\n{}", lines(.pending))]
    Stuck {
        #[serde(with = "crate::millis")]
        #[schemars(with = "u64")]
        waited: Duration,
        #[serde(with = "crate::millis")]
        #[schemars(with = "u64")]
        unchanged: Duration,
        pending: Vec<Pending>,
    },
}

impl NotQuiet {
    pub fn pending(&self) -> &[Pending] {
        match self {
            NotQuiet::Timeout { pending, .. } | NotQuiet::Stuck { pending, .. } => pending,
        }
    }

    pub fn is_stuck(&self) -> bool {
        matches!(self, NotQuiet::Stuck { .. })
    }
}

fn lines(pending: &[Pending]) -> String {
    pending.iter().map(|p| format!("  {p}")).collect::<Vec<_>>().join("\n")
}

/// What successive looks at the platform say: quiet (nothing pending, twice
/// in a row), stuck (the same things pending for `stuck_after`), or neither yet.
#[derive(Debug)]
pub struct Settling {
    stuck_after: Duration,
    in_flight_grace: Duration,
    quiet_rounds: u32,
    last: Option<(Vec<Pending>, Instant)>,
}

/// One look's verdict.
#[derive(Debug, PartialEq)]
pub enum Settled {
    Quiet,
    Stuck { unchanged: Duration },
    Busy,
}

impl Settling {
    pub fn new(options: &QuietOptions) -> Settling {
        Settling {
            stuck_after: options.stuck_after,
            in_flight_grace: options.in_flight_grace.max(options.stuck_after),
            quiet_rounds: 0,
            last: None,
        }
    }

    /// Takes one look's `pending`.
    pub fn look(&mut self, pending: &[Pending]) -> Settled {
        if pending.is_empty() {
            self.last = None;
            self.quiet_rounds += 1;
            return if self.quiet_rounds >= 2 { Settled::Quiet } else { Settled::Busy };
        }
        self.quiet_rounds = 0;
        let since = match &self.last {
            Some((before, since)) if before == pending => *since,
            _ => Instant::now(),
        };
        self.last = Some((pending.to_vec(), since));
        let waiting_out_a_timeout =
            pending.iter().any(|p| matches!(p, Pending::Queue { in_flight, delayed, .. } if in_flight + delayed > 0));
        let patience = if waiting_out_a_timeout { self.in_flight_grace } else { self.stuck_after };
        if since.elapsed() >= patience { Settled::Stuck { unchanged: since.elapsed() } } else { Settled::Busy }
    }
}

/// Waits until the platform is quiet; returns how long that took. Lists
/// the namespace's queues first: a caller that waits often lists them once
/// and calls [`wait_quiet_on`].
pub async fn wait_quiet(
    bus: &Bus,
    services: &[(String, String)],
    options: &QuietOptions,
) -> Result<Duration, NotQuiet> {
    let started = Instant::now();
    match queues(bus).await {
        Ok(queues) => Ok(started.elapsed() + wait_quiet_on(bus, &queues, services, options).await?),
        Err(e) => {
            let pending = vec![Pending::Unreadable { what: "queues".into(), error: kit::error_chain(&e) }];
            Err(NotQuiet::Timeout { waited: started.elapsed(), pending })
        }
    }
}

/// Waits until `queues` and `services` are quiet; returns how long that took.
pub async fn wait_quiet_on(
    bus: &Bus,
    queues: &[(String, String)],
    services: &[(String, String)],
    options: &QuietOptions,
) -> Result<Duration, NotQuiet> {
    let http = reqwest::Client::builder().timeout(Duration::from_secs(2)).build().unwrap_or_default();
    let started = Instant::now();
    // Locked only between awaits: the lock is never held across one.
    let settling = std::sync::Mutex::new(Settling::new(options));
    let (http, settling) = (&http, &settling);
    let look = || async move {
        let pending = probe(bus, http, queues, services).await;
        let settled = settling.lock().unwrap_or_else(|p| p.into_inner()).look(&pending);
        match settled {
            Settled::Quiet => Ok(Look::Ready(started.elapsed())),
            Settled::Stuck { unchanged } => Err(NotQuiet::Stuck { waited: started.elapsed(), unchanged, pending }),
            Settled::Busy => Ok(Look::Pending(pending)),
        }
    };
    wait_until(started + options.timeout, options.interval, look)
        .await
        .map_err(|w| w.into_error(|waited, pending| NotQuiet::Timeout { waited, pending }))
}

/// The namespace's queues (dead-letter queues aside), as (name, URL).
pub async fn queues(bus: &Bus) -> Result<Vec<(String, String)>, crate::provision::ProvisionError> {
    let current = crate::provision::read_current(bus, &bus.namespace).await?;
    Ok(queues_of(&current))
}

/// The queues of `current` that hold work, as (name, URL).
pub fn queues_of(current: &crate::provision::Current) -> Vec<(String, String)> {
    current.queue_urls.iter().filter(|(n, _)| !n.ends_with("-dlq")).map(|(n, u)| (n.clone(), u.clone())).collect()
}

/// Everything not yet done in `queues` and `services`; empty when quiet.
/// Every queue and service is asked at once.
pub async fn probe(
    bus: &Bus,
    http: &reqwest::Client,
    queues: &[(String, String)],
    services: &[(String, String)],
) -> Vec<Pending> {
    let depths = futures_util::future::join_all(queues.iter().map(|(name, url)| async move {
        match bus.depth(url).await {
            Ok(d) if d.total() > 0 => Some(Pending::Queue {
                queue: name.clone(),
                waiting: d.waiting,
                in_flight: d.in_flight,
                delayed: d.delayed,
            }),
            Ok(_) => None,
            Err(e) => Some(Pending::Unreadable { what: format!("queue {name}"), error: kit::error_chain(&e) }),
        }
    }));
    let in_hand = futures_util::future::join_all(services.iter().map(|(name, url)| in_hand(http, name, url)));
    let (depths, in_hand) = tokio::join!(depths, in_hand);
    depths.into_iter().chain(in_hand).flatten().collect()
}

/// What `/pending` of one service says, when it is not idle.
async fn in_hand(http: &reqwest::Client, name: &str, url: &str) -> Option<Pending> {
    match http.get(format!("{url}/pending")).send().await {
        Ok(r) if r.status().is_success() => match r.json::<kit::probe::InHand>().await {
            Ok(p) if p.is_idle() => None,
            Ok(p) => {
                Some(Pending::InHand { service: name.to_owned(), handling: p.handling, outbox: p.outbox, work: p.work })
            }
            Err(e) => Some(Pending::Unreadable { what: format!("{name} /pending"), error: e.to_string() }),
        },
        // A service that keeps no such count is judged by its queue alone.
        Ok(r) if r.status() == reqwest::StatusCode::NOT_FOUND => None,
        Ok(r) => Some(Pending::Unreadable { what: format!("{name} /pending"), error: r.status().to_string() }),
        Err(_) => Some(Pending::Unreachable { service: name.to_owned(), url: url.to_owned() }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn options(stuck_ms: u64, grace_ms: u64) -> QuietOptions {
        QuietOptions {
            stuck_after: Duration::from_millis(stuck_ms),
            in_flight_grace: Duration::from_millis(grace_ms),
            ..QuietOptions::default()
        }
    }

    #[test]
    fn quiet_is_two_empty_looks_and_stuck_is_the_same_pending_for_too_long() {
        let mut s = Settling::new(&options(30, 10_000));
        assert_eq!(s.look(&[]), Settled::Busy);
        assert_eq!(s.look(&[]), Settled::Quiet);
        let work = [Pending::InHand { service: "tracking".into(), handling: 0, outbox: 0, work: 1 }];
        let mut s = Settling::new(&options(30, 10_000));
        assert_eq!(s.look(&work), Settled::Busy);
        std::thread::sleep(Duration::from_millis(40));
        assert!(matches!(s.look(&work), Settled::Stuck { .. }));
    }

    #[test]
    fn a_message_in_flight_gets_its_visibility_timeout_before_it_is_stuck() {
        let in_flight = [Pending::Queue { queue: "q".into(), waiting: 0, in_flight: 1, delayed: 0 }];
        let mut s = Settling::new(&options(30, 10_000));
        assert_eq!(s.look(&in_flight), Settled::Busy);
        std::thread::sleep(Duration::from_millis(40));
        assert_eq!(s.look(&in_flight), Settled::Busy, "still within the grace");
        let mut changed = Settling::new(&options(30, 10_000));
        changed.look(&in_flight);
        std::thread::sleep(Duration::from_millis(40));
        let waiting = [Pending::Queue { queue: "q".into(), waiting: 1, in_flight: 0, delayed: 0 }];
        assert_eq!(changed.look(&waiting), Settled::Busy, "a change restarts the clock");
    }
}
