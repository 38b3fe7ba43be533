//! Container mode (`--runtime containers`): the same platform, each service
//! and the SNS/SQS emulator (LocalStack by default, or moto) in a container
//! of its own, on a user-defined network of the run, through
//! testcontainers. Containers reach each other by container name
//! (`<namespace>-store:8080`); fare reaches them through ports it maps on
//! the host. The third-party fakes and the trace recorder stay in fare and
//! listen on the network's gateway address, which the containers reach.
//! The manifests, the services' settings and the provisioning are the
//! process runtime's; only the addresses differ. `fare doctor` starts the
//! emulator's container alone (no services). A service's fault hook, a
//! descriptor in process mode, is a Unix socket fare listens on in a
//! directory mounted into its container (`/run/fare/hook.sock`,
//! `FARE_FAULT_SOCKET`).
//!
//! Every container and network carries the label `fare.namespace=<ns>`:
//! dropping the platform removes them, `fare down` removes what a killed
//! fare left, and `TESTCONTAINERS_COMMAND=keep` keeps them for debugging.
//!
//! # Layout
//! - `engine`: the engine connection (and the API-version shim testcontainers needs on older engines), labels, cleanup.
//! - `images`: the images built here from local inputs, tagged by the hash of those inputs.
//! - `unit`: one container of the platform: start, watch, stop, kill, pause, disconnect.
//! - `service`: a container as a part of the platform (a service with its fault hook, or the emulator).
//! - `runner`: the container runtime behind the platform's runner interface.

pub mod engine;
pub mod images;
mod runner;
mod service;
mod unit;

use crate::io::{IoError, io};
use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

pub use engine::{Engine, NAMESPACE_LABEL};
pub use images::{EMULATOR_PORT, ImageInfo, Images, Wanted};
pub(crate) use runner::ContainerRunner;
pub use unit::{HookSocket, Unit, UnitSpec};

#[derive(Debug, thiserror::Error)]
pub enum ContainerError {
    #[error("the container engine, {what}: {source}")]
    Engine {
        what: String,
        #[source]
        source: Box<testcontainers::bollard::errors::Error>,
    },
    #[error("building image {image}: {source}")]
    Build {
        image: String,
        #[source]
        source: Box<testcontainers::TestcontainersError>,
    },
    #[error("container {name}: {source}")]
    Start {
        name: String,
        #[source]
        source: Box<testcontainers::TestcontainersError>,
    },
    #[error(transparent)]
    Io(#[from] IoError),
    #[error("running {tool}: {source} (`apt-get install debootstrap` gives debootstrap; it runs as root)")]
    Tool {
        tool: String,
        #[source]
        source: std::io::Error,
    },
    #[error("{what} failed ({status}); last lines of {log}:\n{tail}")]
    Failed { what: String, status: String, log: PathBuf, tail: String },
    #[error("the network {network} has no gateway address for the fakes to listen on")]
    NoGateway { network: String },
    #[error("no {image} image was built for this run")]
    NoImage { image: String },
}

/// The port a service listens on inside its container.
pub const SERVICE_PORT: u16 = 8080;
/// Where a service's fault hook socket is, inside its container.
const HOOK_DIR: &str = "/run/fare";
const HOOK_SOCKET: &str = "hook.sock";

/// The containers' side of a running platform: the images, the network and
/// the emulator. Dropped after the services: it removes the emulator, then
/// the network.
pub struct Containers {
    pub images: Images,
    pub network: String,
    /// The network's gateway: fare's own listeners (fakes, recorder) bind it.
    pub gateway: IpAddr,
    pub namespace: String,
    emulator: Option<(fare_emulator::Backend, Unit)>,
    emulator_port: u16,
    emulator_log: PathBuf,
    /// How long the emulator's container took to be ready.
    pub emulator_ready: Option<Duration>,
}

/// What [`Containers::start`] needs.
pub struct ContainersOptions<'a> {
    pub namespace: &'a str,
    pub rebuild: bool,
    /// The emulator to start (none: an `--endpoint` was given).
    pub emulator: Option<fare_emulator::Backend>,
    pub logs: &'a Path,
    pub echo: bool,
}

impl Containers {
    /// Builds what images are missing, removes what an earlier run of the
    /// namespace left, creates the network and starts the emulator.
    pub async fn start(
        options: &ContainersOptions<'_>,
        progress: &mut dyn FnMut(&str),
    ) -> Result<Containers, ContainerError> {
        let engine = Engine::get().await?;
        let wanted = Wanted { emulators: options.emulator.as_slice() };
        let (images, _) = images::ensure(&wanted, options.rebuild, progress).await?;
        for left in engine.remove_labelled(options.namespace).await? {
            progress(&format!("removed {left}, left by an earlier run"));
        }
        let network = format!("{}-net", options.namespace);
        let gateway = engine.create_network(&network, options.namespace).await?;
        let mut containers = Containers {
            images,
            network,
            gateway,
            namespace: options.namespace.to_owned(),
            emulator: None,
            emulator_port: 0,
            emulator_log: options.logs.join("emulator.log"),
            emulator_ready: None,
        };
        if let Some(backend) = options.emulator {
            progress(&format!("starting the {} emulator's container", backend.name()));
            let started = Instant::now();
            containers.emulator_port = free_port()?;
            let spec = containers.emulator_spec(backend)?;
            let log = containers.emulator_log.clone();
            containers.emulator =
                Some((backend, Unit::start(&spec, &Default::default(), "emulator", log, false).await?));
            containers.emulator_ready = Some(started.elapsed());
        }
        Ok(containers)
    }

