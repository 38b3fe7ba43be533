//! A running platform: what `fare up` ([`super::up`]) started, and owns.
//! Dropping the [`Platform`] (or an error half-way through `fare up`) stops
//! it all, so a failed start leaves nothing running.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use fare_emulator::Emulator;
use kit::bus::{Bus, Namespace};
use tokio_util::sync::CancellationToken;

use super::process::ServiceProcess;
use super::runner::{Launch, Runner};
use super::state::{PlatformState, state_dir};
use super::supervise::{RestartOptions, Supervisor};
use crate::fakes::FakeVars;
use crate::io::IoError;
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
    #[error(transparent)]
    Io(#[from] IoError),
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
    #[error(transparent)]
    Exited(Box<ExitedAtStart>),
    #[error("not ready after {waited:?}: {}", .pending.join("\n"))]
    NotReady { waited: Duration, pending: Vec<String> },
    #[error(transparent)]
    WrongPort(Box<WrongPort>),
    #[error(transparent)]
    State(#[from] super::StateError),
    #[error(transparent)]
    Trace(#[from] crate::trace::TraceError),
    #[error(transparent)]
    Containers(#[from] super::containers::ContainerError),
}

/// A service that exited while `fare up` waited for it to be ready.
#[derive(Debug, thiserror::Error)]
#[error(
    "{service} exited during start-up ({status}), started by `{command}` ({declared_at}); last lines of {log}:\n{tail}"
)]
pub struct ExitedAtStart {
    pub service: String,
    pub status: String,
    pub command: String,
    pub declared_at: String,
    pub log: PathBuf,
    pub tail: String,
}

/// A service that listens, but not on the port fare handed it.
#[derive(Debug, thiserror::Error)]
#[error(
    "{service} listens on {listening}, not on the port fare handed it (PORT={port}, HOST={host}); it must bind HOST:PORT from its environment ({declared_at}); last lines of {log}:\n{tail}"
)]
pub struct WrongPort {
    pub service: String,
    pub listening: String,
    pub port: u16,
    pub host: String,
    pub declared_at: String,
    pub log: PathBuf,
    pub tail: String,
}

/// A running platform. Dropping it stops everything it started.
pub struct Platform {
    pub state: PlatformState,
    pub(super) root: PathBuf,
    // Fields drop in order: services first, then fakes, then the runner
    // (the emulator, and in container mode the network).
    pub(super) services: Vec<ServiceProcess>,
    /// How each service was started, so `control` can start it again.
    pub(super) launches: BTreeMap<String, Launch>,
    /// Which services died, and when each is due to start again.
    pub(super) supervisor: Supervisor,
    pub(super) fakes: CancellationToken,
    /// Sees every event, dead letter and span of the run (`fare trace`).
    pub(super) recorder: Option<crate::trace::Recorder>,
    /// The bus of the run's namespace, connected once at start-up.
    pub(super) bus: Bus,
    /// The topology the platform was started from.
    pub(super) topology: Topology,
    /// Where the parts run, as processes or as containers: chosen once at
    /// `fare up`, and never asked which.
    pub(super) runner: Box<dyn Runner>,
    /// The run's keys and operator token.
    pub(super) credentials: super::Credentials,
}

impl Platform {
    /// The bus of the platform's namespace.
    pub fn bus(&self) -> &Bus {
        &self.bus
    }

    /// The topology the platform was started from.
    pub fn topology(&self) -> &Topology {
        &self.topology
    }

    /// `.fare/<namespace>/`: its state, logs, reports and record.
    pub fn state_dir(&self) -> PathBuf {
        state_dir(&self.root, &self.bus.namespace)
    }

    /// The run's credentials: the harness presents the operator token, and
    /// signs as a service where it calls as one.
    pub fn credentials(&self) -> &super::Credentials {
        &self.credentials
    }

    /// The recorder of this run's events, dead letters and spans.
    pub fn recorder(&self) -> Option<&crate::trace::Recorder> {
        self.recorder.as_ref()
    }

    /// The emulator, when it runs as a process of fare's own.
    pub fn emulator(&self) -> Option<&Emulator> {
        self.runner.emulator_process()
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
