//! One service's running process: a child of fare (below) or, in container
//! mode, a container ([`super::containers::Unit`]), behind the same methods.
//!
//! A child process is started with its environment, its output
//! kept in a log file and (when attached) echoed with its name in front, and
//! stopped with SIGTERM, then SIGKILL if it does not exit in time. Each
//! gets one end of a socket pair for the kit's fault hook (`FARE_FAULT_FD`);
//! fare keeps the other, so only fare can inject faults into it. A
//! container, which inherits no descriptor, connects instead to a Unix
//! socket fare listens on in a directory mounted into it
//! (`FARE_FAULT_SOCKET`); fare takes that connection when it first sets
//! faults, and speaks the same protocol over it. fare's
//! one-run switches (`kit::config::HARNESS_ONLY`) are stripped from what a
//! service inherits; what a container is handed of fare's environment is
//! [`super::inherit`]'s choice.

use std::collections::BTreeMap;
use std::fs::File;
use std::io::{BufRead, BufReader, Write};
use std::net::TcpListener;
use std::os::fd::AsRawFd;
use std::os::unix::net::UnixStream;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use kit::faults::{FaultRules, HookError};
use kit::probe::{Look, wait_until_blocking};

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
    run: Run,
}

#[derive(Debug)]
enum Run {
    Child {
        /// The leader of the service's process group (`sh -c`, or what it execs).
        child: Child,
        /// The threads copying the child's output into the log.
        pumps: Vec<std::thread::JoinHandle<()>>,
        /// fare's end of the service's fault hook, if it speaks one.
        faults: Option<UnixStream>,
    },
    Container {
        unit: Box<super::containers::Unit>,
        /// Where the container's fault hook connects, and the connection once taken.
        hook: Option<ContainerHook>,
    },
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

impl ServiceProcess {
    /// Starts `start.command` with `env` added to fare's own environment,
    /// as the leader of a process group of its own, so that a signal (a
    /// kill, a pause) reaches everything the command started (`go run`,
    /// `bundle exec`). It serves on `listener`'s address: with `listen =
    /// "fd"` the socket itself is handed down (`FARE_LISTEN_FD`), so no
    /// other process can take the port in between; with `port` it is
    /// released just before the start and the service binds `PORT`. A
    /// service with a fault hook gets its end of it the same way (`FARE_FAULT_FD`).
    pub fn spawn(
        name: &str,
        start: &Start,
        env: &BTreeMap<String, String>,
        listener: TcpListener,
        log: PathBuf,
        echo: bool,
    ) -> std::io::Result<ServiceProcess> {
        let url = format!("http://{}", listener.local_addr()?);
        let file = Arc::new(Mutex::new(File::create(&log)?));
        let mut cmd = Command::new("sh");
        cmd.arg("-c").arg(&start.command).current_dir(&start.dir).envs(env).process_group(0);
        // Switches meant for one process and one run, whether exported in
        // fare's shell or asked for in `env`, never reach a service.
        for switch in kit::config::HARNESS_ONLY {
            cmd.env_remove(switch);
        }
        if start.provider_states {
            cmd.env("FARE_PROVIDER_STATES", "on");
        }
        cmd.stdin(Stdio::null()).stdout(Stdio::piped()).stderr(Stdio::piped());
        let mut inherited = Vec::new();
        let listener = match start.listen {
            crate::manifest::Binding::Fd => {
                cmd.env("FARE_LISTEN_FD", listener.as_raw_fd().to_string());
                inherited.push(listener.as_raw_fd());
                Some(listener)
            }
            crate::manifest::Binding::Port => None,
        };
        let (faults, theirs) = match start.fault_hook {
            true => {
                let (ours, theirs) = UnixStream::pair()?;
                cmd.env(kit::faults::FD_VAR, theirs.as_raw_fd().to_string());
                inherited.push(theirs.as_raw_fd());
                (Some(ours), Some(theirs))
            }
            false => (None, None),
        };
        // SAFETY: prctl and fcntl are async-signal-safe and touch no memory
        // of ours. PDEATHSIG stops the service if fare dies without stopping
        // it, so nothing outlives a killed `fare up`; clearing close-on-exec
        // lets the service inherit its listening socket and its hook.
        unsafe {
            cmd.pre_exec(move || {
                if libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGTERM) != 0 {
                    return Err(std::io::Error::last_os_error());
                }
                for fd in &inherited {
                    if libc::fcntl(*fd, libc::F_SETFD, 0) != 0 {
                        return Err(std::io::Error::last_os_error());
                    }
                }
                Ok(())
            });
        }
        // A port the service binds itself is let go of at the last moment.
        let mut child = cmd.spawn()?;
        // The service has its own copies now; holding its end of the hook
        // would keep fare from seeing the service close it.
        drop(listener);
        drop(theirs);
        let prefix = format!("{name:>11} | ");
        let mut pumps = Vec::new();
        if let Some(out) = child.stdout.take() {
            pumps.push(pump(out, file.clone(), prefix.clone(), echo));
        }
        if let Some(err) = child.stderr.take() {
            pumps.push(pump(err, file, prefix, echo));
        }
        let run = Run::Child { child, pumps, faults };
        Ok(ServiceProcess { name: name.to_owned(), url, log, ready: start.ready.clone(), run })
    }

