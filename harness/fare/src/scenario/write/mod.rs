//! A scenario written from the record of one chain (`fare trace ID
//! --as-scenario`): the requests that entered the platform from outside
//! become steps (ids captured and reused, every credential a variable),
//! what the third parties answered becomes the fakes' rules, the faults
//! fare injected become the scenario's faults, and the chain becomes its
//! expectation: the tree seen, or what the topology says should have been.
//!
//! The record is masked ([`kit::redact`]), so no secret can reach the file
//! from it: a masked email, password or token becomes a variable made
//! fresh for every run, or a value captured from an earlier answer. The
//! text written is read back by the scenario loader before it is handed
//! out, so a file that would not load is never written.
//!
//! # Layout
//! - `mod.rs`: the options, the file as written (its YAML), reading it back.
//! - `steps`: edge requests → steps, captures and variables.
//! - `fakes`: the fakes' answers → rules.
//! - `faults`: injected faults → the scenario's faults.
//! - `expect`: the chains → `expect.chain` and `expect.chains`.

mod expect;
mod fakes;
mod faults;
mod steps;

use std::collections::BTreeMap;
use std::path::Path;

use kit::EventType;
use serde::Serialize;
use serde_json::Value;

use super::model::Label;
use crate::topology::Topology;
use crate::trace::{SavedRecord, Trace};

/// Where a written scenario's chain expectation comes from.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum ExpectFrom {
    /// The tree that was seen: the file passes while the platform behaves
    /// as it did (a bug kept as it is, to notice when it changes).
    #[default]
    Seen,
    /// What the topology says follows from the chain's first event, less
    /// `except` (alternatives that should not happen; by default those
    /// whose names say they are failures): the file fails until the chain
    /// completes.
    Topology { except: Option<Vec<EventType>> },
}

/// How to write a scenario from a record.
#[derive(Debug, Clone, Default)]
pub struct WriteOptions {
    pub expect: ExpectFrom,
    /// The command that wrote it, for the file's first line.
    pub command: Option<String>,
}

/// A scenario written from a record, and what the writer could not carry over.
#[derive(Debug, Clone)]
pub struct Written {
    pub yaml: String,
    /// What the file leaves out or guesses, in words (also in its header).
    pub notes: Vec<String>,
}

#[derive(Debug, thiserror::Error)]
pub enum WriteError {
    #[error("nothing of chain `{0}` is in the record: no request from outside and no event")]
    Unknown(String),
    #[error("writing YAML: {0}")]
    Yaml(#[from] serde_norway::Error),
    /// A bug of the writer: what it wrote does not load.
    #[error("the scenario written does not load: {0}")]
    Invalid(#[from] super::ScenarioError),
}

/// The chains of one written scenario: the chain asked for (main) and
/// those under it (`<id>.<label>`), each by its label.
pub(super) struct Family<'r> {
    pub base: String,
    pub record: &'r SavedRecord,
    pub topology: &'r Topology,
    /// Label → its chain as recorded.
    pub traces: BTreeMap<Label, Trace>,
}

impl Family<'_> {
    /// The label of chain `correlation_id` in this family: `main` for the
    /// base, `<label>` for `<base>.<label>`; `None` for another chain.
    pub fn label_of(&self, correlation_id: &str) -> Option<Label> {
        if correlation_id == self.base {
            return Some(Label::main());
        }
        let rest = correlation_id.strip_prefix(&self.base)?.strip_prefix('.')?;
        Label::try_from(rest.to_owned()).ok()
    }

    /// When the family's first request or event happened.
    pub fn began(&self) -> Option<u64> {
        self.traces.values().filter_map(Trace::began_unix_nanos).min()
    }

    /// The latest event of the family that happened at or before `at`.
    pub fn last_event_before(&self, at: u64) -> Option<(Label, String)> {
        self.traces
            .iter()
            .flat_map(|(label, t)| t.events.iter().map(move |e| (label, e)))
            .filter(|(_, e)| e.occurred_at.unix_timestamp_nanos().max(0) as u64 <= at)
            .max_by_key(|(_, e)| e.occurred_at)
            .map(|(label, e)| (label.clone(), e.event_type.clone()))
    }
}

/// The scenario file as written: the loader's format, in its order.
#[derive(Debug, Default, Serialize)]
struct File {
    description: String,
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    vars: BTreeMap<String, String>,
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    fakes: BTreeMap<String, Vec<fakes::Rule>>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    faults: Vec<faults::Fault>,
    steps: Vec<steps::Step>,
    expect: expect::Expect,
}

