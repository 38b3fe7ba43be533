//! SNS and SQS: connecting, naming, publishing, consuming, and relaying the
//! outbox to SNS.

mod connect;
pub mod consumer;
mod depth;
mod naming;
mod publisher;
pub mod relay;

pub use connect::{Bus, BusError};
pub use consumer::{Consumer, ConsumerOptions, HandleError, Handler};
pub use depth::Depth;
pub use naming::{BadNamespace, Namespace};
pub use publisher::{PublishError, Publisher};
