//! The chains the fault matrix drives: a scenario document the platform
//! keeps (the reference platform's `scenarios/chaos/cell.yaml`) whose steps
//! start every chain a cell breaks and whose expectations are the happy
//! path's. Each cell adds its fault, its fakes' answers and the dead
//! letters it expects. The roots of its chains (`expect.chain.derive`,
//! labelled `main`, and `expect.chains.LABEL.derive`) are the chains whose
//! hops the matrix breaks; their `except` the alternative ends it leaves out.

use std::path::{Path, PathBuf};

use kit::EventType;
use serde_json::Value;

#[derive(Debug, thiserror::Error)]
pub enum WorkloadError {
    #[error("reading the fault matrix's workload {}: {source}", path.display())]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{}: {message}", path.display())]
    Invalid { path: PathBuf, message: String },
}

/// One chain the workload starts: its label in the scenario and its root event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Chain {
    pub label: String,
    pub root: EventType,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Workload {
    pub path: PathBuf,
    /// The scenario, as the loader reads it.
    pub document: Value,
    /// `main` first.
    pub chains: Vec<Chain>,
    pub alternatives: Vec<EventType>,
}

impl Workload {
    pub fn load(path: &Path) -> Result<Workload, WorkloadError> {
        let text =
            std::fs::read_to_string(path).map_err(|source| WorkloadError::Read { path: path.to_owned(), source })?;
        Workload::parse(path, &text)
    }

    pub fn parse(path: &Path, text: &str) -> Result<Workload, WorkloadError> {
        let invalid = |message: String| WorkloadError::Invalid { path: path.to_owned(), message };
        let document: Value = serde_norway::from_str(text).map_err(|e| invalid(e.to_string()))?;
        let mut chains = Vec::new();
        let mut alternatives: Vec<EventType> = Vec::new();
        let mut add = |label: &str, expectation: &Value, field: String| -> Result<(), WorkloadError> {
            let root = expectation["derive"].as_str().ok_or_else(|| {
                invalid(format!("{field}: expected `{{derive: EVENT}}`, the root of a chain the matrix walks"))
            })?;
            let root = EventType::parse(root).map_err(|e| invalid(format!("{field}.derive: {e}")))?;
            for e in expectation["except"].as_array().into_iter().flatten() {
                let e = EventType::parse(e.as_str().unwrap_or_default())
                    .map_err(|err| invalid(format!("{field}.except: {err}")))?;
                if !alternatives.contains(&e) {
                    alternatives.push(e);
                }
            }
            chains.push(Chain { label: label.to_owned(), root });
            Ok(())
        };
        add("main", &document["expect"]["chain"], "expect.chain".into())?;
        if let Some(others) = document["expect"]["chains"].as_object() {
            for (label, expectation) in others {
                add(label, expectation, format!("expect.chains.{label}"))?;
            }
        }
        Ok(Workload { path: path.to_owned(), document, chains, alternatives })
    }

    /// The platform's workload at its usual place under `root`.
    pub fn default_path(root: &Path) -> PathBuf {
        root.join("scenarios/chaos/cell.yaml")
    }

    /// The roots and alternative ends it names that no service of
    /// `topology` publishes or hears.
    pub fn unknown_events<'a>(&'a self, topology: &crate::Topology) -> Vec<&'a EventType> {
        let events = topology.events();
        let named = self.chains.iter().map(|c| &c.root).chain(&self.alternatives);
        named.filter(|e| !events.contains(e)).collect()
    }

    /// The label of the chain rooted at `root`.
    pub fn label_of(&self, root: &EventType) -> &str {
        self.chains.iter().find(|c| &c.root == root).map_or("main", |c| c.label.as_str())
    }
}

#[cfg(test)]
pub(crate) fn reference() -> std::sync::Arc<Workload> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    std::sync::Arc::new(Workload::load(&Workload::default_path(&root)).expect("the reference workload"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_reference_workload_starts_an_order_and_a_sign_up() {
        let w = reference();
        let chains: Vec<(&str, &str)> = w.chains.iter().map(|c| (c.label.as_str(), c.root.as_str())).collect();
        assert_eq!(chains, [("main", "order.placed"), ("signup", "user.registered")]);
        let alternatives: Vec<&str> = w.alternatives.iter().map(|e| e.as_str()).collect();
        assert_eq!(alternatives, ["device.allocation_failed", "shipment.lost"]);
    }

    #[test]
    fn a_workload_without_a_chain_to_walk_is_refused() {
        let e = Workload::parse(Path::new("cell.yaml"), "steps: []\nexpect: {}\n").unwrap_err().to_string();
        assert!(e.starts_with("cell.yaml: expect.chain: expected `{derive: EVENT}`"), "{e}");
    }
}
