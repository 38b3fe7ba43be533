//! What the recorder holds: the events, spans, dead letters and exits of a
//! run, as plain data that the causal tree is built from.

use kit::Envelope;

use super::otlp::SpanRecord;

/// A message found in a dead-letter queue.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
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
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
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

#[derive(Debug, Default)]
pub(crate) struct Store {
    pub(crate) events: Vec<Envelope>,
    /// The SNS message attributes each event arrived with, by event id.
    pub(crate) attributes: std::collections::BTreeMap<String, std::collections::BTreeMap<String, String>>,
    pub(crate) spans: Vec<SpanRecord>,
    pub(crate) dead: Vec<DeadLetter>,
    pub(crate) exits: Vec<ServiceExit>,
}
