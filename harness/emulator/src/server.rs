//! Starting an emulator server, knowing when it is ready, and stopping it.

use std::fs::{self, File};
use std::io::{Read, Write};
use std::net::{Ipv4Addr, SocketAddr, TcpListener, TcpStream};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Stdio};
use std::time::{Duration, Instant};

use crate::venv::last_lines;
use crate::{Backend, EmulatorError, Venv};

/// How to start an emulator. `Default` is moto on a free port, with set-up
/// progress on standard error.
#[derive(Debug, Clone)]
pub struct StartOptions {
    pub backend: Backend,
    /// A fixed port; `None` takes a free one.
    pub port: Option<u16>,
    /// Where the server's log goes; `None` is a file under the system's
    /// temporary directory, removed when the server stops cleanly.
    pub log_file: Option<PathBuf>,
    pub ready_timeout: Duration,
    /// Print install progress to standard error.
    pub progress: bool,
}

impl Default for StartOptions {
    fn default() -> Self {
        StartOptions {
            backend: Backend::Moto,
            port: None,
            log_file: None,
            ready_timeout: Duration::from_secs(30),
            progress: true,
        }
    }
}

/// A running emulator. Dropping it stops the server.
#[derive(Debug)]
pub struct Emulator {
    backend: Backend,
    child: Child,
    port: u16,
    endpoint: String,
    log_file: PathBuf,
    remove_log: bool,
    ready_after: Duration,
}

impl Emulator {
    pub fn start(options: &StartOptions) -> Result<Emulator, EmulatorError> {
        let backend = options.backend;
        let show = options.progress;
        let venv = Venv::ensure(backend, &mut |line| {
            if show {
                eprintln!("fare: {line}");
            }
        })?;
        let port = match options.port {
            Some(port) => port,
            None => free_port()?,
        };
        let (log_file, remove_log) = match &options.log_file {
            Some(path) => (path.clone(), false),
            None => {
                let dir = std::env::temp_dir().join("fare-emulators");
                fs::create_dir_all(&dir).map_err(EmulatorError::io("creating", &dir))?;
                (dir.join(format!("{}-{}-{port}.log", backend.name(), std::process::id())), true)
            }
        };
        let log = File::create(&log_file).map_err(EmulatorError::io("creating", &log_file))?;
        let log_err = log.try_clone().map_err(EmulatorError::io("opening", &log_file))?;
        let mut cmd = backend.command(venv.dir(), port);
        cmd.stdin(Stdio::null()).stdout(log).stderr(log_err);
        // SAFETY: prctl is async-signal-safe and touches no memory of ours.
        // It asks the kernel to kill the server when the thread that started
        // it dies, so an aborted test or a killed `fare` leaves no emulator.
        unsafe {
            cmd.pre_exec(|| {
                if libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGTERM) != 0 {
                    return Err(std::io::Error::last_os_error());
                }
                Ok(())
            });
        }
        let started = Instant::now();
        let child = cmd.spawn().map_err(EmulatorError::io("starting", venv.dir()))?;
        let mut emulator = Emulator {
            backend,
            child,
            port,
            endpoint: format!("http://127.0.0.1:{port}"),
            log_file,
            remove_log,
            ready_after: Duration::ZERO,
        };
        emulator.wait_ready(port, options.ready_timeout, started)?;
        Ok(emulator)
    }

    /// The URL to give the AWS SDK (`AWS_ENDPOINT_URL`).
    pub fn endpoint(&self) -> &str {
        &self.endpoint
    }

    pub fn backend(&self) -> Backend {
        self.backend
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    pub fn log_file(&self) -> &Path {
        &self.log_file
    }

    /// How long the server took from spawn to its first good answer.
    pub fn ready_after(&self) -> Duration {
        self.ready_after
    }

    /// `Some(how)` once the server has exited without being asked to
    /// (killed, crashed).
    pub fn exited(&mut self) -> Option<std::process::ExitStatus> {
        self.child.try_wait().ok().flatten()
    }

    /// Starts a fresh server of the same kind in place of this one, on the
    /// same port, so the endpoint everyone was given still holds; the dead
    /// one's log is kept beside the new one as `<log>.died`. The fresh
    /// server knows nothing of what the dead one held (topics, queues,
    /// messages): whoever restarts it provisions again.
    pub fn restart(&mut self) -> Result<(), EmulatorError> {
        let died = self.log_file.with_extension("log.died");
        let _ = fs::rename(&self.log_file, &died);
        let options = StartOptions {
            backend: self.backend,
            port: Some(self.port),
            log_file: Some(self.log_file.clone()),
            progress: false,
            ..StartOptions::default()
        };
        let mut fresh = Emulator::start(&options)?;
        fresh.remove_log = self.remove_log;
        // The dead server's log is the fresh one's path now: not to be removed with it.
        self.remove_log = false;
        drop(std::mem::replace(self, fresh));
        Ok(())
    }

    fn wait_ready(&mut self, port: u16, timeout: Duration, started: Instant) -> Result<(), EmulatorError> {
        let addr = SocketAddr::from((Ipv4Addr::LOCALHOST, port));
        loop {
            if let Ok(Some(status)) = self.child.try_wait() {
                self.remove_log = false;
                return Err(EmulatorError::Exited {
                    backend: self.backend.name(),
                    status: status.to_string(),
                    log: self.log_file.clone(),
                    tail: self.log_tail(),
                });
            }
            if answers(addr, self.backend.ready_path()) {
                self.ready_after = started.elapsed();
                return Ok(());
            }
            if started.elapsed() > timeout {
                self.remove_log = false;
                return Err(EmulatorError::NotReady {
                    backend: self.backend.name(),
                    endpoint: self.endpoint.clone(),
                    waited_ms: started.elapsed().as_millis(),
                    log: self.log_file.clone(),
                    tail: self.log_tail(),
                });
            }
            std::thread::sleep(Duration::from_millis(25));
        }
    }

    fn log_tail(&self) -> String {
        last_lines(&fs::read_to_string(&self.log_file).unwrap_or_default(), 20)
    }
}

