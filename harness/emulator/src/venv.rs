//! The virtual environments fare manages: one per tool (an emulator backend,
//! the Pact tools) and pin, under a cache directory shared by every checkout
//! and test process on the machine.
//!
//! Several test processes may ask for the same environment at once (nextest
//! runs each test in its own process), so installation happens under an
//! exclusive file lock and is marked complete only once pip succeeded: a
//! half-installed environment is never used, and is replaced by the next try.

use std::fs::{self, File};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::{Backend, EmulatorError};

/// The file whose presence says an environment finished installing.
const READY_MARKER: &str = ".fare-ready";

/// How long one step of an install (making the venv, pip) may run, and how
/// long a fare waits for another fare's install of the same environment:
/// `FARE_INSTALL_TIMEOUT_SECONDS`, else ten minutes (a cold pip install of
/// LocalStack takes about two here).
fn install_deadline() -> Duration {
    let seconds = std::env::var("FARE_INSTALL_TIMEOUT_SECONDS").ok().and_then(|s| s.trim().parse().ok());
    Duration::from_secs(seconds.unwrap_or(600))
}

/// Where fare keeps what it installs: `FARE_CACHE_DIR`, else
/// `$XDG_CACHE_HOME/fare`, else `~/.cache/fare`.
pub fn cache_dir() -> PathBuf {
    if let Some(dir) = std::env::var_os("FARE_CACHE_DIR") {
        return PathBuf::from(dir);
    }
    if let Some(dir) = std::env::var_os("XDG_CACHE_HOME") {
        return PathBuf::from(dir).join("fare");
    }
    let home = std::env::var_os("HOME").map(PathBuf::from).unwrap_or_else(std::env::temp_dir);
    home.join(".cache").join("fare")
}

/// An installed virtual environment.
#[derive(Debug, Clone)]
pub struct Venv {
    dir: PathBuf,
}

impl Venv {
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Returns the environment for `backend`, installing it first if needed.
    /// `progress` hears one line per step of a first install and nothing
    /// when the environment is already there.
    pub fn ensure(backend: Backend, progress: &mut dyn FnMut(&str)) -> Result<Venv, EmulatorError> {
        Venv::ensure_tool(&backend.tool(), progress)
    }

    /// The same for any [`Tool`].
    pub fn ensure_tool(tool: &Tool, progress: &mut dyn FnMut(&str)) -> Result<Venv, EmulatorError> {
        let root = cache_dir().join("venvs");
        let dir = root.join(&tool.venv);
        if dir.join(READY_MARKER).exists() {
            return Ok(Venv { dir });
        }
        fs::create_dir_all(&root).map_err(EmulatorError::io("creating", &root))?;
        let lock_path = root.join(format!("{}.lock", tool.venv));
        let lock = File::create(&lock_path).map_err(EmulatorError::io("creating", &lock_path))?;
        let _held = hold(&lock, &lock_path, &dir, install_deadline())?;
        // Another process may have finished the install while we waited.
        if dir.join(READY_MARKER).exists() {
            return Ok(Venv { dir });
        }
        install(tool, &dir, progress)?;
        Ok(Venv { dir })
    }

    /// The program `name` installed in the environment.
    pub fn bin(&self, name: &str) -> PathBuf {
        self.dir.join("bin").join(name)
    }
}

/// What fare installs into a virtual environment of its own.
#[derive(Debug, Clone)]
pub struct Tool {
    /// What progress lines call it.
    pub name: &'static str,
    /// The environment's directory name: it carries the pins, so changing
    /// one installs beside the old environment.
    pub venv: String,
    /// What `pip install` is given.
    pub requirements: Vec<String>,
    /// The Python versions that can run it, newest first; empty means any `python3`.
    pub python_versions: &'static [&'static str],
}

/// The pact-python release the consumer tests of outsiders (a frontend's
/// pact) are written with.
pub const PACT_PYTHON_VERSION: &str = "4.2.0";
/// The release of the official `pact` CLI (`pact verifier`, the broker
/// client), a Rust binary shipped as a wheel.
pub const PACT_CLI_VERSION: &str = "1!0.10.9";

