//! Readiness as data: what a service says about itself on `/ready` and
//! `/pending`, as types shared by the services that answer and the harness
//! that reads, and [`wait_until`], the one loop that waits for any of it.

use std::collections::BTreeMap;
use std::fmt;
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};

/// What a service has in hand: messages being handled, events committed
/// but not yet published, and domain work still open (shipments being
/// tracked, say). All zeros means idle. `outbox_dead` counts events the
/// relay gave up on and moved aside: not in hand, but a person should look.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct InHand {
    pub handling: u64,
    pub outbox: u64,
    pub work: u64,
    #[serde(default)]
    pub outbox_dead: u64,
}

impl InHand {
    pub fn is_idle(&self) -> bool {
        self.handling + self.outbox + self.work == 0
    }
}

/// What `/ready` answers: each check's verdict (`ok`, or what is wrong),
/// ready when every one says `ok`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Ready {
    pub service: String,
    pub ready: bool,
    pub checks: BTreeMap<String, String>,
}

impl Ready {
    pub fn new(service: &str, checks: BTreeMap<String, String>) -> Ready {
        let ready = checks.values().all(|v| v == "ok");
        Ready { service: service.to_owned(), ready, checks }
    }
}

impl fmt::Display for Ready {
    /// The checks that fail, `queue: …`, or `ready`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let failing: Vec<String> =
            self.checks.iter().filter(|(_, v)| *v != "ok").map(|(k, v)| format!("{k}: {v}")).collect();
        if failing.is_empty() { f.write_str("ready") } else { f.write_str(&failing.join("; ")) }
    }
}

/// What one look at something awaited found: there, with what the wait is
/// for, or not yet, with what it still lacks (which a wait that runs out
/// reports).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Look<T, P> {
    Ready(T),
    Pending(P),
}

/// Why [`wait_until`] gave up.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Waited<P, E> {
    /// A look failed in a way more waiting cannot mend.
    Failed(E),
    /// The deadline passed; `pending` is what the last look lacked.
    TimedOut { waited: Duration, pending: P },
}

impl<P, E> Waited<P, E> {
    /// The error of a failed look as it is; a timeout made into one by `timed_out`.
    pub fn into_error(self, timed_out: impl FnOnce(Duration, P) -> E) -> E {
        match self {
            Waited::Failed(e) => e,
            Waited::TimedOut { waited, pending } => timed_out(waited, pending),
        }
    }
}

/// Looks with `probe` every `every` until it finds its thing ready, fails,
/// or `deadline` passes; then looks no more. The one way fare waits for
/// something to become true: readiness, an exit, a drained queue.
///
/// `probe` makes one look's future each time (not an `async` closure: the
/// futures those make cannot yet be proven `Send` for a spawned task).
pub async fn wait_until<T, P, E, F>(
    deadline: Instant,
    every: Duration,
    mut probe: impl FnMut() -> F,
) -> Result<T, Waited<P, E>>
where
    F: Future<Output = Result<Look<T, P>, E>>,
{
    let started = Instant::now();
    loop {
        match probe().await.map_err(Waited::Failed)? {
            Look::Ready(value) => return Ok(value),
            Look::Pending(pending) if Instant::now() >= deadline => {
                return Err(Waited::TimedOut { waited: started.elapsed(), pending });
            }
            Look::Pending(_) => tokio::time::sleep(every.min(deadline.saturating_duration_since(Instant::now()))).await,
        }
    }
}

/// [`wait_until`] for code that runs outside an async runtime (a `Drop`,
/// a thread of its own).
pub fn wait_until_blocking<T, P, E>(
    deadline: Instant,
    every: Duration,
    mut probe: impl FnMut() -> Result<Look<T, P>, E>,
) -> Result<T, Waited<P, E>> {
    let started = Instant::now();
    loop {
        match probe().map_err(Waited::Failed)? {
            Look::Ready(value) => return Ok(value),
            Look::Pending(pending) if Instant::now() >= deadline => {
                return Err(Waited::TimedOut { waited: started.elapsed(), pending });
            }
            Look::Pending(_) => std::thread::sleep(every.min(deadline.saturating_duration_since(Instant::now()))),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_wait_ends_when_ready_when_a_look_fails_or_at_its_deadline() {
        let every = Duration::from_millis(1);
        let mut looks = 0;
        let ready = wait_until(Instant::now() + Duration::from_secs(60), every, || {
            looks += 1;
            let look = if looks == 3 { Look::Ready(looks) } else { Look::Pending(looks) };
            std::future::ready(Ok::<_, ()>(look))
        })
        .await;
        assert_eq!(ready, Ok(3));
        let failed = wait_until(Instant::now() + Duration::from_secs(60), every, || {
            std::future::ready(Err::<Look<(), ()>, _>("gone"))
        })
        .await;
        assert_eq!(failed, Err(Waited::Failed("gone")));
        let mut looks = 0;
        let out = wait_until(Instant::now(), every, || {
            looks += 1;
            std::future::ready(Ok::<Look<(), _>, ()>(Look::Pending(looks)))
        })
        .await;
        assert!(matches!(out, Err(Waited::TimedOut { pending: 1, .. })), "{out:?}");
    }

    #[test]
    fn ready_is_every_check_ok_and_says_which_fail() {
        let checks = |q: &str| [("database".into(), "ok".into()), ("queue".into(), q.into())].into();
        assert!(Ready::new("store", checks("ok")).ready);
        let not = Ready::new("store", checks("no queue fare-store"));
        assert!(!not.ready);
        assert_eq!(not.to_string(), "queue: no queue fare-store");
    }
}
