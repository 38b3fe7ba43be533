//! A service, or the emulator, as a container: a [`Unit`] as a part of the
//! platform. A container inherits no descriptor, so a service's fault hook
//! is a Unix socket fare listens on in a directory mounted into it
//! (`FARE_FAULT_SOCKET`); the service connects as it starts, fare takes
//! that connection when it first sets faults and speaks the kit's protocol
//! over it, as over a child's socket pair.

use std::collections::{BTreeMap, BTreeSet};
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::time::Duration;

use kit::faults::HookError;

use super::{ContainerError, Unit, UnitSpec};
use crate::io::io;
use crate::runtime::part::{Part, PartError, ServicePart};
use crate::runtime::process::ServiceProcess;

/// Starts service `name` in a container from `spec`, its output in `log`;
/// fare reaches it at `url` (its mapped port). With `spec.hook`, fare
/// listens there for the service's fault hook first.
pub(crate) async fn start(
    name: &str,
    spec: &UnitSpec,
    env: &BTreeMap<String, String>,
    url: String,
    log: PathBuf,
    echo: bool,
) -> Result<ServiceProcess, ContainerError> {
    // The one-run switches stay out, as a child's environment keeps them
    // out; the hook's own is set after.
    let mut env = env.clone();
    env.retain(|key, _| !kit::config::HARNESS_ONLY.contains(&key.as_str()));
    let hook = match &spec.hook {
        Some(hook) => {
            let listening =
                ContainerHook::listen(&hook.host).map_err(io("listening for the fault hook at", &hook.host))?;
            env.insert(kit::faults::SOCKET_VAR.to_owned(), hook.inside.clone());
            Some(listening)
        }
        None => None,
    };
    let unit = Unit::start(spec, &env, name, log.clone(), echo).await?;
    let part = ServiceContainer { unit: Box::new(unit), hook };
    Ok(ServiceProcess::new(name, url, log, spec.ready_path.clone(), Box::new(part)))
}

/// A service's container, and where its fault hook connects.
#[derive(Debug)]
struct ServiceContainer {
    unit: Box<Unit>,
    hook: Option<ContainerHook>,
}

/// fare's side of a container's fault hook: the socket it listens on, and
/// the service's connection to it once accepted.
#[derive(Debug)]
struct ContainerHook {
    listener: tokio::net::UnixListener,
    stream: tokio::sync::Mutex<Option<UnixStream>>,
}

impl ContainerHook {
    /// Listens at `path` (a socket left there by an earlier start is replaced).
    fn listen(path: &Path) -> std::io::Result<ContainerHook> {
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir)?;
        }
        match std::fs::remove_file(path) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => return Err(e),
            _ => {}
        }
        Ok(ContainerHook { listener: tokio::net::UnixListener::bind(path)?, stream: Default::default() })
    }

    /// The service's connection: taken from the listener the first time
    /// (the service connected as it started), waiting at most `timeout`.
    async fn stream(&self, timeout: Duration) -> Result<UnixStream, HookError> {
        let mut held = self.stream.lock().await;
        if let Some(stream) = held.as_ref() {
            return Ok(stream.try_clone()?);
        }
        let accepted = tokio::time::timeout(timeout, self.listener.accept()).await.map_err(|_| HookError::Closed)?;
        let stream = accepted?.0.into_std()?;
        // `kit::faults::send` blocks, with its own timeouts.
        stream.set_nonblocking(false)?;
        *held = Some(stream.try_clone()?);
        Ok(stream)
    }
}

#[async_trait::async_trait]
impl Part for Unit {
    fn pid(&self) -> u32 {
        Unit::pid(self)
    }

    fn exited(&mut self) -> Option<String> {
        Unit::exited(self)
    }

    /// `docker pause`, or `docker unpause`.
    async fn pause(&self, paused: bool) -> Result<(), PartError> {
        Ok(Unit::pause(self, paused).await?)
    }

    async fn connect(&self, connected: bool) -> Result<(), PartError> {
        Ok(Unit::connect(self, connected).await?)
    }
}

#[async_trait::async_trait]
impl Part for ServiceContainer {
    fn pid(&self) -> u32 {
        self.unit.pid()
    }

    fn exited(&mut self) -> Option<String> {
        self.unit.exited()
    }

    async fn pause(&self, paused: bool) -> Result<(), PartError> {
        Part::pause(&*self.unit, paused).await
    }

    async fn connect(&self, connected: bool) -> Result<(), PartError> {
        Part::connect(&*self.unit, connected).await
    }
}

impl ServiceContainer {
    /// `docker kill --signal` to the container's main process.
    fn signal(&self, sig: libc::c_int, name: &str) -> Result<(), PartError> {
        self.unit.kill(name).map_err(|e| PartError::Signal { sig, source: std::io::Error::other(e) })
    }
}

#[async_trait::async_trait]
impl ServicePart for ServiceContainer {
    fn terminate(&self) -> Result<(), PartError> {
        self.signal(libc::SIGTERM, "SIGTERM")
    }

    fn kill(&self) -> Result<(), PartError> {
        self.signal(libc::SIGKILL, "SIGKILL")
    }

    /// `docker stop`.
    fn stop(&mut self, grace: Duration) {
        self.unit.stop(grace);
    }

    /// Its ports are in its own network namespace, out of fare's sight.
    fn listening(&self) -> Option<BTreeSet<u16>> {
        None
    }

    async fn fault_hook(&self, timeout: Duration) -> Result<UnixStream, HookError> {
        match &self.hook {
            Some(hook) => hook.stream(timeout).await,
            None => Err(HookError::Io(std::io::Error::other("this container was started without a fault hook"))),
        }
    }
}
