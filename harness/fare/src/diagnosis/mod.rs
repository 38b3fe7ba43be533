//! The diagnosis: where a chain broke and why, as data. One value, built
//! from the record (a [`Trace`](crate::trace::Trace)) and what fare can see
//! of the platform now ([`Environment`]); rendered by the terminal, JUnit
//! and HTML renderers, and serialised for `--json`.
//!
//! # Layout
//! - `mod.rs`: the types ([`BrokenHop`], [`Hop`], [`Reason`], [`Evidence`]) and their words.
//! - `find`: the search: which expected events are missing, which came unasked, and why.
//! - `blame`: the injected faults a broken hop is owed to (what, where, from when to when).
//! - `environment`: what the platform shows now (who is down, what is pending, subscriptions).
//! - `filter`: whether an SNS filter policy lets an event through.

mod blame;
mod environment;
mod filter;
mod find;

use std::collections::BTreeMap;
use std::fmt;

use serde::Serialize;

pub use environment::Environment;
pub use find::{Expected, diagnose};

use crate::trace::InjectedFault;

/// One hop of a chain, as far as it is known: the event that should have
/// caused the next, the queue it travels through, the service that should
/// have acted, and the event it should have published.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, schemars::JsonSchema)]
pub struct Hop {
    /// The cause, `None` at the start of a chain (a request).
    pub after: Option<String>,
    pub queue: Option<String>,
    pub service: Option<String>,
    /// The event expected of this hop (or, for an unasked one, the one seen).
    pub expected: String,
}

/// Why a hop broke.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, schemars::JsonSchema)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Reason {
    /// No request started the chain, or the one that should have was refused.
    NeverStarted,
    /// The service does not answer `/health`.
    ServiceDown,
    /// The service's process died after the event reached it.
    Crashed { status: String },
    /// The message is in the dead-letter queue: refused at once, or after retries.
    DeadLettered { queue: String, attempts: u32, rejected: Option<String> },
    /// Handling keeps failing; the queue will redeliver it.
    Retrying { attempts: u32, last_error: Option<String> },
    /// The service handled the event and published nothing in answer.
    HandledWithoutFollowUp,
    /// A third party the service wraps keeps answering errors.
    ThirdPartyFailing { third_party: String, statuses: BTreeMap<u16, u32>, background: bool },
    /// Work in hand that makes no progress.
    Stuck { waiting_on: String },
    /// The subscription's filter policy kept the event from the queue.
    FilteredOut { policy: String },
    /// The service's queue is not subscribed to the event's topic.
    NoSubscription,
    /// The event never reached the service, and nothing says why.
    NotReceived,
    /// No service that hears the cause publishes the expected event.
    NoPublisher,
    /// An effect happened more often than it should.
    Duplicated { expected: usize, seen: usize },
    /// An event the chain should not have had.
    Unexpected { seen: usize },
}

/// What the diagnosis rests on.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, schemars::JsonSchema)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Evidence {
    /// Handling attempts and the last error.
    Attempts {
        count: u32,
        last_error: Option<String>,
    },
    /// Calls to one callee, answered `status` (`None`: no answer) `count` times.
    Calls {
        callee: String,
        method: String,
        url: String,
        status: Option<u16>,
        count: usize,
        task: Option<String>,
    },
    DeadLetter {
        queue: String,
        reason: Option<String>,
    },
    /// A process exit and its last log lines.
    Exit {
        service: String,
        status: String,
        intended: bool,
        log_tail: Vec<String>,
    },
    /// Something still pending on the platform.
    Pending {
        what: String,
    },
    /// A request of the chain a service answered.
    Request {
        service: String,
        method: String,
        path: String,
        status: Option<u16>,
    },
    /// A step of the scenario that failed, and why, in the words the
    /// scenario's renderers give it: the diagnosis sits below the scenarios
    /// and does not know their types.
    Step {
        what: String,
        detail: String,
    },
}

/// One broken hop: where, why, and on what evidence.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, schemars::JsonSchema)]
pub struct BrokenHop {
    pub hop: Hop,
    pub reason: Reason,
    pub evidence: Vec<Evidence>,
    /// The faults fare injected that overlap the hop in time and place:
    /// the reason behind `reason`, the most telling first.
    pub faults: Vec<Blame>,
}

/// An injected fault a broken hop is owed to.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, schemars::JsonSchema)]
pub struct Blame {
    pub fault: InjectedFault,
    /// What its times are told from: when the scenario (else the chain)
    /// began, in nanoseconds since the Unix epoch.
    pub anchor_unix_nanos: u64,
}

impl fmt::Display for Blame {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.fault.sentence(self.anchor_unix_nanos))
    }
}

/// Every broken hop of one chain, the first in causal order first.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, schemars::JsonSchema)]
pub struct Diagnosis {
    pub label: String,
    pub correlation_id: String,
    pub hops: Vec<BrokenHop>,
}

impl fmt::Display for Hop {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut parts: Vec<String> = vec![self.after.clone().unwrap_or_else(|| "request".into())];
        if let Some(q) = &self.queue {
            parts.push(format!("queue {q}"));
        }
        if let Some(s) = &self.service {
            parts.push(s.clone());
        }
        parts.push(self.expected.clone());
        f.write_str(&parts.join(" → "))
    }
}

