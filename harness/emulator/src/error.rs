//! Everything that can go wrong while installing or starting an emulator.

use std::path::PathBuf;

#[derive(Debug, thiserror::Error)]
pub enum EmulatorError {
    #[error("cannot find a Python interpreter `{python}` ({source}); set FARE_PYTHON to one")]
    PythonMissing {
        python: String,
        #[source]
        source: std::io::Error,
    },
    #[error("installing {what} into {venv} failed ({status}); last output:\n{output}")]
    InstallFailed { what: String, venv: PathBuf, status: String, output: String },
    #[error(
        "installing {what} into {venv} did not finish within {waited:?} and was stopped \
         (FARE_INSTALL_TIMEOUT_SECONDS sets the limit); last output:\n{output}"
    )]
    InstallTimedOut { what: String, venv: PathBuf, waited: std::time::Duration, output: String },
    #[error(
        "waited {waited:?} for another fare's install of {venv} to finish ({lock} stays locked); \
         remove the lock file if no other fare is running"
    )]
    InstallLocked { venv: PathBuf, lock: PathBuf, waited: std::time::Duration },
    #[error("{action} {path}: {source}")]
    Io {
        action: &'static str,
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("no free loopback port: {0}")]
    NoPort(#[source] std::io::Error),
    #[error("{backend} exited during start-up ({status}); last log lines from {log}:\n{tail}")]
    Exited { backend: &'static str, status: String, log: PathBuf, tail: String },
    #[error("{backend} was not ready on {endpoint} after {waited_ms} ms; last log lines from {log}:\n{tail}")]
    NotReady { backend: &'static str, endpoint: String, waited_ms: u128, log: PathBuf, tail: String },
}

impl EmulatorError {
    pub(crate) fn io(action: &'static str, path: impl Into<PathBuf>) -> impl FnOnce(std::io::Error) -> Self {
        let path = path.into();
        move |source| EmulatorError::Io { action, path, source }
    }
}
