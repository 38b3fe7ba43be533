//! `fare chaos`: start a platform of its own, run the fault matrix, print
//! the table, stop it; exit 0 when every cell held, 1 when one did not, 2
//! when fare could not run.

use std::collections::BTreeMap;
use std::path::Path;
use std::process::ExitCode;
use std::sync::Arc;

use kit::bus::Namespace;

use super::Cli;
use crate::chaos::{self, report};
use crate::scenario::render::TerminalProgress;
use crate::scenario::{RunOptions, Target};

#[derive(Debug, Clone, clap::Args)]
pub struct ChaosArgs {
    /// A small subset that still covers every fault kind, one hop each (for CI).
    #[arg(long)]
    pub quick: bool,
    /// Print the cells and exit without running them.
    #[arg(long)]
    pub list: bool,
    /// Only the cells of these kinds.
    #[arg(long, value_enum, value_delimiter = ',')]
    pub kind: Vec<chaos::Kind>,
    /// Only the cells at hops of these events.
    #[arg(long, value_delimiter = ',')]
    pub event: Vec<String>,
    /// Only the cells at hops of these services.
    #[arg(long, value_delimiter = ',')]
    pub service: Vec<String>,
    /// Write a JUnit XML report here.
    #[arg(long)]
    pub junit: Option<std::path::PathBuf>,
    /// Independent cells running at once.
    #[arg(long, default_value_t = 8)]
    pub jobs: usize,
    /// Instead of the matrix: place this many orders while services are
    /// SIGKILLed at random points, then count every effect from the
    /// services' APIs (each exactly once per order).
    #[arg(long, value_name = "N")]
    pub load: Option<usize>,
    /// With --load: how many SIGKILLs, each of a service picked at random.
    #[arg(long, default_value_t = 3, requires = "load")]
    pub kills: usize,
    /// With --load: users placing orders side by side, each one at a time.
    #[arg(long, default_value_t = 10, requires = "load")]
    pub users: usize,
    /// Replay the run of this seed: the same kills at the same points with
    /// --load, and, for the matrix and the load alike, say where this run
    /// came out otherwise than the recorded one (default: a fresh seed, printed).
    #[arg(long)]
    pub seed: Option<u64>,
    /// With --load: print the report as JSON (see docs/json.md) instead of the table.
    #[arg(long, requires = "load")]
    pub json: bool,
    /// Skip `cargo build` (the binaries in target/debug must be current).
    #[arg(long)]
    pub no_build: bool,
    /// The chains every cell drives, a scenario whose expectations are the
    /// happy path's (default: scenarios/chaos/cell.yaml).
    #[arg(long, value_name = "FILE", env = "FARE_CHAOS_WORKLOAD")]
    pub workload: Option<std::path::PathBuf>,
    /// With --load: the users, orders and effects the load drives and
    /// counts (default: scenarios/chaos/load.yaml; format in docs/load.md).
    #[arg(long, value_name = "FILE", env = "FARE_LOAD_WORKLOAD", requires = "load")]
    pub load_workload: Option<std::path::PathBuf>,
}

pub async fn chaos(cli: &Cli, root: &Path, ns: Namespace, args: &ChaosArgs) -> anyhow::Result<ExitCode> {
    let (topology, _) = crate::load_topology(&cli.services)?;
    if let Some(orders) = args.load {
        return load(cli, root, &ns, args, orders, topology).await;
    }
    let path = args.workload.clone().unwrap_or_else(|| chaos::Workload::default_path(root));
    let workload = Arc::new(chaos::Workload::load(&path)?);
    let all = chaos::matrix(&topology, &workload, cli.profile.as_deref());
    let mut cells = if args.quick { chaos::quick(&all) } else { all };
    cells.retain(|c| args.kind.is_empty() || args.kind.contains(&c.kind));
    cells.retain(|c| args.event.is_empty() || args.event.iter().any(|e| e == c.hop.event.as_str()));
    cells.retain(|c| args.service.is_empty() || c.hop.service.as_ref().is_some_and(|s| args.service.contains(s)));
    if args.list {
        print!("{}", report::list(&cells, cli.runtime));
        return Ok(ExitCode::SUCCESS);
    }
    let restart = crate::runtime::RestartOptions::default();
    let overrides = BTreeMap::new();
    let own = super::e2e::Own { suffix: "chaos", build: !args.no_build, restart, topology: &topology, overrides };
    let seed = super::replay::seed(args.seed, "chaos");
    let (mut platform, ns) = super::e2e::own_platform(cli, root, &ns, own).await?;
    crate::terminal::progress(&format!("{} chaos cells", cells.len()));
    let target = Target::of(&platform)?;
    let progress = Arc::new(TerminalProgress::new(cells.len()));
    let options = RunOptions { jobs: args.jobs };
    let report = chaos::run(&target, &cells, &mut platform, &options, progress).await;
    super::platform::stop(platform).await;
    let moments = crate::replay::fault_moments(report.cells.iter().filter_map(|c| c.report.as_ref()));
    super::replay::keep(&crate::runtime::state_dir(root, &ns), "chaos", seed, args.seed.is_some(), moments);
    print!("{}", report::table(&report));
    if let Some(path) = &args.junit {
        super::e2e::write(path, &report::junit(&report))?;
        crate::terminal::progress(&format!("JUnit report in {}", path.display()));
    }
    Ok(if report.failed() > 0 { ExitCode::from(1) } else { ExitCode::SUCCESS })
}

/// `fare chaos --load N`.
async fn load(
    cli: &Cli,
    root: &Path,
    ns: &Namespace,
    args: &ChaosArgs,
    orders: usize,
    topology: crate::Topology,
) -> anyhow::Result<ExitCode> {
    anyhow::ensure!(orders > 0 && args.users > 0, "--load and --users take at least 1");
    let path = args.load_workload.clone().unwrap_or_else(|| crate::workload::Workload::default_path(root));
    let workload = crate::workload::Workload::read(&path)?;
    workload.fits(&topology)?;
    let options = chaos::LoadOptions {
        orders,
        kills: args.kills,
        users: args.users.min(orders),
        seed: super::replay::seed(args.seed, "load"),
    };
    let restart = crate::runtime::RestartOptions::default();
    let overrides = workload.platform_env(BTreeMap::new(), orders, false)?;
    let own = super::e2e::Own { suffix: "load", build: !args.no_build, restart, topology: &topology, overrides };
    let (mut platform, ns) = super::e2e::own_platform(cli, root, ns, own).await?;
    let target = Target::of(&platform)?;
    crate::terminal::progress(&format!(
        "{orders} orders from {} users, {} SIGKILLs at random points (seed {})",
        options.users, options.kills, options.seed
    ));
    let report = chaos::load::run(&target, &mut platform, &workload, &options, &crate::terminal::progress).await;
    platform.stop();
    let mut report = report?;
    let dir = crate::runtime::state_dir(root, &ns);
    report.diverged = super::replay::keep(&dir, "load", options.seed, args.seed.is_some(), report.choices());
    if args.json {
        crate::json::print(&report)?;
    } else {
        print!("{}", report::load_table(&report));
    }
    Ok(if report.held() { ExitCode::SUCCESS } else { ExitCode::from(1) })
}
