//! The platform as one graph, built from every manifest: who publishes what,
//! who listens, who asks whom (and whether the callee grants it), who wraps
//! which third party. Building it checks that the manifests agree with each
//! other.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::path::PathBuf;

use kit::EventType;

use crate::manifest::{Listen, Manifest};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Severity {
    Error,
    Warning,
}

/// One disagreement between manifests, where the manifest says it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    pub severity: Severity,
    pub path: PathBuf,
    /// 1-based; (1, 1) when the problem is the whole file.
    pub line: usize,
    pub column: usize,
    pub message: String,
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let level = match self.severity {
            Severity::Error => "error",
            Severity::Warning => "warning",
        };
        write!(f, "{level}: {}:{}:{}: {}", self.path.display(), self.line, self.column, self.message)
    }
}

#[derive(Debug, thiserror::Error)]
#[error("the manifests disagree:\n{}", .0.iter().map(|p| format!("  {p}")).collect::<Vec<_>>().join("\n"))]
pub struct TopologyError(pub Vec<Problem>);

#[derive(Debug, Clone)]
pub struct Topology {
    services: BTreeMap<String, Manifest>,
}

impl Topology {
    /// Builds the graph; errors if any manifest contradicts another, and
    /// returns the warnings (things that can be legitimate) beside it.
    pub fn build(manifests: Vec<Manifest>) -> Result<(Topology, Vec<Problem>), TopologyError> {
        let mut problems = Vec::new();
        let mut services: BTreeMap<String, Manifest> = BTreeMap::new();
        for m in manifests {
            if let Some(first) = services.get(&m.name) {
                let message = format!(
                    "service `{}` is already declared by {}: two services cannot share one queue",
                    m.name,
                    first.path.display()
                );
                problems.push(problem(Severity::Error, &m, &m.name, message));
                continue;
            }
            services.insert(m.name.clone(), m);
        }
        let topology = Topology { services };
        let published: Vec<&str> =
            topology.services.values().flat_map(|m| m.publishes.iter().map(|e| e.as_str())).collect();
        let names: Vec<&str> = topology.services.keys().map(String::as_str).collect();
        for m in topology.services.values() {
            for l in &m.listens {
                if topology.publishers(&l.event).is_empty() {
                    let hint = kit::suggest::did_you_mean(l.event.as_str(), published.iter().copied());
                    let message = format!("listens to {} but no service publishes it{hint}", l.event);
                    problems.push(problem(Severity::Error, m, l.event.as_str(), message));
                }
            }
            for a in &m.asks {
                if !topology.services.contains_key(&a.service) {
                    let hint = kit::suggest::did_you_mean(&a.service, names.iter().copied());
                    let message = format!("asks `{}`, which no manifest declares{hint}", a.service);
                    problems.push(problem(Severity::Error, m, &a.service, message));
                }
            }
            if m.run.is_none() {
                let message = format!(
                    "has no [run] table: fare cannot start {} (add `[run]` with `command = \"…\"`, the shell command that runs it in the foreground; see docs/services.md)",
                    m.name
                );
                problems.push(Problem {
                    severity: Severity::Warning,
                    path: m.path.clone(),
                    line: 1,
                    column: 1,
                    message,
                });
            }
            for e in &m.publishes {
                if topology.listeners(e).is_empty() && !m.terminal.contains(e) {
                    let message =
                        format!("publishes {e} but nobody listens; declare it in `terminal` if that is intended");
                    problems.push(problem(Severity::Warning, m, e.as_str(), message));
                }
            }
        }
        problems.extend(access_problems(topology.services.values()));
        let (errors, warnings): (Vec<Problem>, Vec<Problem>) =
            problems.into_iter().partition(|p| p.severity == Severity::Error);
        if errors.is_empty() { Ok((topology, warnings)) } else { Err(TopologyError(errors)) }
    }

    pub fn services(&self) -> impl Iterator<Item = &Manifest> {
        self.services.values()
    }

    pub fn service(&self, name: &str) -> Option<&Manifest> {
        self.services.get(name)
    }

