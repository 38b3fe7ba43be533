//! Running the platform as processes: the emulator, the third-party fakes
//! and every service, started together, watched (a service that dies is
//! started again by the restart policy), signalled one by one as faults
//! (killed, frozen, thawed), and stopped together.

mod control;
mod platform;
mod process;
mod quiet;
mod signal;
mod socket;
mod state;
mod supervise;

pub use control::ControlError;
pub use platform::{Platform, UpError, UpOptions, build_services};
pub use process::{ServiceProcess, look_ready};
pub use quiet::{
    NotQuiet, Pending, QuietOptions, Settled, Settling, probe, queues, queues_of, wait_quiet, wait_quiet_on,
};
pub use signal::{Process, signal};
pub use socket::{Answer, ControlSocket, Op, Request, SocketError, ask, serve, socket_path};
pub use state::{PlatformState, ServiceState, ServiceStatus, StateError, alive, private_dir, state_dir};
pub use supervise::{Next, RestartOptions, RestartPolicy, SupervisorEvent, TICK, describe, supervising};
