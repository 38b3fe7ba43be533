//! Orders placed on the running platform as its load workload says, one
//! at a time (latency), at a rate, or all at once (throughput), each timed
//! from its request to the end of its chain (the workload's `order.end`)
//! as the recorder saw it.

use std::sync::Arc;
use std::time::{Duration, Instant};

use serde::Serialize;

use super::BenchError;
use crate::scenario::Target;
use crate::trace::{Recorder, SpanRecord};
use crate::workload::{Client, End, StepTime, User, Workload};

/// Requests (or publishes) in flight at once in a burst.
pub const BURST_IN_FLIGHT: usize = 8;

/// How orders are placed.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Mode {
    /// Each waits for its chain's end before the next: the latency of a chain.
    OneAtATime,
    /// Placed at this rate, whatever the platform does (open loop).
    Rate { per_second: f64 },
    /// All at once, [`BURST_IN_FLIGHT`] at a time: what the platform carries.
    Burst,
}

impl Mode {
    pub fn describe(&self) -> String {
        match self {
            Mode::OneAtATime => "one at a time".into(),
            Mode::Rate { per_second } => format!("{per_second} per second"),
            Mode::Burst => format!("all at once ({BURST_IN_FLIGHT} in flight)"),
        }
    }
}

/// One chain: when its first step began and when it ended, in Unix nanoseconds.
#[derive(Debug, Clone)]
pub struct Chain {
    pub correlation_id: String,
    pub started: u64,
    pub ended: u64,
}

impl Chain {
    pub fn millis(&self) -> f64 {
        self.ended.saturating_sub(self.started) as f64 / 1e6
    }
}

/// Orders per second over `chains`: from the first start to the last end.
pub fn throughput(chains: &[Chain]) -> f64 {
    let first = chains.iter().map(|c| c.started).min().unwrap_or(0);
    let last = chains.iter().map(|c| c.ended).max().unwrap_or(0);
    if last <= first { 0.0 } else { chains.len() as f64 / ((last - first) as f64 / 1e9) }
}

/// The end of an order's chain, read from a span: `end.service` done
/// handling `end.event` (a handling that logged no failure).
fn chain_end(span: &SpanRecord, end: &End) -> Option<(String, u64)> {
    let ends =
        span.name == "handle" && span.service == end.service && span.attr("event_type") == Some(end.event.as_str());
    let failed = span.events.iter().any(|(message, _)| message.contains("failed") || message.starts_with("rejected"));
    (ends && !failed).then(|| Some((span.attr("correlation_id")?.to_owned(), span.end_unix_nanos))).flatten()
}

pub fn now_nanos() -> u64 {
    time::OffsetDateTime::now_utc().unix_timestamp_nanos().max(0) as u64
}

/// A user the workload signed up, placing orders.
#[derive(Clone)]
pub struct Shopper {
    target: Target,
    workload: Arc<Workload>,
    run: String,
    orders: usize,
    user: User,
    /// Each order's request placed since the last [`Shopper::take_post_orders_ms`], in ms.
    posted: Arc<std::sync::Mutex<Vec<f64>>>,
}

impl Shopper {
    /// Signs up one user by the workload's `user` steps; answers with how
    /// long each step took. `orders`: what the run places in all.
    pub async fn sign_up(
        target: Target,
        workload: Arc<Workload>,
        run: &str,
        orders: usize,
    ) -> Result<(Shopper, Vec<StepTime>), BenchError> {
        let client = Client { target: &target, workload: &workload, run, orders };
        let (user, times) = client.sign_up("bench", 0).await?;
        let shopper = Shopper { target, workload, run: run.to_owned(), orders, user, posted: Arc::default() };
        Ok((shopper, times))
    }

    /// How long each order's request took since the last call, request to answer.
    pub fn take_post_orders_ms(&self) -> Vec<f64> {
        std::mem::take(&mut *self.posted.lock().unwrap_or_else(|p| p.into_inner()))
    }

    /// Places one order in chain `id`; answers when its request began.
    async fn place(&self, id: &str) -> Result<u64, BenchError> {
        let client = Client { target: &self.target, workload: &self.workload, run: &self.run, orders: self.orders };
        let started = now_nanos();
        let timer = Instant::now();
        let placed = client.place(&self.user, id).await;
        self.posted.lock().unwrap_or_else(|p| p.into_inner()).push(millis(timer));
        placed?;
        Ok(started)
    }
}

fn millis(since: Instant) -> f64 {
    since.elapsed().as_secs_f64() * 1000.0
}

