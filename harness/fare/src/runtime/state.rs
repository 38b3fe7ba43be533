//! The state file of a running platform (`.fare/<namespace>/state.json`):
//! how `fare status`, `fare down` and `fare quiet` find what `fare up` started.

use std::path::{Path, PathBuf};

use kit::bus::Namespace;
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ServiceState {
    pub name: String,
    pub url: String,
    pub pid: u32,
    pub log: PathBuf,
    /// Running, restarting, down or stopped, as the supervisor last saw it.
    #[serde(default)]
    pub status: ServiceStatus,
    /// How many times the supervisor started it again after it died.
    #[serde(default)]
    pub restarts: u32,
    /// The path that answers 2xx once it is ready (its manifest's `[run] ready`).
    #[serde(default = "default_ready")]
    pub ready: String,
}

fn default_ready() -> String {
    "/ready".to_owned()
}

/// What a service of a running platform is doing.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(tag = "state", rename_all = "snake_case")]
pub enum ServiceStatus {
    #[default]
    Running,
    /// It died; the supervisor starts it again after a backoff.
    Restarting { attempt: u32 },
    /// It died and stays down: `--restart never`, a crash loop, a failed start.
    Down { why: String },
    /// Stopped on purpose (`fare stop`, a scenario's fault).
    Stopped,
}

impl std::fmt::Display for ServiceStatus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ServiceStatus::Running => f.write_str("running"),
            ServiceStatus::Restarting { attempt } => write!(f, "restarting (attempt {attempt})"),
            ServiceStatus::Down { why } => write!(f, "down ({why})"),
            ServiceStatus::Stopped => f.write_str("stopped"),
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct FakeState {
    pub name: String,
    pub url: String,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct PlatformState {
    pub namespace: Namespace,
    /// The SNS/SQS endpoint; `None` for real AWS.
    pub endpoint: Option<String>,
    pub emulator_pid: Option<u32>,
    /// The `fare up` process that owns everything below.
    pub supervisor_pid: u32,
    /// When it started (clock ticks after boot, `/proc/<pid>/stat`): a pid
    /// the kernel has since given to another process is not the supervisor.
    #[serde(default)]
    pub supervisor_started: Option<u64>,
    /// Where `fare trace` asks for a chain.
    #[serde(default)]
    pub recorder_url: Option<String>,
    /// What the supervisor does when a service dies.
    #[serde(default)]
    pub restart: super::RestartPolicy,
    pub services: Vec<ServiceState>,
    pub fakes: Vec<FakeState>,
    /// Processes or containers.
    #[serde(default)]
    pub runtime: super::Runtime,
}

#[derive(Debug, thiserror::Error)]
pub enum StateError {
    #[error("no platform is running in namespace `{namespace}` (no {path}); start one with `fare up`")]
    NotRunning { namespace: Namespace, path: PathBuf },
    /// The file is there, but the `fare up` that wrote it is not: it was
    /// killed before it could clean up (`kill -9`, a lost terminal).
    #[error(
        "no platform is running in namespace `{namespace}`: the `fare up` that started it (pid {pid}) is gone \
         and left {path} behind; `fare down` clears what is left, `fare up` starts a new one"
    )]
    Stale { namespace: Namespace, path: PathBuf, pid: u32 },
    #[error("{path} is not a platform state file")]
    Corrupt {
        path: PathBuf,
        #[source]
        source: serde_json::Error,
    },
    #[error("writing {path}: {source}")]
    Write {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
}

/// The file that holds a run's operator token, under its state directory.
pub const OPERATOR_TOKEN_FILE: &str = "operator-token";

/// The operator token of the run in namespace `ns` under `root`, if one runs.
pub fn read_operator_token(root: &Path, ns: &Namespace) -> Option<String> {
    let path = state_dir(root, ns).join(OPERATOR_TOKEN_FILE);
    std::fs::read_to_string(path).ok().map(|t| t.trim().to_owned()).filter(|t| !t.is_empty())
}

/// Where a namespace's state, databases and logs live.
pub fn state_dir(root: &Path, namespace: &Namespace) -> PathBuf {
    root.join(".fare").join(namespace.as_str())
}

/// Creates `dir` (and the directories above it up to `.fare`) for its owner
/// alone: logs, databases, reports and the state file under it are nobody
/// else's to read.
pub fn private_dir(dir: &Path) -> std::io::Result<()> {
    use std::os::unix::fs::PermissionsExt;
    std::fs::create_dir_all(dir)?;
    let mut at = Some(dir);
    while let Some(d) = at {
        std::fs::set_permissions(d, std::fs::Permissions::from_mode(0o700))?;
        if d.file_name().is_some_and(|n| n == ".fare") {
            break;
        }
        at = d.parent().filter(|p| p.ancestors().any(|a| a.file_name().is_some_and(|n| n == ".fare")));
    }
    Ok(())
}

