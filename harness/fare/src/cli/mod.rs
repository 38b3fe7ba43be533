//! The `fare` command line: parsing with clap, dispatch, exit codes
//! (0 success, 1 a check failed, 2 fare itself could not run).
//!
//! `run` (this file) handles the commands about manifests and provisioning;
//! `platform` the ones that start, watch and stop a running platform;
//! `service` the ones about one service of it.

mod bench;
mod broker;
mod chaos;
mod check;
mod contracts;
mod deploy;
mod doctor;
mod e2e;
mod init;
pub use e2e::CI_JUNIT;
mod platform;
mod remote;
mod replay;
mod report;
mod service;
mod trace;

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use clap::{Parser, Subcommand};
use kit::bus::Namespace;

use crate::provision::{self, Change};
use crate::runtime::{Op, Runtime};

/// Run, check, break and diagnose a platform of services that talk over HTTP
/// and SNS/SQS, in any language, from one manifest per service: provision
/// it, start it, verify its contracts, drive scenarios and a fault matrix
/// through it, and name the hop where a chain broke.
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
    /// The emulator `up`, `e2e`, `bench` and `doctor` start when no
    /// --endpoint is given [default: moto; LocalStack with `--runtime containers`].
    #[arg(long, global = true, value_enum)]
    pub emulator: Option<EmulatorChoice>,
    /// Where the platform runs: each service a process of fare, or each
    /// service and the emulator (LocalStack unless `--emulator moto`) in a
    /// container, from images built here (`fare images`).
    #[arg(long, global = true, value_enum, default_value_t = Runtime::Processes, env = "FARE_RUNTIME")]
    pub runtime: Runtime,
    /// With `--runtime containers`: build every image again.
    #[arg(long, global = true)]
    pub rebuild: bool,
    /// Run each service as its manifest's `[profiles.NAME.run]` says, where
    /// it has one (another implementation of it, say); `[run]` otherwise.
    #[arg(long, global = true, env = "FARE_PROFILE")]
    pub profile: Option<String>,
    /// Print results and errors only, no progress lines.
    #[arg(long, short, global = true, conflicts_with = "verbose")]
    pub quiet: bool,
    /// Print every step: each provisioning change, each scenario as it starts.
    #[arg(long, short, global = true)]
    pub verbose: bool,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Check the manifests against each other; exit 1 if they disagree.
    Check {
        /// Print the result as JSON (`fare schema check`; docs/json.md).
        #[arg(long)]
        json: bool,
    },
    /// Write the manifest of an existing service (`services/NAME/service.toml`) from flags, and say what is missing.
    Init(init::InitArgs),
    /// Show what `apply` would create, change and delete.
    Plan {
        /// Print the plan as JSON (`fare schema plan`; docs/json.md).
        #[arg(long)]
        json: bool,
    },
    /// Create, change and delete resources until they match the manifests.
    Apply,
    /// Delete every resource of the namespace.
    Destroy,
    /// Draw the topology: Mermaid or DOT text, or an SVG picture.
    Graph {
        #[arg(long, value_enum, default_value_t = GraphFormat::Mermaid)]
        format: GraphFormat,
        /// Write to this file instead of standard output.
        #[arg(long, short)]
        output: Option<PathBuf>,
    },
    /// Build and start the whole platform: emulator, topology, fakes, services.
    Up(platform::UpArgs),
    /// Show what runs in the namespace and whether it is healthy.
    Status {
        /// Print JSON instead of a table (`fare schema status`).
        #[arg(long)]
        json: bool,
    },
    /// Stop the platform `fare up --detach` started, and remove what a
    /// killed fare left of the namespace in the container engine.
    Down,
    /// Build (when missing, or with --rebuild) and list the images of `--runtime containers`.
    Images,
    /// Stop one service of the running platform; the supervisor leaves it stopped.
    Stop { service: String },
    /// Start a stopped (or down) service again, on its port, with its database and settings.
    Start { service: String },
    /// Stop one service and start it again.
    Restart { service: String },
    /// SIGKILL one service, as a crash would; the restart policy of `fare up` applies.
    Kill { service: String },
    /// Print a service's log (`-f` follows it, across restarts).
    Logs(service::LogsArgs),
    /// Check the SNS/SQS behaviours the platform relies on against a backend:
    /// `--endpoint`, else the emulator it starts (`--emulator`), as a process
    /// or, with `--runtime containers`, in a container it removes after.
    Doctor,
    /// Run the end-to-end scenarios (all, or those named) and report; exit 1 if one failed.
    E2e(e2e::E2eArgs),
    /// Run the fault matrix generated from the topology (every hop × every applicable fault); exit 1 if a cell failed.
    Chaos(chaos::ChaosArgs),
    /// Time the platform carrying orders (throughput, chain latency, where it goes) beside the emulator alone.
    Bench(bench::BenchArgs),
    /// Merge the reports of a run's partitions (`fare e2e --partition`, one per CI runner) into one.
    Report(report::ReportArgs),
    /// Print the causal tree of a chain of the running platform (and its broken hop).
    Trace(trace::TraceArgs),
    /// Hold the pacts in contracts/pacts against the manifests, and verify them against the providers.
    Contracts(contracts::ContractsArgs),
    /// Run a local stand-in for the Pact Broker (its HTTP API, one SQLite file), on 127.0.0.1.
    Broker(broker::BrokerArgs),
    /// Wait until every queue is drained and every service has nothing in hand.
    Quiet {
        /// Give up after this many seconds, listing what is still pending.
        #[arg(long, default_value_t = 60)]
        timeout: u64,
    },
    /// Print the JSON Schema of what `--json` prints for a command (`fare
    /// schema e2e`), or write every one into a folder (`--write docs/schemas`).
    Schema {
        #[arg(value_enum, required_unless_present = "write")]
        document: Option<crate::json::Doc>,
        /// Write `NAME.schema.json` for every document into this folder.
        #[arg(long, conflicts_with = "document")]
        write: Option<PathBuf>,
    },
    /// Print a shell completion script: `fare completions bash > /etc/bash_completion.d/fare`.
    Completions {
        #[arg(value_enum)]
        shell: clap_complete::Shell,
    },
}

