//! Stopping and starting one service of a running platform, for faults:
//! a service stopped mid-chain comes back on the same port, with the same
//! database and environment (or with a few settings changed), and must pick
//! up where it left off. The handler faults set on a service's fault hook
//! are kept here too, and set again on each process that replaces it.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use kit::faults::{FaultRules, HookError};
use kit::probe::wait_until;

use super::Platform;
use super::part::PartError;
use super::process::{EXIT_LOOK, READY_LOOK, look_ready};
use super::runner::{Launch, StartError};

#[derive(Debug, thiserror::Error)]
pub enum ControlError {
    #[error(
        "no service `{name}` on this platform{} (it has: {})",
        kit::suggest::did_you_mean(name, known.iter().map(String::as_str)),
        .known.join(", ")
    )]
    Unknown { name: String, known: Vec<String> },
    #[error("{name} is already running")]
    Running { name: String },
    #[error("{name} is not running")]
    Stopped { name: String },
    #[error("restarting {name} (`{command}` in {dir}, as {declared_at} says): {source}")]
    Spawn {
        name: String,
        command: String,
        dir: PathBuf,
        declared_at: String,
        #[source]
        source: std::io::Error,
    },
    #[error("{name} exited while restarting ({status}); last lines of {log}:\n{tail}")]
    Exited { name: String, status: String, log: PathBuf, tail: String },
    #[error("{name} was not ready {waited:?} after restarting (GET {url}{ready})")]
    NotReady { name: String, url: String, ready: String, waited: Duration },
    #[error("setting the handler faults of {name}: {source}")]
    Faults {
        name: String,
        #[source]
        source: HookError,
    },
    #[error("the emulator is not this fare's to signal (it was given --endpoint)")]
    NoEmulator,
    #[error("signal {sig} to {process} (pid {pid}): {source}")]
    Signal {
        process: String,
        pid: u32,
        sig: libc::c_int,
        #[source]
        source: std::io::Error,
    },
    #[error(transparent)]
    State(#[from] super::StateError),
    #[error("{process}: {source}")]
    Container {
        process: String,
        #[source]
        source: super::containers::ContainerError,
    },
    #[error("{process} runs as a process: only a container can be cut off its network (--runtime containers)")]
    NotAContainer { process: String },
}

impl ControlError {
    /// `name` could not be started again as `launch` says.
    fn starting(name: &str, launch: &Launch, error: StartError) -> ControlError {
        match error {
            StartError::Bind(source) | StartError::Spawn(source) => ControlError::Spawn {
                name: name.to_owned(),
                command: launch.start.command.clone(),
                dir: launch.start.dir.clone(),
                declared_at: launch.start.declared_at.clone(),
                source,
            },
            StartError::Container(source) => ControlError::Container { process: name.to_owned(), source },
        }
    }

    /// `process`, running as `pid`, would not do what it was asked.
    pub(super) fn part(process: &str, pid: u32, error: PartError) -> ControlError {
        let process = process.to_owned();
        match error {
            PartError::Signal { sig, source } => ControlError::Signal { process, pid, sig, source },
            PartError::Container(source) => ControlError::Container { process, source },
            PartError::NotAContainer => ControlError::NotAContainer { process },
        }
    }
}

/// How long a stopped service gets to finish what it has in hand.
const GRACE: Duration = Duration::from_secs(10);
const READY_TIMEOUT: Duration = Duration::from_secs(60);

impl Platform {
    pub(super) fn launch(&self, name: &str) -> Result<Launch, ControlError> {
        self.launches.get(name).cloned().ok_or_else(|| ControlError::Unknown {
            name: name.to_owned(),
            known: self.launches.keys().cloned().collect(),
        })
    }

    /// Whether `name` runs now (started and not exited).
    pub fn is_running(&mut self, name: &str) -> bool {
        self.services.iter_mut().any(|p| p.name == name && p.exited().is_none())
    }

    /// Stops `name` as an operator would: SIGTERM, so it finishes the
    /// messages in hand, then SIGKILL after a grace period.
    pub async fn stop_service(&mut self, name: &str) -> Result<(), ControlError> {
        self.launch(name)?;
        let Some(i) = self.services.iter_mut().position(|p| p.name == name && p.exited().is_none()) else {
            return self.stop_idle(name);
        };
        let mut process = self.services.remove(i);
        // It has not exited (checked just above); one that just did needs no signal.
        let _ = process.terminate();
        // Past the grace period, killed below.
        let look = || std::future::ready(Ok::<_, ()>(process.look_exited()));
        let _ = wait_until(Instant::now() + GRACE, EXIT_LOOK, look).await;
        // Kills what is still running; a no-op for a process that exited.
        process.stop(Duration::ZERO);
        self.note_stopped(&mut process)?;
        tracing::info!(service = name, "stopped");
        Ok(())
    }

