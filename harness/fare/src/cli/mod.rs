//! The `fare` command line: parsing with clap, dispatch, exit codes
//! (0 success, 1 a check failed, 2 fare itself could not run).
//!
//! `run` (this file) handles the commands about manifests and provisioning;
//! `platform` the ones that start, watch and stop a running platform.

mod platform;

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use clap::{Parser, Subcommand};
use kit::bus::Namespace;

use crate::provision::{self, Change};

/// Provision, draw and check an event-driven platform from its service manifests.
#[derive(Debug, Parser)]
#[command(name = "fare", version)]
pub struct Cli {
    /// The directory holding one folder per service, each with a `service.toml`.
    #[arg(long, global = true, default_value = "services", env = "FARE_SERVICES_DIR")]
    pub services: PathBuf,
    /// The prefix of every topic and queue: parallel runs use different ones.
    #[arg(long, global = true, default_value = "fare", env = "FARE_NAMESPACE")]
    pub namespace: String,
    /// Use this SNS/SQS endpoint (a running emulator, or real AWS with
    /// `--endpoint aws`) instead of starting an emulator.
    #[arg(long, global = true, env = "AWS_ENDPOINT_URL")]
    pub endpoint: Option<String>,
    /// The emulator `up` and `doctor` start when no --endpoint is given.
    #[arg(long, global = true, default_value = "moto", value_parser = ["moto", "localstack"])]
    pub emulator: String,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Check the manifests against each other; exit 1 if they disagree.
    Check,
    /// Show what `apply` would create, change and delete.
    Plan,
    /// Create, change and delete resources until they match the manifests.
    Apply,
    /// Delete every resource of the namespace.
    Destroy,
    /// Print the topology as a Mermaid flowchart.
    Graph,
    /// Build and start the whole platform: emulator, topology, fakes, services.
    Up(platform::UpArgs),
    /// Show what runs in the namespace and whether it is healthy.
    Status {
        /// Print JSON instead of a table.
        #[arg(long)]
        json: bool,
    },
    /// Stop the platform `fare up --detach` started.
    Down,
    /// Check the SNS/SQS behaviours the platform relies on against a backend.
    Doctor,
    /// Wait until every queue is drained and every service has nothing in hand.
    Quiet {
        /// Give up after this many seconds, listing what is still pending.
        #[arg(long, default_value_t = 60)]
        timeout: u64,
    },
}

impl Cli {
    pub fn backend(&self) -> fare_emulator::Backend {
        fare_emulator::Backend::parse(&self.emulator).unwrap_or_default()
    }
}

/// Runs the command; `Err` means fare itself could not run (exit 2).
pub async fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    let root = workspace_root(&cli.services);
    let ns = Namespace::parse(&cli.namespace).context("--namespace")?;
    match &cli.command {
        Command::Up(args) => return platform::up(&cli, &root, ns, args).await,
        Command::Status { json } => return platform::status(&root, &ns, *json).await,
        Command::Down => return platform::down(&root, &ns).await,
        Command::Quiet { timeout } => return platform::quiet(&root, &ns, *timeout).await,
        Command::Doctor => return doctor(&cli.endpoint, cli.backend()).await,
        _ => {}
    }
    let (topology, warnings) = match crate::load_topology(&cli.services) {
        Ok(loaded) => loaded,
        Err(crate::LoadError::Topology(e)) if matches!(cli.command, Command::Check) => {
            eprintln!("{e}");
            return Ok(ExitCode::from(1));
        }
        Err(e) => return Err(e.into()),
    };
    for w in &warnings {
        eprintln!("{w}");
    }
    match cli.command {
        Command::Check => {
            println!(
                "{} services, {} event types: the manifests agree",
                topology.services().count(),
                topology.events().len()
            );
            Ok(ExitCode::SUCCESS)
        }
        Command::Graph => {
            print!("{}", topology.mermaid());
            Ok(ExitCode::SUCCESS)
        }
        Command::Up(_) | Command::Status { .. } | Command::Down | Command::Quiet { .. } | Command::Doctor => {
            unreachable!("handled above")
        }
        Command::Plan | Command::Apply | Command::Destroy => {
            let endpoint = match &cli.endpoint {
                Some(endpoint) => Some(endpoint.clone()),
                None => match crate::runtime::PlatformState::load(&root, ns.as_str()) {
                    Ok(state) => state.endpoint,
                    Err(_) => anyhow::bail!(
                        "no --endpoint and no running platform in namespace `{ns}`: give an emulator's URL, \
                         `--endpoint aws` for real AWS, or start one with `fare up`"
                    ),
                },
            };
            let bus = crate::connect(&endpoint, &ns).await?;
            let current = provision::read_current(&bus, &ns).await?;
            let desired = match cli.command {
                Command::Destroy => provision::Desired::default(),
                _ => provision::desired(&topology, &ns),
            };
            let changes = provision::plan(&desired, &current);
            if changes.is_empty() {
                println!("namespace {ns} at {}: nothing to change", bus.endpoint());
                return Ok(ExitCode::SUCCESS);
            }
            if matches!(cli.command, Command::Plan) {
                changes.iter().for_each(|c| println!("{c}"));
                println!("{} changes; `fare apply` makes them", changes.len());
                return Ok(ExitCode::SUCCESS);
            }
            provision::apply(&bus, &ns, current, &changes, &mut |c: &Change| println!("{c}")).await?;
            println!("namespace {ns} at {}: {} changes applied", bus.endpoint(), changes.len());
            Ok(ExitCode::SUCCESS)
        }
    }
}

/// The directory that holds `services/` (and `target/`, `.fare/`).
fn workspace_root(services: &std::path::Path) -> PathBuf {
    let services = services.canonicalize().unwrap_or_else(|_| services.to_owned());
    services.parent().map(PathBuf::from).unwrap_or_else(|| PathBuf::from("."))
}

/// Runs the probe suite against `--endpoint`, or against a moto it starts.
async fn doctor(endpoint: &Option<String>, backend: fare_emulator::Backend) -> anyhow::Result<ExitCode> {
    let emulator = match endpoint {
        Some(_) => None,
        None => Some(fare_emulator::Emulator::start(&fare_emulator::StartOptions { backend, ..Default::default() })?),
    };
    let endpoint = endpoint.clone().or_else(|| emulator.as_ref().map(|e| e.endpoint().to_owned()));
    let backend = match &emulator {
        Some(e) => format!("{} at {}", e.backend().name(), e.endpoint()),
        None => endpoint.clone().unwrap_or_else(|| "AWS".into()),
    };
    println!("probing {backend}");
    let results = crate::doctor::run(&endpoint).await?;
    println!("{:<42} {:<6} {:>7}  DETAIL", "PROBE", "RESULT", "TIME");
    for r in &results {
        let result = if r.passed { "ok" } else { "FAIL" };
        println!("{:<42} {:<6} {:>5}ms  {}", r.name, result, r.took.as_millis(), r.detail);
    }
    Ok(if results.iter().all(|r| r.passed) { ExitCode::SUCCESS } else { ExitCode::from(1) })
}
