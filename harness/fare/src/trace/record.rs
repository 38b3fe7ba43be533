//! The recorder: everything seen of the platform's chains, kept in memory
//! for the life of a run, and served over HTTP for `fare trace`.
//!
//! What it keeps is masked on the way in ([`kit::redact`]): an event's
//! data (`user.registered` carries an email address), a span's attributes
//! and log lines, a dead letter's reason. Services mask their own spans
//! already; the recorder does not rely on it.

use std::collections::BTreeSet;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::routing::{get, post};
use axum::{Json, Router};
use kit::Envelope;
use kit::bus::{AwsError, Bus, Message, Receive, TapQueue};
use kit::probe::{Look, wait_until};
use tokio_util::sync::CancellationToken;

use super::forward::{ForwardStats, Forwarder, OtlpTarget};
use super::otlp;
use super::store::{DeadLetter, InjectedFault, ServiceExit, Store};
use super::tree::Trace;
use crate::topology::Topology;

#[derive(Debug, thiserror::Error)]
pub enum TraceError {
    #[error("the recorder's tap on every topic")]
    Tap(#[source] AwsError),
    #[error("binding the recorder's listener on {addr}")]
    Bind {
        addr: std::net::SocketAddr,
        #[source]
        source: std::io::Error,
    },
}

/// Records one namespace's events, spans and dead letters.
#[derive(Clone)]
pub struct Recorder {
    store: Arc<Mutex<Store>>,
    url: String,
    /// Where spans are received: `url`, another address, or nowhere.
    spans_url: Option<String>,
    tap: Lag,
    forwarder: Option<Forwarder>,
    /// Takes events off the tap, and removes it at shutdown.
    tap_task: Arc<tokio::sync::Mutex<Option<tokio::task::JoinHandle<()>>>>,
}

/// How far the record is behind: the events still waiting on the tap's
/// queue, and the dead-letter sweeps since a question was asked.
#[derive(Clone)]
struct Lag {
    bus: Bus,
    queue_url: String,
    /// Completed sweeps of the dead-letter queues.
    sweeps: tokio::sync::watch::Receiver<u64>,
    /// Wakes the sweeper between its rounds, for a question that waits on it.
    poke: Arc<tokio::sync::Notify>,
}

impl Lag {
    /// Waits (up to `timeout`) until the tap queue is empty and the
    /// dead-letter queues were read once since, so that a trace read now
    /// holds every event already published and every message dead-lettered.
    async fn caught_up(&self, timeout: Duration) {
        let deadline = tokio::time::Instant::now() + timeout;
        self.tap_drained(deadline).await;
        let mut sweeps = self.sweeps.clone();
        let asked = *sweeps.borrow_and_update();
        self.poke.notify_one();
        // The sweep running now may have read a queue before this call: wait for the one after.
        let _ = tokio::time::timeout_at(deadline, sweeps.wait_for(|n| *n >= asked + 2)).await;
    }

    /// Waits until the tap has nothing waiting or in flight; gives up (on
    /// a record that may lag) at `deadline`, or if its depth cannot be read.
    async fn tap_drained(&self, deadline: tokio::time::Instant) {
        let look = || async {
            let depth = self.bus.depth(&self.queue_url).await?;
            Ok::<_, AwsError>(if depth.waiting + depth.in_flight > 0 { Look::Pending(()) } else { Look::Ready(()) })
        };
        let _ = wait_until(deadline.into_std(), Duration::from_millis(50), look).await;
    }
}

/// Where a recorder listens, what its tap is, and where spans go on to.
#[derive(Debug, Clone)]
pub struct RecorderOptions {
    /// The record's API (`/traces`, `/faults`); port 0 picks a free one.
    pub api: std::net::SocketAddr,
    /// Where the services' OTLP/HTTP spans are received.
    pub spans: Spans,
    /// The tap queue's name.
    pub tap: String,
    /// The topics the tap listens to.
    pub topics: TapTopics,
    /// Every export received is also forwarded here.
    pub forward: Option<OtlpTarget>,
}

/// Where a recorder receives spans.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Spans {
    /// On the API's own address: services fare starts export there.
    WithApi,
    /// On an address of their own, with nothing else served on it: the
    /// services of an environment fare did not start export there, and
    /// the record stays on loopback.
    At(std::net::SocketAddr),
    /// Nowhere: the record holds events and dead letters only.
    None,
}

/// What a recorder's tap is subscribed to.
#[derive(Debug, Clone)]
pub enum TapTopics {
    /// Every topic of the topology, created if missing (fare's own platform).
    Topology,
    /// These topics, by ARN, which exist already (an environment fare did
    /// not provision: it creates no topic there).
    Existing(Vec<String>),
}

