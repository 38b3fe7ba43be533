//! `fare up`, step by step: read the topology, build, prepare the state
//! directory, start the runtime (and the emulator in it), connect to the
//! bus, provision, start the fakes and the recorder, hand out the operator
//! token, start the services, and wait until every one is ready.
//! Everything started is owned by the returned [`Platform`] as soon as it
//! exists, so an error half-way stops what was started.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Instant;

use tokio_util::sync::CancellationToken;

use super::containers::{ContainerRunner, ContainersOptions};
use super::convention::{self, Place};
use super::process::{ServiceProcess, Start};
use super::processes::{ProcessOptions, ProcessRunner};
use super::runner::{Launch, Placement, Runner, StartError};
use super::state::{FakeState, PlatformState, ServiceState, ServiceStatus, state_dir};
use super::supervise::Supervisor;
use super::{Platform, UpError, UpOptions};
use crate::fakes::{self, RunningFake};
use crate::io::io;
use crate::manifest::Manifest;
use crate::provision::Current;
use crate::topology::Topology;

impl UpError {
    /// A service as `start` says could not be placed or started.
    fn starting(start: &Start, error: StartError) -> UpError {
        match error {
            StartError::Bind(source) => io("binding a port on", "127.0.0.1")(source).into(),
            StartError::Spawn(source) => io("starting", &start.dir)(source).into(),
            StartError::Container(e) => UpError::Containers(e),
        }
    }
}

