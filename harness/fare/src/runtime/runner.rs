//! Where the platform's parts run: the interface between [`super::Platform`]
//! and a runtime. A [`Runner`] holds the emulator it started, gives each
//! service its addresses and environment, and starts a service (again);
//! what runs is a [`super::part::Part`]. The platform and the supervisor
//! hold a `Box<dyn Runner>` chosen once at `fare up`, so a fault or a
//! command is written once, against these traits. The runners:
//! [`super::processes::ProcessRunner`] (child processes on loopback) and
//! [`super::containers::ContainerRunner`] (containers on the run's network).

use std::collections::BTreeMap;
use std::net::IpAddr;
use std::path::{Path, PathBuf};

use kit::faults::FaultRules;

use super::containers::ContainerError;
use super::part::Part;
use super::process::{ServiceProcess, Start};
use crate::manifest::Manifest;

/// Where a service runs and is reached, chosen before any service starts:
/// the others' settings need its address.
#[derive(Debug, Clone)]
pub(crate) struct Placement {
    /// The address it binds where it runs (`HOST`).
    pub host: &'static str,
    /// The port it serves on there (`PORT`).
    pub port: u16,
    /// Where fare reaches it.
    pub url: String,
    /// Where the other services reach it.
    pub peer: String,
    /// Its database's file, as the service sees the path.
    pub database: PathBuf,
}

/// How a service was started: enough to start it again the same way.
#[derive(Debug, Clone)]
pub(crate) struct Launch {
    /// Its manifest's `[run]`, resolved.
    pub start: Start,
    pub env: BTreeMap<String, String>,
    pub url: String,
    pub log: PathBuf,
    pub echo: bool,
    /// The rules of its fault hook; empty: none.
    pub faults: FaultRules,
}

/// What kept a service from being placed or started.
#[derive(Debug, thiserror::Error)]
pub(crate) enum StartError {
    #[error("binding a port: {0}")]
    Bind(#[source] std::io::Error),
    #[error("starting its command: {0}")]
    Spawn(#[source] std::io::Error),
    #[error(transparent)]
    Container(#[from] ContainerError),
}

/// What kept the emulator from being started again.
#[derive(Debug, thiserror::Error)]
pub(crate) enum ReviveError {
    #[error(transparent)]
    Process(#[from] fare_emulator::EmulatorError),
    #[error(transparent)]
    Container(#[from] ContainerError),
}

/// A runtime holding the platform's parts: the emulator it started (none
/// when fare was given an `--endpoint`) and, through [`Runner::start`], the
/// services.
#[async_trait::async_trait]
pub(crate) trait Runner: Send + Sync {
    /// Where fare reaches the emulator this runner started.
    fn emulator_endpoint(&self) -> Option<String>;

    /// Where the services reach that emulator.
    fn emulator_endpoint_for_services(&self) -> Option<String>;

    /// The address fare's own listeners (the fakes, the recorder) bind, so
    /// that the services reach them.
    fn listen_address(&self) -> IpAddr;

    /// The emulator, while this runner holds one.
    fn emulator(&self) -> Option<&dyn Part>;

    fn emulator_mut(&mut self) -> Option<&mut dyn Part>;

    /// The emulator as a process of fare's own, when it is one: its pid is
    /// in the state file, and the bench measures it.
    fn emulator_process(&self) -> Option<&fare_emulator::Emulator> {
        None
    }

    /// A fresh emulator in the dead one's place, at the same endpoints.
    async fn restart_emulator(&mut self) -> Result<(), ReviveError>;

    /// Chooses where `service` runs and is reached; `dir` is the run's
    /// state directory (its `data/` holds the databases).
    fn place(&mut self, service: &str, start: &Start, dir: &Path) -> Result<Placement, StartError>;

    /// The environment `m`'s service is started with, from fare's `own`
    /// settings for it.
    fn environment(&self, m: &Manifest, own: BTreeMap<String, String>) -> BTreeMap<String, String>;

    /// Starts service `name` as `launch` says, with `env`, where it was
    /// placed (again, after it ended: on the same port).
    async fn start(
        &self,
        name: &str,
        launch: &Launch,
        env: &BTreeMap<String, String>,
    ) -> Result<ServiceProcess, StartError>;
}