    /// Starts the service in a container from `spec`, its output in `log`;
    /// fare reaches it at `url` (its mapped port). With `spec.hook`, fare
    /// listens there for the service's fault hook first.
    pub async fn start_container(
        name: &str,
        spec: &super::containers::UnitSpec,
        env: &BTreeMap<String, String>,
        url: String,
        log: PathBuf,
        echo: bool,
    ) -> Result<ServiceProcess, super::containers::ContainerError> {
        // The one-run switches stay out, as `spawn` keeps them out; the
        // hook's own is set after.
        let mut env = env.clone();
        env.retain(|key, _| !kit::config::HARNESS_ONLY.contains(&key.as_str()));
        let hook = match &spec.hook {
            Some(hook) => {
                let listening =
                    ContainerHook::listen(&hook.host).map_err(|source| super::containers::ContainerError::Io {
                        action: "listening for the fault hook at",
                        path: hook.host.clone(),
                        source,
                    })?;
                env.insert(kit::faults::SOCKET_VAR.to_owned(), hook.inside.clone());
                Some(listening)
            }
            None => None,
        };
        let unit = super::containers::Unit::start(spec, &env, name, log.clone(), echo).await?;
        let run = Run::Container { unit: Box::new(unit), hook };
        Ok(ServiceProcess { name: name.to_owned(), url, log, ready: spec.ready_path.clone(), run })
    }

    /// Its container, in container mode.
    pub fn container(&self) -> Option<&super::containers::Unit> {
        match &self.run {
            Run::Container { unit, .. } => Some(unit),
            Run::Child { .. } => None,
        }
    }

    /// Sends `sig` to the service: to its process group, or to the
    /// container's main process (`docker kill --signal`).
    pub fn signal(&self, sig: libc::c_int) -> std::io::Result<()> {
        match &self.run {
            Run::Child { child, .. } => super::signal(child.id(), sig).map(|()| super::signal_group(child.id(), sig)),
            Run::Container { unit, .. } => {
                let name = match sig {
                    libc::SIGKILL => "SIGKILL",
                    libc::SIGTERM => "SIGTERM",
                    libc::SIGSTOP => "SIGSTOP",
                    libc::SIGCONT => "SIGCONT",
                    _ => return Err(std::io::Error::other(format!("signal {sig} is not sent to containers"))),
                };
                unit.kill(name).map_err(std::io::Error::other)
            }
        }
    }

    /// Replaces the rules of the service's fault hook with `rules` (empty:
    /// no faults), and waits until the service has taken them.
    pub async fn set_faults(&self, rules: &FaultRules) -> Result<(), HookError> {
        let stream = match &self.run {
            Run::Child { faults: Some(faults), .. } => faults.try_clone()?,
            Run::Child { faults: None, .. } => {
                return Err(HookError::Io(std::io::Error::other(
                    "it speaks no fault hook (its manifest's [run] has no `fault_hook = true`)",
                )));
            }
            Run::Container { hook: Some(hook), .. } => hook.stream(HOOK_TIMEOUT).await?,
            Run::Container { hook: None, .. } => {
                return Err(HookError::Io(std::io::Error::other("this container was started without a fault hook")));
            }
        };
        let rules = rules.clone();
        let sent = tokio::task::spawn_blocking(move || kit::faults::send(&stream, &rules, HOOK_TIMEOUT)).await;
        sent.map_err(|e| HookError::Io(std::io::Error::other(e)))?.map(|_| ())
    }

