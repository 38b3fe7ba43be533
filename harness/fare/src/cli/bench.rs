//! `fare bench`: a platform of its own, timed; the table on standard
//! output, progress on standard error, the figures as JSON with `--json`.

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Duration;

use kit::bus::Namespace;

use super::Cli;
use crate::bench::{self, BenchOptions, Mode};
use crate::runtime::UpOptions;

#[derive(Debug, Clone, clap::Args)]
pub struct BenchArgs {
    /// Orders to place, each by the load workload's `order.place`.
    #[arg(long, default_value_t = 100)]
    pub orders: usize,
    /// Place this many orders per second, whatever the platform does
    /// (default: one at a time, each after the last one's chain ended).
    #[arg(long, value_name = "PER_SECOND", conflicts_with = "burst")]
    pub rate: Option<f64>,
    /// Place every order at once (8 requests in flight): what the platform carries.
    #[arg(long)]
    pub burst: bool,
    /// Seconds the platform idles while fare's own emulator calls are counted.
    #[arg(long, default_value_t = 5)]
    pub idle_seconds: u64,
    /// Write the figures as JSON to this file too (`-` for standard output, instead of the table).
    #[arg(long, value_name = "FILE")]
    pub json: Option<PathBuf>,
    /// Skip `cargo build` (the binaries in target/debug must be current).
    #[arg(long)]
    pub no_build: bool,
    /// Then place the orders again with this many of the workload's
    /// `flood` requests kept in flight (on the reference platform, logins
    /// with valid credentials: each costs a password hash unless users
    /// refuses it with 429), and set both rounds' figures side by side.
    #[arg(long, visible_alias = "flood", value_name = "REQUESTS", default_value_t = 0)]
    pub login_flood: usize,
    /// The users, orders and chain end the bench drives (default:
    /// scenarios/chaos/load.yaml; format in docs/load.md).
    #[arg(long, value_name = "FILE", env = "FARE_LOAD_WORKLOAD")]
    pub load_workload: Option<PathBuf>,
}

pub async fn bench(cli: &Cli, root: &Path, ns: Namespace, args: &BenchArgs) -> anyhow::Result<ExitCode> {
    anyhow::ensure!(args.orders > 0, "--orders takes at least 1");
    let mode = match (args.rate, args.burst) {
        (Some(per_second), _) => {
            anyhow::ensure!(per_second > 0.0, "--rate takes a number of orders per second above 0");
            Mode::Rate { per_second }
        }
        (None, true) => Mode::Burst,
        (None, false) => Mode::OneAtATime,
    };
    let ns = Namespace::parse(&format!("{}-bench", ns.as_str()).chars().take(34).collect::<String>())?;
    let (topology, _) = crate::load_topology(&cli.services)?;
    let up = UpOptions {
        services_dir: cli.services.clone(),
        endpoint: cli.endpoint.clone(),
        backend: cli.backend(),
        topology: Some(topology),
        ..UpOptions::new(root, ns)
    };
    let path = args.load_workload.clone().unwrap_or_else(|| crate::workload::Workload::default_path(root));
    let workload = std::sync::Arc::new(crate::workload::Workload::read(&path)?);
    let options = BenchOptions {
        orders: args.orders,
        mode,
        idle: Duration::from_secs(args.idle_seconds),
        build: !args.no_build,
        login_flood: args.login_flood,
        workload,
    };
    let report = bench::run(up, &options, &crate::terminal::progress).await?;
    let json = serde_json::to_string_pretty(&report)?;
    match args.json.as_deref() {
        Some(path) if path == Path::new("-") => println!("{json}"),
        Some(path) => {
            super::e2e::write(path, &json)?;
            print!("{}", bench::table(&report));
            crate::terminal::progress(&format!("figures in {}", path.display()));
        }
        None => print!("{}", bench::table(&report)),
    }
    Ok(ExitCode::SUCCESS)
}
