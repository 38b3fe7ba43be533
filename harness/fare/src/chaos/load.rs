//! `fare chaos --load N`: N orders in flight, placed as the platform's
//! load workload says (`scenarios/chaos/load.yaml`), while services are
//! SIGKILLed at random points and brought back by the supervisor, several
//! times; then, once the platform has drained, the workload's ledger of
//! effects read from the services' own APIs must show each effect exactly
//! once: none lost, none doubled.
//!
//! The orders are placed as a careful client would: an order whose request
//! died with its service is looked up in the user's orders (the workload's
//! `order.list`) once the service is back, and placed again only if it is
//! not there, so the ledger counts what the platform accepted, each once.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use rand::Rng;
use serde::Serialize;
use tokio::sync::Mutex;

use crate::replay::{Choice, Seed};
use crate::runtime::{Platform, SupervisorEvent, supervising};
use crate::scenario::{ScenarioError, Target};
use crate::workload::{self, Client, Ledger, Order, StepError, User, Workload};

/// What `fare chaos --load` does.
#[derive(Debug, Clone)]
pub struct LoadOptions {
    pub orders: usize,
    /// SIGKILLs, each of a service picked at random, at a random point while orders are placed.
    pub kills: usize,
    /// Users placing the orders side by side, each one order at a time.
    pub users: usize,
    /// Seeds the random points and services, to replay a run.
    pub seed: Seed,
}

/// One SIGKILL of the plan a seed makes: which service, once the load has
/// come how far (orders placed, then orders done, each counted once).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, schemars::JsonSchema)]
pub struct PlannedKill {
    pub service: String,
    pub point: usize,
}

/// The kills of a load whose progress runs to `end` on `services`, from
/// `seed`: `kills` points from a tenth to nine tenths of the way, in
/// order, each of a service picked at random. The same seed plans the
/// same kills.
pub fn plan(seed: Seed, services: &[String], end: usize, kills: usize) -> Vec<PlannedKill> {
    if services.is_empty() {
        return Vec::new();
    }
    let mut rng = seed.rng();
    let (low, high) = (end / 10, (end * 9 / 10).max(end / 10 + 1));
    let mut points: Vec<usize> = (0..kills).map(|_| rng.random_range(low..high)).collect();
    points.sort_unstable();
    points
        .into_iter()
        .map(|point| PlannedKill { service: services[rng.random_range(0..services.len())].clone(), point })
        .collect()
}

/// How far a load of `orders` orders comes: each order placed, then each
/// order done when the workload says how to see it (`order.done`).
pub fn progress_end(workload: &Workload, orders: usize) -> usize {
    if workload.file.order.done.is_some() { 2 * orders } else { orders }
}

/// One SIGKILL and what followed.
#[derive(Debug, Clone, Serialize, schemars::JsonSchema)]
pub struct Kill {
    pub service: String,
    /// How far the load was to come before it (orders placed plus done).
    pub point: usize,
    pub pid: u32,
    /// Orders placed when it happened.
    pub after_orders: usize,
    /// Orders done (at their chain's end, by the workload's `order.done`) when it happened.
    pub done: usize,
    pub at_ms: u128,
    /// How long until it answered again; `None`: it did not come back.
    pub back_after_ms: Option<u128>,
}

/// An order the platform accepted.
#[derive(Debug, Clone, Serialize, schemars::JsonSchema)]
pub struct Placed {
    pub order_id: String,
    /// The chain its user signed up in.
    pub user: String,
}

/// What a load run found.
#[derive(Debug, Clone, Serialize, schemars::JsonSchema)]
pub struct LoadReport {
    pub asked: usize,
    /// Where the load's progress ends: orders placed, plus orders done
    /// when the workload says how to see it.
    pub end: usize,
    pub seed: Seed,
    /// The kills the seed planned.
    pub plan: Vec<PlannedKill>,
    /// The orders the platform accepted.
    pub placed: Vec<Placed>,
    /// Orders that could not be placed, and why.
    pub refused: Vec<String>,
    /// Requests that died with their service and were found placed (not placed again).
    pub reconciled: usize,
    pub kills: Vec<Kill>,
    pub ledger: Ledger,
    pub placing_ms: u128,
    /// From the last order placed until the platform was quiet.
    pub drain_ms: u128,
    /// What was still pending if the platform never went quiet.
    pub not_drained: Option<String>,
    /// Where this run, a replay of a recorded one, first came out otherwise.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub diverged: Option<crate::replay::Divergence>,
}

