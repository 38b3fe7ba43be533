//! The search for broken hops. A chain is compared with what it should
//! have been (event paths, or just the event types that must appear); each
//! missing event whose cause did happen is a hop to explain, as is each
//! event that came more often than it should. The explanation walks the
//! record of the service that should have acted, from the strongest
//! evidence to the weakest: dead-lettered, retrying, crashed, down, handled
//! with failing third-party calls, stuck, filtered out, not subscribed,
//! never received.

use std::collections::{BTreeMap, BTreeSet};

use kit::EventType;
use kit::bus::Namespace;

use super::{BrokenHop, Environment, Evidence, Hop, Reason, filter};
use crate::manifest::Manifest;
use crate::runtime::Pending;
use crate::topology::Topology;
use crate::trace::{Call, ChainDiff, DeadLetter, EventNode, Outcome, Paths, Receipt, Trace};

/// What the chain should have been.
#[derive(Debug, Clone, Copy)]
pub enum Expected<'a> {
    /// Each path, as many times as given (a scenario's `expect.chain`).
    Paths(&'a Paths),
    /// Each type at least once, in any place (`fare trace --expect`, a `wait_for`).
    Events(&'a [EventType]),
}

/// The broken hops of `trace`, the first in causal order first; empty when
/// the chain is what was expected.
pub fn diagnose(
    trace: &Trace,
    expected: Expected<'_>,
    topology: &Topology,
    ns: &Namespace,
    env: &Environment,
    label: &str,
) -> Vec<BrokenHop> {
    let look = Look { trace, topology, ns, env, label };
    let mut hops = Vec::new();
    match expected {
        Expected::Paths(paths) => {
            let diff = ChainDiff::between(paths, &trace.paths());
            let (missing, extra) = diff.frontier();
            for c in missing {
                let cause = c.path.parent().and_then(|p| trace.at(&p).last().copied());
                hops.extend(look.missing(cause, c.path.event()));
            }
            for c in extra {
                let nodes = trace.at(&c.path);
                let Some(&first) = nodes.first() else { continue };
                hops.push(look.extra(first, c.expected, c.seen));
            }
        }
        Expected::Events(types) => {
            let seen: BTreeSet<&str> = trace.events.iter().map(|e| e.event_type.as_str()).collect();
            let mut breaks: Vec<(Option<usize>, String)> = Vec::new();
            for event in types.iter().filter(|t| !seen.contains(t.as_str())) {
                // Nothing at all happened: the chain never started, whatever was expected first.
                let at = match (trace.events.is_empty(), types.first()) {
                    (true, Some(first)) => (None, first.to_string()),
                    _ => look.towards(event.as_str()),
                };
                if !breaks.contains(&at) {
                    breaks.push(at);
                }
            }
            for (cause, event) in breaks {
                hops.extend(look.missing(cause, &event));
            }
        }
    }
    // A message given up on (or still failing) is a broken hop even where
    // nothing was to follow it: a consumer that only records an effect.
    for node in &trace.events {
        for r in node.receipts.iter().filter(|r| r.outcome != Outcome::Handled) {
            let covered = hops.iter().any(|h| {
                h.hop.after.as_deref() == Some(node.event_type.as_str()) && h.hop.service.as_deref() == Some(&r.service)
            });
            if !covered && let Some(m) = topology.service(&r.service) {
                hops.push(look.unfinished(m, node));
            }
        }
    }
    for h in &mut hops {
        h.faults = super::blame::faults(h, trace, topology, env);
    }
    hops
}

struct Look<'a> {
    trace: &'a Trace,
    topology: &'a Topology,
    ns: &'a Namespace,
    env: &'a Environment,
    label: &'a str,
}

