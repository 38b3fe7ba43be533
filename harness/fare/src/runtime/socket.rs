//! The control socket of a supervising `fare up` (`.fare/<ns>/control.sock`).
//! Only the supervisor owns the services' processes, so `fare stop`, `fare
//! start` and `fare restart` ask it. One JSON line per request, one per answer:
//!
//! ```text
//! → {"op":"restart","service":"fulfillment"}
//! ← {"ok":true,"message":"fulfillment restarted (pid 4242)"}
//! ```
//!
//! A Unix socket of mode 0600: whoever may write it may run the platform.

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::{Deserialize, Serialize};
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::{UnixListener, UnixStream};

use super::control::ControlError;
use super::{Platform, state_dir};
use crate::io::{IoError, io};

/// What a request may ask of the supervisor.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Op {
    /// SIGTERM, SIGKILL after a grace period; the supervisor leaves it stopped.
    Stop,
    /// Start a stopped or down service, as `fare up` started it.
    Start,
    /// Stop, then start.
    Restart,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Request {
    pub op: Op,
    pub service: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Answer {
    pub ok: bool,
    /// What was done, or why it could not be.
    pub message: String,
}

#[derive(Debug, thiserror::Error)]
pub enum SocketError {
    #[error("no supervisor answers on {path} (is `fare up` running in namespace `{namespace}`?): {source}")]
    NoSupervisor {
        namespace: kit::bus::Namespace,
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error(transparent)]
    Io(#[from] IoError),
    #[error("the supervisor's answer on {path} is not one: {message}")]
    Garbled { path: PathBuf, message: String },
    #[error("the supervisor did not answer within {0:?}")]
    TimedOut(Duration),
}

/// Where the supervisor of namespace `ns` listens.
pub fn socket_path(root: &Path, ns: &kit::bus::Namespace) -> PathBuf {
    state_dir(root, ns).join("control.sock")
}

/// A request longer than this is not one.
const MAX_LINE: u64 = 4096;
/// How long a client may take to send its request.
const READ_TIMEOUT: Duration = Duration::from_secs(5);
/// A restart may wait out the stop's grace period and the start's readiness.
const ANSWER_TIMEOUT: Duration = Duration::from_secs(90);

/// The listening socket; dropping it removes the file.
pub struct ControlSocket {
    listener: UnixListener,
    path: PathBuf,
}

impl ControlSocket {
    /// Listens at [`socket_path`], replacing a socket a dead supervisor left.
    pub fn bind(root: &Path, ns: &kit::bus::Namespace) -> Result<ControlSocket, SocketError> {
        let path = socket_path(root, ns);
        match std::fs::remove_file(&path) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
                return Err(io("removing the old socket", &path)(e).into());
            }
            _ => {}
        }
        let listener = UnixListener::bind(&path).map_err(io("listening on", &path))?;
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).map_err(io("restricting", &path))?;
        Ok(ControlSocket { listener, path })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The next client. Cancel-safe: fit for `tokio::select!`.
    pub async fn accept(&self) -> std::io::Result<UnixStream> {
        self.listener.accept().await.map(|(stream, _)| stream)
    }
}

impl Drop for ControlSocket {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.path);
    }
}

/// Reads one request from `stream`, does it to `platform`, answers.
pub async fn serve(stream: UnixStream, platform: &mut Platform) {
    let (read, mut write) = stream.into_split();
    let mut line = String::new();
    let mut reader = BufReader::new(read.take(MAX_LINE));
    let answer = match tokio::time::timeout(READ_TIMEOUT, reader.read_line(&mut line)).await {
        Ok(Ok(_)) => match serde_json::from_str::<Request>(&line) {
            Ok(request) => platform.control(&request).await,
            Err(e) => Answer { ok: false, message: format!("not a request ({e}): {}", line.trim()) },
        },
        Ok(Err(e)) => Answer { ok: false, message: format!("reading the request: {e}") },
        Err(_) => Answer { ok: false, message: format!("no request within {READ_TIMEOUT:?}") },
    };
    let mut text = serde_json::to_string(&answer).expect("an answer serialises");
    text.push('\n');
    // A client that went away misses its answer; the deed is done either way.
    let _ = write.write_all(text.as_bytes()).await;
}

/// Asks the supervisor of namespace `ns`.
pub async fn ask(root: &Path, ns: &kit::bus::Namespace, request: &Request) -> Result<Answer, SocketError> {
    let path = socket_path(root, ns);
    let stream = UnixStream::connect(&path).await.map_err(|source| SocketError::NoSupervisor {
        namespace: ns.clone(),
        path: path.clone(),
        source,
    })?;
    let exchange = async {
        let (read, mut write) = stream.into_split();
        let mut text = serde_json::to_string(request).expect("a request serialises");
        text.push('\n');
        write.write_all(text.as_bytes()).await?;
        let mut line = String::new();
        BufReader::new(read.take(64 * 1024)).read_line(&mut line).await?;
        Ok::<String, std::io::Error>(line)
    };
    let line = tokio::time::timeout(ANSWER_TIMEOUT, exchange)
        .await
        .map_err(|_| SocketError::TimedOut(ANSWER_TIMEOUT))?
        .map_err(io("talking to the supervisor on", &path))?;
    serde_json::from_str(&line).map_err(|e| SocketError::Garbled { path, message: e.to_string() })
}

impl Platform {
    /// Does what `request` asks; the answer says how it went.
    pub async fn control(&mut self, request: &Request) -> Answer {
        let name = request.service.as_str();
        let done = match request.op {
            Op::Stop => self.stop_service(name).await.map(|()| format!("{name} stopped")),
            Op::Start => self.start_service(name).await.map(|()| format!("{name} started (pid {})", self.pid(name))),
            Op::Restart => match self.stop_service(name).await {
                Ok(()) | Err(ControlError::Stopped { .. }) => {
                    self.start_service(name).await.map(|()| format!("{name} restarted (pid {})", self.pid(name)))
                }
                Err(e) => Err(e),
            },
        };
        match done {
            Ok(message) => Answer { ok: true, message },
            Err(e) => Answer { ok: false, message: e.to_string() },
        }
    }

    fn pid(&self, name: &str) -> u32 {
        self.state.services.iter().find(|s| s.name == name).map_or(0, |s| s.pid)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn requests_and_answers_are_one_json_line_each() {
        let request = Request { op: Op::Restart, service: "fulfillment".into() };
        let text = serde_json::to_string(&request).unwrap();
        assert_eq!(text, r#"{"op":"restart","service":"fulfillment"}"#);
        assert_eq!(serde_json::from_str::<Request>(&text).unwrap(), request);
        assert!(serde_json::from_str::<Request>(r#"{"op":"explode","service":"x"}"#).is_err());
        let answer = Answer { ok: false, message: "no service `x`".into() };
        assert_eq!(serde_json::to_string(&answer).unwrap(), r#"{"ok":false,"message":"no service `x`"}"#);
    }
}