/// The emulators fare can start.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum EmulatorChoice {
    Moto,
    Localstack,
}

/// How `fare graph` draws the topology.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum GraphFormat {
    Mermaid,
    Dot,
    Svg,
}

impl Cli {
    pub fn verbosity(&self) -> crate::terminal::Verbosity {
        match (self.quiet, self.verbose) {
            (true, _) => crate::terminal::Verbosity::Quiet,
            (_, true) => crate::terminal::Verbosity::Verbose,
            _ => crate::terminal::Verbosity::Normal,
        }
    }

    /// The emulator asked for with `--emulator`, if any.
    pub fn backend(&self) -> Option<fare_emulator::Backend> {
        self.emulator.map(|choice| match choice {
            EmulatorChoice::Moto => fare_emulator::Backend::Moto,
            EmulatorChoice::Localstack => fare_emulator::Backend::LocalStack,
        })
    }

    /// The emulator to start: `--emulator`, else the runtime's default.
    pub fn emulator(&self) -> fare_emulator::Backend {
        self.backend().unwrap_or(self.runtime.default_emulator())
    }
}

/// Runs the command; `Err` means fare itself could not run (exit 2).
pub async fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    crate::terminal::Terminal::detect(cli.verbosity()).install();
    let root = workspace_root(&cli.services);
    let ns = Namespace::parse(&cli.namespace).context("--namespace")?;
    match &cli.command {
        Command::Up(args) => platform::up(&cli, &root, ns, args).await,
        Command::Status { json } => platform::status(&root, &ns, *json).await,
        Command::Down => platform::down(&root, &ns).await,
        Command::Images => platform::images(&cli).await,
        Command::Stop { service } => service::control(&root, &ns, Op::Stop, service).await,
        Command::Start { service } => service::control(&root, &ns, Op::Start, service).await,
        Command::Restart { service } => service::control(&root, &ns, Op::Restart, service).await,
        Command::Kill { service } => service::kill(&root, &ns, service),
        Command::Logs(args) => service::logs(&root, &ns, args).await,
        Command::Quiet { timeout } => platform::quiet(&root, &ns, *timeout).await,
        Command::Doctor => doctor::doctor(&cli, &root).await,
        Command::Contracts(args) => contracts::run(&cli.services, &ns, cli.runtime, &cli.profile, args).await,
        Command::Broker(args) => broker::broker(&root, args).await,
        Command::E2e(args) => e2e::e2e(&cli, &root, ns, args).await,
        Command::Chaos(args) => chaos::chaos(&cli, &root, ns, args).await,
        Command::Bench(args) => bench::bench(&cli, &root, ns, args).await,
        Command::Report(args) => report::report(args),
        Command::Trace(args) => trace::trace(&root, &cli.services, &ns, args).await,
        Command::Init(args) => init::init(&cli.services, args),
        Command::Check { json: true } => check::check(&cli.services),
        Command::Check { .. } | Command::Graph { .. } => manifests(&cli),
        Command::Plan { .. } | Command::Apply | Command::Destroy => provision(&cli, &root, &ns).await,
        Command::Schema { document, write } => check::schema(*document, write.as_deref()),
        Command::Completions { shell } => {
            let mut command = <Cli as clap::CommandFactory>::command();
            clap_complete::generate(*shell, &mut command, "fare", &mut std::io::stdout());
            Ok(ExitCode::SUCCESS)
        }
    }
}

