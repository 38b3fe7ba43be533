//! The chain a scenario expects: written out as a tree, or derived from the
//! topology, as the event paths the record is compared with.

use std::collections::BTreeMap;

use kit::EventType;

use super::model::{ChainExpectation, Tree};
use crate::topology::Topology;
use crate::trace::{EventPath, Paths};

/// The paths an expectation stands for.
pub fn expected_paths(expectation: &ChainExpectation, topology: &Topology) -> Paths {
    let tree = match expectation {
        ChainExpectation::Tree(tree) => tree.clone(),
        ChainExpectation::Derive { root, except } => derive(topology, root, except),
    };
    let mut paths = Paths::new();
    tree_paths(&tree, None, &mut paths);
    paths
}

fn tree_paths(tree: &Tree, prefix: Option<&EventPath>, out: &mut Paths) {
    for (e, children) in &tree.0 {
        let path = match prefix {
            None => EventPath::root(e.as_str()),
            Some(p) => p.child(e.as_str()),
        };
        *out.entry(path.clone()).or_default() += 1;
        tree_paths(children, Some(&path), out);
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
