//! The whole record of a run as one JSON file: every event as it arrived
//! (masked, as the recorder keeps it) with its SNS attributes, every span,
//! dead letter, exit and injected fault, the rules scenarios gave the
//! fakes and what the fakes answered. `fare e2e` and `fare chaos` write it
//! beside their reports (`.fare/<namespace>/record.json`) when the run
//! ends; `fare contracts coverage` reads it, and `fare trace` reads a
//! chain from it once the platform is gone.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use kit::Envelope;
use serde::{Deserialize, Serialize};

use super::store::{DeadLetter, InjectedFault, ProgrammedRule, ServiceExit, Store};
use super::{SpanRecord, Trace};
use crate::fakes::{Logged, Rule};

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
    #[serde(default)]
    pub dead_letters: Vec<DeadLetter>,
    #[serde(default)]
    pub exits: Vec<ServiceExit>,
    #[serde(default)]
    pub faults: Vec<InjectedFault>,
    #[serde(default)]
    pub rules: Vec<ProgrammedRule>,
    /// What each fake answered, by fake: the fakes keep it, not the
    /// recorder, so it is added when the run ends (or when asked).
    #[serde(default)]
    pub fakes: BTreeMap<String, Vec<Logged>>,
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

    /// The causal tree of `correlation_id`, as the recorder would build it.
    pub fn trace(&self, correlation_id: &str) -> Trace {
        Trace::build(correlation_id, &self.store())
    }

    /// Adds what each running fake (name, base URL) answered, and the rules
    /// it holds now (given by hand, say), read through the fakes' own API
    /// (`GET /__fare/requests`, `GET /__fare/rules`). A fake that does not
    /// answer is left out: the record is what could be read.
    pub async fn add_fakes(&mut self, fakes: &[(String, String)]) {
        let http = reqwest::Client::builder().timeout(std::time::Duration::from_secs(10)).build().unwrap_or_default();
        for (name, url) in fakes {
            let url = url.trim_end_matches('/');
            let get = |path: String| {
                let http = &http;
                async move { http.get(path).send().await?.error_for_status()?.bytes().await }
            };
            if let Ok(bytes) = get(format!("{url}/__fare/requests")).await
                && let Ok(log) = serde_json::from_slice::<Vec<Logged>>(&bytes)
            {
                self.fakes.insert(name.clone(), log);
            }
            if let Ok(bytes) = get(format!("{url}/__fare/rules")).await
                && let Ok(rules) = serde_json::from_slice::<Vec<Rule>>(&bytes)
            {
                for rule in rules {
                    let kept = ProgrammedRule { fake: name.clone(), rule };
                    if !self.rules.contains(&kept) {
                        self.rules.push(kept);
                    }
                }
            }
        }
    }

    fn store(&self) -> Store {
        Store {
            events: self.events.iter().map(|p| p.event.clone()).collect(),
            attributes: self.events.iter().map(|p| (p.event.id.to_string(), p.attributes.clone())).collect(),
            spans: self.spans.clone(),
            dead: self.dead_letters.clone(),
            exits: self.exits.clone(),
            faults: self.faults.clone(),
            rules: self.rules.clone(),
        }
    }

    pub fn read(path: &Path) -> Result<SavedRecord, SavedError> {
        let text = std::fs::read_to_string(path).map_err(|source| SavedError::Io { path: path.to_owned(), source })?;
        serde_json::from_str(&text).map_err(|source| SavedError::Format { path: path.to_owned(), source })
    }
}