impl RecorderOptions {
    /// A recorder of the platform fare starts, listening on `ip`, its tap
    /// named after the namespace.
    pub fn of_platform(ip: std::net::IpAddr, ns: &kit::bus::Namespace, forward: Option<OtlpTarget>) -> Self {
        RecorderOptions {
            api: (ip, 0).into(),
            spans: Spans::WithApi,
            tap: tap_name(ns),
            topics: TapTopics::Topology,
            forward,
        }
    }
}

impl Recorder {
    /// Subscribes a tap queue to every topic of `topology`, starts watching
    /// the dead-letter queues, and listens for OTLP spans on a free port;
    /// every export received is also forwarded to `forward`, when given.
    /// Everything stops, and the tap is removed, when `shutdown` fires.
    pub async fn start(
        bus: &Bus,
        topology: &Topology,
        forward: Option<OtlpTarget>,
        shutdown: CancellationToken,
    ) -> Result<Recorder, TraceError> {
        Recorder::start_on(std::net::Ipv4Addr::LOCALHOST.into(), bus, topology, forward, shutdown).await
    }

    /// [`Recorder::start`], receiving spans on `ip` (in container mode, the
    /// gateway of the run's network, which the services' containers reach).
    pub async fn start_on(
        ip: std::net::IpAddr,
        bus: &Bus,
        topology: &Topology,
        forward: Option<OtlpTarget>,
        shutdown: CancellationToken,
    ) -> Result<Recorder, TraceError> {
        Recorder::start_with(&RecorderOptions::of_platform(ip, &bus.namespace, forward), bus, topology, shutdown).await
    }

    /// A recorder as `options` say. When `shutdown` fires everything stops
    /// and the tap is removed; [`Recorder::tap_removed`] waits for that.
    pub async fn start_with(
        options: &RecorderOptions,
        bus: &Bus,
        topology: &Topology,
        shutdown: CancellationToken,
    ) -> Result<Recorder, TraceError> {
        let store = Arc::new(Mutex::new(Store::default()));
        // Bound before the tap exists: an address in use leaves nothing behind.
        let listener = bind(options.api).await?;
        let url = url_of(&listener, options.api)?;
        let otlp = match options.spans {
            Spans::At(addr) => {
                let otlp = bind(addr).await?;
                let url = url_of(&otlp, addr)?;
                Some((otlp, url))
            }
            Spans::WithApi | Spans::None => None,
        };
        let tap = match &options.topics {
            TapTopics::Topology => create_tap(bus, &options.tap, topology).await?,
            TapTopics::Existing(arns) => {
                TapQueue::create_on(bus, &options.tap, arns, None).await.map_err(TraceError::Tap)?
            }
        };
        let (sweeps_tx, sweeps) = tokio::sync::watch::channel(0u64);
        let poke = Arc::new(tokio::sync::Notify::new());
        let lag = Lag { bus: bus.clone(), queue_url: tap.url().to_owned(), sweeps, poke: poke.clone() };
        let forwarder = options.forward.clone().map(|target| Forwarder::start(target, shutdown.clone()));
        let state = (store.clone(), lag.clone(), forwarder.clone());
        let mut router = Router::new()
            .route("/traces/{correlation_id}", get(trace_json))
            .route("/traces/{correlation_id}/text", get(trace_text))
            .route("/faults", post(receive_fault))
            .route("/rules", post(receive_rule))
            .route("/record", get(record_json));
        if options.spans == Spans::WithApi {
            router = router.route("/v1/traces", post(receive_spans));
        }
        serve(listener, router.with_state(state.clone()), &shutdown);
        let spans_url = match otlp {
            Some((otlp, url)) => {
                serve(otlp, Router::new().route("/v1/traces", post(receive_spans)).with_state(state), &shutdown);
                Some(url)
            }
            None => (options.spans == Spans::WithApi).then(|| url.clone()),
        };
        let dead_letter_queues: Vec<(String, String)> = topology
            .services()
            .filter(|m| m.queue.is_some())
            .map(|m| (m.name.clone(), bus.namespace.dead_letter_queue(&m.name)))
            .collect();
        let tap_task = tokio::spawn(record_events(tap, store.clone(), shutdown.clone()));
        tokio::spawn(watch_dead_letters(bus.clone(), dead_letter_queues, store.clone(), (sweeps_tx, poke), shutdown));
        let tap_task = Arc::new(tokio::sync::Mutex::new(Some(tap_task)));
        Ok(Recorder { store, url, spans_url, tap: lag, forwarder, tap_task })
    }