/// `check` and `graph`: about the manifests alone.
fn manifests(cli: &Cli) -> anyhow::Result<ExitCode> {
    let (topology, warnings) = match crate::load_topology(&cli.services) {
        Ok(loaded) => loaded,
        Err(crate::LoadError::Topology(e)) => {
            eprintln!("the manifests disagree:");
            e.0.iter().for_each(|p| eprintln!("  {}", problem_line(p)));
            return Ok(ExitCode::from(1));
        }
        Err(e) => return Err(e.into()),
    };
    for w in &warnings {
        eprintln!("{}", problem_line(w));
    }
    if let Command::Graph { format, output } = &cli.command {
        let drawing = match format {
            GraphFormat::Dot => crate::graph::dot(&topology),
            GraphFormat::Svg => crate::graph::svg(&topology),
            GraphFormat::Mermaid => topology.mermaid(),
        };
        match output {
            Some(path) => {
                std::fs::write(path, drawing).with_context(|| format!("writing {}", path.display()))?;
                eprintln!("fare: wrote {}", path.display());
            }
            None => print!("{drawing}"),
        }
    } else {
        println!(
            "{} services, {} event types: the manifests agree",
            topology.services().count(),
            topology.events().len()
        );
        let problems = check::workloads(&workspace_root(&cli.services), &topology);
        for p in &problems {
            eprintln!("{}", problem_line(p));
        }
        if problems.iter().any(|p| p.severity == crate::topology::Severity::Error) {
            return Ok(ExitCode::from(1));
        }
        if problems.is_empty() {
            println!("the fault matrix's and the load's workloads fit them");
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// A problem as the terminal shows it: its severity in colour where colour shows.
fn problem_line(p: &crate::Problem) -> String {
    use crate::terminal::{Color, Stream, paint};
    let text = p.to_string();
    match text.split_once(": ") {
        Some((level, rest)) => {
            let color = if p.severity == crate::topology::Severity::Error { Color::Red } else { Color::Yellow };
            format!("{}: {rest}", paint(level, color, Stream::Stderr))
        }
        None => text,
    }
}

/// `plan`, `apply` and `destroy`.
async fn provision(cli: &Cli, root: &std::path::Path, ns: &Namespace) -> anyhow::Result<ExitCode> {
    let (topology, warnings) = crate::load_topology(&cli.services)?;
    for w in &warnings {
        eprintln!("{}", problem_line(w));
    }
    let endpoint = match &cli.endpoint {
        Some(endpoint) => Some(endpoint.clone()),
        None => match crate::runtime::PlatformState::load(root, ns) {
            Ok(state) => state.endpoint,
            Err(_) => anyhow::bail!(
                "no --endpoint and no running platform in namespace `{ns}`: give an emulator's URL, \
                 `--endpoint aws` for real AWS, or start one with `fare up`"
            ),
        },
    };
    let bus = crate::connect(&endpoint, ns).await?;
    let current = provision::read_current(&bus, ns).await?;
    let desired = match cli.command {
        Command::Destroy => provision::Desired::default(),
        _ => provision::desired(&topology, ns),
    };
    let changes = provision::plan(&desired, &current);
    if let Command::Plan { json: true } = cli.command {
        crate::json::print(&crate::json::PlanDoc::new(ns, bus.endpoint(), &changes))?;
        return Ok(ExitCode::SUCCESS);
    }
    if changes.is_empty() {
        println!("namespace {ns} at {}: nothing to change", bus.endpoint());
        return Ok(ExitCode::SUCCESS);
    }
    if matches!(cli.command, Command::Plan { .. }) {
        changes.iter().for_each(|c| println!("{c}"));
        println!("{} changes; `fare apply` makes them", changes.len());
        return Ok(ExitCode::SUCCESS);
    }
    provision::apply(&bus, ns, current, &changes, &mut |c: &Change| println!("{c}")).await?;
    println!("namespace {ns} at {}: {} changes applied", bus.endpoint(), changes.len());
    Ok(ExitCode::SUCCESS)
}

/// The directory that holds `services/` (and `target/`, `.fare/`).
fn workspace_root(services: &std::path::Path) -> PathBuf {
    let services = services.canonicalize().unwrap_or_else(|_| services.to_owned());
    services.parent().map(PathBuf::from).unwrap_or_else(|| PathBuf::from("."))
}
