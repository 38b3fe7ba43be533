//! `fare e2e --target FILE`: the scenarios against an environment fare did
//! not start, which the target file describes (the library's `remote`).

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::Context;

use crate::remote::{Elsewhere, RemoteError, RemoteOptions, TargetFile};
use crate::runtime::state_dir;
use crate::scenario::{Progress, RunReport, Scenario};
use crate::topology::Topology;
use crate::trace::SavedRecord;

/// Runs `scenarios` against the environment `file` describes; the report
/// and the directory its HTML goes to (`.fare/<namespace>-remote/reports`
/// under `root`), or the exit code of a run interrupted.
pub(super) async fn e2e(
    root: &Path,
    file: &Path,
    topology: &Topology,
    scenarios: &[Scenario],
    options: &RemoteOptions,
    record: Option<&Path>,
    progress: Arc<dyn Progress>,
) -> anyhow::Result<Result<(RunReport, PathBuf), ExitCode>> {
    let known: Vec<&str> = topology.services().map(|m| m.name.as_str()).collect();
    let file = TargetFile::load(file, &known)?;
    // Like a platform's, the run's directory is its owner's alone.
    let own = file.namespace.suffixed("remote").context("the remote namespace")?;
    let reports = state_dir(root, &own).join("reports");
    crate::runtime::private_dir(&reports).with_context(|| format!("creating {}", reports.display()))?;
    crate::terminal::progress(&format!(
        "e2e: {} scenarios against {} ({})",
        scenarios.len(),
        file.name,
        file.whereabouts()
    ));
    // Listening before anything is added there: a Ctrl-C from now on ends
    // the run through its cleanup, never past it.
    let interrupted = interruption().context("listening for Ctrl-C")?;
    let elsewhere = Elsewhere { file, topology: topology.clone() };
    match elsewhere.run(scenarios, options, progress, interrupted).await {
        Ok(run) => {
            if let Some(path) = record {
                let ran = run.report.scenarios.iter().map(|s| s.name.clone()).collect();
                SavedRecord { scenarios: ran, ..run.record }.write(path).context("--record")?;
                crate::terminal::progress(&format!("the run's record in {}", path.display()));
            }
            Ok(Ok((run.report, reports)))
        }
        Err(RemoteError::Interrupted { closed }) => {
            eprintln!("fare: interrupted; {closed}");
            Ok(Err(ExitCode::from(2)))
        }
        Err(e) => Err(e.into()),
    }
}

/// Resolves on the first SIGINT or SIGTERM after this call (the handlers
/// are installed at once, not when first polled).
fn interruption() -> std::io::Result<impl Future<Output = ()>> {
    use tokio::signal::unix::{SignalKind, signal};
    let (mut int, mut term) = (signal(SignalKind::interrupt())?, signal(SignalKind::terminate())?);
    Ok(async move {
        tokio::select! {
            _ = int.recv() => {}
            _ = term.recv() => {}
        }
    })
}
