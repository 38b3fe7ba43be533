//! The kit's integration tests against a real moto, one binary: compiled
//! and linked once, each file below a module of it.

mod consumer;
mod faults;
mod relay;