    /// Every event type published or listened to.
    pub fn events(&self) -> BTreeSet<EventType> {
        self.services
            .values()
            .flat_map(|m| m.publishes.iter().cloned().chain(m.listens.iter().map(|l| l.event.clone())))
            .collect()
    }

    pub fn publishers(&self, event: &EventType) -> Vec<&str> {
        self.services.values().filter(|m| m.publishes.contains(event)).map(|m| m.name.as_str()).collect()
    }

    pub fn listeners(&self, event: &EventType) -> Vec<(&Manifest, &Listen)> {
        self.services
            .values()
            .flat_map(|m| m.listens.iter().filter(|l| &l.event == event).map(move |l| (m, l)))
            .collect()
    }

    /// The graph as Mermaid: services, topics, who asks whom, third parties.
    pub fn mermaid(&self) -> String {
        let mut out = String::from("flowchart LR\n");
        let id = |e: &EventType| e.as_str().replace('.', "_");
        for e in self.events() {
            out.push_str(&format!("  {}[/\"{e}\"/]\n", id(&e)));
        }
        for m in self.services.values() {
            out.push_str(&format!("  {n}([{n}])\n", n = m.name));
            for e in &m.publishes {
                out.push_str(&format!("  {} -- tells --> {}\n", m.name, id(e)));
            }
            for l in &m.listens {
                out.push_str(&format!("  {} --> {}\n", id(&l.event), m.name));
            }
            for a in &m.asks {
                out.push_str(&format!("  {} -. asks .-> {}\n", m.name, a.service));
            }
            for w in &m.wraps {
                out.push_str(&format!(
                    "  {} == wraps ==> {}{{{{\"{}\"}}}}\n",
                    m.name,
                    w.third_party.replace('-', "_"),
                    w.third_party
                ));
            }
        }
        out
    }
}

/// Every ask its callee grants nothing, and every grant to a service that
/// does not ask: a call the callee would refuse, a key handed out for
/// nothing. Each is located in the manifest to fix.
pub fn access_problems<'a>(manifests: impl IntoIterator<Item = &'a Manifest> + Clone) -> Vec<Problem> {
    let find = |name: &str| manifests.clone().into_iter().find(|m| m.name == name);
    let names: Vec<&str> = manifests.clone().into_iter().map(|m| m.name.as_str()).collect();
    let mut out = Vec::new();
    for m in manifests.clone() {
        for a in &m.asks {
            let Some(callee) = find(&a.service) else { continue };
            if callee.granted_to(&m.name).next().is_none() {
                let message = format!(
                    "asks `{}`, which grants nothing to {}: add a [[grants]] for {} to {}, or it refuses every call",
                    a.service,
                    m.name,
                    m.name,
                    callee.path.display()
                );
                out.push(problem(Severity::Error, m, &a.service, message));
            }
        }
        for g in &m.grants {
            let caller = find(&g.service);
            if caller.is_some_and(|c| c.asks.iter().any(|a| a.service == m.name)) {
                continue;
            }
            let hint = match caller {
                Some(_) => String::new(),
                None => kit::suggest::did_you_mean(&g.service, names.iter().copied()),
            };
            let (line, column) = m.grant_position(&g.service);
            let message =
                format!("grants endpoints to `{}`, which does not ask {} in its manifest{hint}", g.service, m.name);
            out.push(Problem { severity: Severity::Error, path: m.path.clone(), line, column, message });
        }
    }
    out
}

