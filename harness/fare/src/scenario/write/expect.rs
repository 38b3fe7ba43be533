//! The chains as the written scenario expects them: each as it was seen
//! (a tree of event types), or derived from the topology from its first
//! event. Deriving needs to know which of a service's alternative answers
//! (devices: `device.allocated` or `device.allocation_failed`) should not
//! happen: those given, or by default those whose names say they are
//! failures (`…failed`, `…lost`, `…rejected`).

use std::collections::BTreeMap;

use kit::EventType;
use serde::Serialize;

use super::{ExpectFrom, Family};
use crate::scenario::chain::derive;
use crate::scenario::model::{Label, Tree};
use crate::trace::Trace;

#[derive(Debug, Default, Serialize)]
pub(super) struct Expect {
    #[serde(skip_serializing_if = "Option::is_none")]
    chain: Option<Chain>,
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    chains: BTreeMap<String, Chain>,
}

#[derive(Debug, Serialize)]
#[serde(untagged)]
enum Chain {
    Tree {
        tree: Events,
    },
    Derive {
        derive: String,
        #[serde(skip_serializing_if = "Vec::is_empty")]
        except: Vec<String>,
    },
}

/// A tree of event types; a leaf is `{}`.
#[derive(Debug, Default, Serialize)]
struct Events(BTreeMap<String, Events>);

/// Words that name an event that should not happen.
const FAILURES: [&str; 8] = ["fail", "lost", "reject", "refus", "cancel", "expire", "error", "declin"];

pub(super) fn write(
    family: &Family,
    from: &ExpectFrom,
    first_service: Option<&str>,
    notes: &mut Vec<String>,
) -> Expect {
    let mut expect = Expect::default();
    for (label, trace) in &family.traces {
        let main = *label == Label::main();
        if trace.events.is_empty() && !main {
            continue;
        }
        let chain = match from {
            ExpectFrom::Seen => seen(trace, label, notes),
            ExpectFrom::Topology { except } => {
                let service = if main { first_service } else { None };
                match root(trace, service, family) {
                    Some(root) => derived(family, &root, except.as_deref(), label, notes),
                    None => {
                        notes.push(format!("chain {label}: no first event to derive from; expects it as seen"));
                        seen(trace, label, notes)
                    }
                }
            }
        };
        if main {
            expect.chain = Some(chain);
        } else {
            expect.chains.insert(label.to_string(), chain);
        }
    }
    expect
}

fn seen(trace: &Trace, label: &Label, notes: &mut Vec<String>) -> Chain {
    fn events(trace: &Trace, of: &[usize], label: &Label, notes: &mut Vec<String>) -> Events {
        let mut out = Events::default();
        for &i in of {
            let e = &trace.events[i];
            let children = events(trace, &e.children, label, notes);
            if out.0.insert(e.event_type.clone(), children).is_some() {
                notes
                    .push(format!("chain {label}: {} came more than once from one cause; expected once", e.event_type));
            }
        }
        out
    }
    Chain::Tree { tree: events(trace, &trace.roots, label, notes) }
}

/// The chain's first event; for a chain that has none, the one event the
/// service its first request went to publishes.
fn root(trace: &Trace, service: Option<&str>, family: &Family) -> Option<EventType> {
    let first = trace.roots.iter().map(|&i| &trace.events[i]).min_by_key(|e| e.occurred_at);
    if let Some(e) = first {
        return EventType::parse(&e.event_type).ok();
    }
    match family.topology.service(service?)?.publishes.as_slice() {
        [only] => Some(only.clone()),
        _ => None,
    }
}

fn derived(
    family: &Family,
    root: &EventType,
    except: Option<&[EventType]>,
    label: &Label,
    notes: &mut Vec<String>,
) -> Chain {
    let except = match except {
        Some(given) => given.to_vec(),
        None => {
            let failures = failures(family, root);
            let shown: Vec<&str> = failures.iter().map(EventType::as_str).collect();
            if !shown.is_empty() {
                notes.push(format!(
                    "chain {label}: expects what the topology derives from {root}, less {}",
                    shown.join(", ")
                ));
            }
            failures
        }
    };
    // Only those that can follow from the root: the loader checks them all.
    let all = derive(family.topology, root, &[]);
    let mut except: Vec<String> = except.iter().filter(|e| contains(&all, e)).map(ToString::to_string).collect();
    except.sort();
    except.dedup();
    Chain::Derive { derive: root.to_string(), except }
}

fn contains(tree: &Tree, event: &EventType) -> bool {
    tree.0.iter().any(|(e, children)| e == event || contains(children, event))
}

/// Of every set of alternatives that can follow from `root` (what one
/// service publishes in answer to one event), those named as failures,
/// when that leaves at least one.
fn failures(family: &Family, root: &EventType) -> Vec<EventType> {
    let topology = family.topology;
    let mut out = Vec::new();
    let mut stack = vec![derive(topology, root, &[])];
    while let Some(tree) = stack.pop() {
        for (event, children) in tree.0 {
            for (listener, _) in topology.listeners(&event) {
                let answers: Vec<&EventType> =
                    listener.publishes.iter().filter(|p| children.0.contains_key(*p)).collect();
                let failed: Vec<&EventType> = answers.iter().copied().filter(|e| failure(e)).collect();
                if answers.len() > 1 && failed.len() < answers.len() {
                    out.extend(failed.into_iter().cloned());
                }
            }
            stack.push(children);
        }
    }
    out.sort();
    out.dedup();
    out
}

/// Whether an event's name says it should not happen.
fn failure(event: &EventType) -> bool {
    let name = event.as_str().rsplit('.').next().unwrap_or_default();
    FAILURES.iter().any(|word| name.contains(word))
}
