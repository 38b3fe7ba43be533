//! Test support: a real moto emulator with one service's slice of the
//! topology provisioned, and helpers to feed its queue and watch what it
//! publishes. Each `TestBus` owns its emulator, so tests share nothing.
//!
//! The helpers panic with what they saw when a wait runs out: they are for
//! tests, where a panic is the report.
//!
//! `users` plays the users service for a service that checks sessions.

mod users;

pub use users::{EXPIRED, FORGED, OTHER, OWNER, answer_as, users, users_vouching, vouch};

use std::sync::Mutex;
use std::time::{Duration, Instant};

use fare_emulator::Emulator;

use crate::bus::{Bus, Receive, TapQueue};
use crate::config::Config;
use crate::envelope::{Envelope, EventType};
use crate::http::identity::{SERVICE_KEY_VAR, ServiceKey, Signer};

/// The operator token of every service under test ([`TestApp`] hands it
/// its SHA-256, as `fare up` does its run's).
pub const OPERATOR_TOKEN: &str = "test-operator-token";

/// `service`'s key in tests: derived from a fixed secret, as `fare up`
/// derives each run's from a random one.
pub fn service_key(service: &str) -> ServiceKey {
    let secret = ServiceKey::from_hex(&"5e".repeat(32)).expect("64 hex digits");
    ServiceKey::derive(&secret, service)
}

/// `FARE_CALLER_KEYS` granting `callers`, with their test keys.
pub fn caller_keys(callers: &[&str]) -> String {
    let keys: Vec<(&str, ServiceKey)> = callers.iter().map(|c| (*c, service_key(c))).collect();
    crate::http::identity::caller_keys_value(keys.iter().map(|(c, k)| (*c, k)))
}

/// A service identity of `caller` for a call to `audience`, with test keys.
pub fn service_token(caller: &str, audience: &str) -> String {
    Signer::new(caller, service_key(caller)).token(audience)
}

/// The slice of topology a service under test needs.
#[derive(Debug, Clone)]
pub struct TestSpec {
    pub service: &'static str,
    pub listens: &'static [&'static str],
    pub publishes: &'static [&'static str],
    pub max_receive_count: u32,
}

impl TestSpec {
    pub fn new(service: &'static str) -> TestSpec {
        TestSpec { service, listens: &[], publishes: &[], max_receive_count: 3 }
    }
}

pub struct TestBus {
    pub bus: Bus,
    spec: TestSpec,
    endpoint: String,
    queue_url: String,
    dlq_url: String,
    capture: TapQueue,
    seen: Mutex<Vec<Envelope>>,
    // Dropped last: the emulator outlives the clients above.
    _emulator: Emulator,
}

/// How long a test waits for anything before it fails.
const WAIT: Duration = Duration::from_secs(20);

impl TestBus {
    /// Starts moto and provisions `spec`: a topic per event, the service's
    /// queue with its dead-letter queue, raw subscriptions for what it
    /// listens to, and a capture queue on everything it publishes.
    pub async fn start(spec: TestSpec) -> TestBus {
        let emulator = fare_emulator::start_moto().expect("starting moto for the test");
        let endpoint = emulator.endpoint().to_owned();
        let config =
            Config::defaults(spec.service, &[]).with("AWS_ENDPOINT_URL", &endpoint).with("FARE_NAMESPACE", "test");
        let bus = Bus::connect(&config).await.expect("connecting to moto");
        let ns = bus.namespace.clone();
        let dlq_url = create_queue(&bus, &ns.dead_letter_queue(spec.service), None).await;
        let dlq_arn = queue_arn(&bus, &dlq_url).await;
        let redrive = serde_json::json!({ "deadLetterTargetArn": dlq_arn, "maxReceiveCount": spec.max_receive_count });
        let queue_url = create_queue(&bus, &ns.queue(spec.service), Some(redrive.to_string())).await;
        let arn = queue_arn(&bus, &queue_url).await;
        for topic in topics(&ns, spec.listens) {
            let topic_arn = bus.create_topic(&topic, None).await.expect("create topic");
            bus.subscribe(&topic_arn, &arn, None).await.expect("subscribe");
        }
        let capture = TapQueue::create(&bus, &format!("{ns}-capture"), &topics(&ns, spec.publishes), None)
            .await
            .expect("a capture queue on what the service publishes");
        TestBus { bus, spec, endpoint, queue_url, dlq_url, capture, seen: Mutex::default(), _emulator: emulator }
    }

