//! Reading scenario files: YAML parsing with the field path, line and column
//! of the first problem, then the checks that need the topology (services,
//! fakes and events that exist), located in the file by what they name.

use std::path::{Path, PathBuf};

use super::model::{ChainExpectation, Fault, Process, Scenario, ScenarioFile, Step, Tree};
use crate::topology::Topology;

pub use super::error::ScenarioError;
pub(crate) use super::error::{position, position_of};

/// Parses one scenario file (no topology checks).
pub fn parse(path: &Path, source: &str) -> Result<Scenario, ScenarioError> {
    let deserializer = serde_norway::Deserializer::from_str(source);
    let parsed: Result<ScenarioFile, _> = serde_path_to_error::deserialize(deserializer);
    let file = parsed.map_err(|e| {
        // One mistake found: read the file piece by piece for the others.
        let all = super::lenient::problems(path, source);
        if all.len() > 1 {
            return ScenarioError::Several(all);
        }
        invalid_yaml(path, e)
    })?;
    let stem = path.file_stem().and_then(|s| s.to_str()).unwrap_or("scenario");
    let name = file.name.clone().unwrap_or_else(|| stem.to_owned());
    Ok(Scenario { name, path: path.to_owned(), file, source: source.to_owned() })
}

/// The first mistake of a YAML file read into a type: its field path,
/// line and column, and what the type expected there.
pub(crate) fn invalid_yaml(path: &Path, e: serde_path_to_error::Error<serde_norway::Error>) -> ScenarioError {
    let field = e.path().to_string();
    let inner = e.into_inner();
    let line = inner.location().map(|l| l.line());
    let column = inner.location().map(|l| l.column());
    let mut message = inner.to_string();
    // The message repeats the path and the position, already given.
    // (or a part of it: `steps[2]: ` before the message of `steps[2].count`).
    if let Some((prefix, rest)) = message.split_once(": ")
        && (field == prefix || field.starts_with(&format!("{prefix}.")))
    {
        message = rest.to_owned();
    }
    if let Some(at) = message.rfind(" at line ") {
        message.truncate(at);
    }
    message.push_str(&kit::suggest::for_serde_message(&message));
    ScenarioError::Invalid {
        path: path.to_owned(),
        line,
        column,
        field: if field == "." { "(top)".into() } else { field },
        message,
    }
}

/// Reads and checks one scenario file against the topology.
pub fn load(path: &Path, topology: &Topology) -> Result<Scenario, ScenarioError> {
    let source =
        std::fs::read_to_string(path).map_err(|source| ScenarioError::Read { path: path.to_owned(), source })?;
    let scenario = parse(path, &source)?;
    check(&scenario, topology)?;
    Ok(scenario)
}

/// Every `*.yaml` directly in `dir`, by name; only `names` when given. A
/// name that is the path of a scenario file (one `fare trace
/// --as-scenario` wrote, say) is read from there, wherever it is.
pub fn load_dir(dir: &Path, names: &[String], topology: &Topology) -> Result<Vec<Scenario>, ScenarioError> {
    let is_file = |n: &String| {
        let path = Path::new(n);
        path.extension().is_some_and(|x| x == "yaml" || x == "yml") && path.is_file()
    };
    let (files, names): (Vec<String>, Vec<String>) = names.iter().cloned().partition(is_file);
    let mut chosen = Vec::new();
    let mut errors = Vec::new();
    for file in &files {
        match load(Path::new(file), topology) {
            Ok(s) => chosen.push(s),
            Err(e) => errors.push(e),
        }
    }
    if !files.is_empty() && names.is_empty() {
        ScenarioError::all(errors)?;
        return Ok(chosen);
    }
    let mut named = load_named(dir, &names, topology)?;
    ScenarioError::all(errors)?;
    named.extend(chosen);
    Ok(named)
}

/// Every `*.yaml` directly in `dir`, by name; only `names` when given.
fn load_named(dir: &Path, names: &[String], topology: &Topology) -> Result<Vec<Scenario>, ScenarioError> {
    let entries = std::fs::read_dir(dir).map_err(|source| ScenarioError::Read { path: dir.to_owned(), source })?;
    let mut paths: Vec<PathBuf> = entries
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "yaml" || x == "yml"))
        .collect();
    paths.sort();
    // Every file's problems at once, not only the first file's.
    let mut scenarios = Vec::new();
    let mut errors = Vec::new();
    for path in paths {
        match load(&path, topology) {
            Ok(s) => scenarios.push(s),
            Err(e) => errors.push(e),
        }
    }
    ScenarioError::all(errors)?;
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
                let hint = kit::suggest::did_you_mean(wanted, known.iter().map(String::as_str));
                return Err(ScenarioError::Unknown { name: name.clone(), dir: dir.to_owned(), known, hint });
            }
        }
    }
    Ok(chosen)
}

