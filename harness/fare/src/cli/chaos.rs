//! `fare chaos`: start a platform of its own, run the fault matrix, print
//! the table, stop it; exit 0 when every cell held, 1 when one did not, 2
//! when fare could not run.

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
    /// Write a JUnit XML report here.
    #[arg(long)]
    pub junit: Option<std::path::PathBuf>,
    /// Independent cells running at once.
    #[arg(long, default_value_t = 8)]
    pub jobs: usize,
    /// Skip `cargo build` (the binaries in target/debug must be current).
    #[arg(long)]
    pub no_build: bool,
}

pub async fn chaos(cli: &Cli, root: &Path, ns: Namespace, args: &ChaosArgs) -> anyhow::Result<ExitCode> {
    let (topology, _) = crate::load_topology(&cli.services)?;
    let all = chaos::matrix(&topology);
    let mut cells = if args.quick { chaos::quick(&all) } else { all };
    cells.retain(|c| args.kind.is_empty() || args.kind.contains(&c.kind));
    if args.list {
        print!("{}", report::list(&cells));
        return Ok(ExitCode::SUCCESS);
    }
    let restart = crate::runtime::RestartOptions::default();
    let (mut platform, ns) = super::e2e::own_platform(cli, root, &ns, "chaos", !args.no_build, restart).await?;
    crate::terminal::progress(&format!("{} chaos cells", cells.len()));
    let target = Target::new(&platform.state, &ns, topology).await?;
    let progress = Arc::new(TerminalProgress::new(cells.len()));
    let options = RunOptions { jobs: args.jobs };
    let report = chaos::run(&target, &cells, &mut platform, &options, progress).await;
    super::platform::stop(platform);
    print!("{}", report::table(&report));
    if let Some(path) = &args.junit {
        super::e2e::write(path, &report::junit(&report))?;
        crate::terminal::progress(&format!("JUnit report in {}", path.display()));
    }
    Ok(if report.failed() > 0 { ExitCode::from(1) } else { ExitCode::SUCCESS })
}
