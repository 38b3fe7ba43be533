//! `fare up`: build, start the emulator, provision, start the fakes and the
//! services, wait until every service is ready. Everything started is owned
//! by the returned [`Platform`]; dropping it (or an error half-way) stops it
//! all, so a failed start leaves nothing running.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use fare_emulator::{Emulator, StartOptions};
use kit::bus::{Bus, Namespace};
use kit::probe::{Look, wait_until};
use tokio_util::sync::CancellationToken;

use super::containers::{Containers, ContainersOptions};
use super::control::Launch;
use super::process::{READY_LOOK, ServiceProcess, look_ready};
use super::state::{FakeState, PlatformState, ServiceState, ServiceStatus, state_dir};
use super::supervise::{RestartOptions, Supervisor};
use crate::fakes::{self, FakeVars, RunningFake};
use crate::topology::Topology;

#[derive(Debug, Clone)]
pub struct UpOptions {
    /// The workspace root: `services/`, `target/` and `.fare/` are under it.
    pub root: PathBuf,
    pub services_dir: PathBuf,
    pub namespace: Namespace,
    /// Use this SNS/SQS endpoint instead of starting an emulator.
    pub endpoint: Option<String>,
    /// The emulator to start when there is no endpoint; `None`: the
    /// runtime's default ([`super::Runtime::default_emulator`]).
    pub backend: Option<fare_emulator::Backend>,
    /// Run `cargo build` for the services first.
    pub build: bool,
    /// Echo the services' logs on stdout, prefixed by name.
    pub echo_logs: bool,
    /// Values of the fakes' vars for this run (`carrier.polls_until_delivered`).
    pub fake_vars: FakeVars,
    pub ready_timeout: Duration,
    /// What the supervisor does when a service dies.
    pub restart: RestartOptions,
    /// The user's own OTLP collector: the recorder forwards every span it
    /// receives there too. From `OTEL_EXPORTER_OTLP_ENDPOINT` by default.
    pub otlp_forward: Option<crate::trace::OtlpTarget>,
    /// The topology, when the caller has read `services_dir` already (to
    /// check its scenarios before starting anything); read here otherwise.
    pub topology: Option<Topology>,
    /// Start the services from empty databases even on an endpoint that is
    /// no fresh emulator (a fresh emulator always gets empty ones).
    pub empty_stores: bool,
    /// Processes, or containers (whose images are built first if missing).
    pub runtime: super::Runtime,
    /// In container mode, build every image again.
    pub rebuild: bool,
    /// Run each service as its manifest's `[profiles.NAME.run]` says, where it has one.
    pub profile: Option<String>,
}

impl UpOptions {
    /// The emulator this platform starts when it has no endpoint.
    pub fn emulator(&self) -> fare_emulator::Backend {
        self.backend.unwrap_or(self.runtime.default_emulator())
    }

