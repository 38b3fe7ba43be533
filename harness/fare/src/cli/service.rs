//! `fare stop|start|restart|kill|logs SERVICE`: one service of a running
//! platform. The supervisor (`fare up`) owns the processes, so stop, start
//! and restart are asked of it over its control socket; `kill` signals the
//! pid in the state file, as a crash would, and the supervisor's restart
//! policy takes it from there; `logs` reads the log files.

use std::io::{Read, Seek, SeekFrom, Write};
use std::os::unix::fs::MetadataExt;
use std::path::Path;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::Context;
use kit::bus::Namespace;

use crate::runtime::{Op, PlatformState, Request, ServiceStatus, ask, state_dir};

#[derive(Debug, Clone, clap::Args)]
pub struct LogsArgs {
    /// The service whose log to print.
    pub service: String,
    /// Keep printing what it writes, across restarts, until Ctrl-C.
    #[arg(long, short)]
    pub follow: bool,
    /// How many of the last lines to print first (0: all of them).
    #[arg(long, short = 'n', default_value_t = 100)]
    pub lines: usize,
}

/// `stop`, `start`, `restart`: asked of the supervisor.
pub async fn control(root: &Path, ns: &Namespace, op: Op, service: &str) -> anyhow::Result<ExitCode> {
    let answer = ask(root, ns, &Request { op, service: service.to_owned() }).await?;
    eprintln!("fare: {}", answer.message);
    Ok(if answer.ok { ExitCode::SUCCESS } else { ExitCode::from(1) })
}

/// `kill`: SIGKILL, as a crash would; the supervisor then applies its policy.
pub fn kill(root: &Path, ns: &Namespace, service: &str) -> anyhow::Result<ExitCode> {
    let state = PlatformState::load(root, ns)?;
    let Some(s) = state.services.iter().find(|s| s.name == service) else {
        let known: Vec<&str> = state.services.iter().map(|s| s.name.as_str()).collect();
        anyhow::bail!("no service `{service}` on this platform (it has: {})", known.join(", "));
    };
    if s.status != ServiceStatus::Running {
        eprintln!("fare: {service} is {}: nothing to kill", s.status);
        return Ok(ExitCode::from(1));
    }
    // SAFETY: kill(2) on the pid the supervisor wrote for a running service.
    if unsafe { libc::kill(s.pid as libc::pid_t, libc::SIGKILL) } != 0 {
        let e = std::io::Error::last_os_error();
        anyhow::bail!("sending SIGKILL to {service} (pid {}): {e}", s.pid);
    }
    eprintln!(
        "fare: sent SIGKILL to {service} (pid {}); the supervisor's policy applies (--restart {})",
        s.pid, state.restart
    );
    Ok(ExitCode::SUCCESS)
}

/// `logs`: the log file of this run of the service, and with `--follow`
/// what it writes next (a restart starts a new file: followed too).
pub async fn logs(root: &Path, ns: &Namespace, args: &LogsArgs) -> anyhow::Result<ExitCode> {
    let path = state_dir(root, ns).join("logs").join(format!("{}.log", args.service));
    let text = std::fs::read(&path).with_context(|| format!("reading {} (is the name right?)", path.display()))?;
    let text = String::from_utf8_lossy(&text);
    let lines: Vec<&str> = text.lines().collect();
    let first = if args.lines == 0 { 0 } else { lines.len().saturating_sub(args.lines) };
    let mut out = std::io::stdout().lock();
    for line in &lines[first..] {
        writeln!(out, "{line}")?;
    }
    out.flush()?;
    drop(out);
    if !args.follow {
        return Ok(ExitCode::SUCCESS);
    }
    let mut offset = text.len() as u64;
    let mut inode = std::fs::metadata(&path).map(|m| m.ino()).ok();
    let shutdown = kit::shutdown_signal();
    tokio::pin!(shutdown);
    loop {
        tokio::select! {
            _ = &mut shutdown => return Ok(ExitCode::SUCCESS),
            _ = tokio::time::sleep(Duration::from_millis(200)) => {}
        }
        let Ok(meta) = std::fs::metadata(&path) else { continue };
        // Kept as `<name>.N.log` and started afresh, or truncated: from the top.
        if Some(meta.ino()) != inode || meta.len() < offset {
            inode = Some(meta.ino());
            offset = 0;
        }
        if meta.len() == offset {
            continue;
        }
        let mut file = std::fs::File::open(&path).with_context(|| format!("reading {}", path.display()))?;
        file.seek(SeekFrom::Start(offset))?;
        let mut fresh = Vec::new();
        file.read_to_end(&mut fresh)?;
        offset += fresh.len() as u64;
        let mut out = std::io::stdout().lock();
        out.write_all(&fresh)?;
        out.flush()?;
    }
}
