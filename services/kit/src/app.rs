//! The runtime every service shares: its HTTP server with `/health` and
//! `/ready`, its consumer, its outbox relay and any background task, all
//! started together and stopped together.

use std::future::Future;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::pin::Pin;
use std::sync::Arc;

use axum::extract::{DefaultBodyLimit, State};
use axum::http::StatusCode;
use axum::response::IntoResponse;
use axum::routing::get;
use axum::{Json, Router, middleware};
use serde_json::json;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

use crate::bus::consumer::ConsumerHealth;
use crate::bus::{Bus, Consumer, ConsumerOptions, Handler, relay};
use crate::config::{Config, ConfigError};
use crate::states::{ProviderState, Switches};
use crate::store::{Db, StoreError};

/// The largest request body a service reads.
pub const BODY_LIMIT: usize = 64 * 1024;

/// The settings every service reads, whatever else it needs.
#[derive(Debug, Clone)]
pub struct Settings {
    pub host: String,
    /// 0 takes a free port.
    pub port: u16,
    pub database_path: PathBuf,
    pub max_in_flight: usize,
    pub poll_wait_seconds: i32,
    pub retry_base_seconds: i32,
    pub retry_max_seconds: i32,
}

impl Settings {
    /// `HOST` (127.0.0.1), `PORT` (0), `DATABASE_PATH` (`data/<service>.sqlite`),
    /// `FARE_MAX_IN_FLIGHT` (8), `FARE_POLL_WAIT_SECONDS` (2),
    /// `FARE_RETRY_BASE_SECONDS` (1), `FARE_RETRY_MAX_SECONDS` (30).
    pub fn from_config(config: &Config) -> Result<Settings, ConfigError> {
        let num =
            |key, default| config.parse_opt::<i32>(key, "a whole number of seconds").map(|v| v.unwrap_or(default));
        Ok(Settings {
            host: config.get("HOST").unwrap_or("127.0.0.1").to_owned(),
            port: config.parse_opt("PORT", "a port number (0 for any free port)")?.unwrap_or(0),
            database_path: config
                .get("DATABASE_PATH")
                .map(PathBuf::from)
                .unwrap_or_else(|| PathBuf::from(format!("data/{}.sqlite", config.service()))),
            max_in_flight: config.parse_opt("FARE_MAX_IN_FLIGHT", "a positive number")?.unwrap_or(8),
            poll_wait_seconds: num("FARE_POLL_WAIT_SECONDS", 2)?,
            retry_base_seconds: num("FARE_RETRY_BASE_SECONDS", 1)?,
            retry_max_seconds: num("FARE_RETRY_MAX_SECONDS", 30)?,
        })
    }

