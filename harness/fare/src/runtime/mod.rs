//! Running the platform: the emulator, the third-party fakes and every
//! service, started together, watched (a service that dies is started again
//! by the restart policy), signalled one by one as faults (killed, frozen,
//! thawed, cut off), and stopped together: as processes, or
//! (`--runtime containers`) as containers (see [`containers`]).
//!
//! Processes and containers sit behind one interface: a `Runner` holds the
//! emulator and starts the services, each a `Part` (`runner.rs`, `part.rs`).
//! [`Platform`], the supervisor and the faults use only that interface; the
//! runtime is chosen once, in `up.rs`.
//!
//! # Layout
//! - `up`: `fare up` as a sequence of named steps; `ready`: its last, waiting until every service is ready.
//! - `platform`: the running [`Platform`], its options and errors.
//! - `runner`, `part`: the runtime interface; `processes` and `containers` implement it.
//! - `process`: one service as fare holds it; `child`: a service as a child process.
//! - `control`, `signal`, `revive`, `supervise`: stopping and starting services, faults, the emulator's revival, the restart policy; `pids`: signals to a pid.
//! - `build`, `convention`, `credentials`, `inherit`, `listening`: what a service is built and started with.
//! - `quiet`, `socket`, `state`: waiting for quiet, the control socket, the state file.

mod build;
mod child;
pub mod containers;
mod control;
pub mod convention;
pub mod credentials;
mod inherit;
mod listening;
mod part;
mod pids;
mod platform;
mod process;
mod processes;
mod quiet;
mod ready;
mod revive;
mod runner;
mod signal;
mod socket;
mod state;
mod supervise;
mod up;

pub use build::{BuildError, build_services, start_of};
pub use control::ControlError;
pub use credentials::Credentials;
pub use pids::{Stopped, signal, signal_group, terminate};
pub use platform::{Platform, UpError, UpOptions, target_dir};
pub use process::{ServiceProcess, Start, look_ready};
pub use quiet::{
    NotQuiet, Pending, QuietOptions, Settled, Settling, probe, queues, queues_of, wait_quiet, wait_quiet_on,
};
pub use signal::Process;
pub use socket::{Answer, ControlSocket, Op, Request, SocketError, ask, serve, socket_path};
pub use state::{
    PlatformState, ServiceState, ServiceStatus, StateError, alive, private_dir, read_operator_token, state_dir,
};
pub use supervise::{Next, RestartOptions, RestartPolicy, SupervisorEvent, TICK, describe, supervising};

/// Where the platform's parts run.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, clap::ValueEnum, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Runtime {
    /// Each service a child process of fare, the emulator too.
    #[default]
    Processes,
    /// Each service and the emulator (LocalStack, or moto) in a container, on a network of the run.
    Containers,
}

impl Runtime {
    /// The emulator started when none is named: moto for processes (small,
    /// quick to start), LocalStack in containers.
    pub fn default_emulator(self) -> fare_emulator::Backend {
        match self {
            Runtime::Processes => fare_emulator::Backend::Moto,
            Runtime::Containers => fare_emulator::Backend::LocalStack,
        }
    }
}