/// pact-python and the official `pact` CLI, in one environment.
pub fn pact_tools() -> Tool {
    Tool {
        name: "pact-python and the pact CLI",
        venv: format!("pact-python-{PACT_PYTHON_VERSION}-cli-{}", PACT_CLI_VERSION.replace('!', "-")),
        requirements: vec![
            format!("pact-python=={PACT_PYTHON_VERSION}"),
            format!("pact-python-cli=={PACT_CLI_VERSION}"),
        ],
        python_versions: &[],
    }
}

fn install(tool: &Tool, dir: &Path, progress: &mut dyn FnMut(&str)) -> Result<(), EmulatorError> {
    if dir.exists() {
        fs::remove_dir_all(dir).map_err(EmulatorError::io("removing the unfinished", dir))?;
    }
    let python = python_for(tool);
    progress(&format!("creating a virtual environment for {} in {}", tool.name, dir.display()));
    let mut venv = Command::new(&python);
    venv.arg("-m").arg("venv").arg(dir);
    run(venv, &format!("a {python} venv"), dir).map_err(|e| match e {
        RunError::Spawn(source) => EmulatorError::PythonMissing { python: python.clone(), source },
        RunError::Failed(e) => e,
    })?;
    let requirements = &tool.requirements;
    progress(&format!("installing {} (first run only, about a minute)", requirements.join(" ")));
    let mut pip = Command::new(dir.join("bin").join("pip"));
    pip.args(["install", "--disable-pip-version-check", "--quiet"]).args(requirements);
    run(pip, &requirements.join(" "), dir).map_err(|e| match e {
        RunError::Spawn(source) => EmulatorError::io("running pip in", dir)(source),
        RunError::Failed(e) => e,
    })?;
    let marker = dir.join(READY_MARKER);
    File::create(&marker).map_err(EmulatorError::io("creating", &marker))?;
    progress(&format!("{} is installed", tool.name));
    Ok(())
}

/// A Python interpreter of one of `versions` (any `python3` if empty): on
/// PATH first, then among pyenv's installed versions, whose shims refuse to
/// run a version that is not selected.
/// The Python interpreter fare installs `tool` with: `FARE_PYTHON`, else
/// the newest that can run it.
pub fn python_for(tool: &Tool) -> String {
    std::env::var("FARE_PYTHON").unwrap_or_else(|_| find_python(tool.python_versions))
}

fn find_python(versions: &[&str]) -> String {
    if versions.is_empty() {
        return "python3".to_owned();
    }
    let works = |p: &str| Command::new(p).arg("--version").output().is_ok_and(|o| o.status.success());
    for v in versions {
        let name = format!("python{v}");
        if works(&name) {
            return name;
        }
    }
    let pyenv = std::env::var_os("PYENV_ROOT")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".pyenv")));
    if let Some(Ok(entries)) = pyenv.map(|root| fs::read_dir(root.join("versions"))) {
        let mut installed: Vec<PathBuf> = entries.filter_map(|e| e.ok()).map(|e| e.path()).collect();
        installed.sort();
        installed.reverse();
        for v in versions {
            for dir in &installed {
                let candidate = dir.join("bin").join(format!("python{v}"));
                let matches = dir.file_name().is_some_and(|n| n.to_string_lossy().starts_with(&format!("{v}.")));
                if matches && works(&candidate.to_string_lossy()) {
                    return candidate.to_string_lossy().into_owned();
                }
            }
        }
    }
    format!("python{}", versions[0])
}

/// Takes `lock`, waiting at most `deadline` for whoever holds it.
fn hold<'l>(lock: &'l File, path: &Path, venv: &Path, deadline: Duration) -> Result<&'l File, EmulatorError> {
    let started = Instant::now();
    loop {
        match lock.try_lock() {
            Ok(()) => return Ok(lock),
            Err(fs::TryLockError::WouldBlock) if started.elapsed() < deadline => {
                std::thread::sleep(Duration::from_millis(200));
            }
            Err(fs::TryLockError::WouldBlock) => {
                return Err(EmulatorError::InstallLocked {
                    venv: venv.to_owned(),
                    lock: path.to_owned(),
                    waited: deadline,
                });
            }
            Err(fs::TryLockError::Error(e)) => return Err(EmulatorError::io("locking", path)(e)),
        }
    }
}

enum RunError {
    Spawn(std::io::Error),
    Failed(EmulatorError),
}

