//! Running the platform as processes: the emulator, the third-party fakes
//! and every service, started together, watched, and stopped together.

mod control;
mod platform;
mod process;
mod quiet;
mod state;

pub use control::ControlError;
pub use platform::{Platform, UpError, UpOptions};
pub use process::ServiceProcess;
pub use quiet::{NotQuiet, Pending, QuietOptions, Settled, Settling, probe, wait_quiet};
pub use state::{PlatformState, ServiceState, StateError, alive, state_dir};