    pub fn pid(&self) -> u32 {
        match &self.run {
            Run::Child { child, .. } => child.id(),
            Run::Container { unit, .. } => unit.pid(),
        }
    }

    /// `Some(status)` once the process has exited: `exit status 101`,
    /// `signal 9 (SIGKILL)`.
    pub fn exited(&mut self) -> Option<String> {
        let (child, pumps) = match &mut self.run {
            Run::Child { child, pumps, .. } => (child, pumps),
            Run::Container { unit, .. } => return unit.exited(),
        };
        let status = child.try_wait().ok().flatten()?;
        // What the command started dies with it: a child left holding the
        // port or the log's pipe would outlive the service fare saw die.
        super::signal_group(child.id(), libc::SIGKILL);
        // The pipes close with the process: once the copying threads end,
        // its last words are in the log for `log_tail` to show.
        for pump in pumps.drain(..) {
            let _ = pump.join();
        }
        Some(super::describe(status))
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
        let pid = match &self.run {
            Run::Child { child, .. } => child.id(),
            Run::Container { unit, .. } => return unit.stop(grace),
        };
        // The whole group: the leader may be a shell waiting for the service.
        super::signal_group(pid, libc::SIGTERM);
        if wait_until_blocking(Instant::now() + grace, EXIT_LOOK, || Ok::<_, ()>(self.look_exited())).is_ok() {
            return;
        }
        super::signal_group(pid, libc::SIGKILL);
        let _ = self.exited();
        if let Run::Child { child, .. } = &mut self.run {
            let _ = child.kill();
            let _ = child.wait();
        }
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

/// Copies each line of `stream` into the log, and onto stdout when attached.
fn pump(
    stream: impl std::io::Read + Send + 'static,
    file: Arc<Mutex<File>>,
    prefix: String,
    echo: bool,
) -> std::thread::JoinHandle<()> {
    std::thread::spawn(move || {
        for line in BufReader::new(stream).lines() {
            let Ok(line) = line else { break };
            if let Ok(mut f) = file.lock() {
                let _ = writeln!(f, "{line}");
            }
            if echo {
                println!("{prefix}{line}");
            }
        }
    })
}

#[cfg(test)]
mod tests {
    use std::os::unix::fs::PermissionsExt;

    use super::*;

    /// A stand-in for a service: checks that `FARE_FAULT_FD` is a socket it
    /// inherited, that no provider-state switch reached it, and answers each
    /// line as the kit's hook does.
    const HOOK: &str = r#"#!/usr/bin/env python3
import json, os, socket, stat
assert "FARE_PROVIDER_STATES" not in os.environ, "a test switch reached the service"
fd = int(os.environ["FARE_FAULT_FD"])
assert stat.S_ISSOCK(os.fstat(fd).st_mode)
hook = socket.socket(fileno=fd).makefile("rw")
for line in hook:
    hook.write(json.dumps({"ok": True, "rules": len(json.loads(line)["rules"])}) + "\n")
    hook.flush()
"#;

    #[tokio::test]
    async fn the_fault_hook_is_handed_down_and_answers() {
        let dir = tempfile::tempdir().unwrap();
        let binary = dir.path().join("hook.py");
        std::fs::write(&binary, HOOK).unwrap();
        std::fs::set_permissions(&binary, std::fs::Permissions::from_mode(0o755)).unwrap();
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let log = dir.path().join("hook.log");
        let env = BTreeMap::from([("FARE_PROVIDER_STATES".to_owned(), "1".to_owned())]);
        let start = Start {
            command: "exec ./hook.py".into(),
            dir: dir.path().to_owned(),
            listen: crate::manifest::Binding::Fd,
            fault_hook: true,
            ready: "/ready".into(),
            ready_timeout: None,
            declared_at: "hook/service.toml:1".into(),
            provider_states: false,
        };
        let mut p = ServiceProcess::spawn("hook", &start, &env, listener, log, false).unwrap();
        let rules: FaultRules =
            serde_json::from_str(r#"{"rules":[{"event":"order.placed","action":"crash"}]}"#).unwrap();
        let set = p.set_faults(&rules).await;
        assert!(set.is_ok(), "{set:?}; log: {}", p.log_tail(10));
        p.set_faults(&FaultRules::default()).await.unwrap();
        p.stop(Duration::from_secs(5));
        let gone = p.set_faults(&rules).await;
        assert!(gone.is_err(), "a process that exited took rules: {gone:?}");
    }
}
