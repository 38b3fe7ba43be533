//! Signals to the platform's own processes, as faults: SIGKILL (a crash,
//! which the supervisor's restart policy answers, or which keeps the
//! service down until asked), SIGSTOP and SIGCONT (a service hung but not
//! dead, the emulator unreachable for a while).

use std::fmt;
use std::time::{Duration, Instant};

use kit::probe::{Look, wait_until};

use super::part::Part;
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

/// Sends `sig` to every process of the group `leader` leads (a supervisor
/// fare started in a session of its own); no error if it is gone.
pub fn signal_group(leader: u32, sig: libc::c_int) {
    // SAFETY: kill(2) of a process group fare made; no memory effects.
    unsafe { libc::kill(-(leader as libc::pid_t), sig) };
}

/// How a process asked to stop went.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stopped {
    /// On SIGTERM, within its grace.
    Terminated,
    /// Past its grace, by SIGKILL.
    Killed,
}

/// Stops `pid`: SIGTERM, then SIGKILL once `grace` has passed. `running`
/// says whether it still runs and is still the process fare started (its
/// start time): no signal goes to a pid the kernel gave to another.
pub async fn terminate(pid: u32, running: impl Fn() -> bool, grace: Duration) -> Result<Stopped, std::io::Error> {
    let send =
        |sig| if running() { signal(pid, sig).or_else(|e| if running() { Err(e) } else { Ok(()) }) } else { Ok(()) };
    let gone = || std::future::ready(Ok::<_, ()>(if running() { Look::Pending(()) } else { Look::Ready(()) }));
    send(libc::SIGTERM)?;
    if wait_until(Instant::now() + grace, Duration::from_millis(50), gone).await.is_ok() {
        return Ok(Stopped::Terminated);
    }
    send(libc::SIGKILL)?;
    match wait_until(Instant::now() + REAP, Duration::from_millis(50), gone).await {
        Ok(()) => Ok(Stopped::Killed),
        Err(_) => Err(std::io::Error::other(format!("pid {pid} survived SIGKILL for {REAP:?}"))),
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

    /// Freezes `process`: SIGSTOP, or `docker pause` of its container. It
    /// holds what it has (a message in hand stays in flight, a request
    /// waits) and answers nothing until thawed.
    pub async fn freeze(&mut self, process: &Process) -> Result<u32, ControlError> {
        self.set_frozen(process, true).await
    }

    /// Thaws `process`, frozen as `pid`: SIGCONT, or `docker unpause`.
    pub async fn thaw(&mut self, process: &Process, pid: u32) -> Result<(), ControlError> {
        let _ = pid;
        self.set_frozen(process, false).await.map(|_| ())
    }

    async fn set_frozen(&mut self, process: &Process, frozen: bool) -> Result<u32, ControlError> {
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

#[cfg(test)]
mod tests {
    use std::process::Command;
    use std::sync::Mutex;

    use super::*;

    /// A process that ignores SIGTERM, or one that does not, once it has
    /// said so (a signal sent before `trap` ran would find it deaf to nothing).
    fn process(ignores_term: bool) -> std::process::Child {
        use std::io::BufRead;
        let trap = if ignores_term { "trap '' TERM; " } else { "" };
        let mut child = Command::new("sh")
            .arg("-c")
            .arg(format!("{trap}echo set; while :; do sleep 0.1; done"))
            .stdout(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        let mut line = String::new();
        std::io::BufReader::new(child.stdout.take().unwrap()).read_line(&mut line).unwrap();
        child
    }

    async fn stop(child: std::process::Child) -> Stopped {
        let pid = child.id();
        let child = Mutex::new(child);
        let running = || child.lock().unwrap().try_wait().is_ok_and(|exited| exited.is_none());
        let stopped = terminate(pid, running, Duration::from_millis(500)).await;
        // Nothing left behind, whatever `terminate` did.
        let mut child = child.into_inner().unwrap();
        let _ = child.kill();
        let _ = child.wait();
        stopped.unwrap()
    }

    #[tokio::test]
    async fn a_process_deaf_to_sigterm_is_killed_after_its_grace() {
        assert_eq!(stop(process(true)).await, Stopped::Killed);
        assert_eq!(stop(process(false)).await, Stopped::Terminated);
    }
}
