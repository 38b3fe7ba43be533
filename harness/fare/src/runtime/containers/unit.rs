//! One container of the platform (a service, or the emulator): started from
//! a local image on the run's network under its own name, on a host port
//! chosen by fare (kept across restarts: the harness knows it by that port),
//! labelled with the namespace, its output copied into its log file. Its end
//! is watched by the engine (`wait`), so a container that dies is noticed
//! as a process's exit is; it is stopped (SIGTERM, then SIGKILL), killed,
//! paused, cut off its network and reconnected as faults ask.

use std::collections::BTreeMap;
use std::io::Write;
use std::os::unix::process::ExitStatusExt;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures_util::StreamExt;
use testcontainers::core::wait::HttpWaitStrategy;
use testcontainers::core::{IntoContainerPort, Mount, WaitFor};
use testcontainers::runners::AsyncRunner;
use testcontainers::{ContainerAsync, GenericImage, ImageExt};

use super::ContainerError;
use super::engine::{self, Engine, NAMESPACE_LABEL};
use crate::io::io;

/// What a container is started from; kept, so it can be started again alike.
#[derive(Debug, Clone)]
pub struct UnitSpec {
    /// The image reference, `fare-base:3f2a…`.
    pub image: String,
    /// The container's name: its host name on the network.
    pub name: String,
    pub network: String,
    pub namespace: String,
    pub cmd: Vec<String>,
    /// The port it serves on inside, and where the host reaches it.
    pub port: u16,
    pub host_port: u16,
    /// Answers 200 once it takes requests.
    pub ready_path: String,
    /// Host directories mounted into it (its database, say).
    pub binds: Vec<(PathBuf, String)>,
    /// Host directories mounted into it read-only (its code).
    pub read_only: Vec<(PathBuf, String)>,
    /// Where its command runs, inside.
    pub working_dir: Option<String>,
    pub startup: Duration,
    /// Where fare listens for its fault hook, if it has one.
    pub hook: Option<HookSocket>,
}

/// A Unix socket fare listens on for a service's fault hook: its path on
/// the host, in a directory mounted into the container, and the same
/// socket's path inside (`FARE_FAULT_SOCKET`).
#[derive(Debug, Clone)]
pub struct HookSocket {
    pub host: PathBuf,
    pub inside: String,
}

/// A running (or ended) container of the platform.
pub struct Unit {
    container: Option<ContainerAsync<GenericImage>>,
    id: String,
    pid: u32,
    network: String,
    /// Set by the engine's `wait` once the container ends.
    exit: Arc<Mutex<Option<String>>>,
}

impl std::fmt::Debug for Unit {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Unit").field("id", &self.id).field("pid", &self.pid).finish()
    }
}

