//! `fare check --json` (exit 1 when the manifests disagree, 2 when one
//! cannot be read; the document is [`crate::json::CheckDoc`]), and `fare
//! schema`, the JSON Schema of each `--json` document.

use std::path::Path;

use anyhow::Context;
use std::process::ExitCode;

use crate::json::{self, CheckDoc, Doc, ProblemDoc};

pub fn check(services: &Path) -> anyhow::Result<ExitCode> {
    let (doc, code) = match crate::load_topology(services) {
        Ok((topology, warnings)) => {
            let problems = warnings.iter().map(ProblemDoc::of).collect();
            let counts = (Some(topology.services().count()), Some(topology.events().len()));
            (CheckDoc { ok: true, services: counts.0, events: counts.1, problems }, ExitCode::SUCCESS)
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