impl Look<'_> {
    /// Where the way to `event` broke: the nearest event seen upstream of it
    /// (walking the topology back from `event`) and the next event on the
    /// way down, or no cause and the first event of the chain.
    fn towards(&self, event: &str) -> (Option<usize>, String) {
        let seen_at = |t: &str| (0..self.trace.events.len()).rev().find(|&i| self.trace.events[i].event_type == t);
        // Breadth first, upstream: (event, the event below it on the way to `event`).
        let mut queue: std::collections::VecDeque<(String, String)> = Default::default();
        let mut visited: BTreeSet<String> = BTreeSet::from([event.to_owned()]);
        for up in self.causes_of(event) {
            queue.push_back((up, event.to_owned()));
        }
        while let Some((up, below)) = queue.pop_front() {
            if !visited.insert(up.clone()) {
                continue;
            }
            if let Some(i) = seen_at(&up) {
                return (Some(i), below);
            }
            for further in self.causes_of(&up) {
                queue.push_back((further, up.clone()));
            }
        }
        (None, event.to_owned())
    }

    /// The events that a publisher of `event` reacts to.
    fn causes_of(&self, event: &str) -> Vec<String> {
        let Ok(e) = EventType::parse(event) else { return Vec::new() };
        self.topology
            .publishers(&e)
            .into_iter()
            .filter_map(|p| self.topology.service(p))
            .flat_map(|m| m.listens.iter().map(|l| l.event.to_string()))
            .collect()
    }

    /// The services that hear `cause` and publish `event`.
    fn makers<'m>(&'m self, cause: &str, event: &'m str) -> impl Iterator<Item = &'m Manifest> + 'm {
        let cause = EventType::parse(cause).ok();
        cause
            .map(|c| self.topology.listeners(&c).into_iter().map(|(m, _)| m).collect::<Vec<_>>())
            .unwrap_or_default()
            .into_iter()
            .filter(move |m| m.publishes.iter().any(|p| p.as_str() == event))
    }

    /// Why `event` did not follow `events[cause]` (or start the chain).
    fn missing(&self, cause: Option<usize>, event: &str) -> Vec<BrokenHop> {
        let Some(cause) = cause else { return vec![self.never_started(event)] };
        let node = &self.trace.events[cause];
        let makers: Vec<&Manifest> = self.makers(&node.event_type, event).collect();
        if makers.is_empty() {
            let hop = Hop { after: Some(node.event_type.clone()), queue: None, service: None, expected: event.into() };
            return vec![BrokenHop { hop, reason: Reason::NoPublisher, evidence: Vec::new(), faults: Vec::new() }];
        }
        makers
            .into_iter()
            .map(|m| {
                let hop = Hop {
                    after: Some(node.event_type.clone()),
                    queue: Some(self.ns.queue(&m.name)),
                    service: Some(m.name.clone()),
                    expected: event.to_owned(),
                };
                let (reason, evidence) = self.why(m, node);
                BrokenHop { hop, reason, evidence, faults: Vec::new() }
            })
            .collect()
    }

    fn never_started(&self, event: &str) -> BrokenHop {
        let publishers: Vec<&str> =
            EventType::parse(event).map(|e| self.topology.publishers(&e)).unwrap_or_default().into_iter().collect();
        let service = publishers.first().map(|s| s.to_string());
        let hop = Hop { after: None, queue: None, service: service.clone(), expected: event.to_owned() };
        let mut evidence: Vec<Evidence> = self
            .trace
            .requests
            .iter()
            .map(|r| Evidence::Request {
                service: r.service.clone(),
                method: r.method.clone(),
                path: r.path.clone(),
                status: r.status,
            })
            .collect();
        evidence.extend(self.steps());
        let down = service.as_ref().is_some_and(|s| self.env.down.contains(s));
        evidence.extend(service.as_deref().into_iter().flat_map(|s| self.exits(s, 0)));
        let reason = if down { Reason::ServiceDown } else { Reason::NeverStarted };
        BrokenHop { hop, reason, evidence, faults: Vec::new() }
    }

    /// `m` did not finish handling `cause` (dead-lettered or failing), and
    /// publishes nothing in answer to it: the effect itself is the hop.
    fn unfinished(&self, m: &Manifest, cause: &EventNode) -> BrokenHop {
        let hop = Hop {
            after: Some(cause.event_type.clone()),
            queue: Some(self.ns.queue(&m.name)),
            service: Some(m.name.clone()),
            expected: format!("{} handled by {}", cause.event_type, m.name),
        };
        let (reason, evidence) = self.why(m, cause);
        BrokenHop { hop, reason, evidence, faults: Vec::new() }
    }

    /// An event that came `seen` times where `expected` were due.
    fn extra(&self, i: usize, expected: usize, seen: usize) -> BrokenHop {
        let node = &self.trace.events[i];
        let after = node
            .causation_id
            .as_deref()
            .and_then(|c| self.trace.events.iter().find(|e| e.id == c))
            .map(|e| e.event_type.clone());
        let hop = Hop {
            after,
            queue: self.topology.service(&node.producer).filter(|m| m.queue.is_some()).map(|m| self.ns.queue(&m.name)),
            service: Some(node.producer.clone()),
            expected: node.event_type.clone(),
        };
        let reason = if expected == 0 { Reason::Unexpected { seen } } else { Reason::Duplicated { expected, seen } };
        // What led the producer there: its failing calls, for one.
        let evidence = node
            .causation_id
            .as_deref()
            .and_then(|c| self.trace.events.iter().find(|e| e.id == c))
            .and_then(|cause| Some((cause, cause.receipts.iter().find(|r| r.service == node.producer)?)))
            .map(|(cause, r)| self.receipt_evidence(cause, r))
            .unwrap_or_default();
        BrokenHop { hop, reason, evidence, faults: Vec::new() }
    }

    /// Why service `m` did not turn `cause` into what it publishes.
    fn why(&self, m: &Manifest, cause: &EventNode) -> (Reason, Vec<Evidence>) {
        let service = m.name.as_str();
        let since = cause.occurred_at.unix_timestamp_nanos().max(0) as u64;
        let crashed =
            self.trace.exits.iter().rfind(|x| x.service == service && !x.intended && x.at_unix_nanos >= since);
        let down = self.env.down.contains(service);
        let mut evidence = Vec::new();
        let receipt = cause.receipts.iter().find(|r| r.service == service);
        if let Some(r) = receipt {
            evidence.extend(self.receipt_evidence(cause, r));
        }
        evidence.extend(self.exits(service, since));
        let queue = self.ns.queue(service);
        for p in self.env.pending_at(service, &queue) {
            evidence.push(Evidence::Pending { what: p.to_string() });
        }
        evidence.extend(self.steps());
        let reason = match receipt {
            Some(r) => match &r.outcome {
                Outcome::DeadLettered { queue, reason } => {
                    Reason::DeadLettered { queue: queue.clone(), attempts: r.attempts.max(1), rejected: reason.clone() }
                }
                _ if crashed.is_some() && r.attempts > 0 && r.outcome == Outcome::Retrying => {
                    Reason::Crashed { status: crashed.map(|x| x.status.clone()).unwrap_or_default() }
                }
                Outcome::Retrying => Reason::Retrying { attempts: r.attempts, last_error: r.last_error.clone() },
                // Handled, then gone before its follow-up left: the outbox waits for it.
                Outcome::Handled if crashed.is_some() => {
                    Reason::Crashed { status: crashed.map(|x| x.status.clone()).unwrap_or_default() }
                }
                Outcome::Handled if down => Reason::ServiceDown,
                Outcome::Handled => self.handled(m, r),
            },
            None => match crashed {
                Some(x) => Reason::Crashed { status: x.status.clone() },
                None if down => Reason::ServiceDown,
                None => self.not_received(m, cause),
            },
        };
        (reason, evidence)
    }

    /// The service handled the cause: failing third parties in the work
    /// that follows, work that does not progress, or nothing at all.
    fn handled(&self, m: &Manifest, r: &Receipt) -> Reason {
        let wrapped: BTreeSet<&str> = m.wraps.iter().map(|w| w.third_party.as_str()).collect();
        let background: Vec<&Call> = r.work.iter().flat_map(|w| &w.calls).collect();
        let foreground: Vec<&Call> = r.calls.iter().collect();
        for (calls, in_background) in [(&background, true), (&foreground, false)] {
            let Some(failing) = failing_third_party(calls, &wrapped) else { continue };
            // A third party that failed and then answered is not the break.
            let last = calls.iter().rfind(|c| c.callee == failing.0);
            if last.is_some_and(|c| c.failed()) {
                return Reason::ThirdPartyFailing {
                    third_party: failing.0,
                    statuses: failing.1,
                    background: in_background,
                };
            }
        }
        // Pending counts are the service's, not this chain's: only work
        // done for this very event (polls that ask someone, a publish that
        // keeps failing) ties them to the hop.
        let queue = self.ns.queue(&m.name);
        let pending = self.env.pending_at(&m.name, &queue);
        let open_work = pending.iter().any(|p| matches!(p, Pending::InHand { work, .. } if *work > 0));
        let unpublished = pending.iter().any(|p| matches!(p, Pending::InHand { outbox, .. } if *outbox > 0));
        let asking = r.work.iter().filter(|w| !w.calls.is_empty()).max_by_key(|w| w.last_unix_nanos);
        let failing = r.work.iter().filter(|w| w.last_error.is_some()).max_by_key(|w| w.last_unix_nanos);
        let stuck_on = match (asking, failing) {
            (Some(w), _) if open_work => Some(w),
            (_, Some(w)) if unpublished => Some(w),
            _ => None,
        };
        if let Some(w) = stuck_on {
            let error = w.last_error.as_ref().map(|e| format!(", last error: {e}")).unwrap_or_default();
            let in_hand: Vec<String> = pending.iter().map(|p| p.to_string()).collect();
            let waiting_on = format!("{} ({} runs{error}); {}", w.task, w.runs, in_hand.join(", "));
            return Reason::Stuck { waiting_on };
        }
        Reason::HandledWithoutFollowUp
    }

    /// Nothing of the service's is recorded for the cause: a subscription
    /// missing or filtering, or a message not yet (or never) taken.
    fn not_received(&self, m: &Manifest, cause: &EventNode) -> Reason {
        let key = (cause.event_type.clone(), m.name.clone());
        let declared = m.listens.iter().find(|l| l.event.as_str() == cause.event_type);
        let policy = match &self.env.subscriptions {
            Some(subs) => match subs.get(&key) {
                None => return Reason::NoSubscription,
                Some(policy) => policy.clone(),
            },
            None => declared.and_then(|l| l.filter.as_ref()).and_then(|f| serde_json::to_string(f).ok()),
        };
        if let Some(policy) = policy
            && !filter::passes(&policy, &filter::attributes(&cause.event_type, &self.trace.correlation_id))
        {
            return Reason::FilteredOut { policy };
        }
        Reason::NotReceived
    }

    /// What `r`, one service's handling of `event`, shows: its attempts,
    /// its calls, and the dead letters it left of that event (or of none
    /// that can be told: a body no handler could read).
    fn receipt_evidence(&self, event: &EventNode, r: &Receipt) -> Vec<Evidence> {
        let mut evidence = Vec::new();
        if r.attempts > 0 {
            evidence.push(Evidence::Attempts { count: r.attempts, last_error: r.last_error.clone() });
        }
        evidence.extend(grouped(&r.calls, None));
        for w in &r.work {
            evidence.extend(grouped(&w.calls, Some(&w.task)));
        }
        let of_event = |d: &&DeadLetter| d.event.as_ref().is_none_or(|e| e.id.to_string() == event.id);
        for d in self.trace.dead_letters.iter().filter(|d| d.service == r.service).filter(of_event) {
            evidence.push(Evidence::DeadLetter { queue: d.queue.clone(), reason: d.reason.clone() });
        }
        evidence
    }

    fn exits(&self, service: &str, since: u64) -> Vec<Evidence> {
        self.trace
            .exits
            .iter()
            .filter(|x| x.service == service && x.at_unix_nanos >= since)
            .map(|x| Evidence::Exit {
                service: x.service.clone(),
                status: x.status.clone(),
                intended: x.intended,
                log_tail: x.log_tail.clone(),
            })
            .collect()
    }

    fn steps(&self) -> Vec<Evidence> {
        self.env.failed_steps.iter().filter(|(l, _)| l == self.label).map(|(_, e)| e.clone()).collect()
    }
}