/// Runs one install step with its output in `<venv>.install.log`; past
/// `deadline` the step and everything it started are killed.
fn run(cmd: Command, what: &str, venv: &Path) -> Result<(), RunError> {
    run_within(cmd, what, venv, install_deadline())
}

fn run_within(mut cmd: Command, what: &str, venv: &Path, deadline: Duration) -> Result<(), RunError> {
    let log_path = PathBuf::from(format!("{}.install.log", venv.display()));
    let log = File::create(&log_path).map_err(RunError::Spawn)?;
    let err = log.try_clone().map_err(RunError::Spawn)?;
    // Its own process group: pip's children go with it when it is stopped.
    cmd.stdin(Stdio::null()).stdout(log).stderr(err).process_group(0);
    let mut child = cmd.spawn().map_err(RunError::Spawn)?;
    let started = Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait().map_err(RunError::Spawn)? {
            break status;
        }
        if started.elapsed() >= deadline {
            // SAFETY: kill(2) of the group this step leads; no memory is touched.
            unsafe { libc::kill(-(child.id() as libc::pid_t), libc::SIGKILL) };
            let _ = child.wait();
            return Err(RunError::Failed(EmulatorError::InstallTimedOut {
                what: what.to_owned(),
                venv: venv.to_owned(),
                waited: deadline,
                output: last_lines(&fs::read_to_string(&log_path).unwrap_or_default(), 20),
            }));
        }
        std::thread::sleep(Duration::from_millis(100));
    };
    if status.success() {
        return Ok(());
    }
    Err(RunError::Failed(EmulatorError::InstallFailed {
        what: what.to_owned(),
        venv: venv.to_owned(),
        status: status.to_string(),
        output: last_lines(&fs::read_to_string(&log_path).unwrap_or_default(), 20),
    }))
}

/// The last `n` lines of `text`: what an error shows of a long log.
pub(crate) fn last_lines(text: &str, n: usize) -> String {
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(n)..].join("\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_install_step_past_its_deadline_is_stopped_with_everything_it_started() {
        let dir = tempfile::tempdir().unwrap();
        let venv = dir.path().join("slow");
        let pid_file = dir.path().join("grandchild.pid");
        // A step that starts a child of its own and then hangs, as pip can.
        let mut cmd = Command::new("sh");
        cmd.arg("-c").arg(format!("echo started; sleep 60 & echo $! > {}; wait", pid_file.display()));
        let Err(RunError::Failed(e)) = run_within(cmd, "a hanging step", &venv, Duration::from_secs(1)) else {
            panic!("a step that hangs must fail");
        };
        assert!(matches!(e, EmulatorError::InstallTimedOut { .. }), "{e}");
        assert!(e.to_string().contains("started"), "its output is shown: {e}");
        let grandchild: libc::pid_t = fs::read_to_string(&pid_file).unwrap().trim().parse().unwrap();
        // SAFETY: signal 0 only asks whether the process exists.
        let alive = || unsafe { libc::kill(grandchild, 0) } == 0 && !zombie(grandchild);
        // A killed process dies when next scheduled: on a loaded machine, give it that moment.
        let until = Instant::now() + Duration::from_secs(10);
        while alive() && Instant::now() < until {
            std::thread::sleep(Duration::from_millis(50));
        }
        assert!(!alive(), "the step's own child {grandchild} was left running");
    }

    #[test]
    fn a_lock_held_past_the_deadline_is_an_error_naming_it() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("tool.lock");
        let held = File::create(&path).unwrap();
        held.lock().unwrap();
        let other = File::create(&path).unwrap();
        let e = hold(&other, &path, &dir.path().join("tool"), Duration::from_millis(300)).unwrap_err();
        assert!(matches!(e, EmulatorError::InstallLocked { .. }), "{e}");
        drop(held);
        assert!(hold(&other, &path, &dir.path().join("tool"), Duration::from_millis(300)).is_ok());
    }

    /// A killed process not yet reaped by its parent (here: nobody, it was re-parented).
    fn zombie(pid: libc::pid_t) -> bool {
        fs::read_to_string(format!("/proc/{pid}/stat"))
            .is_ok_and(|s| s.rsplit(')').next().is_some_and(|rest| rest.trim_start().starts_with('Z')))
    }
}
