//! The platform as one graph, built from every manifest: who publishes what,
//! who listens, who asks whom, who wraps which third party. Building it
//! checks that the manifests agree with each other.

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

/// One disagreement between manifests.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    pub severity: Severity,
    pub path: PathBuf,
    pub message: String,
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let level = match self.severity {
            Severity::Error => "error",
            Severity::Warning => "warning",
        };
        write!(f, "{level}: {}: {}", self.path.display(), self.message)
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
                problems.push(Problem {
                    severity: Severity::Error,
                    path: m.path.clone(),
                    message: format!(
                        "service `{}` is already declared by {}: two services cannot share one queue",
                        m.name,
                        first.path.display()
                    ),
                });
                continue;
            }
            services.insert(m.name.clone(), m);
        }
        let topology = Topology { services };
        for m in topology.services.values() {
            for l in &m.listens {
                if topology.publishers(&l.event).is_empty() {
                    problems.push(error(m, format!("listens to {} but no service publishes it", l.event)));
                }
            }
            for a in &m.asks {
                if !topology.services.contains_key(&a.service) {
                    problems.push(error(m, format!("asks `{}`, which no manifest declares", a.service)));
                }
            }
            for e in &m.publishes {
                if topology.listeners(e).is_empty() && !m.terminal.contains(e) {
                    problems.push(Problem {
                        severity: Severity::Warning,
                        path: m.path.clone(),
                        message: format!(
                            "publishes {e} but nobody listens; declare it in `terminal` if that is intended"
                        ),
                    });
                }
            }
        }
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

fn error(m: &Manifest, message: String) -> Problem {
    Problem { severity: Severity::Error, path: m.path.clone(), message }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;

    fn manifest(name: &str, body: &str) -> Manifest {
        Manifest::parse(
            Path::new(&format!("services/{name}/service.toml")),
            &format!("name = \"{name}\"\ndescription = \"d\"\n{body}"),
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
        assert!(err.contains("services/a/service.toml: listens to y.done but no service publishes it"), "{err}");
        assert!(err.contains("asks `ghost`, which no manifest declares"), "{err}");
        assert!(err.contains("service `a` is already declared"), "{err}");
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
