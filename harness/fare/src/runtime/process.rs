//! One service of the platform as fare holds it, whichever way it runs:
//! its name, where fare reaches it, its log and its readiness path, and
//! its running part ([`ServicePart`]), a child process of fare
//! ([`super::child`]) or a container ([`super::containers`]), behind the
//! same methods. Faults reach it through its fault hook, a socket pair with
//! a child and a Unix socket in a mounted directory with a container, both
//! speaking the kit's protocol (`kit::faults`).

use std::collections::BTreeSet;
use std::path::PathBuf;
use std::time::Duration;

use kit::faults::{FaultRules, HookError};
use kit::probe::Look;

use super::part::{Part, PartError, ServicePart};

/// How long a service gets to take new fault rules.
const HOOK_TIMEOUT: Duration = Duration::from_secs(10);

/// How often a wait for a process to exit looks.
pub const EXIT_LOOK: Duration = Duration::from_millis(20);

/// How often a wait for a service to be ready looks.
pub const READY_LOOK: Duration = Duration::from_millis(50);

/// One look at `name`'s readiness path `ready` (`/ready`) at `url`.
pub async fn look_ready(http: &reqwest::Client, name: &str, url: &str, ready: &str) -> Look<(), String> {
    let answer = match http.get(format!("{url}{ready}")).send().await {
        Ok(answer) => answer,
        Err(_) => return Look::Pending(format!("{name}: not answering on {url}")),
    };
    if answer.status().is_success() {
        return Look::Ready(());
    }
    let status = answer.status();
    match answer.json::<kit::probe::Ready>().await {
        Ok(ready) => Look::Pending(format!("{name}: {ready}")),
        Err(_) => Look::Pending(format!("{name}: {ready} answered {status}")),
    }
}

/// How one service's process is started: its manifest's `[run]`, resolved.
#[derive(Debug, Clone)]
pub struct Start {
    /// Run by `sh -c`, in `dir`, as the leader of a process group of its own.
    pub command: String,
    pub dir: PathBuf,
    pub listen: crate::manifest::Binding,
    pub fault_hook: bool,
    /// The readiness path.
    pub ready: String,
    /// How long it may take to be ready, when its manifest says.
    pub ready_timeout: Option<Duration>,
    /// `services/x/service.toml:14`, the `[run]` it came from.
    pub declared_at: String,
    /// Hand it `FARE_PROVIDER_STATES=on`: only contract verification does,
    /// for one run of a provider whose manifest declares a state URL.
    pub provider_states: bool,
}

#[derive(Debug)]
pub struct ServiceProcess {
    pub name: String,
    /// Where fare reaches it.
    pub url: String,
    pub log: PathBuf,
    /// Its readiness path (`/ready`).
    pub ready: String,
    part: Box<dyn ServicePart>,
}

impl ServiceProcess {
    pub(crate) fn new(name: &str, url: String, log: PathBuf, ready: String, part: Box<dyn ServicePart>) -> Self {
        ServiceProcess { name: name.to_owned(), url, log, ready, part }
    }

    /// What it runs as, for what every part of the platform answers to.
    pub(crate) fn part(&self) -> &dyn Part {
        &*self.part
    }

    /// SIGTERM, to its process group or its container's main process.
    pub(crate) fn terminate(&self) -> Result<(), PartError> {
        self.part.terminate()
    }

    /// SIGKILL, as a crash would (`docker kill` of a container).
    pub(crate) fn kill(&self) -> Result<(), PartError> {
        self.part.kill()
    }

    /// The ports it listens on, where fare can see them.
    pub(crate) fn listening(&self) -> Option<BTreeSet<u16>> {
        self.part.listening()
    }

    /// Replaces the rules of the service's fault hook with `rules` (empty:
    /// no faults), and waits until the service has taken them.
    pub async fn set_faults(&self, rules: &FaultRules) -> Result<(), HookError> {
        let stream = self.part.fault_hook(HOOK_TIMEOUT).await?;
        let rules = rules.clone();
        let sent = tokio::task::spawn_blocking(move || kit::faults::send(&stream, &rules, HOOK_TIMEOUT)).await;
        sent.map_err(|e| HookError::Io(std::io::Error::other(e)))?.map(|_| ())
    }

    pub fn pid(&self) -> u32 {
        self.part.pid()
    }

    /// `Some(status)` once the process has exited: `exit status 101`,
    /// `signal 9 (SIGKILL)`.
    pub fn exited(&mut self) -> Option<String> {
        self.part.exited()
    }

    /// One look at whether the process has exited.
    pub fn look_exited(&mut self) -> Look<String, ()> {
        self.exited().map_or(Look::Pending(()), Look::Ready)
    }

    /// SIGTERM, then SIGKILL after `grace`.
    pub fn stop(&mut self, grace: Duration) {
        if self.exited().is_some() {
            return;
        }
        self.part.stop(grace);
    }

    /// The last `n` lines of the service's log.
    pub fn log_tail(&self, n: usize) -> String {
        let text = std::fs::read_to_string(&self.log).unwrap_or_default();
        let lines: Vec<&str> = text.lines().collect();
        lines[lines.len().saturating_sub(n)..].join("\n")
    }
}

impl Drop for ServiceProcess {
    fn drop(&mut self) {
        self.stop(Duration::from_secs(10));
    }
}