impl LoadReport {
    /// Every order accepted and every effect exactly once.
    pub fn held(&self) -> bool {
        self.refused.is_empty() && self.not_drained.is_none() && self.ledger.holds()
    }

    /// What the run chose and where each kill struck: what a replay with
    /// its seed must come out the same on.
    pub fn choices(&self) -> Vec<Choice> {
        let end = self.end;
        let planned = self.plan.iter().enumerate().map(|(n, k)| {
            Choice::new(format!("kill {}", n + 1), format!("{} once the load is {} of {end} along", k.service, k.point))
        });
        // Where it struck, not what else had happened by then: orders in
        // flight side by side reach the same point in another order each run.
        let struck = self.kills.iter().enumerate().map(|(n, k)| {
            let back = if k.back_after_ms.is_some() { "came back" } else { "stayed down" };
            let what = format!("{} once the load was {} of {end} along; it {back}", k.service, k.point);
            Choice::new(format!("kill {} struck", n + 1), what)
        });
        planned.chain(struck).collect()
    }
}

#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    #[error(transparent)]
    Workload(#[from] ScenarioError),
    #[error("signing up the load's users: {0}")]
    SignUp(#[source] StepError),
}

/// How many times an order is tried before it counts as refused.
const ATTEMPTS: usize = 6;
/// How long a client waits for the user's orders to be listed again.
const LIST_BACK: Duration = Duration::from_secs(60);

/// Runs `workload`'s load on `platform` (which `target` reaches),
/// supervised, and reads its ledger once it has drained.
pub async fn run(
    target: &Target,
    platform: &mut Platform,
    workload: &Workload,
    options: &LoadOptions,
    say: &(dyn Fn(&str) + Sync),
) -> Result<LoadReport, LoadError> {
    workload.fits(&target.topology)?;
    let run = uuid::Uuid::new_v4().simple().to_string()[..8].to_owned();
    let client = Client { target, workload, run: &run, orders: options.orders };
    let before = workload::ledger::before(&client).await;
    say(&format!("signing up {} users", options.users));
    let users = futures_util::future::join_all((0..options.users).map(|u| client.sign_up("load", u))).await;
    let users: Vec<User> =
        users.into_iter().map(|r| r.map(|(u, _)| u)).collect::<Result<_, _>>().map_err(LoadError::SignUp)?;

    let services: Vec<String> = target.services.keys().cloned().collect();
    let end = progress_end(workload, options.orders);
    let plan = plan(options.seed, &services, end, options.kills);
    let control = Mutex::new(platform);
    let placed_count = AtomicUsize::new(0);
    let started = Instant::now();
    let on_event = |e: &SupervisorEvent| match e {
        SupervisorEvent::Died { .. } => {}
        other => say(&other.to_string()),
    };
    let per_user = split(options.orders, users.len());
    let placing = async {
        let work = users.iter().zip(&per_user).map(|(user, &n)| place_all(&client, user, n, &placed_count, say));
        let results = futures_util::future::join_all(work).await;
        let placing_ms = started.elapsed().as_millis();
        (results, placing_ms)
    };
    let progress = Progress { client: &client, users: &users, placed: &placed_count, asked: options.orders };
    let killing = kill_as_planned(&control, &plan, end, &progress, started, say);
    let ((results, placing_ms), kills) =
        supervising(&control, &on_event, async { tokio::join!(placing, killing) }).await;
    let mut orders = Vec::new();
    let mut refused = Vec::new();
    let mut reconciled = 0;
    for r in results {
        orders.extend(r.placed);
        refused.extend(r.refused);
        reconciled += r.reconciled;
    }
    say(&format!(
        "{} orders placed in {:.1}s; waiting for the platform to drain",
        orders.len(),
        placing_ms as f64 / 1e3
    ));
    let not_drained = supervising(&control, &on_event, async {
        let mut waited = target.wait_quiet().await;
        // A long drain is not a stuck one while it still moves: ask again.
        for _ in 0..5 {
            match &waited {
                Err(e) if !e.is_stuck() => waited = target.wait_quiet().await,
                _ => break,
            }
        }
        waited.err().map(|e| e.to_string())
    })
    .await;
    // From the last order placed: the kills may have come after it.
    let drain_ms = started.elapsed().as_millis().saturating_sub(placing_ms);
    say("reading the ledger from the services");
    let ledger = workload::ledger::read_all(&client, &users, &orders, &before).await;
    let user_of = |o: &Order| users.iter().find(|u| u.number == o.user).map(|u| u.correlation_id.clone());
    let placed =
        orders.iter().map(|o| Placed { order_id: o.id.clone(), user: user_of(o).unwrap_or_default() }).collect();
    Ok(LoadReport {
        asked: options.orders,
        end,
        seed: options.seed,
        plan,
        placed,
        refused,
        reconciled,
        kills,
        ledger,
        placing_ms,
        drain_ms,
        not_drained,
        diverged: None,
    })
}

/// `n` split as evenly as can be among `parts`.
fn split(n: usize, parts: usize) -> Vec<usize> {
    let parts = parts.max(1);
    (0..parts).map(|i| n / parts + usize::from(i < n % parts)).collect()
}

/// How far the load has come: orders placed, then orders done, each
/// counted once (so [`progress_end`] is the end).
struct Progress<'a> {
    client: &'a Client<'a>,
    users: &'a [User],
    placed: &'a AtomicUsize,
    asked: usize,
}

