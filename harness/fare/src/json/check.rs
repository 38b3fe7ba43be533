//! `fare check --json`: whether the manifests agree, and every problem.

use std::path::PathBuf;

use schemars::JsonSchema;
use serde::Serialize;

use crate::ManifestError;
use crate::topology::{Problem, Severity};

/// `ok` when the manifests agree; the counts when they could be read.
#[derive(Debug, Serialize, JsonSchema)]
pub struct CheckDoc {
    pub ok: bool,
    pub services: Option<usize>,
    pub events: Option<usize>,
    pub problems: Vec<ProblemDoc>,
}

/// One problem, where it is.
#[derive(Debug, Serialize, JsonSchema)]
pub struct ProblemDoc {
    pub severity: SeverityDoc,
    pub path: PathBuf,
    pub line: Option<usize>,
    pub column: Option<usize>,
    pub message: String,
}

#[derive(Debug, Clone, Copy, Serialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum SeverityDoc {
    Error,
    Warning,
}

impl ProblemDoc {
    pub fn of(p: &Problem) -> ProblemDoc {
        let severity = if p.severity == Severity::Error { SeverityDoc::Error } else { SeverityDoc::Warning };
        let (line, column) = (Some(p.line), Some(p.column));
        ProblemDoc { severity, path: p.path.clone(), line, column, message: p.message.clone() }
    }

    /// Each manifest that cannot be read, as a problem.
    pub fn unreadable(e: &ManifestError) -> Vec<ProblemDoc> {
        use ManifestError as E;
        let (path, line, column, message) = match e {
            E::Several(all) => return all.iter().flat_map(ProblemDoc::unreadable).collect(),
            E::Syntax { path, line, column, message } => (path, Some(*line), Some(*column), message.clone()),
            E::Invalid { path, line, key, message } => (path, Some(*line), None, format!("`{key}`: {message}")),
            E::Read { path, source } => (path, None, None, source.to_string()),
            E::None(path) => (path, None, None, e.to_string()),
        };
        vec![ProblemDoc { severity: SeverityDoc::Error, path: path.clone(), line, column, message }]
    }
}