    /// Waits until the tap is removed, once the `shutdown` the recorder
    /// was started with has fired: for a fare that must not leave its tap
    /// on an environment it does not own.
    pub async fn tap_removed(&self) {
        if let Some(task) = self.tap_task.lock().await.take() {
            let _ = task.await;
        }
    }

    /// Where spans are received, if anywhere.
    pub fn spans_url(&self) -> Option<&str> {
        self.spans_url.as_deref()
    }

    /// The base URL services export spans to (`OTEL_EXPORTER_OTLP_ENDPOINT`)
    /// and `fare trace` asks.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// The chain of `correlation_id` as recorded so far.
    pub fn trace(&self, correlation_id: &str) -> Trace {
        Trace::build(correlation_id, &self.store.lock().unwrap_or_else(|p| p.into_inner()))
    }

    /// Everything recorded so far, every chain, as one document: what
    /// `fare e2e` and `fare chaos` leave for `fare contracts coverage`.
    pub fn saved(&self) -> super::SavedRecord {
        saved_of(&self.store.lock().unwrap_or_else(|p| p.into_inner()))
    }

    /// Every span received so far, from every chain.
    pub fn spans(&self) -> Vec<otlp::SpanRecord> {
        self.store.lock().unwrap_or_else(|p| p.into_inner()).spans.clone()
    }

    /// The spans received after the first `seen`: a poller that keeps
    /// count reads each span once.
    pub fn spans_after(&self, seen: usize) -> Vec<otlp::SpanRecord> {
        self.store.lock().unwrap_or_else(|p| p.into_inner()).spans.iter().skip(seen).cloned().collect()
    }

    /// The events seen after the first `seen`, as [`Recorder::spans_after`].
    pub fn events_after(&self, seen: usize) -> Vec<kit::Envelope> {
        self.store.lock().unwrap_or_else(|p| p.into_inner()).events.iter().skip(seen).cloned().collect()
    }

    /// What forwarding to the user's collector did so far; `None` without one.
    pub fn forwarded(&self) -> Option<ForwardStats> {
        self.forwarder.as_ref().map(Forwarder::stats)
    }

    /// Waits until every export received so far was forwarded, failed or dropped.
    pub async fn forward_flushed(&self) {
        if let Some(f) = &self.forwarder {
            f.flush().await
        }
    }

    /// Records that a service process ended (the supervisor calls this).
    pub fn record_exit(&self, exit: ServiceExit) {
        self.store.lock().unwrap_or_else(|p| p.into_inner()).exits.push(exit);
    }

    /// Waits (up to `timeout`) until the tap has taken every event already
    /// published: after the platform is quiet, a trace is then complete.
    pub async fn caught_up(&self, timeout: Duration) {
        self.tap.caught_up(timeout).await
    }
}

type Shared = (Arc<Mutex<Store>>, Lag, Option<Forwarder>);

/// How long a trace request waits for the tap to catch up.
const CATCH_UP: Duration = Duration::from_secs(5);

async fn receive_spans(State((store, _, forwarder)): State<Shared>, body: Bytes) -> StatusCode {
    match otlp::decode(&body) {
        Ok(mut spans) => {
            spans.iter_mut().for_each(otlp::SpanRecord::redact);
            store.lock().unwrap_or_else(|p| p.into_inner()).spans.extend(spans);
            if let Some(f) = forwarder {
                f.offer(body);
            }
            StatusCode::OK
        }
        Err(e) => {
            tracing::warn!(error = %e, "an OTLP export that is not protobuf spans");
            StatusCode::BAD_REQUEST
        }
    }
}

/// A fault the scenario runner injected, as it took effect or ended.
async fn receive_fault(State((store, _, _)): State<Shared>, Json(fault): Json<InjectedFault>) -> StatusCode {
    store.lock().unwrap_or_else(|p| p.into_inner()).record_fault(fault);
    StatusCode::NO_CONTENT
}

/// A rule a scenario gave a fake: the fake forgets it when the scenario ends.
async fn receive_rule(State((store, _, _)): State<Shared>, Json(rule): Json<super::ProgrammedRule>) -> StatusCode {
    store.lock().unwrap_or_else(|p| p.into_inner()).rules.push(rule);
    StatusCode::NO_CONTENT
}

/// Everything recorded, once the tap has caught up: what `fare trace
/// --as-scenario` reads a chain and the requests before it from.
async fn record_json(State((store, lag, _)): State<Shared>) -> Json<super::SavedRecord> {
    lag.caught_up(CATCH_UP).await;
    let store = store.lock().unwrap_or_else(|p| p.into_inner());
    Json(saved_of(&store))
}