    /// `config` pointed at this emulator, with quick polls and retries.
    pub fn configure(&self, config: Config) -> Config {
        config
            .with("AWS_ENDPOINT_URL", &self.endpoint)
            .with("FARE_NAMESPACE", self.bus.namespace.as_str())
            .with("FARE_POLL_WAIT_SECONDS", "1")
            .with("FARE_RETRY_BASE_SECONDS", "0")
    }

    pub fn endpoint(&self) -> &str {
        &self.endpoint
    }

    /// Publishes `event` to its topic: it reaches the service's queue the
    /// way it would in production.
    pub async fn deliver(&self, event: &Envelope) {
        self.bus.publisher("test").publish(event).await.expect("publishing a test event");
    }

    /// Puts `body` straight on the service's queue, as a broken producer would.
    pub async fn send_raw(&self, body: &str) {
        self.bus.send(&self.queue_url, body, &[]).await.expect("send_message");
    }

    /// Waits for the service to publish an event of `event_type`.
    pub async fn published(&self, event_type: &str) -> Envelope {
        let deadline = Instant::now() + WAIT;
        loop {
            {
                let mut seen = self.seen.lock().unwrap();
                if let Some(i) = seen.iter().position(|e| e.event_type.as_str() == event_type) {
                    return seen.remove(i);
                }
            }
            if Instant::now() > deadline {
                let seen: Vec<String> = self.seen.lock().unwrap().iter().map(|e| e.event_type.to_string()).collect();
                panic!("{} published no {event_type} within {WAIT:?}; it published {seen:?}", self.spec.service);
            }
            self.pull_capture(1).await;
        }
    }

    /// Everything published and not yet taken by `published`, once the
    /// service's queue is idle.
    pub async fn all_published(&self) -> Vec<Envelope> {
        self.wait_idle().await;
        self.pull_capture(0).await;
        std::mem::take(&mut *self.seen.lock().unwrap())
    }

    async fn pull_capture(&self, wait_seconds: i32) {
        let messages = self.capture.receive(wait_seconds).await.expect("receive from the capture queue");
        for m in &messages {
            let event = Envelope::from_json(&m.body)
                .unwrap_or_else(|e| panic!("the service published a non-envelope: {e}: {}", m.body));
            self.seen.lock().unwrap().push(event);
        }
        self.capture.ack(&messages).await.expect("delete from the capture queue");
    }

