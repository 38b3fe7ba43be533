//! Signals to a pid fare started: one process, a process group, and a
//! stop that asks first and kills past a grace.

use std::time::{Duration, Instant};

use kit::probe::{Look, wait_until};

/// How long a SIGKILLed service may take to be reaped.
pub(super) const REAP: Duration = Duration::from_secs(5);

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
