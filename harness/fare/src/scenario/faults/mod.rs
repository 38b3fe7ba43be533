//! Faults injected while a scenario runs: a service stopped, killed or
//! frozen when an event of the chain is seen and started or thawed again
//! later, the emulator frozen for a while, an event delivered twice, a
//! poison message on a queue, a handler that misbehaves (through the
//! service's fault hook). Each waits on a condition with a deadline, never
//! a fixed time; only a freeze lasts a set time, as that time is the fault.
//! Each is recorded ([`InjectedFault`](crate::trace::InjectedFault)) when
//! it takes effect and when it ends, so that the diagnosis can name it.
//!
//! # Layout
//! - `mod.rs`: [`FaultError`], what every family can fail with; the deadline of a fault's wait.
//! - `wait`: waiting for an event of the chain, and when a quiet platform means it will never come ([`Gate`]).
//! - `process`: stopping, killing, freezing or cutting off a service or the emulator.
//! - `bus`: an event published again through a tap, poison on a queue, a subscription's filter changed.
//! - `handler`: rules on a service's fault hook, set for a run's chains and cleared after.

mod bus;
mod handler;
mod process;
mod wait;

use std::time::Duration;

use kit::EventType;
use kit::bus::AwsError;

pub use bus::{Filtered, Tap, filter_out, poison};
pub use handler::{clear_handlers, handler};
pub use process::{OnProcesses, disconnect, on_processes, pause};
pub use wait::{Gate, Waiter, seen};

/// How long a fault waits for the event that sets it off.
const DEADLINE: Duration = Duration::from_secs(90);

#[derive(Debug, thiserror::Error)]
pub enum FaultError {
    #[error("`{event}` never appeared in chain {correlation_id} within {waited:?}")]
    NeverSeen { event: EventType, correlation_id: String, waited: Duration },
    #[error("`{event}` will not come in chain {correlation_id}: the platform settled without it ({waited:?})")]
    NeverComing { event: EventType, correlation_id: String, waited: Duration },
    #[error(transparent)]
    Record(#[from] super::target::RecordError),
    #[error(transparent)]
    Control(#[from] crate::runtime::ControlError),
    #[error(transparent)]
    Aws(#[from] AwsError),
    #[error(transparent)]
    Bus(#[from] kit::bus::BusError),
    #[error("the tapped {event} is not an event envelope")]
    Tapped {
        event: EventType,
        #[source]
        source: kit::envelope::EnvelopeError,
    },
    #[error("publishing {event} again")]
    Publish {
        event: EventType,
        #[source]
        source: kit::bus::PublishError,
    },
    #[error("no topic {topic}; is the namespace provisioned?")]
    NoTopic { topic: String },
    #[error("{queue} is not subscribed to {topic}")]
    NotSubscribed { queue: String, topic: String },
    #[error(
        "a handler fault on {service} needs the platform this fare started (not --attach): only it holds the services' fault hooks"
    )]
    NoHook { service: String },
    #[error("`{what}` needs the platform this fare started (not --attach): only it holds the processes")]
    NoControl { what: String },
    #[error("`{what}` does not act on processes")]
    NotOnProcesses { what: String },
}