impl PlatformState {
    pub fn path(root: &Path, namespace: &Namespace) -> PathBuf {
        state_dir(root, namespace).join("state.json")
    }

    pub fn load(root: &Path, namespace: &Namespace) -> Result<PlatformState, StateError> {
        let path = PlatformState::path(root, namespace);
        let text = std::fs::read_to_string(&path)
            .map_err(|_| StateError::NotRunning { namespace: namespace.clone(), path: path.clone() })?;
        let state: PlatformState =
            serde_json::from_str(&text).map_err(|source| StateError::Corrupt { path: path.clone(), source })?;
        if !state.supervisor_is_running() {
            return Err(StateError::Stale { namespace: namespace.clone(), path, pid: state.supervisor_pid });
        }
        Ok(state)
    }

    /// Whether the recorded supervisor still runs: its pid is alive and, when
    /// its start time was recorded, still belongs to the process started then.
    pub fn supervisor_is_running(&self) -> bool {
        alive(self.supervisor_pid) && self.supervisor_started.is_none_or(|t| start_time(self.supervisor_pid) == Some(t))
    }

    /// Writes atomically: readers never see half a file.
    pub fn save(&self, root: &Path) -> Result<(), StateError> {
        let path = PlatformState::path(root, &self.namespace);
        let tmp = path.with_extension("json.tmp");
        let text = serde_json::to_string_pretty(self).expect("state serialises");
        std::fs::write(&tmp, text)
            .and_then(|()| std::fs::rename(&tmp, &path))
            .map_err(|source| StateError::Write { path, source })
    }

    /// The run is over: its state file goes, and its operator token, which
    /// opens nothing any more.
    pub fn remove(root: &Path, namespace: &Namespace) {
        let _ = std::fs::remove_file(PlatformState::path(root, namespace));
        let _ = std::fs::remove_file(state_dir(root, namespace).join(OPERATOR_TOKEN_FILE));
    }
}

/// When process `pid` started, in clock ticks after boot (field 22 of
/// `/proc/<pid>/stat`); `None` without /proc or such a process.
pub fn start_time(pid: u32) -> Option<u64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command name (field 2) may hold spaces and parentheses: count from its end.
    let after_name = &stat[stat.rfind(')')? + 1..];
    after_name.split_whitespace().nth(19)?.parse().ok()
}

/// Whether a process exists.
pub fn alive(pid: u32) -> bool {
    // SAFETY: signal 0 only checks that the process exists.
    unsafe { libc::kill(pid as libc::pid_t, 0) == 0 }
}

#[cfg(test)]
mod tests {
    use std::os::unix::fs::PermissionsExt;

    use super::*;

    #[test]
    fn a_state_directory_and_fare_itself_are_the_owners_alone() {
        let root = tempfile::tempdir().unwrap();
        let ns = Namespace::parse("ns1").unwrap();
        let logs = state_dir(root.path(), &ns).join("logs");
        private_dir(&logs).unwrap();
        for dir in [root.path().join(".fare"), state_dir(root.path(), &ns), logs] {
            let mode = std::fs::metadata(&dir).unwrap().permissions().mode() & 0o777;
            assert_eq!(mode, 0o700, "{}: {mode:o}", dir.display());
        }
        let mode = std::fs::metadata(root.path()).unwrap().permissions().mode() & 0o777;
        assert_ne!(mode, 0o700, "nothing above .fare is touched");
    }

    /// A state file whose supervisor pid now belongs to another process
    /// (this test's, started at another time) is a platform no longer running.
    #[test]
    fn a_recorded_pid_counts_only_while_it_is_the_process_started_then() {
        let root = tempfile::tempdir().unwrap();
        let ns = Namespace::parse("ns2").unwrap();
        private_dir(&state_dir(root.path(), &ns)).unwrap();
        let me = std::process::id();
        let started = start_time(me).expect("this process's start time");
        let mut state: PlatformState = serde_json::from_value(serde_json::json!({
            "namespace": "ns2", "endpoint": null, "emulator_pid": null, "supervisor_pid": me,
            "services": [], "fakes": []
        }))
        .unwrap();
        for (recorded, running) in [(None, true), (Some(started), true), (Some(started + 1), false)] {
            state.supervisor_started = recorded;
            state.save(root.path()).unwrap();
            match PlatformState::load(root.path(), &ns) {
                Ok(_) => assert!(running, "{recorded:?}"),
                Err(e) => {
                    assert!(!running, "{recorded:?}: {e}");
                    assert!(matches!(e, StateError::Stale { pid, .. } if pid == me), "{e}");
                    assert!(e.to_string().contains(&format!("(pid {me}) is gone")), "{e}");
                }
            }
        }
    }
}