    /// Starts the emulator's container again after it ended, under the same
    /// name and on the same host port, so both endpoints hold; the dead
    /// one's log is kept as `emulator.log.died`. Returns how long it took.
    pub async fn restart_emulator(&mut self) -> Result<Duration, ContainerError> {
        let Some((backend, dead)) = self.emulator.take() else { return Ok(Duration::ZERO) };
        drop(dead);
        let started = Instant::now();
        let _ = std::fs::rename(&self.emulator_log, self.emulator_log.with_extension("log.died"));
        let spec = self.emulator_spec(backend)?;
        let unit = Unit::start(&spec, &Default::default(), "emulator", self.emulator_log.clone(), false).await?;
        self.emulator = Some((backend, unit));
        Ok(started.elapsed())
    }

    fn emulator_spec(&self, backend: fare_emulator::Backend) -> Result<UnitSpec, ContainerError> {
        let image = self
            .images
            .emulator(backend)
            .ok_or_else(|| ContainerError::NoImage { image: format!("fare-{}", backend.name()) })?;
        Ok(UnitSpec {
            image: image.to_owned(),
            name: self.emulator_host(),
            network: self.network.clone(),
            namespace: self.namespace.clone(),
            cmd: Vec::new(),
            port: EMULATOR_PORT,
            host_port: self.emulator_port,
            ready_path: backend.ready_path().into(),
            binds: Vec::new(),
            read_only: Vec::new(),
            working_dir: None,
            startup: Duration::from_secs(120),
            hook: None,
        })
    }

    fn emulator_host(&self) -> String {
        format!("{}-emulator", self.namespace)
    }

    /// Where fare reaches the emulator.
    pub fn emulator_endpoint(&self) -> Option<String> {
        self.emulator.as_ref().map(|_| format!("http://127.0.0.1:{}", self.emulator_port))
    }

    /// Where the services reach the emulator, from their network.
    pub fn emulator_endpoint_inside(&self) -> Option<String> {
        self.emulator.as_ref().map(|_| format!("http://{}:{EMULATOR_PORT}", self.emulator_host()))
    }

    /// The emulator's container, while it runs.
    pub fn emulator(&self) -> Option<&Unit> {
        self.emulator.as_ref().map(|(_, unit)| unit)
    }

    pub fn emulator_mut(&mut self) -> Option<&mut Unit> {
        self.emulator.as_mut().map(|(_, unit)| unit)
    }

    /// Which emulator runs in a container, if one does.
    pub fn backend(&self) -> Option<fare_emulator::Backend> {
        self.emulator.as_ref().map(|(backend, _)| *backend)
    }

    /// The container name of `service`: its host name on the network.
    pub fn host_of(&self, service: &str) -> String {
        format!("{}-{service}", self.namespace)
    }

    /// Where the other services reach `service`.
    pub fn url_inside(&self, service: &str) -> String {
        format!("http://{}:{SERVICE_PORT}", self.host_of(service))
    }

    /// How `service` is started: its manifest's command (`start`) run by
    /// `sh -c` in the base image, in its folder, mounted read-only at the
    /// same path as on the host (a binary built there, a Python module, run
    /// alike); a host port of its own; `data` (its database's directory)
    /// mounted at `/data`; and, when it speaks the fault hook,
    /// `hooks/<service>` at `/run/fare`, where fare listens for it.
    pub fn service_spec(
        &self,
        service: &str,
        start: &super::Start,
        data: &Path,
        hooks: &Path,
    ) -> Result<UnitSpec, ContainerError> {
        let hook_dir = hooks.join(service);
        let mut binds = vec![(data.to_owned(), "/data".to_owned())];
        let hook = start.fault_hook.then(|| {
            binds.push((hook_dir.clone(), HOOK_DIR.into()));
            HookSocket { host: hook_dir.join(HOOK_SOCKET), inside: format!("{HOOK_DIR}/{HOOK_SOCKET}") }
        });
        let dir = start.dir.display().to_string();
        Ok(UnitSpec {
            image: self.images.base.clone(),
            name: self.host_of(service),
            network: self.network.clone(),
            namespace: self.namespace.clone(),
            cmd: vec!["sh".into(), "-c".into(), start.command.clone()],
            port: SERVICE_PORT,
            host_port: free_port()?,
            ready_path: "/health".into(),
            binds,
            read_only: vec![(start.dir.clone(), dir.clone())],
            working_dir: Some(dir),
            // As long as process mode waits for a service (`--ready-timeout`'s default).
            startup: Duration::from_secs(120),
            hook,
        })
    }
}

impl Drop for Containers {
    fn drop(&mut self) {
        drop(self.emulator.take());
        if engine::keep() {
            return;
        }
        // Whatever else carries the namespace's label goes too: a container
        // created by a start that failed half-way, and the network.
        let namespace = self.namespace.clone();
        engine::blocking(async move {
            if let Ok(engine) = Engine::get().await
                && let Err(e) = engine.remove_labelled(&namespace).await
            {
                tracing::warn!(error = %e, "removing what is left of the namespace in the engine");
            }
        });
    }
}

/// A free port on the host, for a container's mapping: held by nothing
/// between here and the engine binding it, but chosen by fare so that a
/// container started again gets the same one.
fn free_port() -> Result<u16, ContainerError> {
    let on = "choosing a port on";
    let listener = std::net::TcpListener::bind(("0.0.0.0", 0)).map_err(io(on, "127.0.0.1"))?;
    Ok(listener.local_addr().map_err(io(on, "127.0.0.1"))?.port())
}
