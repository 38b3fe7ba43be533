//! What the recorder holds: the events, spans, dead letters, exits and
//! injected faults of a run, as plain data that the causal tree is built from.

use kit::Envelope;

use super::otlp::SpanRecord;

/// A rule a scenario gave a fake (scoped to the scenario's chains, as its
/// `scope` says), kept because the fake forgets it when the scenario ends.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct ProgrammedRule {
    pub fake: String,
    pub rule: crate::fakes::Rule,
}

/// A message found in a dead-letter queue.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize, schemars::JsonSchema)]
pub struct DeadLetter {
    /// The service whose queue it died on.
    pub service: String,
    pub queue: String,
    pub message_id: String,
    /// From the message's attributes, or its body when it is an envelope.
    pub correlation_id: Option<String>,
    pub event_type: Option<String>,
    /// The envelope, when the body is one.
    pub event: Option<Envelope>,
    /// Why the service gave up, when it said (`fare_rejection`).
    pub reason: Option<String>,
    pub receive_count: u32,
}

/// A service process that ended while the platform ran: crashed, killed,
/// or stopped on purpose. The supervisor reports each one.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize, schemars::JsonSchema)]
pub struct ServiceExit {
    pub service: String,
    /// How it ended, as the supervisor saw it: `signal 9 (SIGKILL)`, `exit status 101`.
    pub status: String,
    /// Whether fare ended it on purpose (`fare stop`, a scenario's `stop`).
    pub intended: bool,
    /// The last lines of its log.
    pub log_tail: Vec<String>,
    /// When, in nanoseconds since the Unix epoch.
    pub at_unix_nanos: u64,
}

/// The kinds of fault fare injects, as a scenario names them.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, serde::Serialize, serde::Deserialize, schemars::JsonSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum FaultKind {
    Stop,
    Kill,
    Pause,
    Disconnect,
    Handler,
    Poison,
    Duplicate,
    FilterOut,
}

impl std::fmt::Display for FaultKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            FaultKind::Stop => "stop",
            FaultKind::Kill => "kill",
            FaultKind::Pause => "pause",
            FaultKind::Disconnect => "disconnect",
            FaultKind::Handler => "handler fault",
            FaultKind::Poison => "poison",
            FaultKind::Duplicate => "duplicate",
            FaultKind::FilterOut => "filter_out",
        })
    }
}

/// A fault fare injected while the platform ran: what, on which service
/// (or the emulator), from when to when. The injector records it when the
/// fault takes effect and again when it ends, under the same `id`.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize, schemars::JsonSchema)]
pub struct InjectedFault {
    /// Unique per fault: a second record with it replaces the first.
    pub id: String,
    pub kind: FaultKind,
    /// The service it acts on, or `emulator`.
    pub target: String,
    /// What was done to `target`, as a predicate: `was cut off from the network`.
    pub what: String,
    /// The event type it acts on, for a fault on one (a handler fault, a filter).
    pub event: Option<String>,
    /// The chain it is scoped to, and the chains under it (`<id>.<label>`);
    /// `None`: it hits every chain running at the time.
    pub correlation_id: Option<String>,
    /// When it took effect, in nanoseconds since the Unix epoch.
    pub from_unix_nanos: u64,
    /// When it ended; `None` while it lasts (a handler fault until the
    /// scenario clears it). Equal to `from` for a blow (a kill left to the
    /// restart policy, a poison message put on a queue).
    pub until_unix_nanos: Option<u64>,
    /// How it was asked for, beyond its kind and target, when a scenario
    /// asked: what it takes to ask for it again (`fare trace --as-scenario`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub asked: Option<Asked>,
}

/// What a scenario's fault said that its kind, target and times do not:
/// the events it waited on, how long, how often, what a handler did.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize, schemars::JsonSchema)]
#[serde(default)]
pub struct Asked {
    /// The chain whose events it waited on (a fault on processes hits every chain).
    pub chain: Option<String>,
    /// The event it waited for before it took effect.
    pub when: Option<String>,
    /// The event it waited for before it ended (a stop or kill held down).
    pub restart_when: Option<String>,
    /// How long a freeze or a cut lasted.
    pub seconds: Option<u64>,
    /// How many more times an event was published.
    pub times: Option<u32>,
    /// What a handler did.
    pub action: Option<kit::faults::FaultAction>,
    /// The poison put on a queue, masked.
    pub body: Option<String>,
}