/// Writes the scenario of chain `correlation_id` from `record`, and reads
/// it back as the scenario loader does (against `topology`).
pub fn write(
    record: &SavedRecord,
    correlation_id: &str,
    topology: &Topology,
    options: &WriteOptions,
) -> Result<Written, WriteError> {
    let family = family(record, correlation_id, topology);
    let exchanges = record.exchanges();
    let ours = exchanges.iter().any(|e| e.in_family(correlation_id));
    if !ours && family.traces.values().all(|t| t.events.is_empty()) {
        return Err(WriteError::Unknown(correlation_id.to_owned()));
    }
    let mut notes = Vec::new();
    let written = steps::write(&family, &exchanges, &mut notes);
    let file = File {
        description: String::new(),
        vars: written.vars,
        fakes: fakes::write(&family, &mut notes),
        faults: faults::write(&family, &mut notes),
        steps: written.steps,
        expect: expect::write(&family, &options.expect, written.first_service.as_deref(), &mut notes),
    };
    let file = File { description: description(&family, &file), ..file };
    let yaml = format!("{}{}", header(correlation_id, options, &notes), serde_norway::to_string(&file)?);
    let scenario = super::parse(Path::new("written.yaml"), &yaml)?;
    super::load::check(&scenario, topology)?;
    Ok(Written { yaml, notes })
}

/// The chain `base` and every chain under it that the record holds.
fn family<'r>(record: &'r SavedRecord, base: &str, topology: &'r Topology) -> Family<'r> {
    let mut family = Family { base: base.to_owned(), record, topology, traces: BTreeMap::new() };
    let ids = record
        .events
        .iter()
        .map(|p| p.event.correlation_id.to_string())
        .chain(record.exchanges().into_iter().map(|e| e.correlation_id));
    let mut labels: Vec<(Label, String)> = ids.filter_map(|id| family.label_of(&id).map(|label| (label, id))).collect();
    labels.push((Label::main(), base.to_owned()));
    labels.sort();
    labels.dedup();
    for (label, id) in labels {
        family.traces.insert(label, record.trace(&id));
    }
    family
}

/// A sentence of what the chain did and what was done to it.
fn description(family: &Family, file: &File) -> String {
    let events: usize = family.traces.values().map(|t| t.events.len()).sum();
    let mut parts = vec![format!(
        "Written from the record of chain {}: {} requests from outside, {events} events",
        family.base,
        file.steps.len()
    )];
    if !file.fakes.is_empty() {
        let fakes: Vec<&str> = file.fakes.keys().map(String::as_str).collect();
        parts.push(format!("the answers of {} as they were", fakes.join(" and ")));
    }
    if !file.faults.is_empty() {
        let faults: Vec<String> = file.faults.iter().map(ToString::to_string).collect();
        parts.push(format!("the faults fare injected ({})", faults.join(", ")));
    }
    format!("{}.", parts.join("; "))
}

/// The comment the file opens with: where it came from, what it guessed.
fn header(correlation_id: &str, options: &WriteOptions, notes: &[String]) -> String {
    let command = options.command.clone().unwrap_or_else(|| format!("fare trace {correlation_id} --as-scenario"));
    let mut out = format!("# Written by `{command}`.\n");
    for note in notes {
        out.push_str(&format!("# Note: {note}\n"));
    }
    out
}

/// `{{name}}`, as a scenario's templating spells a variable.
fn var(name: &str) -> String {
    format!("{{{{{name}}}}}")
}

/// A JSON value with every string that `f` maps replaced.
fn map_strings(value: &Value, f: &mut dyn FnMut(&str, Option<&str>) -> Value) -> Value {
    fn walk(value: &Value, key: Option<&str>, f: &mut dyn FnMut(&str, Option<&str>) -> Value) -> Value {
        match value {
            Value::String(s) => f(s, key),
            Value::Array(items) => Value::Array(items.iter().map(|v| walk(v, key, f)).collect()),
            Value::Object(map) => Value::Object(map.iter().map(|(k, v)| (k.clone(), walk(v, Some(k), f))).collect()),
            other => other.clone(),
        }
    }
    walk(value, None, f)
}

#[cfg(test)]
mod tests;