    /// Consumer options for `service`'s queue in `bus`'s namespace.
    pub fn consumer(&self, bus: &Bus, service: &str) -> ConsumerOptions {
        ConsumerOptions {
            queue: bus.namespace.queue(service),
            max_in_flight: self.max_in_flight,
            wait_seconds: self.poll_wait_seconds,
            retry_base_seconds: self.retry_base_seconds,
            retry_max_seconds: self.retry_max_seconds,
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum KitError {
    #[error(transparent)]
    Config(#[from] ConfigError),
    #[error(transparent)]
    Store(#[from] crate::store::StoreError),
    #[error(transparent)]
    Bus(#[from] crate::bus::BusError),
    #[error(transparent)]
    Client(#[from] crate::http::CallError),
    #[error(transparent)]
    Telemetry(#[from] crate::telemetry::TelemetryError),
    #[error(transparent)]
    Access(#[from] crate::http::access::AccessError),
    #[error(transparent)]
    Key(#[from] crate::http::identity::KeyError),
    #[error("binding {addr}: {source}")]
    Bind {
        addr: String,
        #[source]
        source: std::io::Error,
    },
    #[error("serving HTTP: {0}")]
    Serve(#[source] std::io::Error),
}

type Task = Pin<Box<dyn Future<Output = ()> + Send>>;
/// Counts work a service has accepted and not finished (shipments still
/// being tracked, say): part of what "the platform is quiet" means.
pub type PendingWork = Arc<dyn Fn() -> Pin<Box<dyn Future<Output = Result<u64, StoreError>> + Send>> + Send + Sync>;
type TaskFactory = Box<dyn FnOnce(CancellationToken) -> Task + Send>;

/// Assembles a service. Only the name, the database and a router are
/// required; a bus adds the outbox relay, a consumer its queue.
pub struct ApplicationBuilder {
    name: String,
    db: Db,
    router: Router,
    tasks: Vec<(&'static str, TaskFactory)>,
    consumer_health: Option<Arc<ConsumerHealth>>,
    pending_work: Option<PendingWork>,
    access: Option<Arc<crate::http::Access>>,
}

impl ApplicationBuilder {
    pub fn new(name: &str, db: Db) -> ApplicationBuilder {
        ApplicationBuilder {
            name: name.to_owned(),
            db,
            router: Router::new(),
            tasks: Vec::new(),
            consumer_health: None,
            pending_work: None,
            access: None,
        }
    }

    /// Holds every request to the service's routes to `access`: its
    /// manifest's grants (service identity) and operator endpoints.
    pub fn access(mut self, access: crate::http::Access) -> Self {
        self.access = Some(Arc::new(access));
        self
    }

    /// Reports accepted-but-unfinished domain work on `/pending`.
    pub fn pending_work(mut self, count: PendingWork) -> Self {
        self.pending_work = Some(count);
        self
    }

    pub fn router(mut self, router: Router) -> Self {
        self.router = self.router.merge(router);
        self
    }

    /// Mounts `POST /_pact/state` over `states` and `POST /_pact/messages`
    /// over `messages` if, and only if, `switches` says so, and then says
    /// loudly that this process must never be served.
    pub fn provider_states(
        self,
        switches: Switches,
        states: &'static [ProviderState],
        messages: &'static [crate::messages::ProviderMessage],
    ) -> Self {
        if !switches.provider_states {
            return self;
        }
        tracing::warn!(
            service = %self.name,
            "PROVIDER STATES ARE ON: POST /_pact/state lets anyone who reaches this port write this service's data \
             as they like. This {} is for contract verification only; never serve it.",
            self.name
        );
        let router = crate::states::router(&self.name, self.db.clone(), states);
        let samples = crate::messages::router(&self.name, messages);
        self.router(router).router(samples)
    }

    /// Publishes the outbox through `bus`.
    pub fn relay(self, bus: &Bus) -> Self {
        let (db, publisher) = (self.db.clone(), bus.publisher(&self.name));
        self.task("outbox relay", move |stop| Box::pin(relay::run(db, publisher, stop)))
    }

    /// Consumes the service's queue with `handler`.
    pub fn consume<H: Handler>(mut self, bus: &Bus, options: ConsumerOptions, handler: H) -> Self {
        let consumer = Consumer::new(bus.clone(), options, handler);
        self.consumer_health = Some(consumer.health());
        self.task("consumer", move |stop| Box::pin(consumer.run(stop)))
    }

    /// Runs `task` beside the server until shutdown.
    pub fn task(mut self, name: &'static str, task: impl FnOnce(CancellationToken) -> Task + Send + 'static) -> Self {
        self.tasks.push((name, Box::new(task)));
        self
    }

    /// Binds the listener; nothing runs until `run_until_stopped`. A socket
    /// handed down by the process that started this one (`FARE_LISTEN_FD`,
    /// as `fare up` does) is used instead of binding `host:port`.
    pub async fn bind(self, host: &str, port: u16) -> Result<Application, KitError> {
        let addr = format!("{host}:{port}");
        let listener = match inherited_listener() {
            Some(inherited) => inherited,
            None => TcpListener::bind(&addr).await,
        };
        let listener = listener.map_err(|source| KitError::Bind { addr: addr.clone(), source })?;
        let local = listener.local_addr().map_err(|source| KitError::Bind { addr, source })?;
        let router = self.full_router();
        Ok(Application { name: self.name, listener, local, router, tasks: self.tasks })
    }

    fn full_router(&self) -> Router {
        let probe = Probe {
            name: self.name.clone(),
            db: self.db.clone(),
            consumer: self.consumer_health.clone(),
            work: self.pending_work.clone(),
        };
        let probes = Router::new()
            .route("/health", get(health))
            .route("/ready", get(ready))
            .route("/pending", get(pending))
            .with_state(probe);
        let mut routes = self.router.clone();
        // The probes stay open: fare and the container engine ask them.
        if let Some(access) = &self.access {
            routes = routes.layer(middleware::from_fn_with_state(access.clone(), crate::http::access::enforce));
        }
        routes.merge(probes).layer(DefaultBodyLimit::max(BODY_LIMIT)).layer(middleware::from_fn(crate::http::correlate))
    }
}

/// The listening socket named by `FARE_LISTEN_FD`, taken once: a second
/// call (a test building a second service in the same process) binds anew.
fn inherited_listener() -> Option<std::io::Result<TcpListener>> {
    use std::os::fd::FromRawFd;
    use std::sync::atomic::{AtomicBool, Ordering};
    static TAKEN: AtomicBool = AtomicBool::new(false);
    let fd: i32 = std::env::var("FARE_LISTEN_FD").ok()?.parse().ok()?;
    if TAKEN.swap(true, Ordering::SeqCst) {
        return None;
    }
    // SAFETY: the parent handed this descriptor down as a bound, listening
    // TCP socket, and the flag above makes this the only owner.
    let std_listener = unsafe { std::net::TcpListener::from_raw_fd(fd) };
    Some(std_listener.set_nonblocking(true).and_then(|()| TcpListener::from_std(std_listener)))
}

/// A bound, not yet running, service.
pub struct Application {
    name: String,
    listener: TcpListener,
    local: SocketAddr,
    router: Router,
    tasks: Vec<(&'static str, TaskFactory)>,
}

impl Application {
    pub fn port(&self) -> u16 {
        self.local.port()
    }

    pub fn local_addr(&self) -> SocketAddr {
        self.local
    }

    /// The whole router, for tests that need no socket.
    pub fn router(&self) -> Router {
        self.router.clone()
    }

    /// Serves until `shutdown` resolves; then stops polling, finishes
    /// in-flight messages and requests, flushes the outbox and returns.
    pub async fn run_until_stopped(self, shutdown: impl Future<Output = ()> + Send + 'static) -> Result<(), KitError> {
        let stop = CancellationToken::new();
        let mut running = tokio::task::JoinSet::new();
        for (name, task) in self.tasks {
            let fut = task(stop.child_token());
            running.spawn(async move {
                fut.await;
                tracing::debug!(task = name, "stopped");
            });
        }
        tracing::info!(service = %self.name, "listening on http://{}", self.local);
        let on_signal = stop.clone();
        // The peer's address is there for handlers that limit per client.
        let service = self.router.into_make_service_with_connect_info::<SocketAddr>();
        let served = axum::serve(self.listener, service)
            .with_graceful_shutdown(async move {
                shutdown.await;
                tracing::info!("shutting down: finishing in-flight work");
                on_signal.cancel();
            })
            .await;
        stop.cancel();
        while running.join_next().await.is_some() {}
        tracing::info!(service = %self.name, "stopped");
        served.map_err(KitError::Serve)
    }
}

#[derive(Clone)]
struct Probe {
    name: String,
    db: Db,
    consumer: Option<Arc<ConsumerHealth>>,
    work: Option<PendingWork>,
}

async fn health(State(probe): State<Probe>) -> impl IntoResponse {
    Json(json!({ "status": "ok", "service": probe.name }))
}

/// Ready when the database answers and, for a consumer, the last receive
/// from its queue succeeded.
async fn ready(State(probe): State<Probe>) -> impl IntoResponse {
    let database = match probe.db.ping().await {
        Ok(()) => "ok".to_owned(),
        Err(e) => e.to_string(),
    };
    let mut checks = std::collections::BTreeMap::from([("database".to_owned(), database)]);
    if let Some(consumer) = &probe.consumer {
        checks.insert("queue".to_owned(), consumer.status().err().unwrap_or_else(|| "ok".into()));
    }
    let ready = crate::probe::Ready::new(&probe.name, checks);
    let status = if ready.ready { StatusCode::OK } else { StatusCode::SERVICE_UNAVAILABLE };
    (status, Json(ready))
}

/// What the service has in hand: messages being handled, events committed
/// but not yet published, and domain work still open. The harness calls the
/// platform quiet when every queue is empty and every service answers zeros.
/// Events the relay moved aside are counted apart (`outbox_dead`).
async fn pending(State(probe): State<Probe>) -> Result<Json<crate::probe::InHand>, crate::http::ApiError> {
    let (outbox, outbox_dead): (u64, u64) = probe
        .db
        .read(|c| {
            let outbox = c.query_row("SELECT count(*) FROM fare_outbox", [], |r| r.get(0)).map_err(StoreError::from)?;
            Ok::<_, StoreError>((outbox, crate::store::outbox::dead_count(c)?))
        })
        .await?;
    let handling = probe.consumer.as_ref().map(|c| c.handling()).unwrap_or(0);
    let work = match &probe.work {
        Some(count) => count().await?,
        None => 0,
    };
    Ok(Json(crate::probe::InHand { handling, outbox, work, outbox_dead }))
}

/// Resolves on SIGTERM or Ctrl-C: the shutdown a `main` passes in.
pub async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    tokio::select! {
        _ = ctrl_c => {},
        _ = term => {},
    }
}