impl BrokenHop {
    /// The reason in a sentence about this hop.
    pub fn sentence(&self) -> String {
        let s = self.hop.service.as_deref().unwrap_or("no service");
        let after = self.hop.after.as_deref().unwrap_or("the request");
        let e = &self.hop.expected;
        match &self.reason {
            Reason::NeverStarted => format!("the chain never started: no {e} was published"),
            Reason::ServiceDown => format!("{s} is down (it does not answer /health)"),
            Reason::Crashed { status } => format!("{s} crashed ({status}) after {after} reached it"),
            Reason::DeadLettered { queue, rejected: Some(why), .. } => {
                format!("{s} rejected {after} at once; it is in {queue}: {why}")
            }
            Reason::DeadLettered { queue, attempts, rejected: None } => {
                format!("{s} gave up on {after} after {attempts} failed attempts; it is in {queue}")
            }
            Reason::Retrying { attempts, last_error } => {
                let last = last_error.as_ref().map(|e| format!("; last error: {e}")).unwrap_or_default();
                format!("{s} failed {attempts} times handling {after} and will retry{last}")
            }
            Reason::HandledWithoutFollowUp => format!("{s} handled {after} but did not publish {e}"),
            Reason::ThirdPartyFailing { third_party, statuses, background } => {
                let answers: Vec<String> = statuses.iter().map(|(st, n)| format!("{st} ×{n}")).collect();
                let when = if *background { "background work for" } else { "handling of" };
                format!("{third_party} (wrapped by {s}) answered {} to {s}'s {when} {after}", answers.join(", "))
            }
            Reason::Stuck { waiting_on } => format!("{s} has work in hand that makes no progress: {waiting_on}"),
            Reason::FilteredOut { policy } => format!("{s}'s subscription filters {after} out (policy {policy})"),
            Reason::NoSubscription => format!("{s}'s queue is not subscribed to {after}'s topic"),
            Reason::NotReceived => format!("{s} never received {after} (no attempt recorded)"),
            Reason::NoPublisher => format!("no service that hears {after} publishes {e}"),
            Reason::Duplicated { expected, seen } => {
                format!("{e} was published {seen} times by {s} where {expected} was expected")
            }
            Reason::Unexpected { seen } => {
                let times = if *seen == 1 { String::new() } else { format!(" ({seen} times)") };
                format!("{s} published {e} after {after}, which this chain should not have{times}")
            }
        }
    }

    /// Why, in full: the fault it is owed to, if any, then the reason.
    pub fn why(&self) -> String {
        match self.faults.first() {
            Some(fault) => format!("{fault}; so {}", self.sentence()),
            None => self.sentence(),
        }
    }

    /// A short name of the reason: `dead_lettered`, `crashed`, ….
    pub fn kind(&self) -> &'static str {
        match self.reason {
            Reason::NeverStarted => "never_started",
            Reason::ServiceDown => "service_down",
            Reason::Crashed { .. } => "crashed",
            Reason::DeadLettered { .. } => "dead_lettered",
            Reason::Retrying { .. } => "retrying",
            Reason::HandledWithoutFollowUp => "handled_without_follow_up",
            Reason::ThirdPartyFailing { .. } => "third_party_failing",
            Reason::Stuck { .. } => "stuck",
            Reason::FilteredOut { .. } => "filtered_out",
            Reason::NoSubscription => "no_subscription",
            Reason::NotReceived => "not_received",
            Reason::NoPublisher => "no_publisher",
            Reason::Duplicated { .. } => "duplicated",
            Reason::Unexpected { .. } => "unexpected",
        }
    }
}

impl fmt::Display for Evidence {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Evidence::Attempts { count, last_error } => {
                write!(f, "{count} attempt(s)")?;
                match last_error {
                    Some(e) => write!(f, "; last error: {e}"),
                    None => Ok(()),
                }
            }
            Evidence::Calls { callee, method, url, status, count, task } => {
                let status = status.map(|s| s.to_string()).unwrap_or_else(|| "no answer".into());
                let task = task.as_ref().map(|t| format!(" ({t})")).unwrap_or_default();
                write!(f, "call {callee} {method} {url} → {status} ×{count}{task}")
            }
            Evidence::DeadLetter { queue, reason } => {
                write!(f, "in {queue}")?;
                match reason {
                    Some(r) => write!(f, ": {r}"),
                    None => Ok(()),
                }
            }
            Evidence::Exit { service, status, intended, log_tail } => {
                let how = if *intended { "stopped by fare" } else { "exited" };
                write!(f, "{service} {how} ({status})")?;
                for line in log_tail.iter().rev().take(5).rev() {
                    write!(f, "\n    | {line}")?;
                }
                Ok(())
            }
            Evidence::Pending { what } => write!(f, "pending: {what}"),
            Evidence::Request { service, method, path, status } => {
                let status = status.map(|s| s.to_string()).unwrap_or_else(|| "no answer".into());
                write!(f, "request {service} {method} {path} → {status}")
            }
            Evidence::Step { what, detail } => write!(f, "step `{what}` failed: {detail}"),
        }
    }
}

impl fmt::Display for BrokenHop {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "broken hop: {}", self.hop)?;
        match self.faults.split_first() {
            Some((first, more)) => {
                write!(f, "\n  why: {first}")?;
                for other in more {
                    write!(f, "\n  and: {other}")?;
                }
                write!(f, "\n  so: {}", self.sentence())?;
            }
            None => write!(f, "\n  why: {}", self.sentence())?,
        }
        for e in &self.evidence {
            write!(f, "\n  evidence: {}", e.to_string().replace('\n', "\n  "))?;
        }
        Ok(())
    }
}

impl fmt::Display for Diagnosis {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (n, hop) in self.hops.iter().enumerate() {
            if n > 0 {
                writeln!(f)?;
            }
            write!(f, "chain {}: {hop}", self.label)?;
        }
        Ok(())
    }
}

#[cfg(test)]
pub(crate) mod tests;