/// What only the topology can tell: do the services, fakes and events
/// exist. Every problem of the file is reported, not only the first.
pub fn check(s: &Scenario, topology: &Topology) -> Result<(), ScenarioError> {
    let mut problems = Vec::new();
    let is_service = |name: &str| topology.service(name).is_some();
    // The third parties the manifests give a fake for, by the names they wrap them under.
    let fake_names = crate::fakes::names(topology.services());
    let fake_refs: Vec<&str> = fake_names.iter().map(String::as_str).collect();
    let fakes_known = &fake_refs[..];
    let events = topology.events();
    let known_events: Vec<&str> = events.iter().map(|e| e.as_str()).collect();
    let event = |field: String, e: &kit::EventType| -> Option<ScenarioError> {
        if events.contains(e) {
            return None;
        }
        let hint = kit::suggest::did_you_mean(e.as_str(), known_events.iter().copied());
        let message = format!("no service publishes or hears `{e}`{hint} (known: {})", known_events.join(", "));
        Some(ScenarioError::invalid(s, field, e.as_str(), message))
    };
    for fake in s.file.fakes.keys() {
        if !fakes_known.contains(&fake.as_str()) {
            let hint = kit::suggest::did_you_mean(fake, fakes_known.iter().copied());
            let message = format!("no fake `{fake}`{hint} (the manifests' fakes: {})", fakes_known.join(", "));
            problems.push(ScenarioError::invalid(s, format!("fakes.{fake}"), fake, message));
        }
    }
    let service = |field: String, name: &str, allow_fakes: bool| -> Option<ScenarioError> {
        if is_service(name) || (allow_fakes && fakes_known.contains(&name)) {
            return None;
        }
        let known: Vec<&str> = topology.services().map(|m| m.name.as_str()).collect();
        let fakes = if allow_fakes { fakes_known } else { &[] };
        let hint = kit::suggest::did_you_mean(name, known.iter().chain(fakes).copied());
        let message = format!("no service `{name}`{hint} (services: {})", known.join(", "));
        Some(ScenarioError::invalid(s, field, name, message))
    };
    for (i, step) in s.file.steps.iter().enumerate() {
        problems.extend(match step {
            Step::Http(h) => service(format!("steps[{i}].http"), &h.http.target, true),
            Step::WaitFor(w) => event(format!("steps[{i}].wait_for.event"), &w.event),
            Step::Restart(r) => service(format!("steps[{i}].restart.service"), &r.service, false),
            Step::Quiet => None,
        });
    }
    for (i, h) in s.file.expect.http.iter().enumerate() {
        problems.extend(service(format!("expect.http[{i}].http"), &h.http.target, true));
    }
    for (i, fault) in s.file.faults.iter().enumerate() {
        match fault {
            Fault::Stop { service: name, when, restart_when, .. }
            | Fault::Kill { service: name, when, restart_when, .. } => {
                let kind = if matches!(fault, Fault::Stop { .. }) { "stop" } else { "kill" };
                problems.extend(service(format!("faults[{i}].{kind}"), name, false));
                problems.extend(when.iter().chain(restart_when).filter_map(|e| event(format!("faults[{i}]"), e)));
            }
            Fault::Pause { process, when, seconds, .. } => {
                if let Process::Service(name) = process {
                    let unknown = service(format!("faults[{i}].pause"), name, false);
                    let known = unknown.is_none();
                    problems.extend(unknown);
                    if known && seconds.is_none() && topology.service(name).is_some_and(|m| m.queue.is_none()) {
                        problems.push(ScenarioError::invalid(
                            s,
                            format!("faults[{i}].pause"),
                            name,
                            format!(
                                "{name} has no queue, so no visibility timeout to hang past: give `seconds` (or pause `{}`)",
                                Process::EMULATOR
                            ),
                        ));
                    }
                }
                problems.extend(when.iter().filter_map(|e| event(format!("faults[{i}].when"), e)));
            }
            Fault::Disconnect { process, when, .. } => {
                if let Process::Service(name) = process {
                    problems.extend(service(format!("faults[{i}].disconnect"), name, false));
                }
                problems.extend(when.iter().filter_map(|e| event(format!("faults[{i}].when"), e)));
            }
            Fault::Duplicate { event: e, .. } => problems.extend(event(format!("faults[{i}].duplicate"), e)),
            Fault::Handler { service: name, on, .. } | Fault::FilterOut { service: name, on, .. } => {
                let kind = if matches!(fault, Fault::Handler { .. }) { "handler" } else { "filter_out" };
                let unknown = service(format!("faults[{i}].{kind}"), name, false);
                let known = unknown.is_none();
                problems.extend(unknown);
                let unheard = event(format!("faults[{i}].on"), on);
                let heard = unheard.is_none();
                problems.extend(unheard);
                let listens: Vec<&str> = topology
                    .service(name)
                    .map(|m| m.listens.iter().map(|l| l.event.as_str()).collect())
                    .unwrap_or_default();
                // Only when both names exist: otherwise that is the problem.
                if known && heard && !listens.contains(&on.as_str()) {
                    let hears = if listens.is_empty() { "nothing".to_owned() } else { listens.join(", ") };
                    problems.push(ScenarioError::invalid(
                        s,
                        format!("faults[{i}].on"),
                        on.as_str(),
                        format!("{name} does not listen to `{on}` (it listens to {hears})"),
                    ));
                }
            }
            Fault::Poison { service: name, .. } => {
                problems.extend(service(format!("faults[{i}].poison"), name, false));
                if topology.service(name).is_some_and(|m| m.listens.is_empty()) {
                    problems.push(ScenarioError::invalid(
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
        problems.extend(service(format!("expect.dead_letters.{name}"), name, false));
    }
    let chains = s.file.expect.chain.iter().map(|c| ("expect.chain".to_owned(), c));
    let labelled = s.file.expect.chains.iter().map(|(l, c)| (format!("expect.chains.{l}"), c));
    for (field, chain) in chains.chain(labelled) {
        match chain {
            ChainExpectation::Derive { root, except } => {
                problems.extend(std::iter::once(root).chain(except).filter_map(|e| event(field.clone(), e)))
            }
            ChainExpectation::Tree(tree) => check_tree(tree, &field, &event, &mut problems),
        }
    }
    ScenarioError::all(problems)
}

fn check_tree(
    tree: &Tree,
    field: &str,
    event: &dyn Fn(String, &kit::EventType) -> Option<ScenarioError>,
    problems: &mut Vec<ScenarioError>,
) {
    for (e, children) in &tree.0 {
        problems.extend(event(format!("{field}.tree"), e));
        check_tree(children, field, event, problems);
    }
}