impl InjectedFault {
    /// `target` `what` by a fault of `kind`, taking effect now, on every chain.
    pub fn now(kind: FaultKind, target: &str, what: impl Into<String>) -> InjectedFault {
        InjectedFault {
            id: uuid::Uuid::new_v4().to_string(),
            kind,
            target: target.to_owned(),
            what: what.into(),
            event: None,
            correlation_id: None,
            from_unix_nanos: now_unix_nanos(),
            until_unix_nanos: None,
            asked: None,
        }
    }

    /// As a scenario asked for it.
    pub fn asked(mut self, asked: Asked) -> InjectedFault {
        self.asked = Some(asked);
        self
    }

    /// Acting on the events of type `event` only.
    pub fn on(mut self, event: &kit::EventType) -> InjectedFault {
        self.event = Some(event.to_string());
        self
    }

    /// Acting on the chain `correlation_id` and the chains under it only.
    pub fn in_chain(mut self, correlation_id: &str) -> InjectedFault {
        self.correlation_id = Some(correlation_id.to_owned());
        self
    }

    /// Ended now.
    pub fn ended(mut self) -> InjectedFault {
        self.until_unix_nanos = Some(now_unix_nanos());
        self
    }

    /// A blow: ended the moment it took effect.
    pub fn blow(mut self) -> InjectedFault {
        self.until_unix_nanos = Some(self.from_unix_nanos);
        self
    }

    /// Whether it acts on the chain `correlation_id`.
    pub fn scoped_to(&self, correlation_id: &str) -> bool {
        self.correlation_id.as_deref().is_some_and(|scope| {
            correlation_id == scope || correlation_id.strip_prefix(scope).is_some_and(|rest| rest.starts_with('.'))
        })
    }

    /// Whether it was still in effect at `at` (or began after it).
    pub fn lasts_until(&self, at: u64) -> bool {
        self.until_unix_nanos.is_none_or(|until| until >= at)
    }

    /// In a sentence, its times counted from `anchor` (Unix nanoseconds):
    /// `users was cut off from the network (disconnect) from +3.1 s to +23.1 s`.
    pub fn sentence(&self, anchor: u64) -> String {
        let subject = if self.target == "emulator" { "the emulator" } else { self.target.as_str() };
        let at = |t: u64| format!("{:+.1} s", (t as i128 - anchor as i128) as f64 / 1e9);
        let when = match self.until_unix_nanos {
            Some(until) if until == self.from_unix_nanos => format!("at {}", at(until)),
            Some(until) => format!("from {} to {}", at(self.from_unix_nanos), at(until)),
            None => format!("from {} on", at(self.from_unix_nanos)),
        };
        format!("{subject} {} ({}) {when}", self.what, self.kind)
    }
}

fn now_unix_nanos() -> u64 {
    time::OffsetDateTime::now_utc().unix_timestamp_nanos().max(0) as u64
}

#[derive(Debug, Default)]
pub(crate) struct Store {
    pub(crate) events: Vec<Envelope>,
    /// The SNS message attributes each event arrived with, by event id.
    pub(crate) attributes: std::collections::BTreeMap<String, std::collections::BTreeMap<String, String>>,
    pub(crate) spans: Vec<SpanRecord>,
    pub(crate) dead: Vec<DeadLetter>,
    pub(crate) exits: Vec<ServiceExit>,
    pub(crate) faults: Vec<InjectedFault>,
    /// The rules scenarios programmed the fakes with.
    pub(crate) rules: Vec<ProgrammedRule>,
}

impl Store {
    /// Records `fault`, replacing an earlier record of it (same id).
    pub(crate) fn record_fault(&mut self, fault: InjectedFault) {
        match self.faults.iter_mut().find(|f| f.id == fault.id) {
            Some(known) => *known = fault,
            None => self.faults.push(fault),
        }
    }
}
