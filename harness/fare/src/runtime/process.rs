//! One service as a child process: started with its environment, its output
//! kept in a log file and (when attached) echoed with its name in front, and
//! stopped with SIGTERM, then SIGKILL if it does not exit in time.

use std::collections::BTreeMap;
use std::fs::File;
use std::io::{BufRead, BufReader, Write};
use std::net::TcpListener;
use std::os::fd::AsRawFd;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

#[derive(Debug)]
pub struct ServiceProcess {
    pub name: String,
    pub url: String,
    pub log: PathBuf,
    child: Child,
    /// The threads copying the child's output into the log.
    pumps: Vec<std::thread::JoinHandle<()>>,
}

impl ServiceProcess {
    /// Starts `binary` with `env` added to fare's own environment, serving
    /// on `listener`: the socket is bound here and handed to the service
    /// (`FARE_LISTEN_FD`), so no other process can take its port between
    /// choosing it and the service binding it.
    pub fn spawn(
        name: &str,
        binary: &Path,
        env: &BTreeMap<String, String>,
        listener: TcpListener,
        log: PathBuf,
        echo: bool,
    ) -> std::io::Result<ServiceProcess> {
        let url = format!("http://{}", listener.local_addr()?);
        let file = Arc::new(Mutex::new(File::create(&log)?));
        let fd = listener.as_raw_fd();
        let mut cmd = Command::new(binary);
        cmd.envs(env)
            .env("FARE_LISTEN_FD", fd.to_string())
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        // SAFETY: prctl and fcntl are async-signal-safe and touch no memory
        // of ours. PDEATHSIG stops the service if fare dies without stopping
        // it, so nothing outlives a killed `fare up`; clearing close-on-exec
        // lets the service inherit its listening socket.
        unsafe {
            cmd.pre_exec(move || {
                if libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGTERM) != 0 {
                    return Err(std::io::Error::last_os_error());
                }
                if libc::fcntl(fd, libc::F_SETFD, 0) != 0 {
                    return Err(std::io::Error::last_os_error());
                }
                Ok(())
            });
        }
        let mut child = cmd.spawn()?;
        // The service has its own copy now.
        drop(listener);
        let prefix = format!("{name:>11} | ");
        let mut pumps = Vec::new();
        if let Some(out) = child.stdout.take() {
            pumps.push(pump(out, file.clone(), prefix.clone(), echo));
        }
        if let Some(err) = child.stderr.take() {
            pumps.push(pump(err, file, prefix, echo));
        }
        Ok(ServiceProcess { name: name.to_owned(), url, log, child, pumps })
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// `Some(status)` once the process has exited: `exit status 101`,
    /// `signal 9 (SIGKILL)`.
    pub fn exited(&mut self) -> Option<String> {
        let status = self.child.try_wait().ok().flatten()?;
        // The pipes close with the process: once the copying threads end,
        // its last words are in the log for `log_tail` to show.
        for pump in self.pumps.drain(..) {
            let _ = pump.join();
        }
        Some(super::describe(status))
    }

    /// SIGTERM, then SIGKILL after `grace`.
    pub fn stop(&mut self, grace: Duration) {
        if self.exited().is_some() {
            return;
        }
        // SAFETY: kill(2) on our own, not yet reaped, child.
        unsafe {
            libc::kill(self.child.id() as libc::pid_t, libc::SIGTERM);
        }
        let deadline = Instant::now() + grace;
        while Instant::now() < deadline {
            if self.exited().is_some() {
                return;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
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