/// A problem of `m`, located at the first place it writes `value`.
fn problem(severity: Severity, m: &Manifest, value: &str, message: String) -> Problem {
    let (line, column) = m.position_of(value);
    Problem { severity, path: m.path.clone(), line, column, message }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;

    fn manifest(name: &str, body: &str) -> Manifest {
        Manifest::parse(
            Path::new(&format!("services/{name}/service.toml")),
            &format!("name = \"{name}\"\ndescription = \"d\"\n{body}\n[run]\ncommand = \"true\"\n"),
        )
        .unwrap()
    }

    #[test]
    fn disagreements_are_reported_all_at_once() {
        let err = Topology::build(vec![
            manifest("a", "publishes = [\"x.done\"]\n[queue]\n[[listens]]\nevent = \"y.done\"\n[[asks]]\nservice = \"ghost\"\nenv = \"GHOST_URL\"\n"),
            manifest("a", ""),
        ])
        .unwrap_err()
        .to_string();
        assert!(err.contains("services/a/service.toml:6:10: listens to y.done but no service publishes it"), "{err}");
        assert!(err.contains("services/a/service.toml:8:12: asks `ghost`, which no manifest declares"), "{err}");
        assert!(err.contains("service `a` is already declared"), "{err}");
    }

    #[test]
    fn a_typo_is_located_and_the_name_meant_suggested() {
        let err = Topology::build(vec![
            manifest("devices", "publishes = [\"device.allocated\"]\n"),
            manifest(
                "store",
                "[queue]\n[[listens]]\nevent = \"device.alocated\"\n[[asks]]\nservice = \"device\"\nenv = \"D_URL\"\n",
            ),
        ])
        .unwrap_err()
        .to_string();
        assert!(
            err.contains(
                "error: services/store/service.toml:5:10: listens to device.alocated but no service publishes it; \
                 did you mean `device.allocated`?"
            ),
            "{err}"
        );
        assert!(err.contains("service.toml:7:12: asks `device`, which no manifest declares; did you mean `devices`?"));
    }

    #[test]
    fn an_ask_the_callee_does_not_grant_and_a_grant_nobody_asks_for_are_errors() {
        let asks = "[[asks]]\nservice = \"users\"\nenv = \"USERS_URL\"\n";
        let grant = |to: &str| format!("[[grants]]\nservice = \"{to}\"\nendpoints = [\"GET /sessions/current\"]\n");
        let err = Topology::build(vec![manifest("store", asks), manifest("users", "")]).unwrap_err().to_string();
        assert!(
            err.contains(
                "error: services/store/service.toml:4:12: asks `users`, which grants nothing to store: \
                 add a [[grants]] for store to services/users/service.toml, or it refuses every call"
            ),
            "{err}"
        );
        let err = Topology::build(vec![manifest("store", ""), manifest("users", &grant("store"))]).unwrap_err();
        let err = err.to_string();
        assert!(
            err.contains(
                "error: services/users/service.toml:4:12: grants endpoints to `store`, which does not ask users"
            ),
            "{err}"
        );
        let err = Topology::build(vec![
            manifest("store", asks),
            manifest("users", &format!("{}{}", grant("store"), grant("stor"))),
        ])
        .unwrap_err()
        .to_string();
        assert!(
            err.contains("grants endpoints to `stor`, which does not ask users in its manifest; did you mean `store`?"),
            "{err}"
        );
        assert!(Topology::build(vec![manifest("store", asks), manifest("users", &grant("store"))]).is_ok());
    }

    #[test]
    fn a_manifest_without_run_warns_that_fare_cannot_start_it() {
        let bare =
            Manifest::parse(Path::new("services/a/service.toml"), "name = \"a\"\ndescription = \"d\"\n").unwrap();
        let (_, warnings) = Topology::build(vec![bare]).unwrap();
        assert_eq!(warnings.len(), 1, "{warnings:?}");
        let shown = warnings[0].to_string();
        assert!(
            shown.starts_with("warning: services/a/service.toml:1:1: has no [run] table: fare cannot start a"),
            "{shown}"
        );
        assert!(Topology::build(vec![manifest("a", "")]).unwrap().1.is_empty());
    }

    #[test]
    fn an_unheard_event_warns_unless_terminal() {
        let (_, warnings) = Topology::build(vec![manifest("a", "publishes = [\"x.done\"]\n")]).unwrap();
        assert_eq!(warnings.len(), 1);
        assert!(warnings[0].to_string().contains("publishes x.done but nobody listens"));
        let (_, warnings) =
            Topology::build(vec![manifest("a", "publishes = [\"x.done\"]\nterminal = [\"x.done\"]\n")]).unwrap();
        assert!(warnings.is_empty());
    }
}
