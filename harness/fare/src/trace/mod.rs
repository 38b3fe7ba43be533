//! Traces: what happened to one chain of work. This is fare's one record of
//! a run: checks, fault triggers, `fare trace` and the diagnosis read it and
//! nothing else.
//!
//! The [`Recorder`] runs beside the platform. It listens on a tap queue
//! subscribed to every topic (so it sees every event, whatever the
//! services' telemetry), peeks at the dead-letter queues, receives the
//! services' OTLP/HTTP spans (requests, handling attempts, errors, calls,
//! background work), hears from the supervisor when a service exits, and
//! from the scenario runner which faults it injected, where and when. A
//! [`Trace`] is the causal tree of one correlation id built from
//! `causation_id` links.
//!
//! # Layout
//! - `record`: the recorder: tap, dead-letter watch, OTLP receiver, exits, injected faults, HTTP API.
//! - `store`: what the recorder holds (events, spans, dead letters, exits, injected faults), as data.
//! - `forward`: handing the same spans to the user's OTLP collector, off the hot path.
//! - `otlp`: decoding OTLP/HTTP protobuf spans into plain records.
//! - `tree`: the causal tree of a correlation id.
//! - `render`: the tree as text, and the skeleton snapshots hold.
//! - `paths`: a chain as a multiset of event paths, and two of them compared.
//! - `saved`: the whole record of a run as one file, for what reads it after the run.
//! - `edge`: the requests that entered the platform from outside, as their spans tell them.

mod edge;
mod forward;
mod otlp;
mod paths;
mod record;
mod render;
mod saved;
mod store;
mod tree;

pub use edge::{Exchange, in_family};
pub use forward::{ForwardStats, OtlpTarget};
pub use otlp::SpanRecord;
pub use paths::{ChainDiff, EventPath, Paths};
pub use record::{Recorder, RecorderOptions, Spans, TapTopics, TraceError};
pub use saved::{Published, SavedError, SavedRecord};
#[cfg(test)]
pub(crate) use store::Store;
pub use store::{Asked, DeadLetter, FaultKind, InjectedFault, ProgrammedRule, ServiceExit};
pub use tree::{Call, EventNode, Outcome, Receipt, Request, Trace, Work};