    /// Waits until the service's queue holds nothing, visible or in flight.
    pub async fn wait_idle(&self) {
        let deadline = Instant::now() + WAIT;
        loop {
            let (visible, in_flight) = self.depth(&self.queue_url).await;
            if visible + in_flight == 0 {
                return;
            }
            if Instant::now() > deadline {
                panic!(
                    "{}'s queue not idle after {WAIT:?}: {visible} waiting, {in_flight} in flight",
                    self.spec.service
                );
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// The bodies now in the dead-letter queue (left there).
    pub async fn dead_letters(&self) -> Vec<String> {
        let (visible, _) = self.depth(&self.dlq_url).await;
        let mut bodies = Vec::new();
        while bodies.len() < visible as usize {
            let how = Receive { visibility_seconds: Some(30), wait_seconds: 0, ..Receive::default() };
            let batch = self.bus.receive(&self.dlq_url, how).await.expect("receive from the DLQ");
            if batch.is_empty() {
                break;
            }
            bodies.extend(batch.into_iter().map(|m| m.body));
        }
        bodies
    }

    /// Waits until the dead-letter queue holds `n` messages.
    pub async fn wait_dead_letters(&self, n: u64) {
        let deadline = Instant::now() + WAIT;
        loop {
            let (visible, _) = self.depth(&self.dlq_url).await;
            if visible >= n {
                return;
            }
            if Instant::now() > deadline {
                panic!("{} dead letters expected within {WAIT:?}; {visible} arrived", n);
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    async fn depth(&self, url: &str) -> (u64, u64) {
        let d = self.bus.depth(url).await.expect("GetQueueAttributes");
        (d.waiting, d.in_flight)
    }
}

async fn create_queue(bus: &Bus, name: &str, redrive: Option<String>) -> String {
    let attributes = redrive.map(|policy| ("RedrivePolicy".to_owned(), policy)).into_iter().collect();
    bus.create_queue(name, &attributes, &[]).await.expect("create_queue")
}

fn topics(ns: &crate::bus::Namespace, events: &[&str]) -> Vec<String> {
    events.iter().map(|e| ns.topic(&EventType::parse(e).expect("a valid event type in the test spec"))).collect()
}

async fn queue_arn(bus: &Bus, url: &str) -> String {
    bus.queue_arn(url).await.expect("the queue's ARN")
}

/// What [`TestApp`] needs of a service's `build` function: its tests write
/// `TestApp<impl Build>`.
pub trait Build: AsyncFn(&Config) -> Result<crate::Application, crate::KitError> {}
impl<F: AsyncFn(&Config) -> Result<crate::Application, crate::KitError>> Build for F {}

/// A service under test: built by its own `build`, on a free port, with a
/// database in a temporary directory and its bus slice on a fresh moto.
pub struct TestApp<B> {
    pub url: String,
    pub http: reqwest::Client,
    pub bus: TestBus,
    pub dir: tempfile::TempDir,
    config: Config,
    build: B,
    running: Option<Running>,
}

struct Running {
    stop: tokio::sync::oneshot::Sender<()>,
    done: tokio::task::JoinHandle<Result<(), crate::KitError>>,
}

impl<B> TestApp<B>
where
    B: AsyncFn(&Config) -> Result<crate::Application, crate::KitError>,
{
    /// Starts the service: `config` holds the service's own settings (the
    /// wiremock URLs of what it asks), the rest is filled in here.
    pub async fn spawn(spec: TestSpec, config: Config, build: B) -> TestApp<B> {
        let bus = TestBus::start(spec).await;
        let dir = tempfile::tempdir().expect("a temporary directory");
        let db = dir.path().join("service.sqlite");
        let mut config = bus.configure(config).with("DATABASE_PATH", db.display().to_string()).with("PORT", "0");
        // Its own key and the operator's digest, unless the test set them;
        // callers' keys only where a test grants them (`caller_keys`).
        if config.get(SERVICE_KEY_VAR).is_none() {
            let key = service_key(config.service()).to_hex();
            config = config.with(SERVICE_KEY_VAR, key);
        }
        if config.get(crate::http::access::OPERATOR_VAR).is_none() {
            config =
                config.with(crate::http::access::OPERATOR_VAR, crate::http::access::operator_digest(OPERATOR_TOKEN));
        }
        let mut app =
            TestApp { url: String::new(), http: reqwest::Client::new(), bus, dir, config, build, running: None };
        app.start().await;
        app
    }

    async fn start(&mut self) {
        let app = (self.build)(&self.config).await.expect("building the service under test");
        self.url = format!("http://{}", app.local_addr());
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let done = tokio::spawn(app.run_until_stopped(async move {
            let _ = stopped.await;
        }));
        self.running = Some(Running { stop, done });
    }

    /// Stops the service the way SIGTERM does and waits until it exited.
    pub async fn stop(&mut self) {
        if let Some(running) = self.running.take() {
            let _ = running.stop.send(());
            running.done.await.expect("the service task").expect("the service stopped cleanly");
        }
    }

    /// Stops the service and starts it again on the same database.
    pub async fn restart(&mut self) {
        self.stop().await;
        self.start().await;
    }

    /// Waits until the service's queue is idle and the service has nothing
    /// in hand (`/pending` all zeros): every effect committed, every event
    /// it caused published.
    pub async fn quiet(&self) {
        let deadline = Instant::now() + WAIT;
        loop {
            self.bus.wait_idle().await;
            let pending: crate::probe::InHand =
                self.get("/pending").send().await.expect("GET /pending").json().await.expect("a JSON /pending");
            if pending.is_idle() {
                return;
            }
            if Instant::now() > deadline {
                panic!("the service still has work in hand after {WAIT:?}: {pending:?}");
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// Everything the service published, once it is quiet.
    pub async fn all_published(&self) -> Vec<Envelope> {
        self.quiet().await;
        self.bus.all_published().await
    }

    pub fn get(&self, path: &str) -> reqwest::RequestBuilder {
        self.http.get(format!("{}{path}", self.url))
    }

    pub fn post(&self, path: &str) -> reqwest::RequestBuilder {
        self.http.post(format!("{}{path}", self.url))
    }
}
