//! A service as a child process of fare: started with its environment,
//! as the leader of a process group of its own, its output kept in a log
//! file and (when attached) echoed with its name in front, and stopped with
//! SIGTERM, then SIGKILL if it does not exit in time. Each gets one end of
//! a socket pair for the kit's fault hook (`FARE_FAULT_FD`); fare keeps the
//! other, so only fare can inject faults into it. fare's one-run switches
//! (`kit::config::HARNESS_ONLY`) are stripped from what it inherits.

use std::collections::{BTreeMap, BTreeSet};
use std::fs::File;
use std::io::{BufRead, BufReader, Write};
use std::net::TcpListener;
use std::os::fd::AsRawFd;
use std::os::unix::net::UnixStream;
use std::os::unix::process::CommandExt;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use kit::faults::HookError;
use kit::probe::{Look, wait_until_blocking};

use super::part::{Part, PartError, ServicePart, pause_process};
use super::process::{EXIT_LOOK, ServiceProcess, Start};

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
        let mut cmd = command(start, env);
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
        die_with_fare_and_inherit(&mut cmd, inherited);
        // A port the service binds itself is let go of at the last moment.
        let mut child = cmd.spawn()?;
        // The service has its own copies now; holding its end of the hook
        // would keep fare from seeing the service close it.
        drop(listener);
        drop(theirs);
        let pumps = pumps(&mut child, file, &format!("{name:>11} | "), echo);
        let part = ChildGroup { child, pumps, faults };
        Ok(ServiceProcess::new(name, url, log, start.ready.clone(), Box::new(part)))
    }
}

/// `sh -c COMMAND` in the service's folder, as the leader of a process
/// group of its own, with `env` over fare's environment and its output piped.
fn command(start: &Start, env: &BTreeMap<String, String>) -> Command {
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
    cmd
}

/// Makes the child die with fare and keep the descriptors `inherited`.
fn die_with_fare_and_inherit(cmd: &mut Command, inherited: Vec<std::os::fd::RawFd>) {
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
}

/// The threads copying `child`'s stdout and stderr into `file`, each line
/// echoed after `prefix` when `echo`.
fn pumps(child: &mut Child, file: Arc<Mutex<File>>, prefix: &str, echo: bool) -> Vec<std::thread::JoinHandle<()>> {
    let mut pumps = Vec::new();
    if let Some(out) = child.stdout.take() {
        pumps.push(pump(out, file.clone(), prefix.to_owned(), echo));
    }
    if let Some(err) = child.stderr.take() {
        pumps.push(pump(err, file, prefix.to_owned(), echo));
    }
    pumps
}

/// A service's process group, led by the child fare started.
#[derive(Debug)]
struct ChildGroup {
    /// The leader of the service's process group (`sh -c`, or what it execs).
    child: Child,
    /// The threads copying the child's output into the log.
    pumps: Vec<std::thread::JoinHandle<()>>,
    /// fare's end of the service's fault hook, if it speaks one.
    faults: Option<UnixStream>,
}

impl ChildGroup {
    /// Sends `sig` to the leader, then to its whole group.
    fn signal(&self, sig: libc::c_int) -> Result<(), PartError> {
        let pid = self.child.id();
        super::signal(pid, sig)
            .map(|()| super::signal_group(pid, sig))
            .map_err(|source| PartError::Signal { sig, source })
    }

    fn look_exited(&mut self) -> Look<String, ()> {
        self.exited().map_or(Look::Pending(()), Look::Ready)
    }
}

#[async_trait::async_trait]
impl Part for ChildGroup {
    fn pid(&self) -> u32 {
        self.child.id()
    }

    fn exited(&mut self) -> Option<String> {
        let status = self.child.try_wait().ok().flatten()?;
        // What the command started dies with it: a child left holding the
        // port or the log's pipe would outlive the service fare saw die.
        super::signal_group(self.child.id(), libc::SIGKILL);
        // The pipes close with the process: once the copying threads end,
        // its last words are in the log for `log_tail` to show.
        for pump in self.pumps.drain(..) {
            let _ = pump.join();
        }
        Some(super::describe(status))
    }

    /// SIGSTOP or SIGCONT to the leader.
    async fn pause(&self, paused: bool) -> Result<(), PartError> {
        pause_process(self.child.id(), paused)
    }
}

#[async_trait::async_trait]
impl ServicePart for ChildGroup {
    fn terminate(&self) -> Result<(), PartError> {
        self.signal(libc::SIGTERM)
    }

    fn kill(&self) -> Result<(), PartError> {
        self.signal(libc::SIGKILL)
    }

    fn stop(&mut self, grace: Duration) {
        let pid = self.child.id();
        // The whole group: the leader may be a shell waiting for the service.
        super::signal_group(pid, libc::SIGTERM);
        if wait_until_blocking(Instant::now() + grace, EXIT_LOOK, || Ok::<_, ()>(self.look_exited())).is_ok() {
            return;
        }
        super::signal_group(pid, libc::SIGKILL);
        let _ = self.exited();
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    fn listening(&self) -> Option<BTreeSet<u16>> {
        Some(super::listening::ports_of_group(self.child.id()))
    }

    async fn fault_hook(&self, _timeout: Duration) -> Result<UnixStream, HookError> {
        match &self.faults {
            Some(faults) => Ok(faults.try_clone()?),
            None => Err(HookError::Io(std::io::Error::other(
                "it speaks no fault hook (its manifest's [run] has no `fault_hook = true`)",
            ))),
        }
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

    use kit::faults::FaultRules;

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
