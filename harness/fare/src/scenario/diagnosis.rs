//! Naming the broken hop of a failed scenario: the last thing that
//! happened, the next hop the topology expected (service, queue, event) that
//! did not, and why, from the evidence a run gathers: the chain as seen,
//! dead letters, what each third party answered this chain, who is down.
//!
//! [`diagnose`] is the only place diagnosis text is made; the trace module's
//! own diagnosis plugs in here.

use std::collections::BTreeMap;

use super::chain::split_path;
use super::deadletters::DeadLetter;
use super::report::ChainReport;
use crate::fakes::Logged;
use crate::topology::Topology;

/// What a run knows when it diagnoses.
pub struct Evidence<'a> {
    pub topology: &'a Topology,
    pub namespace: &'a kit::bus::Namespace,
    pub chains: &'a [ChainReport],
    pub dead_letters: &'a [DeadLetter],
    /// Per fake, the requests of the scenario's chains.
    pub third_parties: &'a BTreeMap<String, Vec<Logged>>,
    /// Services that did not answer `/health` after the run.
    pub down: &'a [String],
}

/// The broken hop in words, or `None` when every chain is as expected.
pub fn diagnose(e: &Evidence<'_>) -> Option<String> {
    for c in e.chains {
        let Some(diff) = &c.diff else { continue };
        if let Some(path) = diff.first_missing() {
            return Some(missing_hop(e, c, path));
        }
        if let Some((path, want, got)) = diff.unexpected.first() {
            let (parent, event) = split_path(path);
            let producers = e.topology.publishers(&parse(event)).join(", ");
            let after = parent.map(|p| format!(" after {}", last(p))).unwrap_or_default();
            return Some(format!(
                "broken hop: {event} was published {got} time(s){after} in chain {} where {want} was expected; \
                 its publisher ({producers}) did not recognise a repeated delivery, or something else published it",
                c.label
            ));
        }
    }
    None
}

fn missing_hop(e: &Evidence<'_>, c: &ChainReport, path: &str) -> String {
    let (parent, event) = split_path(path);
    let event_type = parse(event);
    let Some(parent) = parent else {
        let publishers = e.topology.publishers(&event_type).join(", ");
        return format!(
            "broken hop: the chain {} never started: no {event} was seen (published by {publishers}); \
             the request that should have started it failed or was refused",
            c.label
        );
    };
    let cause = last(parent);
    let cause_type = parse(cause);
    let happened = c.events.iter().rfind(|ev| ev.event_type == cause);
    let by = happened.map(|ev| format!(" by {}", ev.producer)).unwrap_or_default();
    // Who should have turned the cause into the missing event.
    let hops: Vec<&crate::manifest::Manifest> = e
        .topology
        .listeners(&cause_type)
        .into_iter()
        .map(|(m, _)| m)
        .filter(|m| m.publishes.contains(&event_type))
        .collect();
    let mut out = format!("broken hop: after {cause}{by}, ");
    if hops.is_empty() {
        out.push_str(&format!(
            "no service listens to {cause} and publishes {event}: the topology cannot make {event} here"
        ));
        return out;
    }
    let names: Vec<&str> = hops.iter().map(|m| m.name.as_str()).collect();
    out.push_str(&format!("{} did not publish {event}", names.join(" / ")));
    for m in hops {
        let queue = e.namespace.queue(&m.name);
        out.push_str(&format!("\n  expected hop: {cause} → queue {queue} → {} → {event}", m.name));
        for why in reasons(e, m, cause) {
            out.push_str(&format!("\n  why: {why}"));
        }
    }
    out
}

/// Why `service` may not have done its part with `cause`.
fn reasons(e: &Evidence<'_>, service: &crate::manifest::Manifest, cause: &str) -> Vec<String> {
    let mut why = Vec::new();
    let name = service.name.as_str();
    if e.down.iter().any(|d| d == name) {
        why.push(format!("{name} is down (it does not answer /health)"));
    }
    for letter in e.dead_letters.iter().filter(|l| l.service == name) {
        let what = letter.event_type.clone().unwrap_or_else(|| "a message".into());
        match &letter.rejection {
            Some(reason) => why.push(format!("{what} is in {name}'s dead-letter queue, rejected: {reason}")),
            None => {
                let max = service.queue.as_ref().map(|q| q.max_receive_count.to_string()).unwrap_or_else(|| "?".into());
                why.push(format!(
                    "{what} is in {name}'s dead-letter queue after {max} failed receives (max_receive_count)"
                ))
            }
        }
    }
    for wrap in &service.wraps {
        let Some(calls) = e.third_parties.get(&wrap.third_party) else { continue };
        let failed: Vec<&Logged> = calls.iter().filter(|c| c.status >= 400).collect();
        if failed.is_empty() {
            continue;
        }
        let mut statuses: BTreeMap<u16, usize> = BTreeMap::new();
        for c in &failed {
            *statuses.entry(c.status).or_default() += 1;
        }
        let statuses: Vec<String> = statuses.iter().map(|(s, n)| format!("{s} to {n}")).collect();
        why.push(format!(
            "{} (wrapped by {name}) answered {} of the {} requests of this chain",
            wrap.third_party,
            statuses.join(", "),
            calls.len()
        ));
    }
    if let Some(listen) = service.listens.iter().find(|l| l.event.as_str() == cause)
        && listen.filter.is_some()
    {
        why.push(format!("{name} hears {cause} only through a filter policy, which may not let this one through"));
    }
    if why.is_empty() {
        why.push(format!("no failure recorded: {cause} may still wait in {name}'s queue, or {name} ignored it"));
    }
    why
}

fn last(path: &str) -> &str {
    split_path(path).1
}

fn parse(event: &str) -> kit::EventType {
    // Paths are built from event types, so this always parses; an odd one
    // still names itself in the text.
    kit::EventType::parse(event).unwrap_or_else(|_| kit::EventType::parse("unknown.event").expect("a valid event type"))
}
