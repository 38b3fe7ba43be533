//! fare: runs, checks, breaks and diagnoses a platform of services that ask
//! each other over HTTP and tell each other through SNS topics and SQS
//! queues, whatever their language, from one manifest per service. It
//! provisions what the manifests imply (on an emulator or real AWS), starts
//! the platform (processes or containers), verifies the pacts between the
//! services against the real providers, drives scenarios and a fault matrix
//! through it, records every chain and names the hop where one broke.
//!
//! # Layout
//! - `manifest`: one `service.toml`, parsed and checked, errors with file and line.
//! - `topology`: every manifest as one graph; disagreements between them; Mermaid.
//! - `access`: the authorisation rows the manifests' grants and operator endpoints imply.
//! - `provision`: desired vs current resources, the plan between them, applying it.
//! - `contracts`: the pact files held against the manifests, and verified against their providers.
//! - `graph`: the topology drawn as DOT or SVG.
//! - `millis`: durations serialised as whole milliseconds.
//! - `junit`: JUnit XML for every report, written and read back (through quick-junit).
//! - `html`: text made safe inside the HTML pages fare writes.
//! - `io`: the one error for a file, socket or address fare could not use.
//! - `fakes`: the third parties (fulfillment center, carrier, mail provider), played inside fare.
//! - `runtime`: the platform as processes: start, watch, stop, quiescence.
//! - `trace`: the one record of a run (events, spans, dead letters, exits, injected faults) and each chain's causal tree.
//! - `diagnosis`: the broken hops of a chain, why, and on what evidence.
//! - `scenario`: end-to-end scenarios: model, runner, checks, reports, partitions (`--partition hash:M/N`).
//! - `remote`: scenarios against an environment fare did not start (`fare e2e --target FILE`).
//! - `merge`: the JUnit and records of a partitioned run's partitions made one (`fare report merge`).
//! - `chaos`: the fault matrix generated from the topology, run as scenarios and judged.
//! - `replay`: a run's seed, the one generator its random choices come from, and a replay held against it.
//! - `workload`: the users, orders and effects a load drives, from the platform's `scenarios/chaos/load.yaml`.
//! - `bench`: `fare bench`: throughput, chain latency and its breakdown, beside the emulator alone.
//! - `doctor`: probes of the emulator for the behaviours the platform relies on.
//! - `json`: what `--json` prints, one typed document per command, and its JSON Schema (`fare schema`).
//! - `terminal`: progress lines (`-q`, `-v`) and colour (only on a terminal, never with `NO_COLOR`).
//! - `cli`: the `fare` command line (the binary in `bin/fare.rs` only calls it); `fare broker`
//!   serves the Pact Broker stand-in of the `fare-broker` crate.

pub mod access;
pub mod bench;
pub mod chaos;
pub mod cli;
pub mod contracts;
pub mod diagnosis;
pub mod doctor;
pub mod fakes;
pub mod graph;
pub mod html;
pub mod io;
pub mod json;
pub mod junit;
pub mod manifest;
pub mod merge;
pub mod millis;
pub mod provision;
pub mod remote;
pub mod replay;
pub mod runtime;
pub mod scenario;
pub mod terminal;
pub mod topology;
pub mod trace;
pub mod workload;

#[cfg(test)]
mod parsing_properties;

use std::path::Path;

pub use manifest::{Manifest, ManifestError};
pub use topology::{Problem, Topology, TopologyError};

#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    #[error(transparent)]
    Manifest(#[from] ManifestError),
    #[error(transparent)]
    Topology(#[from] TopologyError),
}

/// Loads every manifest under `services_dir` into a checked topology.
pub fn load_topology(services_dir: &Path) -> Result<(Topology, Vec<Problem>), LoadError> {
    Ok(Topology::build(manifest::load_all(services_dir)?)?)
}

/// The `--endpoint` value that means real AWS.
pub const AWS: &str = "aws";

/// A bus for `ns` at `endpoint`; `None` or [`AWS`] is real AWS.
pub async fn connect(endpoint: &Option<String>, ns: &kit::bus::Namespace) -> Result<kit::bus::Bus, kit::bus::BusError> {
    connect_in(endpoint, None, ns).await
}

/// [`connect`], in `region` when given (else `AWS_REGION`, else `us-east-1`).
pub async fn connect_in(
    endpoint: &Option<String>,
    region: Option<&str>,
    ns: &kit::bus::Namespace,
) -> Result<kit::bus::Bus, kit::bus::BusError> {
    let mut config = kit::Config::load("fare", &[])?.with("FARE_NAMESPACE", ns.as_str());
    config = match endpoint.as_deref() {
        Some(AWS) | None => config.with("AWS_ENDPOINT_URL", ""),
        Some(url) => config.with("AWS_ENDPOINT_URL", url),
    };
    if let Some(region) = region {
        config = config.with("AWS_REGION", region);
    }
    kit::bus::Bus::connect(&config).await
}