/// Everything in `store`, as one document.
fn saved_of(store: &Store) -> super::SavedRecord {
    let events = store
        .events
        .iter()
        .map(|event| super::Published {
            event: event.clone(),
            attributes: store.attributes.get(&event.id.to_string()).cloned().unwrap_or_default(),
        })
        .collect();
    super::SavedRecord {
        events,
        spans: store.spans.clone(),
        dead_letters: store.dead.clone(),
        exits: store.exits.clone(),
        faults: store.faults.clone(),
        rules: store.rules.clone(),
        fakes: Default::default(),
        scenarios: Vec::new(),
    }
}

/// `?fresh=false` answers with what is recorded now, without waiting for
/// the tap to catch up: for callers that poll.
#[derive(serde::Deserialize)]
struct TraceQuery {
    #[serde(default = "yes")]
    fresh: bool,
}

fn yes() -> bool {
    true
}

async fn trace_json(
    State((store, lag, _)): State<Shared>,
    Path(id): Path<String>,
    Query(q): Query<TraceQuery>,
) -> Json<Trace> {
    if q.fresh {
        lag.caught_up(CATCH_UP).await;
    }
    Json(Trace::build(&id, &store.lock().unwrap_or_else(|p| p.into_inner())))
}

async fn trace_text(State((store, lag, _)): State<Shared>, Path(id): Path<String>) -> String {
    lag.caught_up(CATCH_UP).await;
    Trace::build(&id, &store.lock().unwrap_or_else(|p| p.into_inner())).render_text()
}

/// The name of the tap of the platform fare runs in `ns`.
fn tap_name(ns: &kit::bus::Namespace) -> String {
    format!("{ns}-fare-tap")
}

/// The tap queue `name`, subscribed to every topic of `topology`.
async fn create_tap(bus: &Bus, name: &str, topology: &Topology) -> Result<TapQueue, TraceError> {
    let topics: Vec<String> = topology.events().iter().map(|e| bus.namespace.topic(e)).collect();
    TapQueue::create(bus, name, &topics, None).await.map_err(TraceError::Tap)
}

async fn bind(addr: std::net::SocketAddr) -> Result<tokio::net::TcpListener, TraceError> {
    tokio::net::TcpListener::bind(addr).await.map_err(|source| TraceError::Bind { addr, source })
}

/// `http://IP:PORT` of a bound listener (asked for as `asked`).
fn url_of(listener: &tokio::net::TcpListener, asked: std::net::SocketAddr) -> Result<String, TraceError> {
    let addr = listener.local_addr().map_err(|source| TraceError::Bind { addr: asked, source })?;
    Ok(format!("http://{addr}"))
}

fn serve(listener: tokio::net::TcpListener, router: Router, shutdown: &CancellationToken) {
    let stop = shutdown.clone();
    tokio::spawn(async move {
        let _ = axum::serve(listener, router).with_graceful_shutdown(stop.cancelled_owned()).await;
    });
}

impl Recorder {
    /// Makes the tap again on an emulator that replaced a dead one: the
    /// same name gives the same queue URL, which the recording task goes on
    /// reading; the subscriptions are new.
    pub async fn make_tap_again(&self, bus: &Bus, topology: &Topology) -> Result<(), TraceError> {
        create_tap(bus, &tap_name(&bus.namespace), topology).await.map(drop)
    }
}

/// Takes every event off the tap (a queue subscribed to every topic: it
/// sees every event, whatever the services' telemetry says) into the
/// store, until `shutdown`; then removes the tap.
async fn record_events(tap: TapQueue, store: Arc<Mutex<Store>>, shutdown: CancellationToken) {
    while !shutdown.is_cancelled() {
        let received = tokio::select! {
            r = tap.receive(1) => r,
            _ = shutdown.cancelled() => break,
        };
        let Ok(messages) = received else {
            tokio::time::sleep(Duration::from_millis(200)).await;
            continue;
        };
        for m in &messages {
            if let Ok(event) = Envelope::from_json(&m.body) {
                let attributes =
                    m.attributes.iter().map(|(k, v)| (k.clone(), kit::redact::text(v).into_owned())).collect();
                let mut store = store.lock().unwrap_or_else(|p| p.into_inner());
                store.attributes.insert(event.id.to_string(), attributes);
                store.events.push(masked(event));
            }
        }
        // Stored first, then deleted: an empty tap means a complete record.
        let _ = tap.ack(&messages).await;
    }
    tap.remove().await;
}