    /// Starts `name` again exactly as `fare up` started it.
    pub async fn start_service(&mut self, name: &str) -> Result<(), ControlError> {
        self.start_service_with(name, &BTreeMap::new()).await
    }

    /// Starts `name` again with `overrides` laid over its environment, and
    /// waits until it is ready. The overrides last until the next start.
    pub async fn start_service_with(
        &mut self,
        name: &str,
        overrides: &BTreeMap<String, String>,
    ) -> Result<(), ControlError> {
        let launch = self.launch(name)?;
        if self.is_running(name) {
            return Err(ControlError::Running { name: name.to_owned() });
        }
        self.services.retain(|p| p.name != name);
        self.note_starting(name, overrides);
        keep_log(&launch.log);
        let mut env = launch.env.clone();
        env.extend(overrides.iter().map(|(k, v)| (k.clone(), v.clone())));
        let started = self.runner.start(name, &launch, &env).await;
        let process = started.map_err(|e| ControlError::starting(name, &launch, e))?;
        let pid = process.pid();
        self.services.push(process);
        self.wait_restarted(name, &launch).await?;
        // It runs and is ready: a hook that does not take the rules is said,
        // not counted as a failed start.
        if !launch.faults.rules.is_empty()
            && let Err(e) = self.send_faults(name, &launch.faults).await
        {
            tracing::warn!(service = name, error = %e, "started again without its handler faults");
        }
        self.note_started(name, pid)?;
        tracing::info!(service = name, pid, "started again");
        Ok(())
    }

    /// The handler faults set on `name`'s fault hook.
    pub fn faults(&self, name: &str) -> Result<&FaultRules, ControlError> {
        self.launch(name)?;
        Ok(&self.launches[name].faults)
    }

    /// Replaces the handler faults of `name` with `rules` (empty: none) and
    /// waits until it has taken them; a process started later for it (a
    /// restart, the supervisor's after a crash) gets them too.
    pub async fn set_faults(&mut self, name: &str, rules: &FaultRules) -> Result<(), ControlError> {
        self.launch(name)?;
        if let Some(launch) = self.launches.get_mut(name) {
            launch.faults = rules.clone();
        }
        if !self.is_running(name) {
            return Ok(());
        }
        self.send_faults(name, rules).await
    }

    async fn send_faults(&mut self, name: &str, rules: &FaultRules) -> Result<(), ControlError> {
        let Some(process) = self.services.iter().find(|p| p.name == name) else { return Ok(()) };
        process.set_faults(rules).await.map_err(|source| ControlError::Faults { name: name.to_owned(), source })
    }

    async fn wait_restarted(&mut self, name: &str, launch: &Launch) -> Result<(), ControlError> {
        let http = reqwest::Client::builder().timeout(Duration::from_millis(500)).build().unwrap_or_default();
        let http = &http;
        let services = &mut self.services;
        let look = || {
            let exited = services.iter_mut().find(|p| p.name == name).and_then(|p| {
                let status = p.exited()?;
                Some(ControlError::Exited { name: name.to_owned(), status, log: p.log.clone(), tail: p.log_tail(15) })
            });
            async move {
                match exited {
                    Some(exited) => Err(exited),
                    None => Ok(look_ready(http, name, &launch.url, &launch.start.ready).await),
                }
            }
        };
        wait_until(Instant::now() + READY_TIMEOUT, READY_LOOK, look).await.map_err(|w| {
            w.into_error(|waited, _| ControlError::NotReady {
                name: name.to_owned(),
                url: launch.url.clone(),
                ready: launch.start.ready.clone(),
                waited,
            })
        })
    }
}

/// Keeps the log of the run that ended (`store.log` → `store.1.log`, …):
/// starting again truncates the log file.
fn keep_log(log: &std::path::Path) {
    if !log.exists() {
        return;
    }
    let stem = log.file_stem().and_then(|s| s.to_str()).unwrap_or("service").to_owned();
    for n in 1..1000 {
        let kept = log.with_file_name(format!("{stem}.{n}.log"));
        if !kept.exists() {
            let _ = std::fs::rename(log, kept);
            return;
        }
    }
}
