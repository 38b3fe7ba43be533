//! The `fare` command line: parsing with clap, dispatch, exit codes
//! (0 success, 1 a check failed, 2 fare itself could not run).

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use clap::{Parser, Subcommand};
use kit::bus::{Bus, Namespace};

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
    /// The SNS/SQS endpoint (an emulator); unset means real AWS.
    #[arg(long, global = true, env = "AWS_ENDPOINT_URL")]
    pub endpoint: Option<String>,
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
}

/// Runs the command; `Err` means fare itself could not run (exit 2).
pub async fn run(cli: Cli) -> anyhow::Result<ExitCode> {
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
    let ns = Namespace::parse(&cli.namespace).context("--namespace")?;
    match cli.command {
        Command::Check => {
            println!("{} services, {} event types: the manifests agree", topology.services().count(), topology.events().len());
            Ok(ExitCode::SUCCESS)
        }
        Command::Graph => {
            print!("{}", topology.mermaid());
            Ok(ExitCode::SUCCESS)
        }
        Command::Plan | Command::Apply | Command::Destroy => {
            let bus = connect(&cli.endpoint, &ns).await?;
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

/// A bus for `ns` at `endpoint`, or on real AWS when there is none.
pub async fn connect(endpoint: &Option<String>, ns: &Namespace) -> anyhow::Result<Bus> {
    let mut config = kit::Config::load("fare", &[])?.with("FARE_NAMESPACE", ns.as_str());
    if let Some(endpoint) = endpoint {
        config = config.with("AWS_ENDPOINT_URL", endpoint);
    }
    Ok(Bus::connect(&config).await?)
}
