//! fare's integration tests, one binary: compiled and linked once, each
//! file below a module of it. A test that starts a whole platform holds
//! `common::exclusive()` and runs alone; every other test holds
//! `common::shared()` and runs beside the others.
//!
//! Run one part with its module path: `cargo test -p fare --test tests e2e::`.

mod broker;
mod cli;
mod common;
mod containers;
mod contracts;
mod coverage;
mod e2e;
mod foreign;
mod platform;
mod providers;
mod provision;
