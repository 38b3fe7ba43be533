//! End-to-end scenarios (`scenarios/*.yaml`, format in `scenarios/README.md`):
//! fakes programmed per chain, HTTP steps with captures and `{{templating}}`,
//! faults, and what must hold once the platform is quiet (the event chain,
//! final HTTP state, counts, dead letters). A failed scenario names its
//! broken hop.
//!
//! # Layout
//! - `model`, `expect`: the YAML's types; values checked while parsing.
//! - `load`: reading files, topology checks; `error`: what is wrong, with file, line and field.
//! - `lenient`: every mistake of a file that does not parse, each at its line.
//! - `template`: `{{name}}`, picking captures, subset matching of answers.
//! - `target`: the platform as scenarios reach it; the settings `fare e2e` starts it with.
//! - `http`: one request, sent in its chain and checked.
//! - `faults`: faults on processes, on the bus and in handlers, a file a family.
//! - `chain`: the chain expected (written or derived), as event paths.
//! - `run`: one scenario; `schedule`: many, side by side where they can be.
//! - `partition`: the share of the scenarios one CI runner takes (`--partition hash:M/N`).
//! - `failure`: why a step or check did not hold, as data.
//! - `report`: the typed results; `render`: terminal, JUnit XML, HTML.
//! - `write`: a scenario written from the record of one chain (`fare trace --as-scenario`).

pub mod chain;
mod error;
pub mod expect;
pub mod failure;
pub mod faults;
pub(crate) mod http;
mod lenient;
pub mod load;
pub mod model;
pub mod partition;
pub mod render;
pub mod report;
pub mod run;
pub mod schedule;
pub mod target;
pub mod template;
pub mod write;

pub use load::{ScenarioError, load, load_dir, parse};
pub use model::Scenario;
pub use partition::{Partition, PartitionError, Share};
pub use report::{Outcome, RunReport, ScenarioReport};
pub use schedule::{Progress, RunOptions, Silent, run_all};
pub use target::{Target, TargetError, e2e_env};