/// How long a dead letter stays hidden while a sweep pages past it: long
/// enough for one sweep to read every batch of its queue. Released at the
/// sweep's end.
const HIDE_SWEPT: i32 = 2;
/// Batches read from one dead-letter queue in one sweep, at most.
const MAX_BATCHES: usize = 100;

/// Reads every message of the dead-letter queues (they stay there) and
/// records each once; counts each complete sweep in `sweeps`, and sweeps
/// again at once when poked. A sweep is complete when no dead letter was
/// hidden from it: another reader of the same queues (a second fare, an
/// operator's tool) may be holding one for a moment.
async fn watch_dead_letters(
    bus: Bus,
    queues: Vec<(String, String)>,
    store: Arc<Mutex<Store>>,
    (sweeps, poke): (tokio::sync::watch::Sender<u64>, Arc<tokio::sync::Notify>),
    shutdown: CancellationToken,
) {
    let mut seen = BTreeSet::new();
    let mut urls: std::collections::BTreeMap<String, String> = Default::default();
    while !shutdown.is_cancelled() {
        let mut complete = true;
        for (service, queue) in &queues {
            if !urls.contains_key(queue) {
                // A queue not there (yet) holds no dead letter.
                let Ok(url) = bus.queue_url(queue).await else { continue };
                urls.insert(queue.clone(), url);
            }
            // An emulator that does not answer holds none for now either.
            let Ok((messages, whole)) = sweep(&bus, &urls[queue]).await else { continue };
            complete &= whole;
            for m in messages {
                if seen.insert(m.message_id.clone()) {
                    let dead = dead_letter(service, queue, m);
                    store.lock().unwrap_or_else(|p| p.into_inner()).dead.push(dead);
                }
            }
        }
        if complete {
            sweeps.send_modify(|n| *n += 1);
        }
        tokio::select! {
            _ = tokio::time::sleep(Duration::from_millis(400)) => {}
            _ = poke.notified() => {}
            _ = shutdown.cancelled() => break,
        }
    }
}

/// Every message of one dead-letter queue, left as it was; `true` if none
/// was hidden from this read.
///
/// A peek (visibility 0) returns at most ten messages and the same ten
/// every time. When the queue holds more, each batch is hidden for a
/// moment so the next receive returns the ones behind it, and all of them
/// are made visible again at the end.
async fn sweep(bus: &Bus, url: &str) -> Result<(Vec<Message>, bool), AwsError> {
    let peek = Receive { visibility_seconds: Some(0), wait_seconds: 0, ..Receive::default() };
    let mut messages = bus.receive(url, peek).await?;
    let depth = bus.depth(url).await?;
    if depth.in_flight == 0 && depth.waiting <= messages.len() as u64 {
        return Ok((messages, true));
    }
    let page = Receive { visibility_seconds: Some(HIDE_SWEPT), wait_seconds: 0, ..Receive::default() };
    let mut hidden = Vec::new();
    for _ in 0..MAX_BATCHES {
        let batch = bus.receive(url, page).await?;
        if batch.is_empty() {
            break;
        }
        hidden.extend(batch);
    }
    let released = bus.release(url, &hidden).await;
    messages.extend(hidden);
    released?;
    let hidden_by_others = bus.depth(url).await?.in_flight;
    Ok((messages, hidden_by_others == 0))
}

/// `event` with its data masked: the record keeps the chain, not the secrets.
fn masked(mut event: Envelope) -> Envelope {
    kit::redact::json(&mut event.data);
    event
}

fn dead_letter(service: &str, queue: &str, m: Message) -> DeadLetter {
    let attr = |k: &str| m.attributes.get(k).cloned();
    let body = m.body.as_str();
    let event = Envelope::from_json(body).ok().map(masked);
    // A body that is no envelope may still say whose it is.
    let json: serde_json::Value = serde_json::from_str(body).unwrap_or_default();
    let field = |k: &str| json[k].as_str().map(str::to_owned);
    DeadLetter {
        service: service.to_owned(),
        queue: queue.to_owned(),
        message_id: m.message_id.clone(),
        correlation_id: attr("correlation_id")
            .or_else(|| event.as_ref().map(|e| e.correlation_id.to_string()))
            .or_else(|| field("correlation_id")),
        event_type: attr("event_type")
            .or_else(|| event.as_ref().map(|e| e.event_type.to_string()))
            .or_else(|| field("type")),
        event,
        reason: attr("fare_rejection").map(|r| kit::redact::text(&r).into_owned()),
        receive_count: m.receive_count,
    }
}
