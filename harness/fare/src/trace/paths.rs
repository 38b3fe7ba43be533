//! A chain as a multiset of event paths. A path is an event type with its
//! causes' types above it, `order.placed > device.allocated`: comparing
//! multisets of paths checks both which events happened and what caused
//! each, in any order of arrival.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

use serde::{Serialize, Serializer};

use super::tree::Trace;

/// Event types from the root of a chain down to one event.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, schemars::JsonSchema)]
pub struct EventPath(Vec<String>);

impl EventPath {
    pub fn new(types: Vec<String>) -> EventPath {
        EventPath(types)
    }

    pub fn root(event: &str) -> EventPath {
        EventPath(vec![event.to_owned()])
    }

    /// This path extended by one event.
    pub fn child(&self, event: &str) -> EventPath {
        let mut types = self.0.clone();
        types.push(event.to_owned());
        EventPath(types)
    }

    /// The last event's type.
    pub fn event(&self) -> &str {
        self.0.last().map(String::as_str).unwrap_or_default()
    }

    /// The path of the cause, `None` for a root.
    pub fn parent(&self) -> Option<EventPath> {
        (self.0.len() > 1).then(|| EventPath(self.0[..self.0.len() - 1].to_vec()))
    }

    /// How many causes stand above the event.
    pub fn depth(&self) -> usize {
        self.0.len().saturating_sub(1)
    }
}

impl fmt::Display for EventPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0.join(" > "))
    }
}

impl Serialize for EventPath {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

/// Path → how many times it must occur (or occurred).
pub type Paths = BTreeMap<EventPath, usize>;

impl Trace {
    /// The path of every event of the chain.
    pub fn paths(&self) -> Paths {
        let by_id = self.by_id();
        let mut paths = Paths::new();
        for i in 0..self.events.len() {
            *paths.entry(self.path_with(i, &by_id)).or_default() += 1;
        }
        paths
    }

    /// The events whose path is `path`.
    pub fn at(&self, path: &EventPath) -> Vec<usize> {
        let by_id = self.by_id();
        (0..self.events.len())
            .filter(|&i| self.events[i].event_type == path.event() && self.path_with(i, &by_id) == *path)
            .collect()
    }

    fn by_id(&self) -> BTreeMap<&str, usize> {
        self.events.iter().enumerate().map(|(i, e)| (e.id.as_str(), i)).collect()
    }

    fn path_with(&self, i: usize, by_id: &BTreeMap<&str, usize>) -> EventPath {
        let mut types = vec![self.events[i].event_type.clone()];
        let mut cursor = i;
        // Bounded: a cycle of causes cannot happen, but must not hang a run.
        while let Some(&parent) = self.events[cursor].causation_id.as_deref().and_then(|c| by_id.get(c)) {
            if types.len() > 64 {
                break;
            }
            types.push(self.events[parent].event_type.clone());
            cursor = parent;
        }
        types.reverse();
        EventPath(types)
    }
}

/// A path seen a different number of times than expected.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, schemars::JsonSchema)]
pub struct Count {
    pub path: EventPath,
    pub expected: usize,
    pub seen: usize,
}

/// How the chain seen differs from the one expected.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, schemars::JsonSchema)]
pub struct ChainDiff {
    /// Fewer seen than expected.
    pub missing: Vec<Count>,
    /// More seen than expected.
    pub unexpected: Vec<Count>,
}

impl ChainDiff {
    pub fn between(expected: &Paths, seen: &Paths) -> ChainDiff {
        let keys: BTreeSet<&EventPath> = expected.keys().chain(seen.keys()).collect();
        let mut diff = ChainDiff::default();
        for k in keys {
            let (e, s) = (expected.get(k).copied().unwrap_or(0), seen.get(k).copied().unwrap_or(0));
            let count = Count { path: k.clone(), expected: e, seen: s };
            if s < e {
                diff.missing.push(count);
            } else if s > e {
                diff.unexpected.push(count);
            }
        }
        diff
    }

    pub fn is_empty(&self) -> bool {
        self.missing.is_empty() && self.unexpected.is_empty()
    }

    /// The breaks: missing paths whose cause did happen (or roots), and
    /// unexpected ones whose cause was expected; shallowest first.
    pub fn frontier(&self) -> (Vec<&Count>, Vec<&Count>) {
        let missing_paths: BTreeSet<&EventPath> =
            self.missing.iter().filter(|c| c.seen == 0).map(|c| &c.path).collect();
        let unexpected_paths: BTreeSet<&EventPath> =
            self.unexpected.iter().filter(|c| c.expected == 0).map(|c| &c.path).collect();
        let mut missing: Vec<&Count> =
            self.missing.iter().filter(|c| c.path.parent().is_none_or(|p| !missing_paths.contains(&p))).collect();
        let mut unexpected: Vec<&Count> =
            self.unexpected.iter().filter(|c| c.path.parent().is_none_or(|p| !unexpected_paths.contains(&p))).collect();
        missing.sort_by_key(|c| c.path.depth());
        unexpected.sort_by_key(|c| c.path.depth());
        (missing, unexpected)
    }
}

impl fmt::Display for ChainDiff {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut parts = Vec::new();
        for c in &self.missing {
            parts.push(format!("missing {} (expected {}, seen {})", c.path, c.expected, c.seen));
        }
        for c in &self.unexpected {
            parts.push(format!("unexpected {} (expected {}, seen {})", c.path, c.expected, c.seen));
        }
        f.write_str(&parts.join("; "))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn paths(list: &[(&str, usize)]) -> Paths {
        list.iter().map(|(p, n)| (EventPath(p.split(" > ").map(str::to_owned).collect()), *n)).collect()
    }

    #[test]
    fn the_frontier_is_the_shallowest_break_of_each_branch() {
        let seen = paths(&[("order.placed", 1), ("order.placed > device.allocated", 1)]);
        let mut expected = seen.clone();
        expected.extend(paths(&[
            ("order.placed > device.allocated > shipment.requested", 1),
            ("order.placed > device.allocated > shipment.requested > package.delivered", 1),
            ("order.placed > invoice.issued", 1),
        ]));
        let diff = ChainDiff::between(&expected, &seen);
        assert_eq!(diff.missing.len(), 3);
        let (missing, unexpected) = diff.frontier();
        let shown: Vec<String> = missing.iter().map(|c| c.path.to_string()).collect();
        assert_eq!(shown, ["order.placed > invoice.issued", "order.placed > device.allocated > shipment.requested"]);
        assert!(unexpected.is_empty());
        assert!(ChainDiff::between(&seen, &seen).is_empty());
    }
}
