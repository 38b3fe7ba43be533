//! Installs and runs the local SNS/SQS emulators that fare's tests and
//! `fare up` run against.
//!
//! An emulator is a Python program (moto by default). fare installs it once
//! into a virtual environment it owns, under a cache directory shared by every
//! checkout on the machine, and starts it on a free loopback port. The
//! returned [`Emulator`] stops the server when dropped; the server is also
//! asked by the kernel to die with the thread that started it, so a test
//! that aborts leaves nothing running.
//!
//! # Layout
//! - `error`: [`EmulatorError`], one variant per way set-up can fail.
//! - `venv`: the managed virtual environments (the emulators', and the Pact
//!   tools' that tests drive: pact-python, the official `pact` CLI) and the
//!   lock that lets parallel test processes share one install.
//! - `server`: starting a server process, readiness, stopping it.
//! - `backend`: the emulators fare knows (moto, LocalStack) and their pins.

mod backend;
mod error;
mod server;
mod venv;

pub use backend::{Backend, LOCALSTACK_VERSION, MOTO_VERSION, Serve};
pub use error::EmulatorError;
pub use server::{Emulator, StartOptions, free_port};
pub use venv::{PACT_CLI_VERSION, PACT_PYTHON_VERSION, Tool, Venv, cache_dir, pact_tools, python_for};

/// Starts a moto server with default options: the common case in tests.
pub fn start_moto() -> Result<Emulator, EmulatorError> {
    Emulator::start(&StartOptions::default())
}
