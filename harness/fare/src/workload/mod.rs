//! Load workloads: what `fare chaos --load` and `fare bench` drive through
//! a platform, read from a file the platform keeps (the reference
//! platform's `scenarios/chaos/load.yaml`), so that fare drives any team's
//! flow, not one it knows.
//!
//! # Layout
//! - `model`: the file's types; `file`: the file read; `check`: its variables, services and events.
//! - `client`: users signed up, orders placed and found again, as the file says.
//! - `ledger`: the effects each order, user or the load must leave exactly once.

mod check;
pub mod client;
pub mod file;
pub mod ledger;
pub mod model;

pub use client::{Client, Listed, Order, StepError, StepTime, User};
pub use file::Workload;
pub use ledger::{Before, Ledger, Row};
pub use model::{Count, Effect, End, Per};
