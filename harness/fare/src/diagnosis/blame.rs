//! The injected faults a broken hop is owed to. A fault is owed the hop
//! when it overlaps it in place and in time: in place, it acted on the
//! service that should have acted, on a service that one asks (a
//! dependency cut off breaks its callers), on a service whose request in
//! the chain failed, or on the emulator (every hop goes through it); a
//! fault on one event type only where that event is the hop's. In time,
//! it had not ended before the hop's cause happened. Every kind of fault is
//! judged the same way: kill, stop, pause, disconnect, handler faults,
//! poison, duplicates and filters.

use std::cmp::Reverse;

use super::{Blame, BrokenHop, Environment, Evidence};
use crate::topology::Topology;
use crate::trace::{InjectedFault, Trace};

/// How near a fault is to the hop: the lower, the more telling.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Place {
    /// On the service that should have acted.
    Service,
    /// On a service it depends on: one it asks, or one whose request failed.
    Dependency,
    /// On the emulator, which every hop goes through.
    Emulator,
}

/// The faults of `trace` that `hop` is owed to, the most telling first:
/// nearest in place, then the latest to take effect.
pub(super) fn faults(hop: &BrokenHop, trace: &Trace, topology: &Topology, env: &Environment) -> Vec<Blame> {
    let Some(service) = hop.hop.service.as_deref() else { return Vec::new() };
    let asks: Vec<&str> =
        topology.service(service).map(|m| m.asks.iter().map(|a| a.service.as_str()).collect()).unwrap_or_default();
    let failed_requests: Vec<&str> = hop
        .evidence
        .iter()
        .filter_map(|e| match e {
            Evidence::Request { service, status, .. } if status.is_none_or(|s| s >= 500) => Some(service.as_str()),
            _ => None,
        })
        .collect();
    let place = |f: &InjectedFault| {
        if f.target == service {
            Some(Place::Service)
        } else if asks.contains(&f.target.as_str()) || failed_requests.contains(&f.target.as_str()) {
            Some(Place::Dependency)
        } else if f.target == crate::runtime::Process::EMULATOR {
            Some(Place::Emulator)
        } else {
            None
        }
    };
    let events = [hop.hop.after.as_deref(), Some(hop.hop.expected.as_str())];
    let on_the_hop = |f: &InjectedFault| f.event.as_deref().is_none_or(|e| events.contains(&Some(e)));
    // The hop's cause happened then; the start of the run or the chain for a chain that never started.
    let cause = hop
        .hop
        .after
        .as_deref()
        .and_then(|t| trace.of_type(t).map(|e| e.occurred_at.unix_timestamp_nanos().max(0) as u64).min());
    let anchor = env.began_unix_nanos.or_else(|| trace.began_unix_nanos());
    let since = cause.or(anchor).unwrap_or(0);
    let mut owed: Vec<(Place, &InjectedFault)> = trace
        .faults
        .iter()
        .filter(|f| on_the_hop(f) && f.lasts_until(since))
        .filter_map(|f| Some((place(f)?, f)))
        .collect();
    owed.sort_by_key(|(place, f)| (*place, Reverse(f.from_unix_nanos)));
    owed.into_iter()
        .map(|(_, f)| Blame { fault: f.clone(), anchor_unix_nanos: anchor.unwrap_or(f.from_unix_nanos) })
        .collect()
}
