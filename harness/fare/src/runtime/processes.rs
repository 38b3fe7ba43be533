//! The process runtime (the default): the emulator a child process of
//! fare's, each service a child process serving on loopback, on a port
//! fare binds before any service starts and hands down
//! ([`super::child`]). A service started again gets the same port.

use std::collections::BTreeMap;
use std::net::{IpAddr, Ipv4Addr, TcpListener};
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use fare_emulator::{Emulator, EmulatorError, StartOptions};

use super::part::{Part, PartError, pause_process};
use super::process::{ServiceProcess, Start};
use super::runner::{Launch, Placement, ReviveError, Runner, StartError};
use crate::manifest::Manifest;

/// The platform's parts as child processes of fare.
pub(crate) struct ProcessRunner {
    emulator: Option<Emulator>,
    /// Each service's socket, bound when it is placed and handed to it as
    /// it first starts.
    listeners: Mutex<BTreeMap<String, TcpListener>>,
}

/// What [`ProcessRunner::start`] needs.
pub(crate) struct ProcessOptions {
    /// The emulator to start (none: an `--endpoint` was given).
    pub emulator: Option<fare_emulator::Backend>,
    pub log_file: PathBuf,
}

impl ProcessRunner {
    /// Starts the emulator, installing it first on a first run (which is
    /// said in `progress`). It is started on this (worker) thread, not the
    /// blocking pool: the emulator is tied to the thread that started it,
    /// and blocking-pool threads exit when idle.
    pub fn start(options: &ProcessOptions, progress: &mut dyn FnMut(&str)) -> Result<ProcessRunner, EmulatorError> {
        let emulator = match options.emulator {
            None => None,
            Some(backend) => {
                fare_emulator::Venv::ensure(backend, progress)?;
                progress(&format!("starting the {} emulator", backend.name()));
                let start = StartOptions {
                    backend,
                    log_file: Some(options.log_file.clone()),
                    progress: false,
                    ..StartOptions::default()
                };
                Some(Emulator::start(&start)?)
            }
        };
        Ok(ProcessRunner { emulator, listeners: Mutex::default() })
    }
}

#[async_trait::async_trait]
impl Runner for ProcessRunner {
    fn emulator_endpoint(&self) -> Option<String> {
        self.emulator.as_ref().map(|e| e.endpoint().to_owned())
    }

    /// The services are on the same host as fare.
    fn emulator_endpoint_for_services(&self) -> Option<String> {
        self.emulator_endpoint()
    }

    fn listen_address(&self) -> IpAddr {
        Ipv4Addr::LOCALHOST.into()
    }

    fn emulator(&self) -> Option<&dyn Part> {
        self.emulator.as_ref().map(|e| e as &dyn Part)
    }

    fn emulator_mut(&mut self) -> Option<&mut dyn Part> {
        self.emulator.as_mut().map(|e| e as &mut dyn Part)
    }

    fn emulator_process(&self) -> Option<&Emulator> {
        self.emulator.as_ref()
    }

    async fn restart_emulator(&mut self) -> Result<(), ReviveError> {
        if let Some(emulator) = &mut self.emulator {
            emulator.restart()?;
        }
        Ok(())
    }

    /// Binds the service's socket now: a port held cannot be taken.
    fn place(&mut self, service: &str, _start: &Start, dir: &Path) -> Result<Placement, StartError> {
        let listener = TcpListener::bind(("127.0.0.1", 0)).map_err(StartError::Bind)?;
        let port = listener.local_addr().map_err(StartError::Bind)?.port();
        if let Ok(mut listeners) = self.listeners.lock() {
            listeners.insert(service.to_owned(), listener);
        }
        let url = format!("http://127.0.0.1:{port}");
        let database = dir.join("data").join(format!("{service}.sqlite"));
        Ok(Placement { host: "127.0.0.1", port, url: url.clone(), peer: url, database })
    }

    /// A child inherits fare's environment (but its one-run switches): the
    /// settings are added to it as they are.
    fn environment(&self, _m: &Manifest, own: BTreeMap<String, String>) -> BTreeMap<String, String> {
        own
    }

