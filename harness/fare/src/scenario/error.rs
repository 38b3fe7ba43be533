//! What can be wrong with a scenario file, each at its file, line and
//! field, and how a place in a file is found and written.

use std::path::PathBuf;

use super::model::Scenario;

#[derive(Debug, thiserror::Error)]
pub enum ScenarioError {
    #[error("reading {path}: {source}")]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{}:{}: {field}: {message}", .path.display(), position(*.line, *.column))]
    Invalid { path: PathBuf, line: Option<usize>, column: Option<usize>, field: String, message: String },
    /// Every problem found, when there is more than one.
    #[error("{}", .0.iter().map(|e| e.to_string()).collect::<Vec<_>>().join("\n"))]
    Several(Vec<ScenarioError>),
    #[error("no scenario named `{name}` in {}{hint} (there are: {})", .dir.display(), .known.join(", "))]
    Unknown { name: String, dir: PathBuf, known: Vec<String>, hint: String },
}

impl ScenarioError {
    pub(super) fn invalid(
        s: &Scenario,
        field: impl Into<String>,
        needle: &str,
        message: impl Into<String>,
    ) -> ScenarioError {
        ScenarioError::at(&s.path, &s.source, field, needle, message)
    }

    /// A problem at `field` of the file at `path`, located in its `source` by `needle`.
    pub(crate) fn at(
        path: &std::path::Path,
        source: &str,
        field: impl Into<String>,
        needle: &str,
        message: impl Into<String>,
    ) -> ScenarioError {
        let at = position_of(source, needle);
        ScenarioError::Invalid {
            path: path.to_owned(),
            line: at.map(|(line, _)| line),
            column: at.map(|(_, column)| column),
            field: field.into(),
            message: message.into(),
        }
    }

    /// One error for all of `errors`: the only one, or all of them; `Ok` for none.
    pub(crate) fn all(mut errors: Vec<ScenarioError>) -> Result<(), ScenarioError> {
        match errors.len() {
            0 => Ok(()),
            1 => Err(errors.remove(0)),
            _ => Err(ScenarioError::Several(errors)),
        }
    }

    /// Each problem on its own, however they were gathered.
    pub fn each(&self) -> Vec<&ScenarioError> {
        match self {
            ScenarioError::Several(all) => all.iter().flat_map(ScenarioError::each).collect(),
            one => vec![one],
        }
    }
}

/// `line:column`, `line` or `?`, as known.
pub(crate) fn position(line: Option<usize>, column: Option<usize>) -> String {
    match (line, column) {
        (Some(l), Some(c)) => format!("{l}:{c}"),
        (Some(l), None) => l.to_string(),
        _ => "?".into(),
    }
}

/// The 1-based line and column where `needle` first appears as a word.
pub(crate) fn position_of(source: &str, needle: &str) -> Option<(usize, usize)> {
    let word = |c: Option<char>| c.is_some_and(|c| c.is_alphanumeric() || c == '_' || c == '-' || c == '.');
    source.lines().enumerate().find_map(|(i, l)| {
        l.match_indices(needle)
            .find(|(at, _)| !word(l[..*at].chars().next_back()) && !word(l[at + needle.len()..].chars().next()))
            .map(|(at, _)| (i + 1, l[..at].chars().count() + 1))
    })
}
