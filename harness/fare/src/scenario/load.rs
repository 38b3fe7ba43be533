//! Reading scenario files: YAML parsing with the field path, line and column
//! of the first problem, then the checks that need the topology (services,
//! fakes and events that exist), located in the file by what they name.

use std::path::{Path, PathBuf};

use super::model::{ChainExpectation, Fault, Scenario, ScenarioFile, Step, Tree};
use crate::topology::Topology;

/// The third parties fare plays, by the names manifests wrap them under.
pub const FAKES: [&str; 3] = ["fulfillment-center", "carrier", "mail-provider"];

#[derive(Debug, thiserror::Error)]
pub enum ScenarioError {
    #[error("reading {path}: {source}")]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{}:{}: {field}: {message}", .path.display(), .line.map(|l| l.to_string()).unwrap_or_else(|| "?".into()))]
    Invalid { path: PathBuf, line: Option<usize>, field: String, message: String },
    #[error("no scenario named `{name}` in {} (there are: {})", .dir.display(), .known.join(", "))]
    Unknown { name: String, dir: PathBuf, known: Vec<String> },
}

impl ScenarioError {
    fn invalid(s: &Scenario, field: impl Into<String>, needle: &str, message: impl Into<String>) -> ScenarioError {
        ScenarioError::Invalid {
            path: s.path.clone(),
            line: line_of(&s.source, needle),
            field: field.into(),
            message: message.into(),
        }
    }
}

/// The 1-based line where `needle` first appears.
fn line_of(source: &str, needle: &str) -> Option<usize> {
    source.lines().position(|l| l.contains(needle)).map(|i| i + 1)
}

/// Parses one scenario file (no topology checks).
pub fn parse(path: &Path, source: &str) -> Result<Scenario, ScenarioError> {
    let deserializer = serde_norway::Deserializer::from_str(source);
    let file: ScenarioFile = serde_path_to_error::deserialize(deserializer).map_err(|e| {
        let field = e.path().to_string();
        let inner = e.into_inner();
        let line = inner.location().map(|l| l.line());
        let mut message = inner.to_string();
        // The message repeats the path and the position, already given.
        if let Some(rest) = message.strip_prefix(&format!("{field}: ")) {
            message = rest.to_owned();
        }
        if let Some(at) = message.rfind(" at line ") {
            message.truncate(at);
        }
        ScenarioError::Invalid {
            path: path.to_owned(),
            line,
            field: if field == "." { "(top)".into() } else { field },
            message,
        }
    })?;
    let stem = path.file_stem().and_then(|s| s.to_str()).unwrap_or("scenario");
    let name = file.name.clone().unwrap_or_else(|| stem.to_owned());
    Ok(Scenario { name, path: path.to_owned(), file, source: source.to_owned() })
}

/// Reads and checks one scenario file against the topology.
pub fn load(path: &Path, topology: &Topology) -> Result<Scenario, ScenarioError> {
    let source =
        std::fs::read_to_string(path).map_err(|source| ScenarioError::Read { path: path.to_owned(), source })?;
    let scenario = parse(path, &source)?;
    check(&scenario, topology)?;
    Ok(scenario)
}

/// Every `*.yaml` directly in `dir`, by name; only `names` when given.
pub fn load_dir(dir: &Path, names: &[String], topology: &Topology) -> Result<Vec<Scenario>, ScenarioError> {
    let entries = std::fs::read_dir(dir).map_err(|source| ScenarioError::Read { path: dir.to_owned(), source })?;
    let mut paths: Vec<PathBuf> = entries
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "yaml" || x == "yml"))
        .collect();
    paths.sort();
    let mut scenarios = Vec::new();
    for path in paths {
        scenarios.push(load(&path, topology)?);
    }
    if names.is_empty() {
        return Ok(scenarios);
    }
    let known: Vec<String> = scenarios.iter().map(|s| s.name.clone()).collect();
    let mut chosen = Vec::new();
    for name in names {
        // A path to a file works as well as a name.
        let wanted = Path::new(name).file_stem().and_then(|s| s.to_str()).unwrap_or(name);
        match scenarios.iter().find(|s| s.name == *name || s.name == wanted) {
            Some(s) => chosen.push(s.clone()),
            None => {
                return Err(ScenarioError::Unknown { name: name.clone(), dir: dir.to_owned(), known });
            }
        }
    }
    Ok(chosen)
}