    async fn start(
        &self,
        name: &str,
        launch: &Launch,
        env: &BTreeMap<String, String>,
    ) -> Result<ServiceProcess, StartError> {
        let held = self.listeners.lock().ok().and_then(|mut listeners| listeners.remove(name));
        let listener = match held {
            Some(listener) => listener,
            // The same port again: its URL is in the other services' settings.
            None => TcpListener::bind(launch.url.trim_start_matches("http://")).map_err(StartError::Spawn)?,
        };
        ServiceProcess::spawn(name, &launch.start, env, listener, launch.log.clone(), launch.echo)
            .map_err(StartError::Spawn)
    }
}

/// fare's own emulator process, as a part of the platform.
#[async_trait::async_trait]
impl Part for Emulator {
    fn pid(&self) -> u32 {
        Emulator::pid(self)
    }

    fn exited(&mut self) -> Option<String> {
        Emulator::exited(self).map(super::describe)
    }

    /// SIGSTOP or SIGCONT.
    async fn pause(&self, paused: bool) -> Result<(), PartError> {
        pause_process(Emulator::pid(self), paused)
    }
}

#[cfg(test)]
mod tests {
    use std::time::{Duration, Instant};

    use super::*;

    /// The state letter of `pid` in `/proc` (`S` sleeping, `T` stopped).
    fn state_of(pid: u32) -> char {
        let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
        stat.rsplit(") ").next().and_then(|rest| rest.chars().next()).unwrap_or('?')
    }

    /// Whether `pid` reaches `state` within a second: a signal lands a
    /// moment after it is sent.
    async fn comes_to(pid: u32, state: char) -> bool {
        let deadline = Instant::now() + Duration::from_secs(1);
        while state_of(pid) != state && Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        state_of(pid) == state
    }

    #[tokio::test]
    async fn a_service_is_frozen_killed_and_started_again_on_the_port_it_was_placed_on() {
        let dir = tempfile::tempdir().unwrap();
        let options = ProcessOptions { emulator: None, log_file: dir.path().join("emulator.log") };
        let mut runner = ProcessRunner::start(&options, &mut |_| {}).unwrap();
        assert!(runner.emulator().is_none() && runner.emulator_endpoint().is_none());
        let start = Start {
            command: "exec sleep 30".into(),
            dir: dir.path().to_owned(),
            listen: crate::manifest::Binding::Port,
            fault_hook: false,
            ready: "/ready".into(),
            ready_timeout: None,
            declared_at: "sleeper/service.toml:1".into(),
            provider_states: false,
        };
        let place = runner.place("sleeper", &start, dir.path()).unwrap();
        assert_eq!((place.host, place.url.as_str()), ("127.0.0.1", place.peer.as_str()));
        assert_eq!(place.database, dir.path().join("data/sleeper.sqlite"));
        let log = dir.path().join("sleeper.log");
        let launch = Launch {
            start,
            env: BTreeMap::new(),
            url: place.url.clone(),
            log,
            echo: false,
            faults: Default::default(),
        };

        let mut first = runner.start("sleeper", &launch, &launch.env).await.unwrap();
        assert_eq!(first.url, place.url);
        assert_eq!(first.listening(), Some(Default::default()), "sleep listens on nothing");
        first.part().pause(true).await.unwrap();
        assert!(comes_to(first.pid(), 'T').await, "frozen: {}", state_of(first.pid()));
        first.part().pause(false).await.unwrap();
        assert!(comes_to(first.pid(), 'S').await, "thawed: {}", state_of(first.pid()));
        assert!(matches!(first.part().connect(false).await, Err(PartError::NotAContainer)));
        first.kill().unwrap();
        let deadline = Instant::now() + Duration::from_secs(5);
        while first.exited().is_none() {
            assert!(Instant::now() < deadline, "not reaped after SIGKILL");
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        assert_eq!(first.exited().as_deref(), Some("signal 9 (SIGKILL)"));

        // Its held socket went to the first start; the second binds the same port again.
        let second = runner.start("sleeper", &launch, &launch.env).await.unwrap();
        assert_eq!(second.url, place.url);
        assert_ne!(second.pid(), first.pid());
    }
}
