//! `fare bench`: how fast the platform carries orders and where a chain's
//! time goes, beside what the emulator alone carries for the same messages,
//! all in one run, so that each ratio compares like with like on a machine
//! whose speed drifts. Nothing here asserts on time: it measures and reports.
//!
//! What it drives is the platform's load workload (`scenarios/chaos/load.yaml`,
//! see `crate::workload`): its user steps, its order request, its chain's end.
//!
//! One run: build, `fare up` timed against its emulator's own start; fare's
//! own emulator calls counted while the platform idles; one user signed up
//! (each step timed); the orders placed (one at a time, at a rate, or all
//! at once), each chain timed to its end and broken down hop by hop from
//! the recorder's record; CPU and memory of every process; then the
//! emulator alone with the same pattern, and each hop raw. With
//! `--login-flood N`, the orders run a second time with N of the
//! workload's `flood` requests in flight, and both rounds' figures are set
//! side by side.
//!
//! # Layout
//! - `orders`: placing orders and waiting for their chains' ends; throughput.
//! - `hops`: the per-hop breakdown from the recorder's events and spans.
//! - `alone`: the emulator alone carrying the same message pattern; raw hops.
//! - `flood`: logins kept in flight against users during a second round of orders.
//! - `procs`: CPU and resident memory of each process, from /proc.
//! - `stats`: percentiles.
//! - `report`: the report as data, and its table.

mod alone;
mod flood;
mod hops;
mod orders;
mod procs;
mod report;
mod stats;

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde::Serialize;

pub use alone::{Alone, Pattern, RawHop};
pub use flood::{Answers, Flood, Round};
pub use hops::{Breakdown, Hop};
pub use orders::{BURST_IN_FLIGHT, Mode};
pub use procs::Usage;
pub use report::table;
pub use stats::Spread;

use crate::runtime::{Platform, UpOptions};
use crate::workload::{StepError, StepTime, Workload};

