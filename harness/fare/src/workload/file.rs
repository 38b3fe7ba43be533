//! A load workload file, read and checked: what fare holds of it (its
//! path, its text, for errors at their line) and what it is asked of it.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde_json::Value;

use super::check;
use super::model::WorkloadFile;
use crate::scenario::ScenarioError;
use crate::topology::Topology;

/// A workload read and checked.
#[derive(Debug, Clone)]
pub struct Workload {
    pub path: PathBuf,
    pub file: WorkloadFile,
    source: String,
}

impl Workload {
    /// The platform's workload at its usual place under `root`.
    pub fn default_path(root: &Path) -> PathBuf {
        root.join("scenarios/chaos/load.yaml")
    }

    pub fn read(path: &Path) -> Result<Workload, ScenarioError> {
        let source =
            std::fs::read_to_string(path).map_err(|source| ScenarioError::Read { path: path.to_owned(), source })?;
        Workload::parse(path, &source)
    }

    /// Parses `source` and checks what can be checked without the
    /// platform: each variable a request uses is set before it.
    pub fn parse(path: &Path, source: &str) -> Result<Workload, ScenarioError> {
        let deserializer = serde_norway::Deserializer::from_str(source);
        let file: WorkloadFile =
            serde_path_to_error::deserialize(deserializer).map_err(|e| crate::scenario::load::invalid_yaml(path, e))?;
        let workload = Workload { path: path.to_owned(), file, source: source.to_owned() };
        check::variables(&workload.file, &|field, needle, message| workload.invalid(field, needle, message))?;
        Ok(workload)
    }

    /// A problem at `field`, located in the file by `needle`.
    fn invalid(&self, field: String, needle: &str, message: String) -> ScenarioError {
        ScenarioError::at(&self.path, &self.source, field, needle, message)
    }

    /// Whether the platform of `topology` has what the workload names: the
    /// services its requests go to, the end of an order's chain.
    pub fn fits(&self, topology: &Topology) -> Result<(), ScenarioError> {
        check::against(&self.file, topology, &|field, needle, message| self.invalid(field, needle, message))
    }

    /// `env` (and, for a bench, `bench.env`) templated for a run that
    /// places `orders` orders, over `base`.
    pub fn platform_env(
        &self,
        mut base: BTreeMap<String, String>,
        orders: usize,
        bench: bool,
    ) -> Result<BTreeMap<String, String>, ScenarioError> {
        let mut vars = crate::scenario::template::Vars::default();
        vars.set("orders", Value::from(orders));
        let extra = if bench { Some(&self.file.bench.env) } else { None };
        for (name, value) in self.file.env.iter().chain(extra.into_iter().flatten()) {
            let value = vars.text(value).map_err(|e| self.invalid(format!("env.{name}"), name, e.to_string()))?;
            base.insert(name.clone(), value);
        }
        Ok(base)
    }
}