/// Starts the chains of `ids` per `mode` with `start` (which answers when
/// a chain began), and waits until `ended` says each has ended. `ended`
/// is asked for the chains not yet seen to end, and answers those that have.
pub async fn drive<S, E>(
    ids: &[String],
    mode: Mode,
    start: S,
    mut ended: E,
    progress: &dyn Fn(&str),
) -> Result<Vec<Chain>, BenchError>
where
    S: AsyncStart,
    E: AsyncEnded,
{
    let mut chains: Vec<Chain> = Vec::new();
    let mut began: Vec<(String, u64)> = Vec::new();
    let deadline = |n: usize| Instant::now() + Duration::from_secs(60 + 2 * n as u64);
    match mode {
        Mode::OneAtATime => {
            for (i, id) in ids.iter().enumerate() {
                let started = start.start(id.clone()).await?;
                let done = wait_ends(&mut ended, &[(id.clone(), started)], deadline(1)).await?;
                chains.extend(done);
                if (i + 1) % 10 == 0 {
                    progress(&format!("{} of {} chains done", i + 1, ids.len()));
                }
            }
            return Ok(chains);
        }
        Mode::Rate { per_second } => {
            let every = Duration::from_secs_f64(1.0 / per_second.max(0.001));
            let mut tick = tokio::time::interval(every);
            let mut tasks = tokio::task::JoinSet::new();
            for id in ids {
                tick.tick().await;
                let (start, id) = (start.clone(), id.clone());
                tasks.spawn(async move { start.start(id.clone()).await.map(|s| (id, s)) });
            }
            while let Some(joined) = tasks.join_next().await {
                began.push(joined.map_err(|e| BenchError::Task(e.to_string()))??);
            }
        }
        Mode::Burst => {
            let slots = Arc::new(tokio::sync::Semaphore::new(BURST_IN_FLIGHT));
            let mut tasks = tokio::task::JoinSet::new();
            for id in ids {
                let (start, id, slots) = (start.clone(), id.clone(), slots.clone());
                tasks.spawn(async move {
                    let _slot = slots.acquire_owned().await.expect("the semaphore is never closed");
                    start.start(id.clone()).await.map(|s| (id, s))
                });
            }
            while let Some(joined) = tasks.join_next().await {
                began.push(joined.map_err(|e| BenchError::Task(e.to_string()))??);
            }
        }
    }
    progress(&format!("{} placed; waiting for every chain to end", began.len()));
    wait_ends(&mut ended, &began, deadline(ids.len())).await
}

/// Waits until every chain of `began` has ended, or `deadline`.
async fn wait_ends<E: AsyncEnded>(
    ended: &mut E,
    began: &[(String, u64)],
    deadline: Instant,
) -> Result<Vec<Chain>, BenchError> {
    let mut open: Vec<(String, u64)> = began.to_vec();
    let mut chains = Vec::new();
    while !open.is_empty() {
        let ids: Vec<String> = open.iter().map(|(id, _)| id.clone()).collect();
        let done = ended.ended(&ids).await;
        open.retain(|(id, started)| match done.iter().find(|(d, _)| d == id) {
            Some((_, end)) => {
                chains.push(Chain { correlation_id: id.clone(), started: *started, ended: *end });
                false
            }
            None => true,
        });
        if open.is_empty() {
            break;
        }
        if Instant::now() > deadline {
            return Err(BenchError::NotEnded { open: open.len(), first: open[0].0.clone() });
        }
        tokio::time::sleep(Duration::from_millis(if began.len() == 1 { 5 } else { 100 })).await;
    }
    Ok(chains)
}

/// Starts one chain; answers when it began.
pub trait AsyncStart: Clone + Send + Sync + 'static {
    fn start(&self, id: String) -> impl std::future::Future<Output = Result<u64, BenchError>> + Send;
}

/// Of the chains `ids`, those that have ended, with when.
pub trait AsyncEnded {
    fn ended(&mut self, ids: &[String]) -> impl std::future::Future<Output = Vec<(String, u64)>>;
}

impl AsyncStart for Shopper {
    async fn start(&self, id: String) -> Result<u64, BenchError> {
        self.place(&id).await
    }
}

/// How long after an end event is seen a chain waits for the end
/// service's span, before a service that sends none is taken to send none.
const NO_SPANS_GRACE: Duration = Duration::from_secs(2);

/// The platform's chains end as its recorder sees them: each span and
/// event is read once, so that polling costs fare little while it is
/// being measured. A chain ends when the end service's span says it
/// handled the end event; where that service sends no spans at all (it
/// speaks no OTLP), when the end event occurred.
pub struct Recorded<'a> {
    recorder: &'a Recorder,
    end: &'a End,
    seen_spans: usize,
    seen_events: usize,
    ends: std::collections::BTreeMap<String, u64>,
    /// Chains whose end event occurred (when, and when fare saw it).
    occurred: std::collections::BTreeMap<String, (u64, Instant)>,
    /// The end service has sent a span: only its spans end chains.
    end_service_spans: bool,
    /// A chain's end event waited [`NO_SPANS_GRACE`] for a span in vain:
    /// the end service sends none, and the next chains do not wait.
    spanless: bool,
}

impl<'a> Recorded<'a> {
    pub fn new(recorder: &'a Recorder, end: &'a End) -> Recorded<'a> {
        Recorded {
            recorder,
            end,
            seen_spans: 0,
            seen_events: 0,
            ends: Default::default(),
            occurred: Default::default(),
            end_service_spans: false,
            spanless: false,
        }
    }
}

impl AsyncEnded for Recorded<'_> {
    async fn ended(&mut self, ids: &[String]) -> Vec<(String, u64)> {
        let spans = self.recorder.spans_after(self.seen_spans);
        self.seen_spans += spans.len();
        self.end_service_spans |= spans.iter().any(|s| s.service == self.end.service);
        self.ends.extend(spans.iter().filter_map(|s| chain_end(s, self.end)));
        let events = self.recorder.events_after(self.seen_events);
        self.seen_events += events.len();
        for e in events.iter().filter(|e| e.event_type == self.end.event) {
            let at = e.occurred_at.unix_timestamp_nanos().max(0) as u64;
            self.occurred.entry(e.correlation_id.to_string()).or_insert((at, Instant::now()));
        }
        let mut ended = Vec::new();
        for id in ids {
            if let Some(end) = self.ends.get(id) {
                ended.push((id.clone(), *end));
                continue;
            }
            let Some((at, seen)) = self.occurred.get(id).filter(|_| !self.end_service_spans) else { continue };
            if self.spanless || seen.elapsed() >= NO_SPANS_GRACE {
                self.spanless = true;
                ended.push((id.clone(), *at));
            }
        }
        ended
    }
}
