//! SNS and SQS: connecting, naming, publishing, consuming, relaying the
//! outbox to SNS, and, for the harness and tests, managing topics, queues
//! and subscriptions, tapping topics and reading queues. This is the one
//! place that speaks to SNS and SQS; every failed call is an [`AwsError`].

mod admin;
mod aws;
mod calls;
mod connect;
pub mod consumer;
mod depth;
mod messages;
mod naming;
mod publisher;
pub mod relay;
mod tap;

pub use admin::{QueueAttributes, Subscription};
pub use aws::{AwsError, Missing};
pub use calls::calls_sent;
pub use connect::{Bus, BusError};
pub use consumer::{Consumer, ConsumerOptions, HandleError, Handler};
pub use depth::Depth;
pub use messages::{Message, Receive, Refused};
pub use naming::{BadNamespace, Namespace};
pub use publisher::{PublishError, Publisher};
pub use tap::TapQueue;

/// How long the consumer and the outbox relay wait before trying an
/// endpoint that failed again: 100 ms, doubling to 5 s.
pub(crate) const RECONNECT: crate::backoff::Backoff =
    crate::backoff::Backoff::new(std::time::Duration::from_millis(100), std::time::Duration::from_secs(5));