/// The wrapped third party with the most failed calls, and its statuses.
fn failing_third_party(calls: &[&Call], wrapped: &BTreeSet<&str>) -> Option<(String, BTreeMap<u16, u32>)> {
    let mut by_callee: BTreeMap<&str, BTreeMap<u16, u32>> = BTreeMap::new();
    for c in calls.iter().filter(|c| c.failed() && wrapped.contains(c.callee.as_str())) {
        *by_callee.entry(&c.callee).or_default().entry(c.status.unwrap_or(0)).or_default() += 1;
    }
    by_callee
        .into_iter()
        .max_by_key(|(_, statuses)| statuses.values().sum::<u32>())
        .map(|(callee, statuses)| (callee.to_owned(), statuses))
}

/// Calls folded by (callee, method, url, status), in order of first call.
fn grouped(calls: &[Call], task: Option<&str>) -> Vec<Evidence> {
    let mut out: Vec<Evidence> = Vec::new();
    for c in calls {
        let same = out.iter_mut().find(|e| {
            matches!(e, Evidence::Calls { callee, method, url, status, .. }
                if *callee == c.callee && *method == c.method && *url == c.url && *status == c.status)
        });
        match same {
            Some(Evidence::Calls { count, .. }) => *count += 1,
            _ => out.push(Evidence::Calls {
                callee: c.callee.clone(),
                method: c.method.clone(),
                url: c.url.clone(),
                status: c.status,
                count: 1,
                task: task.map(str::to_owned),
            }),
        }
    }
    out
}