/// What every service is wired to beside its own place: the run's options
/// and state directory, the bus as provisioned, the fakes, and the settings
/// every service gets.
struct Wiring<'a> {
    options: &'a UpOptions,
    dir: &'a Path,
    provisioned: &'a Current,
    fakes: &'a [RunningFake],
    env: &'a BTreeMap<String, String>,
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
        let progress = &mut |line: &str| progress(&format!("{line} ({} ms)", started.elapsed().as_millis()));
        let topology = read_topology(options)?;
        refuse_a_second_platform(options)?;
        build(options, &topology, progress)?;
        let dir = prepare_state_dir(options)?;
        let runner = start_runner(options, &dir, progress).await?;
        let mut platform = Platform::connect(options, topology, runner).await?;
        let provisioned = platform.provision(progress).await?;
        let fakes = platform.start_fakes(options).await?;
        let env = platform.start_recorder(options, service_env, progress).await?;
        platform.hand_out_operator_token(&dir, progress)?;
        let wiring = Wiring { options, dir: &dir, provisioned: &provisioned, fakes: &fakes, env: &env };
        platform.start_services(&wiring).await?;
        progress("waiting for every service to be ready");
        platform.wait_ready(options.ready_timeout).await?;
        platform.state.save(&options.root)?;
        Ok(platform)
    }

    /// The platform's record of itself, on the bus at the runner's emulator
    /// (or at the endpoint given); no fake and no service runs yet.
    async fn connect(options: &UpOptions, topology: Topology, runner: Box<dyn Runner>) -> Result<Platform, UpError> {
        let endpoint = options.endpoint.clone().or_else(|| runner.emulator_endpoint());
        let bus = crate::connect(&endpoint, &options.namespace).await?;
        Ok(Platform {
            state: PlatformState {
                namespace: options.namespace.clone(),
                endpoint,
                emulator_pid: runner.emulator_process().map(|e| e.pid()),
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
            bus,
            topology,
            runner,
            credentials: super::Credentials::generate(),
        })
    }

    /// Makes the topics, queues and subscriptions of the topology; returns
    /// them as provisioned.
    async fn provision(&self, progress: &mut dyn FnMut(&str)) -> Result<Current, UpError> {
        progress("provisioning topics, queues and subscriptions");
        let ns = &self.state.namespace;
        let desired = crate::provision::desired(&self.topology, ns);
        let changes =
            crate::provision::converge(&self.bus, ns, &desired, &mut |c| crate::terminal::detail(&c.to_string()))
                .await?;
        progress(&format!("{} changes applied", changes.len()));
        Ok(crate::provision::read_current(&self.bus, ns).await?)
    }

    /// Starts every third party's fake where the services reach it.
    async fn start_fakes(&mut self, options: &UpOptions) -> Result<Vec<RunningFake>, UpError> {
        let listen = self.runner.listen_address();
        let specs = fakes::declared(self.topology.services())?;
        let fakes = fakes::start_all_on(listen, &specs, &options.fake_vars, self.fakes.clone()).await?;
        self.state.fakes = fakes.iter().map(|f| FakeState { name: f.name.clone(), url: f.url.clone() }).collect();
        Ok(fakes)
    }

    /// Starts the recorder where the services reach it; returns
    /// `service_env` with the services' spans sent to it.
    async fn start_recorder(
        &mut self,
        options: &UpOptions,
        service_env: &BTreeMap<String, String>,
        progress: &mut dyn FnMut(&str),
    ) -> Result<BTreeMap<String, String>, UpError> {
        let forward = options.otlp_forward.clone();
        if let Some(target) = &forward {
            progress(&format!("forwarding the services' spans to {} as well", target.url));
        }
        // The recorder stops with the fakes: both are the run's background.
        let listen = self.runner.listen_address();
        let recorder =
            crate::trace::Recorder::start_on(listen, &self.bus, &self.topology, forward, self.fakes.clone()).await?;
        self.state.recorder_url = Some(recorder.url().to_owned());
        let env = spans_to(recorder.url(), service_env);
        self.recorder = Some(recorder);
        Ok(env)
    }

    fn hand_out_operator_token(&self, dir: &Path, progress: &mut dyn FnMut(&str)) -> Result<(), UpError> {
        let token_file =
            self.credentials.write_operator_token(dir).map_err(io("writing the operator token to", dir))?;
        progress(&format!("the operator token is in {} (yours alone to read)", token_file.display()));
        Ok(())
    }

    /// Places every service, then starts them all and records them in the
    /// state. They start side by side (a container waits for its /health).
    async fn start_services(&mut self, wiring: &Wiring<'_>) -> Result<(), UpError> {
        let places = self.place_services(wiring)?;
        let peers: BTreeMap<&str, &str> =
            places.iter().map(|(name, (_, p))| (name.as_str(), p.peer.as_str())).collect();
        for m in self.topology.services() {
            let (start, place) = &places[&m.name];
            let launch = self.launch_of(m, start.clone(), place, &peers, wiring)?;
            self.launches.insert(m.name.clone(), launch);
        }
        for started in self.start_launched().await {
            self.services.push(started?);
        }
        self.record_services();
        Ok(())
    }

    /// Where each service runs and is reached, chosen for all before any
    /// starts: the others' settings need its address.
    fn place_services(&mut self, wiring: &Wiring<'_>) -> Result<BTreeMap<String, (Start, Placement)>, UpError> {
        let mut places = BTreeMap::new();
        for m in self.topology.services() {
            let start = super::build::start_of(m, wiring.options.profile.as_deref())?;
            let place = self.runner.place(&m.name, &start, wiring.dir).map_err(|e| UpError::starting(&start, e))?;
            places.insert(m.name.clone(), (start, place));
        }
        Ok(places)
    }

    /// How `m`'s service is started: its `[run]`, its settings, its log.
    fn launch_of(
        &self,
        m: &Manifest,
        start: Start,
        place: &Placement,
        peers: &BTreeMap<&str, &str>,
        wiring: &Wiring<'_>,
    ) -> Result<Launch, UpError> {
        let env = self.runner.environment(m, self.settings_of(m, place, peers, wiring)?);
        Ok(Launch {
            start,
            env,
            url: place.url.clone(),
            log: wiring.dir.join("logs").join(format!("{}.log", m.name)),
            echo: wiring.options.echo_logs,
            faults: Default::default(),
        })
    }

    /// fare's settings for `m`'s service, over the run's own: where it
    /// serves, where its bus, the services it asks and its fakes are, and
    /// its keys.
    fn settings_of(
        &self,
        m: &Manifest,
        place: &Placement,
        peers: &BTreeMap<&str, &str>,
        wiring: &Wiring<'_>,
    ) -> Result<BTreeMap<String, String>, UpError> {
        let ns = &self.state.namespace;
        let endpoint = self.runner.emulator_endpoint_for_services().or_else(|| self.state.endpoint.clone());
        let endpoint = endpoint.filter(|e| e != crate::AWS);
        let mut env = wiring.env.clone();
        let here = Place { host: place.host, port: place.port, database: &place.database };
        env.extend(convention::place_env(m, ns, &here));
        env.extend(convention::bus_env(m, ns, wiring.provisioned, endpoint.as_deref()));
        env.extend([
            ("FARE_POLL_WAIT_SECONDS".to_owned(), "1".to_owned()),
            // A start-up error's message, not a stack trace, is what the
            // last log lines should show; panics keep RUST_BACKTRACE.
            ("RUST_LIB_BACKTRACE".to_owned(), "0".to_owned()),
        ]);
        if let Some(endpoint) = endpoint {
            env.insert("AWS_ENDPOINT_URL".to_owned(), endpoint);
        }
        env.entry("AWS_REGION".to_owned())
            .or_insert_with(|| std::env::var("AWS_REGION").unwrap_or_else(|_| "us-east-1".to_owned()));
        for ask in &m.asks {
            env.insert(ask.env.clone(), peers[ask.service.as_str()].to_owned());
        }
        // Its own key, its granted callers' keys, the operator digest:
        // over anything inherited, and nothing more.
        env.extend(self.credentials.service_env(m));
        env.extend(fakes_of(m, wiring.fakes)?);
        Ok(env)
    }

    /// Starts every service launched; returns each start's outcome, in
    /// order, once all have ended.
    async fn start_launched(&self) -> Vec<Result<ServiceProcess, UpError>> {
        let runner = &self.runner;
        let starting = self.launches.iter().map(|(name, launch)| async move {
            runner.start(name, launch, &launch.env).await.map_err(|e| UpError::starting(&launch.start, e))
        });
        futures_util::future::join_all(starting).await
    }

    fn record_services(&mut self) {
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
    }
}

