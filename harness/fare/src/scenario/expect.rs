//! What a scenario expects once the platform is quiet: its chains (a tree
//! written out, or derived from the topology), the final HTTP state, the
//! dead letters.

use std::collections::BTreeMap;

use kit::EventType;
use serde::Deserialize;

use super::model::{Http, Label};

/// A tree of event types: each event's children are the events it caused.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(from = "Option<BTreeMap<EventType, Tree>>")]
pub struct Tree(pub BTreeMap<EventType, Tree>);

impl From<Option<BTreeMap<EventType, Tree>>> for Tree {
    fn from(value: Option<BTreeMap<EventType, Tree>>) -> Self {
        Tree(value.unwrap_or_default())
    }
}

/// The events a chain must consist of: written out as a tree, or derived
/// from the topology (everything that follows from `derive`, less `except`).
#[derive(Debug, Clone, Deserialize)]
#[serde(try_from = "RawChain")]
pub enum ChainExpectation {
    Tree(Tree),
    Derive { root: EventType, except: Vec<EventType> },
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawChain {
    tree: Option<Tree>,
    derive: Option<EventType>,
    #[serde(default)]
    except: Vec<EventType>,
}

impl TryFrom<RawChain> for ChainExpectation {
    type Error = String;
    fn try_from(r: RawChain) -> Result<Self, Self::Error> {
        match (r.tree, r.derive) {
            (Some(tree), None) if r.except.is_empty() => Ok(ChainExpectation::Tree(tree)),
            (Some(_), None) => Err("`except` goes with `derive`, not with `tree`".into()),
            (None, Some(root)) => Ok(ChainExpectation::Derive { root, except: r.except }),
            _ => Err("give either `tree` (the events written out) or `derive: EVENT` (from the topology)".into()),
        }
    }
}

/// What must hold once the platform is quiet.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Expect {
    /// The main chain.
    pub chain: Option<ChainExpectation>,
    /// Other chains, by label.
    pub chains: BTreeMap<Label, ChainExpectation>,
    /// Final HTTP state: each request's answer must match.
    pub http: Vec<Http>,
    /// Messages of the scenario's chains in each service's dead-letter
    /// queue; every queue not named must hold none.
    pub dead_letters: BTreeMap<String, usize>,
}
