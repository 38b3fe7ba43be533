//! Signals to the platform's own processes, as faults: SIGKILL (a crash,
//! which the supervisor's restart policy answers, or which keeps the
//! service down until asked), SIGSTOP and SIGCONT (a service hung but not
//! dead, the emulator unreachable for a while).

use std::fmt;
use std::time::{Duration, Instant};

use super::part::Part;
use super::pids::REAP;
use super::{ControlError, Platform};

/// A process of the platform a fault can freeze: one service, or the
/// SNS/SQS emulator.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Process {
    Service(String),
    Emulator,
}

impl Process {
    /// The name that means the emulator (no service is called so).
    pub const EMULATOR: &'static str = "emulator";
}

impl From<String> for Process {
    fn from(name: String) -> Self {
        if name == Process::EMULATOR { Process::Emulator } else { Process::Service(name) }
    }
}

impl fmt::Display for Process {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Process::Service(name) => f.write_str(name),
            Process::Emulator => f.write_str(Process::EMULATOR),
        }
    }
}

impl Platform {
    /// The pid of `process` while it runs (in container mode, of the
    /// container's main process, as the host sees it).
    pub fn pid_of(&mut self, process: &Process) -> Result<u32, ControlError> {
        self.part(process).map(|part| part.pid())
    }

    /// What `process` runs as, while it runs.
    fn part(&mut self, process: &Process) -> Result<&dyn Part, ControlError> {
        match process {
            Process::Emulator => self.runner.emulator().ok_or(ControlError::NoEmulator),
            Process::Service(name) => self.running(name).map(|p| p.part()),
        }
    }

    /// The running process (or container) of service `name`.
    fn running(&mut self, name: &str) -> Result<&mut super::ServiceProcess, ControlError> {
        self.launch(name)?;
        let i = self.services.iter_mut().position(|p| p.name == name && p.exited().is_none());
        i.map(|i| &mut self.services[i]).ok_or_else(|| ControlError::Stopped { name: name.to_owned() })
    }

    /// SIGKILLs `name` (`docker kill` in container mode), as a crash would;
    /// the supervisor notices it and its restart policy applies. Returns
    /// the pid it had.
    pub fn kill_service(&mut self, name: &str) -> Result<u32, ControlError> {
        let p = self.running(name)?;
        let pid = p.pid();
        p.kill().map_err(|e| ControlError::part(name, pid, e))?;
        Ok(pid)
    }

    /// SIGKILLs `name` and keeps it down: the crash is recorded as any
    /// other, but no restart follows until [`Platform::start_service`].
    pub async fn kill_and_hold(&mut self, name: &str) -> Result<u32, ControlError> {
        let pid = self.kill_service(name)?;
        let deadline = Instant::now() + REAP;
        while Instant::now() < deadline && self.services.iter_mut().any(|p| p.name == name && p.exited().is_none()) {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        self.stop_idle(name)?;
        Ok(pid)
    }

    /// Freezes `process` (SIGSTOP, or `docker pause` of its container), or
    /// thaws it (SIGCONT, `docker unpause`); returns its pid. A frozen
    /// process holds what it has (a message in hand stays in flight, a
    /// request waits) and answers nothing until thawed.
    pub async fn set_frozen(&mut self, process: &Process, frozen: bool) -> Result<u32, ControlError> {
        let part = self.part(process)?;
        let pid = part.pid();
        part.pause(frozen).await.map_err(|e| ControlError::part(&process.to_string(), pid, e))?;
        Ok(pid)
    }

    /// Cuts the container of `process` off the run's network (or connects
    /// it again): it runs, but reaches nothing and nothing reaches it.
    pub async fn set_connected(&mut self, process: &Process, connected: bool) -> Result<u32, ControlError> {
        let part = self.part(process)?;
        let pid = part.pid();
        part.connect(connected).await.map_err(|e| ControlError::part(&process.to_string(), pid, e))?;
        Ok(pid)
    }
}