impl Drop for Emulator {
    fn drop(&mut self) {
        // A server already reaped is not signalled: its pid may be another's now.
        if let Ok(Some(_)) = self.child.try_wait() {
            if self.remove_log {
                let _ = fs::remove_file(&self.log_file);
            }
            return;
        }
        // SAFETY: plain kill(2) on a child we still own (not yet reaped).
        unsafe {
            libc::kill(self.child.id() as libc::pid_t, libc::SIGTERM);
        }
        let deadline = Instant::now() + Duration::from_secs(3);
        loop {
            match self.child.try_wait() {
                Ok(Some(_)) => break,
                Ok(None) if Instant::now() < deadline => std::thread::sleep(Duration::from_millis(20)),
                _ => {
                    let _ = self.child.kill();
                    let _ = self.child.wait();
                    break;
                }
            }
        }
        if self.remove_log {
            let _ = fs::remove_file(&self.log_file);
        }
    }
}

/// A port that was free a moment ago on 127.0.0.1.
pub fn free_port() -> Result<u16, EmulatorError> {
    let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).map_err(EmulatorError::NoPort)?;
    Ok(listener.local_addr().map_err(EmulatorError::NoPort)?.port())
}

/// Whether an HTTP GET of `path` gets a 2xx answer.
fn answers(addr: SocketAddr, path: &str) -> bool {
    let Ok(mut stream) = TcpStream::connect_timeout(&addr, Duration::from_millis(200)) else {
        return false;
    };
    let _ = stream.set_read_timeout(Some(Duration::from_secs(2)));
    let request = format!("GET {path} HTTP/1.0\r\nHost: {addr}\r\n\r\n");
    if stream.write_all(request.as_bytes()).is_err() {
        return false;
    }
    let mut head = [0u8; 12];
    stream.read_exact(&mut head).is_ok() && head.starts_with(b"HTTP/1.") && head[9] == b'2'
}