    /// The platform under `root` (its `services/`), on a fresh emulator (the runtime's default), built
    /// first, quiet (logs only to files), with the default fakes.
    pub fn new(root: &Path, namespace: Namespace) -> UpOptions {
        UpOptions {
            root: root.to_owned(),
            services_dir: root.join("services"),
            namespace,
            endpoint: None,
            backend: None,
            build: true,
            echo_logs: false,
            fake_vars: FakeVars::new(),
            ready_timeout: Duration::from_secs(120),
            restart: RestartOptions::default(),
            otlp_forward: crate::trace::OtlpTarget::from_env(),
            topology: None,
            empty_stores: false,
            runtime: super::Runtime::default(),
            rebuild: false,
            profile: None,
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum UpError {
    #[error(transparent)]
    Load(#[from] crate::LoadError),
    #[error("a platform already runs in namespace `{0}` (`fare down` stops it, or pick another --namespace)")]
    AlreadyRunning(Namespace),
    #[error(transparent)]
    Build(#[from] super::BuildError),
    #[error("{action} {path}: {source}")]
    Io {
        action: &'static str,
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error(transparent)]
    Emulator(#[from] fare_emulator::EmulatorError),
    #[error(transparent)]
    Bus(#[from] kit::bus::BusError),
    #[error(transparent)]
    Config(#[from] kit::config::ConfigError),
    #[error(transparent)]
    Provision(#[from] crate::provision::ProvisionError),
    #[error(
        "{service} wraps `{third_party}`, which no manifest gives a fake for (add `fake = \"FILE\"` to that [[wraps]], a fake described as data; fakes: {})",
        if .known.is_empty() { "none".to_owned() } else { .known.join(", ") }
    )]
    NoFake { service: String, third_party: String, known: Vec<String> },
    #[error(transparent)]
    Fakes(#[from] crate::fakes::FakesError),
    #[error(
        "{service} exited during start-up ({status}), started by `{command}` ({declared_at}); last lines of {log}:\n{tail}"
    )]
    Exited { service: String, status: String, command: String, declared_at: String, log: PathBuf, tail: String },
    #[error("not ready after {waited:?}: {}", .pending.join("\n"))]
    NotReady { waited: Duration, pending: Vec<String> },
    #[error(
        "{service} listens on {listening}, not on the port fare handed it (PORT={port}, HOST={host}); it must bind HOST:PORT from its environment ({declared_at}); last lines of {log}:\n{tail}"
    )]
    WrongPort {
        service: String,
        listening: String,
        port: u16,
        host: String,
        declared_at: String,
        log: PathBuf,
        tail: String,
    },
    #[error(transparent)]
    State(#[from] super::StateError),
    #[error(transparent)]
    Trace(#[from] crate::trace::TraceError),
    #[error(transparent)]
    Containers(#[from] super::containers::ContainerError),
}

fn io(action: &'static str, path: &Path) -> impl FnOnce(std::io::Error) -> UpError {
    let path = path.to_owned();
    move |source| UpError::Io { action, path, source }
}

/// The bus as fare provisioned it, and where the services reach it.
struct BusSide<'a> {
    endpoint: Option<&'a str>,
    provisioned: &'a crate::provision::Current,
}

/// A service in process mode that listens, but not on the port it was
/// handed: said at once, not after the readiness deadline.
fn wrong_port(p: &ServiceProcess, launch: &Launch) -> Option<UpError> {
    if launch.container.is_some() {
        return None;
    }
    let port: u16 = launch.env.get("PORT")?.parse().ok()?;
    let listening = super::listening::ports_of_group(p.pid());
    if listening.is_empty() || listening.contains(&port) {
        return None;
    }
    let shown: Vec<String> = listening.iter().map(|p| format!("port {p}")).collect();
    Some(UpError::WrongPort {
        service: p.name.clone(),
        listening: shown.join(", "),
        port,
        host: launch.env.get("HOST").cloned().unwrap_or_default(),
        declared_at: launch.start.declared_at.clone(),
        log: p.log.clone(),
        tail: p.log_tail(10),
    })
}

/// A running platform. Dropping it stops everything it started.
pub struct Platform {
    pub state: PlatformState,
    pub(super) root: PathBuf,
    // Fields drop in order: services first, then fakes, then the emulator.
    pub(super) services: Vec<ServiceProcess>,
    /// How each service was started, so `control` can start it again.
    pub(super) launches: BTreeMap<String, Launch>,
    /// Which services died, and when each is due to start again.
    pub(super) supervisor: Supervisor,
    fakes: CancellationToken,
    /// Sees every event, dead letter and span of the run (`fare trace`).
    recorder: Option<crate::trace::Recorder>,
    /// The bus of the run's namespace, connected once at start-up.
    pub(super) bus: Bus,
    /// The topology the platform was started from.
    pub(super) topology: Topology,
    pub(super) emulator: Option<Emulator>,
    /// In container mode: the images, the network and the emulator's
    /// container; dropped after the services.
    pub(super) containers: Option<Containers>,
    /// The run's keys and operator token.
    credentials: super::Credentials,
}

impl Platform {
    pub async fn up(options: &UpOptions, progress: &mut dyn FnMut(&str)) -> Result<Platform, UpError> {
        Platform::up_with_env(options, &BTreeMap::new(), progress).await
    }

    /// [`Platform::up`], with `service_env` added to every service's environment.
    pub async fn up_with_env(
        options: &UpOptions,
        service_env: &BTreeMap<String, String>,
        progress: &mut dyn FnMut(&str),
    ) -> Result<Platform, UpError> {
        let started = Instant::now();
        let mut progress = |line: &str| progress(&format!("{line} ({} ms)", started.elapsed().as_millis()));
        let topology = match &options.topology {
            Some(topology) => topology.clone(),
            None => crate::load_topology(&options.services_dir)?.0,
        };
        let ns = &options.namespace;
        if PlatformState::load(&options.root, ns).is_ok() {
            return Err(UpError::AlreadyRunning(ns.clone()));
        }
        let profile = options.profile.as_deref();
        // Every service's [run] is read before anything starts or builds.
        for m in topology.services() {
            super::build::start_of(m, profile)?;
        }
        if options.build {
            super::build_services(topology.services(), profile, &mut progress)?;
        }
        let dir = state_dir(&options.root, ns);
        // A run on a fresh emulator starts from empty databases too: state
        // left from an earlier run would refer to queues, messages and fake
        // third-party records that no longer exist.
        if options.endpoint.is_none() || options.empty_stores {
            let data = dir.join("data");
            if data.exists() {
                std::fs::remove_dir_all(&data).map_err(io("emptying", &data))?;
            }
        }
        for sub in ["data", "logs"] {
            super::private_dir(&dir.join(sub)).map_err(io("creating", &dir.join(sub)))?;
        }
        // Started on this (worker) thread, not the blocking pool: the
        // emulator is tied to the thread that started it, and blocking-pool
        // threads exit when idle.
        let containers = match options.runtime {
            super::Runtime::Processes => None,
            super::Runtime::Containers => {
                let options = ContainersOptions {
                    namespace: ns.as_str(),
                    rebuild: options.rebuild,
                    emulator: options.endpoint.is_none().then(|| options.emulator()),
                    logs: &dir.join("logs"),
                    echo: options.echo_logs,
                };
                let containers = Containers::start(&options, &mut progress).await?;
                if let Some(took) = containers.emulator_ready {
                    progress(&format!("the emulator's container was ready in {} ms", took.as_millis()));
                }
                Some(containers)
            }
        };
        let emulator = match &options.endpoint {
            Some(_) => None,
            None if containers.is_some() => None,
            None => {
                // A first run installs the emulator: that is said, in
                // fare's own progress, before it starts.
                let backend = options.emulator();
                fare_emulator::Venv::ensure(backend, &mut progress)?;
                progress(&format!("starting the {} emulator", backend.name()));
                let start = StartOptions {
                    backend,
                    log_file: Some(dir.join("logs/emulator.log")),
                    progress: false,
                    ..StartOptions::default()
                };
                Some(Emulator::start(&start)?)
            }
        };
        let endpoint = options.endpoint.clone().or_else(|| emulator.as_ref().map(|e| e.endpoint().to_owned()));
        let endpoint = endpoint.or_else(|| containers.as_ref().and_then(|c| c.emulator_endpoint()));
        let bus = crate::connect(&endpoint, &options.namespace).await?;
        let mut platform = Platform {
            state: PlatformState {
                namespace: ns.clone(),
                endpoint: endpoint.clone(),
                emulator_pid: emulator.as_ref().map(|e| e.pid()),
                supervisor_pid: std::process::id(),
                supervisor_started: super::state::start_time(std::process::id()),
                recorder_url: None,
                restart: options.restart.policy,
                services: Vec::new(),
                fakes: Vec::new(),
                runtime: options.runtime,
            },
            root: options.root.clone(),
            services: Vec::new(),
            launches: BTreeMap::new(),
            supervisor: Supervisor::new(options.restart.clone()),
            fakes: CancellationToken::new(),
            recorder: None,
            bus: bus.clone(),
            topology: topology.clone(),
            emulator,
            containers,
            credentials: super::Credentials::generate(),
        };
        progress("provisioning topics, queues and subscriptions");
        let desired = crate::provision::desired(&topology, &options.namespace);
        let changes = crate::provision::converge(&bus, &options.namespace, &desired, &mut |c| {
            crate::terminal::detail(&c.to_string())
        })
        .await?;
        progress(&format!("{} changes applied", changes.len()));
        let provisioned = crate::provision::read_current(&bus, &options.namespace).await?;
        // In container mode fare's own listeners are on the network's
        // gateway, which the containers reach; on loopback otherwise.
        let listen = platform.containers.as_ref().map_or(std::net::Ipv4Addr::LOCALHOST.into(), |c| c.gateway);
        let specs = fakes::declared(topology.services())?;
        let fakes = fakes::start_all_on(listen, &specs, &options.fake_vars, platform.fakes.clone()).await?;
        platform.state.fakes = fakes.iter().map(|f| FakeState { name: f.name.clone(), url: f.url.clone() }).collect();
        // The recorder stops with the fakes: both are the run's background.
        let forward = options.otlp_forward.clone();
        if let Some(target) = &forward {
            progress(&format!("forwarding the services' spans to {} as well", target.url));
        }
        let recorder =
            crate::trace::Recorder::start_on(listen, &bus, &topology, forward, platform.fakes.clone()).await?;
        platform.state.recorder_url = Some(recorder.url().to_owned());
        let mut service_env = service_env.clone();
        // Spans always go to the recorder, which is fare's record and
        // forwards them to the user's collector (Jaeger, say), if any; the
        // user's own OTLP settings would take them elsewhere, so they are
        // overridden. Flushed every 100 ms so a trace is complete soon.
        service_env.insert("OTEL_EXPORTER_OTLP_ENDPOINT".into(), recorder.url().into());
        service_env.insert("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT".into(), format!("{}/v1/traces", recorder.url()));
        service_env.insert("OTEL_EXPORTER_OTLP_PROTOCOL".into(), "http/protobuf".into());
        for headers in ["OTEL_EXPORTER_OTLP_HEADERS", "OTEL_EXPORTER_OTLP_TRACES_HEADERS"] {
            service_env.insert(headers.into(), String::new());
        }
        service_env.insert("OTEL_BSP_SCHEDULE_DELAY".into(), "100".into());
        platform.recorder = Some(recorder);
        let token_file =
            platform.credentials.write_operator_token(&dir).map_err(io("writing the operator token to", &dir))?;
        progress(&format!("the operator token is in {} (yours alone to read)", token_file.display()));
        let bus_side = BusSide { endpoint: endpoint.as_deref(), provisioned: &provisioned };
        platform.start_services(options, &topology, &bus_side, &fakes, &dir, &service_env).await?;
        progress("waiting for every service to be ready");
        platform.wait_ready(options.ready_timeout).await?;
        platform.state.save(&options.root)?;
        Ok(platform)
    }

    async fn start_services(
        &mut self,
        options: &UpOptions,
        topology: &Topology,
        bus_side: &BusSide<'_>,
        fakes: &[RunningFake],
        dir: &Path,
        service_env: &BTreeMap<String, String>,
    ) -> Result<(), UpError> {
        // Where fare reaches each service, and where the others do: the
        // same loopback URL for processes; a mapped port and the container's
        // name on the network for containers.
        let mut listeners = BTreeMap::new();
        let mut specs = BTreeMap::new();
        let mut urls = BTreeMap::new();
        let mut peers = BTreeMap::new();
        for m in topology.services() {
            let localhost = Path::new("127.0.0.1");
            if let Some(containers) = &self.containers {
                let start = super::build::start_of(m, options.profile.as_deref())?;
                let spec = containers.service_spec(&m.name, &start, &dir.join("data"), &dir.join("hooks"))?;
                urls.insert(m.name.clone(), (spec.port, format!("http://127.0.0.1:{}", spec.host_port)));
                peers.insert(m.name.clone(), containers.url_inside(&m.name));
                specs.insert(m.name.clone(), spec);
                continue;
            }
            // Every service's socket is bound here, before any starts: the
            // others' settings need its URL, and a port held cannot be taken.
            let listener = std::net::TcpListener::bind(("127.0.0.1", 0)).map_err(io("binding a port on", localhost))?;
            let port = listener.local_addr().map_err(io("binding a port on", localhost))?.port();
            urls.insert(m.name.clone(), (port, format!("http://127.0.0.1:{port}")));
            peers.insert(m.name.clone(), format!("http://127.0.0.1:{port}"));
            listeners.insert(m.name.clone(), listener);
        }
        let inside = self.containers.as_ref().and_then(|c| c.emulator_endpoint_inside());
        let endpoint = inside.as_deref().or(bus_side.endpoint).filter(|e| *e != crate::AWS);
        let mut starting = Vec::new();
        for m in topology.services() {
            let start = super::build::start_of(m, options.profile.as_deref())?;
            let (port, url) = urls[&m.name].clone();
            let container = specs.remove(&m.name);
            let (host, data) = match container {
                Some(_) => ("0.0.0.0", Path::new("/data").join(format!("{}.sqlite", m.name))),
                None => ("127.0.0.1", dir.join("data").join(format!("{}.sqlite", m.name))),
            };
            let mut env = service_env.clone();
            let ns = &options.namespace;
            env.extend(super::convention::place_env(m, ns, &super::convention::Place { host, port, database: &data }));
            env.extend(super::convention::bus_env(m, ns, bus_side.provisioned, endpoint));
            env.extend([
                ("FARE_POLL_WAIT_SECONDS".to_owned(), "1".to_owned()),
                // A start-up error's message, not a stack trace, is what the
                // last log lines should show; panics keep RUST_BACKTRACE.
                ("RUST_LIB_BACKTRACE".to_owned(), "0".to_owned()),
            ]);
            if let Some(endpoint) = endpoint {
                env.insert("AWS_ENDPOINT_URL".to_owned(), endpoint.to_owned());
            }
            env.entry("AWS_REGION".to_owned())
                .or_insert_with(|| std::env::var("AWS_REGION").unwrap_or_else(|_| "us-east-1".to_owned()));
            for ask in &m.asks {
                env.insert(ask.env.clone(), peers[&ask.service].clone());
            }
            // Its own key, its granted callers' keys, the operator digest:
            // over anything inherited, and nothing more.
            env.extend(self.credentials.service_env(m));
            for wrap in &m.wraps {
                let fake = fakes.iter().find(|f| f.name == wrap.third_party).ok_or_else(|| UpError::NoFake {
                    service: m.name.clone(),
                    third_party: wrap.third_party.clone(),
                    known: fakes.iter().map(|f| f.name.clone()).collect(),
                })?;
                env.insert(wrap.env.clone(), fake.url.clone());
            }
            let log = dir.join("logs").join(format!("{}.log", m.name));
            let echo = options.echo_logs;
            if container.is_some() {
                // A container does not inherit fare's environment: what the
                // service reads from it is passed on, as a child inherits it.
                env = super::inherit::for_container(super::inherit::fare_environment(), m, &env);
                // The emulator's container is no loopback endpoint, for which
                // the kit would make up keys: it takes any, so these.
                if inside.is_some() {
                    for key in ["AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"] {
                        env.entry(key.to_owned()).or_insert_with(|| "test".to_owned());
                    }
                }
            }
            if let Some(spec) = &container {
                let env = env.clone();
                let (name, url, log, spec) = (m.name.clone(), url.clone(), log.clone(), spec.clone());
                starting.push(async move { ServiceProcess::start_container(&name, &spec, &env, url, log, echo).await });
            } else {
                let listener = listeners.remove(&m.name).expect("one listener per service, bound above");
                let process = ServiceProcess::spawn(&m.name, &start, &env, listener, log.clone(), echo)
                    .map_err(io("starting", &start.dir))?;
                self.services.push(process);
            }
            self.launches
                .insert(m.name.clone(), Launch { start, env, url, log, echo, faults: Default::default(), container });
        }
        // Containers start side by side; each waits for its /health.
        for started in futures_util::future::join_all(starting).await {
            self.services.push(started?);
        }
        for p in &self.services {
            self.state.services.push(ServiceState {
                name: p.name.clone(),
                url: p.url.clone(),
                pid: p.pid(),
                log: p.log.clone(),
                status: ServiceStatus::Running,
                restarts: 0,
                ready: p.ready.clone(),
            });
        }
        Ok(())
    }

    /// Waits until every service answers its readiness path, each for as
    /// long as its manifest's `ready_timeout_seconds` or `timeout`.
    async fn wait_ready(&mut self, timeout: Duration) -> Result<(), UpError> {
        let http =
            reqwest::Client::builder().timeout(Duration::from_millis(500)).build().expect("a plain client builds");
        let http = &http;
        let began = Instant::now();
        let own = |launch: &Launch| launch.start.ready_timeout.unwrap_or(timeout);
        let overall = self.launches.values().map(own).max().unwrap_or(timeout);
        let deadlines: BTreeMap<String, Duration> =
            self.launches.iter().map(|(name, launch)| (name.clone(), own(launch))).collect();
        let deadlines = &deadlines;
        let services = &mut self.services;
        let launches = &self.launches;
        let look = || {
            // Exits are read here, as they need the processes; the future asks.
            let exited = services.iter_mut().find_map(|p| {
                let status = p.exited()?;
                let start = &launches[&p.name].start;
                Some(UpError::Exited {
                    service: p.name.clone(),
                    status,
                    command: start.command.clone(),
                    declared_at: start.declared_at.clone(),
                    log: p.log.clone(),
                    tail: p.log_tail(15),
                })
            });
            let wrong_port =
                exited.is_none().then(|| services.iter().find_map(|p| wrong_port(p, &launches[&p.name]))).flatten();
            let urls: Vec<(String, String, String)> =
                services.iter().map(|p| (p.name.clone(), p.url.clone(), p.ready.clone())).collect();
            async move {
                if let Some(failed) = exited.or(wrong_port) {
                    return Err(failed);
                }
                // Every service is asked at once: one after the other, a
                // round took eight answers' time on a loaded machine.
                let looks = futures_util::future::join_all(
                    urls.iter().map(|(name, url, ready)| look_ready(http, name, url, ready)),
                );
                let pending: Vec<String> = looks
                    .await
                    .into_iter()
                    .filter_map(|look| match look {
                        Look::Pending(why) => Some(why),
                        Look::Ready(()) => None,
                    })
                    .collect();
                // A service past its own deadline ends the wait.
                let late: Vec<String> = pending
                    .iter()
                    .filter(|why| {
                        let name = why.split(':').next().unwrap_or_default();
                        deadlines.get(name).is_some_and(|d| began.elapsed() >= *d)
                    })
                    .cloned()
                    .collect();
                if !late.is_empty() {
                    return Err(UpError::NotReady { waited: began.elapsed(), pending: late });
                }
                Ok(if pending.is_empty() { Look::Ready(()) } else { Look::Pending(pending) })
            }
        };
        let waited = wait_until(Instant::now() + overall, READY_LOOK, look).await;
        let error = match waited {
            Ok(()) => return Ok(()),
            Err(w) => w.into_error(|waited, pending| UpError::NotReady { waited, pending }),
        };
        Err(match error {
            UpError::NotReady { waited, pending } => UpError::NotReady {
                waited,
                pending: pending.into_iter().map(|why| self.not_ready_detail(why)).collect(),
            },
            other => other,
        })
    }

    /// One service's line of a "not ready": what its readiness answered,
    /// where it is declared, and its last words.
    fn not_ready_detail(&self, why: String) -> String {
        let name = why.split(':').next().unwrap_or_default();
        match (self.launches.get(name), self.services.iter().find(|p| p.name == name)) {
            (Some(launch), Some(p)) => format!(
                "{why} (GET {}{}; `{}`, {}); last lines of {}:\n{}",
                p.url,
                p.ready,
                launch.start.command,
                launch.start.declared_at,
                p.log.display(),
                p.log_tail(10)
            ),
            _ => why,
        }
    }

    /// The bus of the platform's namespace.
    pub fn bus(&self) -> &Bus {
        &self.bus
    }

    /// The topology the platform was started from.
    pub fn topology(&self) -> &Topology {
        &self.topology
    }

    /// The recorder of this run's events, dead letters and spans.
    /// `.fare/<namespace>/`: its state, logs, reports and record.
    pub fn state_dir(&self) -> PathBuf {
        state_dir(&self.root, &self.bus.namespace)
    }

    /// The run's credentials: the harness presents the operator token, and
    /// signs as a service where it calls as one.
    pub fn credentials(&self) -> &super::Credentials {
        &self.credentials
    }

    pub fn recorder(&self) -> Option<&crate::trace::Recorder> {
        self.recorder.as_ref()
    }

    pub fn emulator(&self) -> Option<&Emulator> {
        self.emulator.as_ref()
    }

    /// Stops the services (all at once), the fakes and the emulator.
    pub fn stop(mut self) {
        std::thread::scope(|scope| {
            for p in &mut self.services {
                scope.spawn(move || p.stop(Duration::from_secs(10)));
            }
        });
        self.fakes.cancel();
        PlatformState::remove(&self.root, &self.state.namespace);
    }
}

impl Drop for Platform {
    fn drop(&mut self) {
        self.fakes.cancel();
        if self.state.supervisor_pid == std::process::id() {
            PlatformState::remove(&self.root, &self.state.namespace);
        }
    }
}

/// Where cargo puts what it builds under `root`.
pub fn target_dir(root: &Path) -> PathBuf {
    std::env::var_os("CARGO_TARGET_DIR").map(PathBuf::from).unwrap_or_else(|| root.join("target"))
}