impl Progress<'_> {
    /// Orders placed plus orders done, as the users' lists tell.
    async fn now(&self) -> usize {
        let placed = self.placed.load(Ordering::Relaxed);
        if placed < self.asked || self.client.workload.file.order.done.is_none() {
            return placed;
        }
        let lists = futures_util::future::join_all(self.users.iter().map(|u| list_when_back(self.client, u))).await;
        let done = lists.into_iter().flatten().flatten().flatten().filter(|o| o.done).count();
        placed + done
    }
}

/// How long a kill point waits for the load to move before it gives up.
const NO_PROGRESS: Duration = Duration::from_secs(60);

/// SIGKILLs each planned service once the load's progress reaches its
/// point (see [`plan`]), and waits until it runs again before the next, so
/// one kill is one crash and not a crash loop.
async fn kill_as_planned(
    control: &Mutex<&mut Platform>,
    plan: &[PlannedKill],
    end: usize,
    progress: &Progress<'_>,
    started: Instant,
    say: &(dyn Fn(&str) + Sync),
) -> Vec<Kill> {
    let mut kills = Vec::new();
    for PlannedKill { service, point } in plan.iter().cloned() {
        let (mut last, mut moved) = (progress.now().await, Instant::now());
        while last < point {
            if moved.elapsed() > NO_PROGRESS {
                say(&format!("the load stopped moving at {last} of {end}: no more kills"));
                return kills;
            }
            tokio::time::sleep(Duration::from_millis(250)).await;
            let now = progress.now().await;
            if now != last {
                (last, moved) = (now, Instant::now());
            }
        }
        let killed = Instant::now();
        let pid = match control.lock().await.kill_service(&service) {
            Ok(pid) => pid,
            Err(e) => {
                say(&format!("could not kill {service}: {e}"));
                continue;
            }
        };
        let after_orders = progress.placed.load(Ordering::Relaxed);
        let done = last.saturating_sub(after_orders);
        say(&format!("SIGKILL {service} (pid {pid}) with {after_orders} orders placed, {done} done"));
        let back = back_again(control, &service, pid).await;
        kills.push(Kill {
            service,
            point,
            pid,
            after_orders,
            done,
            at_ms: killed.duration_since(started).as_millis(),
            back_after_ms: back.then(|| killed.elapsed().as_millis()),
        });
    }
    kills
}