impl Unit {
    /// Starts `spec` with `env`, its output in `log` (echoed, prefixed with
    /// `label`, when `echo`); returns once its `ready_path` answers.
    pub async fn start(
        spec: &UnitSpec,
        env: &BTreeMap<String, String>,
        label: &str,
        log: PathBuf,
        echo: bool,
    ) -> Result<Unit, ContainerError> {
        let engine = Engine::get().await?;
        // A container of this name left by a crashed or kept run is in the way.
        engine.remove_named(&spec.name).await;
        let (repo, tag) = spec.image.split_once(':').unwrap_or((&spec.image, "latest"));
        let file = Arc::new(Mutex::new(std::fs::File::create(&log).map_err(io("creating", &log))?));
        let prefix = format!("{label:>11} | ");
        let consumer = move |frame: &testcontainers::core::logs::LogFrame| {
            let bytes = match frame {
                testcontainers::core::logs::LogFrame::StdOut(b) | testcontainers::core::logs::LogFrame::StdErr(b) => b,
            };
            let text = String::from_utf8_lossy(bytes);
            if let Ok(mut f) = file.lock() {
                let _ = f.write_all(text.as_bytes());
            }
            if echo {
                for line in text.lines() {
                    println!("{prefix}{line}");
                }
            }
        };
        // Each probe bounded: without a timeout, one connection that hangs
        // (a SYN dropped while the container's network comes up) holds the
        // whole wait past its deadline, and no later probe is made.
        let probe = reqwest::Client::builder()
            .connect_timeout(Duration::from_secs(2))
            .timeout(Duration::from_secs(5))
            .build()
            .unwrap_or_default();
        let wait = HttpWaitStrategy::new(spec.ready_path.clone()).with_expected_status_code(200u16).with_client(probe);
        let mut request = GenericImage::new(repo, tag)
            .with_exposed_port(spec.port.tcp())
            .with_wait_for(WaitFor::http(wait))
            .with_cmd(spec.cmd.clone())
            .with_container_name(spec.name.clone())
            .with_network(spec.network.clone())
            .with_label(NAMESPACE_LABEL, spec.namespace.clone())
            .with_mapped_port(spec.host_port, spec.port.tcp())
            .with_startup_timeout(spec.startup)
            .with_log_consumer(consumer);
        for (host, inside) in &spec.binds {
            request = request.with_mount(Mount::bind_mount(host.display().to_string(), inside.clone()));
        }
        for (host, inside) in &spec.read_only {
            let mount = Mount::bind_mount(host.display().to_string(), inside.clone());
            request = request.with_mount(mount.with_access_mode(testcontainers::core::AccessMode::ReadOnly));
        }
        if let Some(dir) = &spec.working_dir {
            request = request.with_working_dir(dir.clone());
        }
        for (key, value) in env {
            request = request.with_env_var(key.clone(), value.clone());
        }
        let container = match request.start().await {
            Ok(container) => container,
            Err(source) => {
                // Created but never ready: testcontainers leaves it.
                engine.remove_named(&spec.name).await;
                return Err(ContainerError::Start { name: spec.name.clone(), source: Box::new(source) });
            }
        };
        let id = container.id().to_owned();
        let pid = engine.pid_of(&id).await.unwrap_or_default();
        let exit = Arc::new(Mutex::new(None));
        let watched = exit.clone();
        let docker = engine.docker().clone();
        let waited = id.clone();
        tokio::spawn(async move {
            let ended = docker.wait_container(&waited, None).next().await;
            let code = match ended {
                Some(Ok(answer)) => answer.status_code,
                Some(Err(testcontainers::bollard::errors::Error::DockerContainerWaitError { code, .. })) => code,
                // Removed, or the engine went away: nothing to tell.
                _ => return,
            };
            if let Ok(mut exit) = watched.lock() {
                *exit = Some(describe(code));
            }
        });
        Ok(Unit { container: Some(container), id, pid, network: spec.network.clone(), exit })
    }

    /// Its main process, as the host sees it.
    pub fn pid(&self) -> u32 {
        self.pid
    }

    /// `Some(how)` once the container has ended.
    pub fn exited(&self) -> Option<String> {
        self.exit.lock().ok().and_then(|e| e.clone())
    }

    /// SIGTERM, then SIGKILL after `grace` (`docker stop`).
    pub fn stop(&self, grace: Duration) {
        let id = self.id.clone();
        engine::blocking(async move {
            if let Ok(engine) = Engine::get().await {
                engine.stop(&id, grace).await;
            }
        });
    }

    /// Sends `signal` (`SIGKILL`, say) to the container's main process.
    pub fn kill(&self, signal: &str) -> Result<(), ContainerError> {
        let (id, signal) = (self.id.clone(), signal.to_owned());
        engine::blocking(async move { Engine::get().await?.kill(&id, &signal).await })
    }

    /// Freezes every process of the container (`docker pause`), or thaws it.
    pub async fn pause(&self, paused: bool) -> Result<(), ContainerError> {
        let Some(container) = &self.container else { return Ok(()) };
        let done = if paused { container.pause().await } else { container.unpause().await };
        done.map_err(|source| ContainerError::Start { name: self.id.clone(), source: Box::new(source) })
    }

    /// Cuts the container off its network, or connects it again.
    pub async fn connect(&self, connected: bool) -> Result<(), ContainerError> {
        Engine::get().await?.connect(&self.network, &self.id, connected).await
    }
}

impl Drop for Unit {
    fn drop(&mut self) {
        // testcontainers removes the container as it drops it (or keeps it,
        // with TESTCONTAINERS_COMMAND=keep).
        drop(self.container.take());
    }
}

/// How a container's exit code reads: `exit status 1`, `signal 9 (SIGKILL)`
/// (the engine reports a signal as 128 + its number).
fn describe(code: i64) -> String {
    let code = code as i32;
    let status = if code > 128 && code < 160 {
        std::process::ExitStatus::from_raw(code - 128)
    } else {
        std::process::ExitStatus::from_raw(code << 8)
    };
    crate::runtime::describe(status)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_container_killed_by_a_signal_says_which() {
        assert_eq!(describe(137), "signal 9 (SIGKILL)");
        assert_eq!(describe(143), "signal 15 (SIGTERM)");
        assert_eq!(describe(101), "exit status 101");
    }
}
