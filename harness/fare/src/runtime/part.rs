//! One running part of the platform, whichever way it runs: the SNS/SQS
//! emulator or a service, as a process of fare's or as a container. The
//! platform, the supervisor and the faults act on a part through these
//! traits and never ask which it is; each runtime implements them once (a
//! child process in [`super::child`], a container in
//! [`super::containers`], fare's own emulator process in
//! [`super::processes`]).

use std::collections::BTreeSet;
use std::os::unix::net::UnixStream;
use std::time::Duration;

use kit::faults::HookError;

use super::containers::ContainerError;

/// What a runtime could not do to one of its running parts.
#[derive(Debug, thiserror::Error)]
pub(crate) enum PartError {
    /// A process would not take a signal.
    #[error("signal {sig}: {source}")]
    Signal {
        sig: libc::c_int,
        #[source]
        source: std::io::Error,
    },
    #[error(transparent)]
    Container(#[from] ContainerError),
    /// Only a container has a network of its own to be cut off.
    #[error("only a container can be cut off its network")]
    NotAContainer,
}

/// A running part of the platform: the emulator, or a service.
#[async_trait::async_trait]
pub(crate) trait Part: Send + Sync + std::fmt::Debug {
    /// Its main process, as the host sees it.
    fn pid(&self) -> u32;

    /// `Some(how)` once it has ended: `exit status 101`, `signal 9 (SIGKILL)`.
    fn exited(&mut self) -> Option<String>;

    /// Freezes it (it holds what it has and answers nothing), or thaws it.
    async fn pause(&self, paused: bool) -> Result<(), PartError>;

    /// Cuts it off the run's network, or connects it again; only a
    /// container has a network of its own.
    async fn connect(&self, _connected: bool) -> Result<(), PartError> {
        Err(PartError::NotAContainer)
    }
}

/// Freezes the process `pid` (SIGSTOP), or thaws it (SIGCONT).
pub(super) fn pause_process(pid: u32, paused: bool) -> Result<(), PartError> {
    let sig = if paused { libc::SIGSTOP } else { libc::SIGCONT };
    super::pids::signal(pid, sig).map_err(|source| PartError::Signal { sig, source })
}

/// A running service: a part that is also asked to stop, killed as a
/// crash, checked for the port it took, and reached through its fault hook.
#[async_trait::async_trait]
pub(crate) trait ServicePart: Part {
    /// SIGTERM: it finishes what it has in hand and exits.
    fn terminate(&self) -> Result<(), PartError>;

    /// SIGKILL, as a crash would.
    fn kill(&self) -> Result<(), PartError>;

    /// SIGTERM, then SIGKILL after `grace`; returns once it has ended.
    fn stop(&mut self, grace: Duration);

    /// The ports it listens on, where fare can see them (`None`: it has a
    /// network of its own, and took whatever port it was told).
    fn listening(&self) -> Option<BTreeSet<u16>>;

    /// The connection to its fault hook, waiting at most `timeout` for it.
    async fn fault_hook(&self, timeout: Duration) -> Result<UnixStream, HookError>;
}
