//! `fare chaos`: the fault matrix. Generated from the topology and the
//! platform's workload (every hop of the chains it drives, an event and a service that listens to it, × every
//! fault kind that applies there), each cell is an end-to-end scenario that
//! places one order in chains of its own with the fault scoped to them. A
//! cell passes when (a) the platform keeps its promise (a recoverable fault:
//! the chain completes, every effect once; a permanent one: the message is
//! in the right dead-letter queue and the rest of the chain flows) and (b)
//! the diagnosis names the injected hop and reason (or nothing, where the
//! platform recovers).
//!
//! # Layout
//! - `matrix`: the hops, the fault kinds, the cells and what each must show; a cell as a scenario document.
//! - `run`: building each cell's scenario with the scenario loader, running them (side by side or alone), injecting the signals, judging.
//! - `report`: the typed results; the table, the totals, JUnit; the load's table.
//! - `load`: `--load N`: the load workload's orders in flight while services are killed at
//!   random points, then its ledger (`crate::workload`).
//! - `workload`: the chains the matrix drives, a scenario the platform keeps (`scenarios/chaos/cell.yaml`).

pub mod load;
pub mod matrix;
pub mod report;
pub mod run;
pub mod workload;

pub use load::{LoadOptions, LoadReport};
pub use matrix::{Cell, Hop, Kind, Promise, matrix, quick};
pub use report::{CellReport, ChaosReport, Totals};
pub use run::run;
pub use workload::Workload;