fn read_topology(options: &UpOptions) -> Result<Topology, UpError> {
    Ok(match &options.topology {
        Some(topology) => topology.clone(),
        None => crate::load_topology(&options.services_dir)?.0,
    })
}

fn refuse_a_second_platform(options: &UpOptions) -> Result<(), UpError> {
    match PlatformState::load(&options.root, &options.namespace) {
        Ok(_) => Err(UpError::AlreadyRunning(options.namespace.clone())),
        Err(_) => Ok(()),
    }
}

/// Reads every service's `[run]` before anything starts or builds, then
/// builds the services (unless told not to).
fn build(options: &UpOptions, topology: &Topology, progress: &mut dyn FnMut(&str)) -> Result<(), UpError> {
    let profile = options.profile.as_deref();
    for m in topology.services() {
        super::build::start_of(m, profile)?;
    }
    if options.build {
        super::build_services(topology.services(), profile, progress)?;
    }
    Ok(())
}

/// `.fare/<namespace>/` with its `data/` and `logs/`, each private.
fn prepare_state_dir(options: &UpOptions) -> Result<PathBuf, UpError> {
    let dir = state_dir(&options.root, &options.namespace);
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
    Ok(dir)
}

/// The runtime the options ask for, with the emulator started in it (none
/// with an `--endpoint`): the one place where processes and containers are
/// told apart.
async fn start_runner(
    options: &UpOptions,
    dir: &Path,
    progress: &mut dyn FnMut(&str),
) -> Result<Box<dyn Runner>, UpError> {
    let emulator = options.endpoint.is_none().then(|| options.emulator());
    Ok(match options.runtime {
        super::Runtime::Processes => {
            let options = ProcessOptions { emulator, log_file: dir.join("logs/emulator.log") };
            Box::new(ProcessRunner::start(&options, progress)?)
        }
        super::Runtime::Containers => {
            let options = ContainersOptions {
                namespace: options.namespace.as_str(),
                rebuild: options.rebuild,
                emulator,
                logs: &dir.join("logs"),
                echo: options.echo_logs,
            };
            Box::new(ContainerRunner::start(&options, progress).await?)
        }
    })
}

/// `service_env` with the services' spans sent to the recorder at `url`.
/// The recorder is fare's record and forwards them to the user's collector
/// (Jaeger, say), if any; the user's own OTLP settings would take them
/// elsewhere, so they are overridden. Flushed every 100 ms so a trace is
/// complete soon.
fn spans_to(url: &str, service_env: &BTreeMap<String, String>) -> BTreeMap<String, String> {
    let mut env = service_env.clone();
    env.insert("OTEL_EXPORTER_OTLP_ENDPOINT".into(), url.into());
    env.insert("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT".into(), format!("{url}/v1/traces"));
    env.insert("OTEL_EXPORTER_OTLP_PROTOCOL".into(), "http/protobuf".into());
    for headers in ["OTEL_EXPORTER_OTLP_HEADERS", "OTEL_EXPORTER_OTLP_TRACES_HEADERS"] {
        env.insert(headers.into(), String::new());
    }
    env.insert("OTEL_BSP_SCHEDULE_DELAY".into(), "100".into());
    env
}

/// Where each third party `m` wraps is played: its fake's URL, in the
/// variable the manifest names.
fn fakes_of(m: &Manifest, fakes: &[RunningFake]) -> Result<Vec<(String, String)>, UpError> {
    let fake_of = |third_party: &str| {
        fakes.iter().find(|f| f.name == third_party).ok_or_else(|| UpError::NoFake {
            service: m.name.clone(),
            third_party: third_party.to_owned(),
            known: fakes.iter().map(|f| f.name.clone()).collect(),
        })
    };
    m.wraps.iter().map(|wrap| Ok((wrap.env.clone(), fake_of(&wrap.third_party)?.url.clone()))).collect()
}