#[derive(Debug, thiserror::Error)]
pub enum BenchError {
    #[error(transparent)]
    Load(#[from] crate::LoadError),
    #[error(transparent)]
    Settings(#[from] crate::scenario::ScenarioError),
    #[error(transparent)]
    Up(Box<crate::runtime::UpError>),
    #[error(transparent)]
    Build(#[from] crate::runtime::BuildError),
    #[error(transparent)]
    Emulator(#[from] fare_emulator::EmulatorError),
    #[error(transparent)]
    Bus(#[from] kit::bus::BusError),
    #[error(transparent)]
    Aws(#[from] kit::bus::AwsError),
    #[error(transparent)]
    Publish(Box<kit::bus::PublishError>),
    #[error(transparent)]
    Provision(#[from] crate::provision::ProvisionError),
    #[error(transparent)]
    Step(#[from] StepError),
    #[error(transparent)]
    Target(#[from] crate::scenario::TargetError),
    #[error("{}: the workload names no `order.end` (the event whose handling ends an order's chain), which fare bench times orders to", .0.display())]
    NoEnd(PathBuf),
    #[error("--login-flood: the workload has no `flood` request to keep in flight")]
    NoFlood,
    #[error("{open} chain(s) never ended, {first} among them")]
    NotEnded { open: usize, first: String },
    #[error("the platform recorded no whole chain to learn the message pattern from")]
    NoChain,
    #[error("{0}")]
    Task(String),
}

// Boxed: the platform's start error is large, and every bench result carries this type.
impl From<crate::runtime::UpError> for BenchError {
    fn from(e: crate::runtime::UpError) -> Self {
        BenchError::Up(Box::new(e))
    }
}

impl From<kit::bus::PublishError> for BenchError {
    fn from(e: kit::bus::PublishError) -> Self {
        BenchError::Publish(Box::new(e))
    }
}

/// What one `fare bench` does.
#[derive(Debug, Clone)]
pub struct BenchOptions {
    pub orders: usize,
    pub mode: Mode,
    /// How long the platform idles while fare's own calls are counted.
    pub idle: Duration,
    /// `cargo build` the services first (not timed).
    pub build: bool,
    /// The workload's `flood` requests kept in flight during a second round of the orders (0: no second round).
    pub login_flood: usize,
    /// What is driven: users, orders, the end of an order's chain.
    pub workload: Arc<Workload>,
}

impl BenchOptions {
    /// The orders of every round: a second one with a flood.
    fn orders_in_all(&self) -> usize {
        if self.login_flood > 0 { 2 * self.orders } else { self.orders }
    }
}

/// Everything one run measured.
#[derive(Debug, Clone, Serialize)]
pub struct BenchReport {
    pub emulator: String,
    pub orders: usize,
    pub mode: Mode,
    /// `/proc/loadavg` (1, 5, 15 min) when the run began and when it ended.
    pub load_before: [f64; 3],
    pub load_after: [f64; 3],
    pub up: UpTimes,
    pub idle: Idle,
    /// The workload's user steps, each timed.
    pub sign_up: Vec<StepTime>,
    pub platform: Carried,
    pub alone: Alone,
    pub ratios: Ratios,
    /// With `--login-flood`: the orders without and with the flood.
    pub flood: Option<Flood>,
    pub took_ms: f64,
}

/// `fare up` (build excluded) and its emulator's own start, in the same run.
#[derive(Debug, Clone, Serialize)]
pub struct UpTimes {
    pub up_ms: f64,
    pub emulator_start_ms: Option<f64>,
}

/// The emulator calls made while the platform idled.
#[derive(Debug, Clone, Serialize)]
pub struct Idle {
    pub seconds: f64,
    /// fare's own (its recorder, its watches), per second.
    pub fare_calls_per_second: f64,
    /// fare's own, by action.
    pub fare_calls: BTreeMap<String, u64>,
    /// Every request the emulator logged (the services' polls too), per second.
    pub emulator_requests_per_second: Option<f64>,
}

/// What the platform carried.
#[derive(Debug, Clone, Serialize)]
pub struct Carried {
    pub orders_per_second: f64,
    /// The order's request → the workload's `order.end` service done with its event.
    pub chain: Spread,
    pub breakdown: Breakdown,
    /// CPU of each process while the orders ran; memory at their end.
    pub usage: Vec<Usage>,
}

/// The targets as ratios of this run's figures.
#[derive(Debug, Clone, Serialize)]
pub struct Ratios {
    /// P1: `fare up` ÷ its emulator's own start (target ≤ 1.5).
    pub up_vs_emulator: Option<f64>,
    /// P2: chain p50 ÷ the sum of the raw hops' p50 (target ≤ 1.5).
    pub chain_vs_raw_hops: f64,
    /// The chain p50 ÷ the emulator alone's for the same pattern: what the
    /// platform adds to what the emulator takes for the same messages.
    pub chain_vs_alone: f64,
    /// P3: the platform's orders/s ÷ the emulator alone's (target ≥ 0.8).
    pub throughput_vs_alone: f64,
}

/// The settings of the benchmark's platform: the e2e settings, then the
/// workload's `env` and `bench.env` for `orders` orders (of every round).
fn bench_env(
    root: &std::path::Path,
    workload: &Workload,
    orders: usize,
) -> Result<BTreeMap<String, String>, BenchError> {
    let env = crate::scenario::e2e_env(&root.join("scenarios"))?;
    Ok(workload.platform_env(env, orders, true)?)
}

/// Runs the benchmark on the platform `up` describes (its namespace is the bench's own).
pub async fn run(up: UpOptions, options: &BenchOptions, progress: &dyn Fn(&str)) -> Result<BenchReport, BenchError> {
    let began = Instant::now();
    let load_before = load_average();
    let topology = match &up.topology {
        Some(topology) => topology.clone(),
        None => crate::load_topology(&up.services_dir)?.0,
    };
    let workload = &options.workload;
    workload.fits(&topology)?;
    let end = workload.file.order.end.clone().ok_or_else(|| BenchError::NoEnd(workload.path.clone()))?;
    if options.login_flood > 0 && workload.file.flood.is_none() {
        return Err(BenchError::NoFlood);
    }
    if options.build {
        crate::runtime::build_services(topology.services(), up.profile.as_deref(), &mut |line| progress(line))?;
    }
    let namespace = up.namespace.clone();
    let (endpoint, backend) = (up.endpoint.clone(), up.emulator());
    let up = UpOptions {
        build: false,
        fake_vars: workload.file.bench.fake_vars.clone(),
        topology: Some(topology.clone()),
        empty_stores: true,
        ..up
    };
    progress("starting the platform (timed)");
    let started = Instant::now();
    let env = bench_env(&up.root, workload, options.orders_in_all())?;
    let platform = Platform::up_with_env(&up, &env, &mut |line| progress(line)).await?;
    let up_times = UpTimes {
        up_ms: started.elapsed().as_secs_f64() * 1000.0,
        emulator_start_ms: platform.emulator().map(|e| e.ready_after().as_secs_f64() * 1000.0),
    };
    let measured = on_platform(&platform, options, &end, progress).await;
    platform.stop();
    let (idle, sign_up, carried, traces, flood) = measured?;
    let first = traces.first().ok_or(BenchError::NoChain)?;
    let pattern = Pattern::learn(first).ok_or(BenchError::NoChain)?;
    let hops: Vec<(String, String)> = hops::hops_of(&hops::path(first, &end), &end)
        .into_iter()
        .map(|(event, _, listener)| (event, listener))
        .collect();
    progress(&format!(
        "the emulator alone: the same messages for {} orders, {}",
        options.orders,
        options.mode.describe()
    ));
    let on = alone::AloneOn {
        endpoint,
        backend,
        namespace: kit::bus::Namespace::parse(
            &format!("{}-alone", namespace.as_str()).chars().take(40).collect::<String>(),
        )
        .unwrap_or(namespace),
        topology: &topology,
        end: &end,
    };
    let alone = alone::run(on, &pattern, &hops, options.orders, options.mode, progress).await?;
    let ratios = Ratios {
        up_vs_emulator: up_times.emulator_start_ms.map(|e| up_times.up_ms / e),
        chain_vs_raw_hops: carried.chain.p50 / alone.raw_sum_p50_ms,
        chain_vs_alone: carried.chain.p50 / alone.chain.p50,
        throughput_vs_alone: carried.orders_per_second / alone.orders_per_second,
    };
    Ok(BenchReport {
        emulator: backend.name().to_owned(),
        orders: options.orders,
        mode: options.mode,
        load_before,
        load_after: load_average(),
        up: up_times,
        idle,
        sign_up,
        platform: carried,
        alone,
        ratios,
        flood,
        took_ms: began.elapsed().as_secs_f64() * 1000.0,
    })
}

/// What [`on_platform`] measured.
type Measured = (Idle, Vec<StepTime>, Carried, Vec<crate::trace::Trace>, Option<Flood>);

/// The measurements taken while the platform runs.
async fn on_platform(
    platform: &Platform,
    options: &BenchOptions,
    end: &crate::workload::End,
    progress: &dyn Fn(&str),
) -> Result<Measured, BenchError> {
    let recorder = platform.recorder().ok_or(BenchError::NoChain)?;
    let target = crate::scenario::Target::of(platform)?;
    progress(&format!("counting fare's own emulator calls for {} s of idle", options.idle.as_secs()));
    let idle = idle(platform, options.idle).await;
    let run = format!("{:08x}", rand::random::<u32>());
    let workload = options.workload.clone();
    let (shopper, sign_up) = orders::Shopper::sign_up(target.clone(), workload, &run, options.orders_in_all()).await?;
    let mut watched: Vec<procs::Watched> = Vec::new();
    if let Some(pid) = platform.state.emulator_pid {
        let name = platform.emulator().map(|e| e.backend().name()).unwrap_or("emulator");
        watched.push(procs::Watched::with_descendants(name, pid));
    }
    watched.extend(platform.state.services.iter().map(|s| procs::Watched::alone(s.name.clone(), s.pid)));
    // fare alone: the services and the emulator are its children.
    watched.push(procs::Watched::alone("fare", std::process::id()));
    let ids: Vec<String> = (0..options.orders).map(|i| format!("bench-{run}-{i}")).collect();
    progress(&format!("placing {} orders, {}", options.orders, options.mode.describe()));
    let before = procs::sample(&watched);
    let chains =
        orders::drive(&ids, options.mode, shopper.clone(), orders::Recorded::new(recorder, end), progress).await?;
    let usage = procs::usage(&watched, &before);
    let without = Round::of(&shopper.take_post_orders_ms(), &chains);
    recorder.caught_up(Duration::from_secs(30)).await;
    let traces: Vec<crate::trace::Trace> = chains.iter().map(|c| recorder.trace(&c.correlation_id)).collect();
    let breakdown = hops::breakdown(&chains, &traces, &recorder.spans(), end);
    let millis: Vec<f64> = chains.iter().map(orders::Chain::millis).collect();
    let carried =
        Carried { orders_per_second: orders::throughput(&chains), chain: Spread::of(&millis), breakdown, usage };
    let flood = match options.login_flood {
        0 => None,
        logins => {
            progress(&format!("the orders again, with {logins} of the workload's flood requests in flight"));
            let client = crate::workload::Client {
                target: &target,
                workload: &options.workload,
                run: &run,
                orders: options.orders_in_all(),
            };
            // The bench's own user is user 0.
            let flood = flood::LoginFlood::start(&client, logins, 1).await?;
            let started = Instant::now();
            let ids: Vec<String> = (0..options.orders).map(|i| format!("bench-{run}-flood-{i}")).collect();
            let chains =
                orders::drive(&ids, options.mode, shopper.clone(), orders::Recorded::new(recorder, end), progress);
            let chains = chains.await;
            let seconds = started.elapsed().as_secs_f64();
            let answers = flood.stop().await;
            let with = Round::of(&shopper.take_post_orders_ms(), &chains?);
            Some(Flood { logins, without, with, answers, seconds })
        }
    };
    Ok((idle, sign_up, carried, traces, flood))
}

/// Counts fare's own calls, and every request the emulator logs, over `window`.
async fn idle(platform: &Platform, window: Duration) -> Idle {
    // What start-up set going (the services' first polls, the recorder's first sweep) settles first.
    tokio::time::sleep(Duration::from_secs(1)).await;
    let log: Option<PathBuf> = platform.emulator().map(|e| e.log_file().to_owned());
    let (calls, logged, started) = (kit::bus::calls_sent(), logged_requests(&log), Instant::now());
    tokio::time::sleep(window).await;
    let seconds = started.elapsed().as_secs_f64();
    let mut fare_calls = kit::bus::calls_sent();
    for (action, n) in &calls {
        if let Some(now) = fare_calls.get_mut(action) {
            *now -= n;
        }
    }
    fare_calls.retain(|_, n| *n > 0);
    let total: u64 = fare_calls.values().sum();
    let emulator = logged.zip(logged_requests(&log)).map(|(a, b)| b.saturating_sub(a) as f64 / seconds);
    Idle { seconds, fare_calls_per_second: total as f64 / seconds, fare_calls, emulator_requests_per_second: emulator }
}

/// The requests an emulator's log holds so far: one line each (moto's
/// `"POST / HTTP/1.1" 200`, LocalStack's `AWS sqs.ReceiveMessage => 200`).
fn logged_requests(log: &Option<PathBuf>) -> Option<u64> {
    let text = std::fs::read_to_string(log.as_ref()?).ok()?;
    Some(text.lines().filter(|l| l.contains("\" 200") || l.contains("HTTP/1.1\"") || l.contains(" => ")).count() as u64)
}

fn load_average() -> [f64; 3] {
    let text = std::fs::read_to_string("/proc/loadavg").unwrap_or_default();
    let mut fields = text.split_whitespace().map(|f| f.parse().unwrap_or(0.0));
    [fields.next().unwrap_or(0.0), fields.next().unwrap_or(0.0), fields.next().unwrap_or(0.0)]
}