/// What only the topology can tell: do the services, fakes and events exist.
pub fn check(s: &Scenario, topology: &Topology) -> Result<(), ScenarioError> {
    let is_service = |name: &str| topology.service(name).is_some();
    let events = topology.events();
    let event = |field: String, e: &kit::EventType| -> Result<(), ScenarioError> {
        if events.contains(e) {
            return Ok(());
        }
        let known: Vec<String> = events.iter().map(|e| e.to_string()).collect();
        Err(ScenarioError::invalid(
            s,
            field,
            e.as_str(),
            format!("no service publishes or hears `{e}` (known: {})", known.join(", ")),
        ))
    };
    for fake in s.file.fakes.keys() {
        if !FAKES.contains(&fake.as_str()) {
            return Err(ScenarioError::invalid(
                s,
                format!("fakes.{fake}"),
                fake,
                format!("no fake `{fake}`; fare plays {}", FAKES.join(", ")),
            ));
        }
    }
    let service = |field: String, name: &str, allow_fakes: bool| -> Result<(), ScenarioError> {
        if is_service(name) || (allow_fakes && FAKES.contains(&name)) {
            return Ok(());
        }
        let known: Vec<&str> = topology.services().map(|m| m.name.as_str()).collect();
        Err(ScenarioError::invalid(s, field, name, format!("no service `{name}` (services: {})", known.join(", "))))
    };
    for (i, step) in s.file.steps.iter().enumerate() {
        match step {
            Step::Http(h) => service(format!("steps[{i}].http"), &h.http.target, true)?,
            Step::WaitFor(w) => event(format!("steps[{i}].wait_for.event"), &w.event)?,
            Step::Restart(r) => service(format!("steps[{i}].restart.service"), &r.service, false)?,
            Step::Quiet => {}
        }
    }
    for (i, h) in s.file.expect.http.iter().enumerate() {
        service(format!("expect.http[{i}].http"), &h.http.target, true)?;
    }
    for (i, fault) in s.file.faults.iter().enumerate() {
        match fault {
            Fault::Stop { service: name, when, restart_when, .. } => {
                service(format!("faults[{i}].stop"), name, false)?;
                for e in when.iter().chain(restart_when) {
                    event(format!("faults[{i}]"), e)?;
                }
            }
            Fault::Duplicate { event: e, .. } => event(format!("faults[{i}].duplicate"), e)?,
            Fault::Handler { service: name, on, .. } | Fault::FilterOut { service: name, on, .. } => {
                let kind = if matches!(fault, Fault::Handler { .. }) { "handler" } else { "filter_out" };
                service(format!("faults[{i}].{kind}"), name, false)?;
                event(format!("faults[{i}].on"), on)?;
                let listens: Vec<&str> = topology
                    .service(name)
                    .map(|m| m.listens.iter().map(|l| l.event.as_str()).collect())
                    .unwrap_or_default();
                if !listens.contains(&on.as_str()) {
                    let hears = if listens.is_empty() { "nothing".to_owned() } else { listens.join(", ") };
                    return Err(ScenarioError::invalid(
                        s,
                        format!("faults[{i}].on"),
                        on.as_str(),
                        format!("{name} does not listen to `{on}` (it listens to {hears})"),
                    ));
                }
            }
            Fault::Poison { service: name, .. } => {
                service(format!("faults[{i}].poison"), name, false)?;
                if topology.service(name).is_some_and(|m| m.listens.is_empty()) {
                    return Err(ScenarioError::invalid(
                        s,
                        format!("faults[{i}].poison"),
                        name,
                        format!("{name} listens to nothing: it has no queue"),
                    ));
                }
            }
        }
    }
    for name in s.file.expect.dead_letters.keys() {
        service(format!("expect.dead_letters.{name}"), name, false)?;
    }
    let chains = s.file.expect.chain.iter().map(|c| ("expect.chain".to_owned(), c));
    let labelled = s.file.expect.chains.iter().map(|(l, c)| (format!("expect.chains.{l}"), c));
    for (field, chain) in chains.chain(labelled) {
        match chain {
            ChainExpectation::Derive { root, except } => {
                for e in std::iter::once(root).chain(except) {
                    event(field.clone(), e)?;
                }
            }
            ChainExpectation::Tree(tree) => check_tree(tree, &field, &event)?,
        }
    }
    Ok(())
}

fn check_tree(
    tree: &Tree,
    field: &str,
    event: &dyn Fn(String, &kit::EventType) -> Result<(), ScenarioError>,
) -> Result<(), ScenarioError> {
    for (e, children) in &tree.0 {
        event(format!("{field}.tree"), e)?;
        check_tree(children, field, event)?;
    }
    Ok(())
}
