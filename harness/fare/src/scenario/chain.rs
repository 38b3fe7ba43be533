//! The event chain of a correlation id: as seen (read from the collector,
//! which hears every event), as expected (written out, or derived from the
//! topology), and the difference between the two, path by path.
//!
//! A path is an event type with its causes above it, `order.placed >
//! device.allocated`: comparing multisets of paths checks both which events
//! happened and what caused each, in any order of arrival.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use kit::EventType;
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use super::model::{ChainExpectation, Tree};
use crate::topology::Topology;

/// One event of a chain, as the collector recorded it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SeenEvent {
    pub id: String,
    #[serde(rename = "type")]
    pub event_type: String,
    pub producer: String,
    pub correlation_id: String,
    pub causation_id: Option<String>,
    pub occurred_at: String,
}

#[derive(Debug, thiserror::Error)]
#[error("reading the chain {correlation_id} from the collector at {url}: {message}")]
pub struct ChainError {
    pub correlation_id: String,
    pub url: String,
    pub message: String,
}

/// The chain of `correlation_id` as the collector has it, in arrival order.
pub async fn fetch(
    http: &reqwest::Client,
    collector: &str,
    correlation_id: &str,
) -> Result<Vec<SeenEvent>, ChainError> {
    let error =
        |message: String| ChainError { correlation_id: correlation_id.to_owned(), url: collector.to_owned(), message };
    let resp = http
        .get(format!("{collector}/events"))
        .query(&[("correlation_id", correlation_id)])
        .timeout(Duration::from_secs(5))
        .send()
        .await
        .map_err(|e| error(kit::error_chain(&e)))?;
    let resp = resp.error_for_status().map_err(|e| error(e.to_string()))?;
    resp.json().await.map_err(|e| error(e.to_string()))
}

/// Path → how many times it must occur (or occurred).
pub type Paths = BTreeMap<String, usize>;

const SEP: &str = " > ";

/// The paths of the events seen: each event's type under its causes' types.
pub fn seen_paths(events: &[SeenEvent]) -> Paths {
    let by_id: BTreeMap<&str, &SeenEvent> = events.iter().map(|e| (e.id.as_str(), e)).collect();
    let mut paths = Paths::new();
    for e in events {
        *paths.entry(path_of(e, &by_id)).or_default() += 1;
    }
    paths
}

fn path_of(e: &SeenEvent, by_id: &BTreeMap<&str, &SeenEvent>) -> String {
    let mut types = vec![e.event_type.as_str()];
    let mut cursor = e;
    // Bounded: a cycle of causes cannot happen, but must not hang a run.
    while let Some(parent) = cursor.causation_id.as_deref().and_then(|c| by_id.get(c)) {
        if types.len() > 64 {
            break;
        }
        types.push(parent.event_type.as_str());
        cursor = parent;
    }
    types.reverse();
    types.join(SEP)
}

/// The paths an expectation stands for.
pub fn expected_paths(expectation: &ChainExpectation, topology: &Topology) -> Paths {
    let tree = match expectation {
        ChainExpectation::Tree(tree) => tree.clone(),
        ChainExpectation::Derive { root, except } => derive(topology, root, except),
    };
    let mut paths = Paths::new();
    tree_paths(&tree, "", &mut paths);
    paths
}

fn tree_paths(tree: &Tree, prefix: &str, out: &mut Paths) {
    for (e, children) in &tree.0 {
        let path = if prefix.is_empty() { e.to_string() } else { format!("{prefix}{SEP}{e}") };
        *out.entry(path.clone()).or_default() += 1;
        tree_paths(children, &path, out);
    }
}

/// What the topology says follows from `root`: every event a listener of an
/// event publishes, recursively, except `except` and the event's own causes
/// (a service that hears an event and publishes its cause, as store does,
/// does not publish it again in answer).
pub fn derive(topology: &Topology, root: &EventType, except: &[EventType]) -> Tree {
    fn follow(topology: &Topology, event: &EventType, except: &[EventType], causes: &mut Vec<EventType>) -> Tree {
        causes.push(event.clone());
        let mut children = BTreeMap::new();
        for (listener, _) in topology.listeners(event) {
            for next in &listener.publishes {
                if except.contains(next) || causes.contains(next) {
                    continue;
                }
                children.insert(next.clone(), follow(topology, next, except, causes));
            }
        }
        causes.pop();
        Tree(children)
    }
    Tree(BTreeMap::from([(root.clone(), follow(topology, root, except, &mut Vec::new()))]))
}