/// Waits (up to a minute) until `service` runs as a process other than `pid`.
async fn back_again(control: &Mutex<&mut Platform>, service: &str, pid: u32) -> bool {
    let deadline = Instant::now() + Duration::from_secs(60);
    let process = crate::runtime::Process::Service(service.to_owned());
    while Instant::now() < deadline {
        if control.lock().await.pid_of(&process).is_ok_and(|p| p != pid) {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    false
}

/// The user's orders, once the list answers (up to [`LIST_BACK`]); `None`
/// when the workload lists no orders.
async fn list_when_back(client: &Client<'_>, user: &User) -> Option<Result<Vec<workload::Listed>, StepError>> {
    let deadline = Instant::now() + LIST_BACK;
    loop {
        match client.list(user).await? {
            Err(e) if !e.refused() && Instant::now() < deadline => tokio::time::sleep(Duration::from_millis(200)).await,
            answered => return Some(answered),
        }
    }
}

/// What one user's orders came to.
#[derive(Default)]
struct Placing {
    placed: Vec<Order>,
    refused: Vec<String>,
    reconciled: usize,
}

/// Places `n` orders for `user`, one at a time, each in a chain of its own.
async fn place_all(
    client: &Client<'_>,
    user: &User,
    n: usize,
    placed: &AtomicUsize,
    say: &(dyn Fn(&str) + Sync),
) -> Placing {
    let mut out = Placing::default();
    let mut known: Vec<String> = Vec::new();
    for _ in 0..n {
        let cid = format!("load-{}-{}", client.run, uuid::Uuid::new_v4().simple());
        let mut last = String::new();
        let mut done = false;
        for _ in 0..ATTEMPTS {
            match client.place(user, &cid).await {
                Ok(order) => {
                    known.push(order.id.clone());
                    out.placed.push(order);
                    done = true;
                    break;
                }
                Err(e) if e.refused() => {
                    last = e.to_string();
                    break;
                }
                Err(e) => last = e.to_string(),
            }
            // Did the request die after the platform took the order?
            match list_when_back(client, user).await {
                Some(Ok(listed)) => {
                    if let Some(found) = listed.into_iter().find(|o| !known.contains(&o.id)) {
                        known.push(found.id.clone());
                        out.placed.push(client.found(user, &found.id));
                        out.reconciled += 1;
                        done = true;
                        break;
                    }
                }
                Some(Err(e)) => last = format!("{last}; then {e}"),
                // Nothing to look in: try again after a moment.
                None => tokio::time::sleep(Duration::from_millis(500)).await,
            }
        }
        if done {
            let total = placed.fetch_add(1, Ordering::Relaxed) + 1;
            if total.is_multiple_of(50) {
                say(&format!("{total} orders placed"));
            }
        } else {
            out.refused.push(format!("{cid}: {last}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn services() -> Vec<String> {
        ["devices", "fulfillment", "invoice", "mailer", "store", "tracking", "users"].map(String::from).to_vec()
    }

    #[test]
    fn the_same_seed_plans_the_same_kills_at_the_same_points() {
        let seed = Seed::new(Some(20_260_101));
        let plan_of = |seed| plan(seed, &services(), 100, 2);
        let first = plan_of(seed);
        assert_eq!(first.len(), 2);
        assert_eq!(plan_of(seed), first, "a replay with the seed kills the same services at the same points");
        assert!(first.windows(2).all(|w| w[0].point <= w[1].point), "in the order the load reaches them");
        assert!(first.iter().all(|k| (10..90).contains(&k.point)), "from a tenth to nine tenths of 100: {first:?}");
        let others: Vec<Vec<PlannedKill>> = (1..=20).map(|s| plan_of(Seed::new(Some(s)))).collect();
        assert!(others.iter().any(|p| *p != first), "another seed, other choices");
        assert!(plan(seed, &[], 100, 2).is_empty(), "nothing to kill, no kill");
    }
}
