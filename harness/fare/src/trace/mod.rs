//! Traces: what happened to one chain of work, and where it broke.
//!
//! The [`Recorder`] runs beside the platform. It listens on a tap queue
//! subscribed to every topic (so it sees every event, whatever the
//! services' telemetry), peeks at the dead-letter queues, and receives the
//! services' OTLP/HTTP spans (handling attempts, errors, HTTP calls). A
//! [`Trace`] is the causal tree of one correlation id built from
//! `causation_id` links; [`diagnose`] names the broken hop when an expected
//! event never came.
//!
//! # Layout
//! - `record`: the recorder: tap, dead-letter watch, OTLP receiver, HTTP API.
//! - `otlp`: decoding OTLP/HTTP protobuf spans into plain records.
//! - `tree`: the causal tree of a correlation id, and its text rendering.
//! - `diagnose`: the broken hop and why.

mod diagnose;
mod otlp;
mod record;
mod tree;

pub use diagnose::{Diagnosis, Environment, Reason, diagnose};
pub use otlp::SpanRecord;
pub use record::{DeadLetter, Recorder, ServiceExit, TraceError};
pub use tree::{EventNode, Outcome, Receipt, Trace};