/// How the chain seen differs from the one expected.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct ChainDiff {
    /// (path, expected, seen) where fewer were seen than expected.
    pub missing: Vec<(String, usize, usize)>,
    /// (path, expected, seen) where more were seen than expected.
    pub unexpected: Vec<(String, usize, usize)>,
}

impl ChainDiff {
    pub fn is_empty(&self) -> bool {
        self.missing.is_empty() && self.unexpected.is_empty()
    }

    /// The first break: the missing path whose cause did happen.
    pub fn first_missing(&self) -> Option<&str> {
        self.missing.iter().map(|(p, _, _)| p.as_str()).min_by_key(|p| p.matches(SEP).count())
    }
}

pub fn compare(expected: &Paths, seen: &Paths) -> ChainDiff {
    let keys: BTreeSet<&String> = expected.keys().chain(seen.keys()).collect();
    let mut diff = ChainDiff::default();
    for k in keys {
        let (e, s) = (expected.get(k).copied().unwrap_or(0), seen.get(k).copied().unwrap_or(0));
        if s < e {
            diff.missing.push((k.clone(), e, s));
        } else if s > e {
            diff.unexpected.push((k.clone(), e, s));
        }
    }
    diff
}

/// Splits a path into its cause's path and its last event type.
pub fn split_path(path: &str) -> (Option<&str>, &str) {
    match path.rsplit_once(SEP) {
        Some((parent, last)) => (Some(parent), last),
        None => (None, path),
    }
}

/// The chain as an indented tree, each event with its producer and its
/// time after the first event.
pub fn render(events: &[SeenEvent]) -> String {
    if events.is_empty() {
        return "  (no event of this chain reached the collector)\n".into();
    }
    let ids: BTreeSet<&str> = events.iter().map(|e| e.id.as_str()).collect();
    let start = events.iter().filter_map(|e| parse_time(&e.occurred_at)).min();
    let mut out = String::new();
    let roots = events.iter().filter(|e| e.causation_id.as_deref().is_none_or(|c| !ids.contains(c)));
    for root in roots {
        render_node(root, events, start, 1, &mut out);
    }
    out
}

fn render_node(e: &SeenEvent, all: &[SeenEvent], start: Option<OffsetDateTime>, depth: usize, out: &mut String) {
    let offset = match (start, parse_time(&e.occurred_at)) {
        (Some(s), Some(t)) => format!("+{}ms", (t - s).whole_milliseconds()),
        _ => e.occurred_at.clone(),
    };
    let short: String = e.id.chars().take(8).collect();
    out.push_str(&format!("{}{} by {} ({offset}, id {short})\n", "  ".repeat(depth), e.event_type, e.producer));
    if depth > 64 {
        return;
    }
    let mut children: Vec<&SeenEvent> =
        all.iter().filter(|c| c.causation_id.as_deref() == Some(e.id.as_str())).collect();
    children.sort_by_key(|c| parse_time(&c.occurred_at));
    for child in children {
        render_node(child, all, start, depth + 1, out);
    }
}

fn parse_time(s: &str) -> Option<OffsetDateTime> {
    OffsetDateTime::parse(s, &Rfc3339).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ev(id: &str, t: &str, cause: Option<&str>) -> SeenEvent {
        SeenEvent {
            id: id.into(),
            event_type: t.into(),
            producer: "p".into(),
            correlation_id: "c".into(),
            causation_id: cause.map(str::to_owned),
            occurred_at: "2026-01-01T00:00:00Z".into(),
        }
    }

    #[test]
    fn paths_follow_causes_and_the_first_break_is_the_shallowest() {
        let seen = seen_paths(&[ev("1", "order.placed", Some("req")), ev("2", "device.allocated", Some("1"))]);
        let mut expected = seen.clone();
        expected.insert("order.placed > device.allocated > shipment.requested".into(), 1);
        expected.insert("order.placed > device.allocated > shipment.requested > package.delivered".into(), 1);
        let diff = compare(&expected, &seen);
        assert_eq!(diff.missing.len(), 2);
        assert_eq!(diff.first_missing(), Some("order.placed > device.allocated > shipment.requested"));
        assert!(compare(&seen, &seen).is_empty());
        let twice = seen_paths(&[
            ev("1", "order.placed", None),
            ev("2", "invoice.issued", Some("1")),
            ev("3", "invoice.issued", Some("1")),
        ]);
        assert_eq!(twice["order.placed > invoice.issued"], 2);
    }
}
