//! A service's own SQLite database, and the two tables the kit keeps in it:
//! the inbox (event ids already handled) and the outbox (events committed
//! but not yet published).
//!
//! Together they make a consumer's effect, its deduplication and the events
//! it causes one transaction: a redelivered event has no second effect, and
//! an event committed before a crash is published after the restart.

mod db;
pub mod inbox;
pub mod outbox;

pub use db::{Db, Migration, StoreError};
