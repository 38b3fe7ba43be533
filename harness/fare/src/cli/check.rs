//! `fare check --json` (exit 1 when the manifests disagree, or the
//! platform's workloads do not fit them, 2 when one cannot be read; the
//! document is [`crate::json::CheckDoc`]), the workloads held against the
//! manifests, and `fare schema`, the JSON Schema of each `--json` document.

use std::path::{Path, PathBuf};

use anyhow::Context;
use std::process::ExitCode;

use crate::json::{self, CheckDoc, Doc, ProblemDoc};
use crate::scenario::ScenarioError;
use crate::topology::{Problem, Severity, Topology};

pub fn check(services: &Path) -> anyhow::Result<ExitCode> {
    let (doc, code) = match crate::load_topology(services) {
        Ok((topology, mut warnings)) => {
            warnings.extend(workloads(&super::workspace_root(services), &topology));
            let ok = !warnings.iter().any(|p| p.severity == Severity::Error);
            let problems = warnings.iter().map(ProblemDoc::of).collect();
            let counts = (Some(topology.services().count()), Some(topology.events().len()));
            let code = if ok { ExitCode::SUCCESS } else { ExitCode::from(1) };
            (CheckDoc { ok, services: counts.0, events: counts.1, problems }, code)
        }
        Err(crate::LoadError::Topology(e)) => {
            let problems = e.0.iter().map(ProblemDoc::of).collect();
            (CheckDoc { ok: false, services: None, events: None, problems }, ExitCode::from(1))
        }
        Err(crate::LoadError::Manifest(e)) => {
            let problems = ProblemDoc::unreadable(&e);
            (CheckDoc { ok: false, services: None, events: None, problems }, ExitCode::from(2))
        }
    };
    json::print(&doc)?;
    Ok(code)
}

/// The platform's workloads at their places under `root` held against the
/// manifests: the fault matrix's chains (`scenarios/chaos/cell.yaml`) and
/// the load (`scenarios/chaos/load.yaml`). One that is not there is a
/// warning: the command that needs it cannot run.
pub fn workloads(root: &Path, topology: &Topology) -> Vec<Problem> {
    let mut problems = Vec::new();
    let cell = crate::chaos::Workload::default_path(root);
    if !cell.is_file() {
        problems.push(missing(cell, "`fare chaos` (the fault matrix) needs one (docs/chaos.md)"));
    } else {
        match crate::chaos::Workload::load(&cell) {
            Ok(w) => {
                let source = std::fs::read_to_string(&cell).unwrap_or_default();
                for e in w.unknown_events(topology) {
                    let (line, column) = crate::scenario::load::position_of(&source, e.as_str()).unwrap_or((1, 1));
                    let message = format!("no service publishes or hears `{e}`");
                    problems.push(Problem { severity: Severity::Error, path: cell.clone(), line, column, message });
                }
            }
            Err(e) => problems.push(Problem {
                severity: Severity::Error,
                path: cell.clone(),
                line: 1,
                column: 1,
                message: e.to_string(),
            }),
        }
    }
    let load = crate::workload::Workload::default_path(root);
    if !load.is_file() {
        problems.push(missing(load, "`fare chaos --load` and `fare bench` need one (docs/load.md)"));
    } else {
        let checked = crate::workload::Workload::read(&load).and_then(|w| w.fits(topology));
        if let Err(e) = checked {
            problems.extend(e.each().into_iter().map(|e| of_scenario_error(&load, e)));
        }
    }
    problems
}

fn missing(path: PathBuf, needs: &str) -> Problem {
    Problem { severity: Severity::Warning, path, line: 1, column: 1, message: format!("no workload here: {needs}") }
}

/// A workload's problem as a problem of `fare check`, at its line.
fn of_scenario_error(path: &Path, e: &ScenarioError) -> Problem {
    let (path, line, column, message) = match e {
        ScenarioError::Invalid { path, line, column, field, message } => {
            (path.clone(), line.unwrap_or(1), column.unwrap_or(1), format!("{field}: {message}"))
        }
        other => (path.to_owned(), 1, 1, other.to_string()),
    };
    Problem { severity: Severity::Error, path, line, column, message }
}

/// Prints the schema of `document`, or writes every schema into `folder`.
pub fn schema(document: Option<Doc>, folder: Option<&Path>) -> anyhow::Result<ExitCode> {
    if let Some(doc) = document {
        print!("{}", doc.schema_text());
        return Ok(ExitCode::SUCCESS);
    }
    let Some(folder) = folder else { return Ok(ExitCode::SUCCESS) };
    std::fs::create_dir_all(folder).with_context(|| format!("creating {}", folder.display()))?;
    for doc in Doc::ALL {
        let path = folder.join(doc.file_name());
        std::fs::write(&path, doc.schema_text()).with_context(|| format!("writing {}", path.display()))?;
        crate::terminal::progress(&format!("wrote {}", path.display()));
    }
    Ok(ExitCode::SUCCESS)
}
