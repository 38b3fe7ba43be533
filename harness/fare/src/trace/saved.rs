//! The whole record of a run as one JSON file: every event as it arrived
//! (masked, as the recorder keeps it) with its SNS attributes, and every
//! span. `fare e2e` and `fare chaos` write it beside their reports
//! (`.fare/<namespace>/record.json`) when the run ends; `fare contracts
//! coverage` reads it.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use kit::Envelope;
use serde::{Deserialize, Serialize};

use super::SpanRecord;

/// One published event, as the tap on every topic received it.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Published {
    pub event: Envelope,
    pub attributes: BTreeMap<String, String>,
}

/// Everything the recorder saw in a run.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct SavedRecord {
    pub events: Vec<Published>,
    pub spans: Vec<SpanRecord>,
    /// The scenarios the run ran, by name (none for `fare up` and `fare
    /// chaos`, nor in a record written before they were kept): what tells
    /// the records of a partitioned run apart when they are merged.
    #[serde(default)]
    pub scenarios: Vec<String>,
}

#[derive(Debug, thiserror::Error)]
pub enum SavedError {
    #[error("{}: {source}", path.display())]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{}: not a record fare wrote: {source}", path.display())]
    Format {
        path: PathBuf,
        #[source]
        source: serde_json::Error,
    },
}

impl SavedRecord {
    /// The file name a run's record has in its namespace's directory.
    pub const FILE: &'static str = "record.json";

    pub fn write(&self, path: &Path) -> Result<(), SavedError> {
        let io = |source| SavedError::Io { path: path.to_owned(), source };
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir).map_err(io)?;
        }
        let text =
            serde_json::to_string(self).map_err(|source| SavedError::Format { path: path.to_owned(), source })?;
        std::fs::write(path, text).map_err(io)
    }

    pub fn read(path: &Path) -> Result<SavedRecord, SavedError> {
        let text = std::fs::read_to_string(path).map_err(|source| SavedError::Io { path: path.to_owned(), source })?;
        serde_json::from_str(&text).map_err(|source| SavedError::Format { path: path.to_owned(), source })
    }
}
