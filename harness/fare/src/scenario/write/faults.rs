//! The faults fare injected in the chain, as the scenario's faults. A
//! scenario's fault is recorded with how it was asked for (the event it
//! waited on, how long, what a handler did), and is written back as it was
//! asked; a fault recorded without it (by a fare that did not say) is
//! placed by the record: after the last event of the chain before it.

use std::fmt;

use kit::faults::FaultAction;
use serde::Serialize;

use super::Family;
use crate::trace::{FaultKind, InjectedFault};

/// One fault, as the file spells it: exactly one of the kind keys is set.
#[derive(Debug, Default, Serialize)]
pub(super) struct Fault {
    #[serde(skip_serializing_if = "Option::is_none")]
    stop: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    kill: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pause: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    disconnect: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    duplicate: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    poison: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    handler: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    filter_out: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    on: Option<String>,
    #[serde(rename = "do", skip_serializing_if = "Option::is_none")]
    action: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    delay_ms: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    when: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    restart_when: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    seconds: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    times: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    body: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    chain: Option<String>,
}

impl fmt::Display for Fault {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let kinds = [
            ("stop", &self.stop),
            ("kill", &self.kill),
            ("pause", &self.pause),
            ("disconnect", &self.disconnect),
            ("duplicate", &self.duplicate),
            ("poison", &self.poison),
            ("handler", &self.handler),
            ("filter_out", &self.filter_out),
        ];
        let Some((kind, target)) = kinds.iter().find_map(|(k, t)| t.as_ref().map(|t| (*k, t))) else {
            return f.write_str("fault");
        };
        match &self.on {
            Some(on) => write!(f, "{kind} {target} on {on}"),
            None => write!(f, "{kind} {target}"),
        }
    }
}

pub(super) fn write(family: &Family, notes: &mut Vec<String>) -> Vec<Fault> {
    let mut seen: Vec<&InjectedFault> = Vec::new();
    for f in family.traces.values().flat_map(|t| &t.faults) {
        if !seen.iter().any(|s| s.id == f.id) && ours(family, f) {
            seen.push(f);
        }
    }
    seen.sort_by_key(|f| f.from_unix_nanos);
    seen.into_iter().filter_map(|f| fault(family, f, notes)).collect()
}

/// Whether `f` was injected for this chain: scoped to it, asked for on its
/// events, or, asked by nobody, begun while the chain ran.
fn ours(family: &Family, f: &InjectedFault) -> bool {
    let asked_chain = f.asked.as_ref().and_then(|a| a.chain.as_deref());
    match (f.correlation_id.as_deref(), asked_chain) {
        (Some(scope), _) => family.label_of(scope).is_some(),
        (None, Some(chain)) => family.label_of(chain).is_some(),
        (None, None) => family.began().is_some_and(|began| f.from_unix_nanos >= began),
    }
}

fn fault(family: &Family, f: &InjectedFault, notes: &mut Vec<String>) -> Option<Fault> {
    let asked = f.asked.clone().unwrap_or_default();
    let scope = f.correlation_id.as_deref().or(asked.chain.as_deref());
    let chain = scope.and_then(|s| family.label_of(s)).filter(|l| *l != super::Label::main()).map(|l| l.to_string());
    // Where the record places it, when nobody said.
    let placed = || family.last_event_before(f.from_unix_nanos).map(|(_, event)| event);
    let when = if f.asked.is_some() { asked.when.clone() } else { placed() };
    let target = Some(f.target.clone());
    let seconds = || {
        let lasted = f.until_unix_nanos.map(|u| u.saturating_sub(f.from_unix_nanos).div_ceil(1_000_000_000));
        asked.seconds.or(lasted).map(|s| s.max(1))
    };
    let out = match f.kind {
        FaultKind::Stop | FaultKind::Kill => {
            let restart_when = asked.restart_when.clone().or_else(|| held_until(family, f));
            let (stop, kill) = if f.kind == FaultKind::Stop { (target, None) } else { (None, target) };
            Fault { stop, kill, when, restart_when, chain, ..Fault::default() }
        }
        FaultKind::Pause => Fault { pause: target, when, seconds: seconds(), chain, ..Fault::default() },
        FaultKind::Disconnect => Fault { disconnect: target, when, seconds: seconds(), chain, ..Fault::default() },
        FaultKind::Duplicate => Fault { duplicate: f.event.clone(), times: asked.times, chain, ..Fault::default() },
        FaultKind::Poison => Fault { poison: target, body: asked.body.clone(), chain, ..Fault::default() },
        FaultKind::FilterOut => Fault { filter_out: target, on: f.event.clone(), chain, ..Fault::default() },
        FaultKind::Handler => {
            let Some(action) = &asked.action else {
                notes.push(format!("the handler fault on {} was recorded without its action: left out", f.target));
                return None;
            };
            let (action, times, delay_ms) = match action {
                FaultAction::Fail { times } => ("fail", Some(*times).filter(|t| *t > 1), None),
                FaultAction::FailAlways => ("fail_always", None, None),
                FaultAction::DropFollowUp => ("drop_follow_up", None, None),
                FaultAction::Crash => ("crash", None, None),
                FaultAction::Delay { ms } => ("delay", None, Some(*ms)),
            };
            let on = f.event.clone();
            Fault { handler: target, on, action: Some(action), times, delay_ms, chain, ..Fault::default() }
        }
    };
    Some(out)
}

/// For a stop or kill nobody asked for: the event it was held down until
/// (the last before it ended), or, if it never ended, one the service
/// publishes (which cannot come while it is down); `None` for a kill the
/// restart policy undid at once.
fn held_until(family: &Family, f: &InjectedFault) -> Option<String> {
    match f.until_unix_nanos {
        Some(until) if until == f.from_unix_nanos => None,
        Some(until) => family.last_event_before(until).map(|(_, e)| e),
        None => family.topology.service(&f.target).and_then(|m| m.publishes.first()).map(ToString::to_string),
    }
}
