//! Signals to the platform's own processes, as faults: SIGKILL (a crash,
//! which the supervisor's restart policy answers, or which keeps the
//! service down until asked), SIGSTOP and SIGCONT (a service hung but not
//! dead, the emulator unreachable for a while).

use std::fmt;
use std::time::{Duration, Instant};

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

/// How long a SIGKILLed service may take to be reaped.
const REAP: Duration = Duration::from_secs(5);

/// Sends `sig` to `pid`, a process this fare started.
pub fn signal(pid: u32, sig: libc::c_int) -> std::io::Result<()> {
    // SAFETY: kill(2) with a pid of a child fare started and has not reaped
    // (a service or the emulator); it has no memory effects.
    let rc = unsafe { libc::kill(pid as libc::pid_t, sig) };
    if rc == 0 { Ok(()) } else { Err(std::io::Error::last_os_error()) }
}

impl Platform {
    /// The pid of `process` while it runs.
    pub fn pid_of(&mut self, process: &Process) -> Result<u32, ControlError> {
        match process {
            Process::Emulator => self.emulator().map(|e| e.pid()).ok_or(ControlError::NoEmulator),
            Process::Service(name) => {
                self.launch(name)?;
                self.services
                    .iter_mut()
                    .filter(|p| p.name == *name)
                    .find_map(|p| p.exited().is_none().then(|| p.pid()))
                    .ok_or_else(|| ControlError::Stopped { name: name.clone() })
            }
        }
    }

    /// SIGKILLs `name`, as a crash would; the supervisor notices it and its
    /// restart policy applies. Returns the pid it had.
    pub fn kill_service(&mut self, name: &str) -> Result<u32, ControlError> {
        let process = Process::Service(name.to_owned());
        let pid = self.pid_of(&process)?;
        self.send(&process, pid, libc::SIGKILL)?;
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

    /// SIGSTOPs `process`: it holds what it has (a message in hand stays
    /// in flight, a request waits) and answers nothing until thawed.
    pub fn freeze(&mut self, process: &Process) -> Result<u32, ControlError> {
        let pid = self.pid_of(process)?;
        self.send(process, pid, libc::SIGSTOP)?;
        Ok(pid)
    }

    /// SIGCONTs `process`, frozen as `pid`.
    pub fn thaw(&self, process: &Process, pid: u32) -> Result<(), ControlError> {
        self.send(process, pid, libc::SIGCONT)
    }

    fn send(&self, process: &Process, pid: u32, sig: libc::c_int) -> Result<(), ControlError> {
        signal(pid, sig).map_err(|source| ControlError::Signal { process: process.to_string(), pid, sig, source })
    }
}
