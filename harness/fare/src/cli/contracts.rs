//! `fare contracts …`: the pacts in `contracts/pacts` held against the
//! manifests (`check`) and replayed against the real providers (`verify`;
//! `verify --via-queue` against what the running platform publishes); the
//! providers' messages served to other Pact tooling (`serve`).

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::Context;
use clap::{Args, Subcommand};

use kit::bus::Namespace;

use crate::contracts::verify::queue::QueueOptions;
use crate::contracts::verify::{self, VerifyOptions};
use crate::runtime::Runtime;

#[derive(Debug, Args)]
pub struct ContractsArgs {
    /// The directory of committed pact files.
    #[arg(long, global = true, default_value = "contracts/pacts", env = "FARE_PACTS_DIR")]
    pub pacts: PathBuf,
    #[command(subcommand)]
    pub command: ContractsCommand,
}

#[derive(Debug, Subcommand)]
pub enum ContractsCommand {
    /// Check the manifests and the pacts against each other; exit 1 if a rule fails.
    Check {
        /// Also write the findings as JUnit XML here.
        #[arg(long)]
        junit: Option<PathBuf>,
    },
    /// Replay every pact against its real provider with pact_verifier; exit 1 if one fails.
    Verify {
        /// Only the pacts of this provider (repeatable).
        #[arg(long)]
        provider: Vec<String>,
        /// Also write the result as JUnit XML here.
        #[arg(long)]
        junit: Option<PathBuf>,
        /// Instead: start the whole platform (in containers with `--runtime
        /// containers`), drive real flows, and match what arrives on SNS
        /// against every message pact (exit 2 if it cannot run).
        #[arg(long)]
        via_queue: bool,
        /// With --via-queue: the scenarios that make every provider publish
        /// every event it has a pact for (default: scenarios/contracts).
        #[arg(long, value_name = "DIR", requires = "via_queue")]
        flows: Option<PathBuf>,
        /// Print the result as JSON instead of a table (schema in docs/json.md).
        #[arg(long)]
        json: bool,
        /// Instead: verify the pacts a Pact Broker selects for the one --provider, and
        /// publish the results with --publish (see `--broker-url`).
        #[arg(long, conflicts_with = "via_queue")]
        broker: bool,
        #[command(flatten)]
        from_broker: super::deploy::VerifyBrokerArgs,
    },
    /// Start providers as `verify` does and serve them to other Pact tooling
    /// until Ctrl-C: the `message` transport (`POST /messages/PROVIDER`
    /// `{description, providerStates}`, answered by the provider's own
    /// builder) and provider states (`POST /states/PROVIDER`).
    Serve {
        /// The loopback port to listen on (0: any free one, printed).
        #[arg(long, default_value_t = 0)]
        port: u16,
        /// The providers to start (repeatable); every one fare can start when none.
        #[arg(long)]
        provider: Vec<String>,
    },
    /// Hold the pacts against what the last `fare e2e` and `fare chaos` ran:
    /// interactions not exercised, traffic without a pact, published
    /// messages that differ from their pacts.
    Coverage {
        /// A run's record (default: those `fare e2e` and `fare chaos` left
        /// in .fare/<namespace>-e2e/ and .fare/<namespace>-chaos/). Repeatable.
        #[arg(long)]
        record: Vec<PathBuf>,
        /// Exit 1 on a gap that `contracts/coverage.toml` does not accept.
        #[arg(long)]
        strict: bool,
        /// Also write the report as JUnit XML here.
        #[arg(long)]
        junit: Option<PathBuf>,
    },
    /// Publish the pacts to a Pact Broker (`POST /contracts/publish`), one request per consumer.
    Publish(super::deploy::PublishArgs),
    /// Ask a Pact Broker whether a version can be deployed to an environment; exit 1 if not.
    CanIDeploy(super::deploy::CanIDeployArgs),
    /// Record in a Pact Broker that a version is deployed to an environment.
    RecordDeployment(super::deploy::RecordDeploymentArgs),
    /// Create an environment in a Pact Broker.
    CreateEnvironment(super::deploy::CreateEnvironmentArgs),
}

pub async fn run(
    services: &Path,
    ns: &Namespace,
    runtime: Runtime,
    profile: &Option<String>,
    args: &ContractsArgs,
) -> anyhow::Result<ExitCode> {
    if std::env::var_os("PACT_DO_NOT_TRACK").is_none() {
        // SAFETY: nothing else of fare runs yet, and the runtime's idle
        // workers read no environment. Pact phones home unless told not to.
        unsafe { std::env::set_var("PACT_DO_NOT_TRACK", "true") };
    }
    match &args.command {
        ContractsCommand::Coverage { record, strict, junit } => {
            coverage(services, ns, &args.pacts, record, *strict, junit).await
        }
        ContractsCommand::Check { junit } => {
            let report = crate::contracts::check_dirs(services, &args.pacts)?;
            print!("{}", crate::contracts::table(&report));
            write_junit(junit, || crate::contracts::junit(&report))?;
            Ok(if report.passed() { ExitCode::SUCCESS } else { ExitCode::from(1) })
        }
        ContractsCommand::Serve { port, provider } => serve(services, profile, *port, provider).await,
        ContractsCommand::Publish(publish) => {
            super::deploy::publish(&super::workspace_root(services), &args.pacts, publish).await
        }
        ContractsCommand::CanIDeploy(can) => super::deploy::can_i_deploy(can).await,
        ContractsCommand::RecordDeployment(record) => super::deploy::record_deployment(record).await,
        ContractsCommand::CreateEnvironment(create) => super::deploy::create_environment(create).await,
        ContractsCommand::Verify { provider, broker: true, from_broker, .. } => {
            super::deploy::verify(&super::workspace_root(services), provider, from_broker).await
        }
        ContractsCommand::Verify { provider, junit, via_queue, json, flows, .. } => {
            // pact_verifier prints its own progress on standard output,
            // which --json keeps for the JSON alone: it goes to stderr then.
            let diverted = json.then(StdoutToStderr::divert);
            let report = if *via_queue {
                let options = QueueOptions {
                    root: super::workspace_root(services),
                    services_dir: services.to_owned(),
                    // Its own namespace: a platform already up is left alone.
                    namespace: Namespace::parse(&format!("pactq{}", std::process::id()))?,
                    build: true,
                    runtime,
                    flows: flows.clone().unwrap_or_else(|| QueueOptions::flows_of(&super::workspace_root(services))),
                };
                let progress = &mut |line: &str| crate::terminal::progress(line);
                verify::queue::verify_via_queue(&args.pacts, provider, &options, progress).await.with_context(|| {
                    format!("verifying the message pacts in {} over the real queue", args.pacts.display())
                })?
            } else {
                let options = VerifyOptions {
                    providers: provider.clone(),
                    services_dir: Some(services.to_owned()),
                    profile: profile.clone(),
                    ..VerifyOptions::default()
                };
                verify::verify_dir(&args.pacts, &options)
                    .await
                    .with_context(|| format!("verifying the pacts in {}", args.pacts.display()))?
            };
            drop(diverted);
            if *json {
                crate::json::print(&crate::json::VerifyDoc::new(&report))?;
            } else {
                print!("{}", verify::report::table(&report));
            }
            write_junit(junit, || verify::report::junit(&report))?;
            Ok(if report.passed() { ExitCode::SUCCESS } else { ExitCode::from(1) })
        }
    }
}

async fn coverage(
    services: &Path,
    ns: &Namespace,
    pacts: &Path,
    records: &[PathBuf],
    strict: bool,
    junit: &Option<PathBuf>,
) -> anyhow::Result<ExitCode> {
    let root = super::workspace_root(services);
    let records: Vec<PathBuf> = if records.is_empty() {
        ["e2e", "chaos"]
            .iter()
            .filter_map(|suffix| super::e2e::own_namespace(ns, suffix).ok())
            .map(|run| crate::runtime::state_dir(&root, &run).join(crate::trace::SavedRecord::FILE))
            .filter(|path| path.exists())
            .collect()
    } else {
        records.to_vec()
    };
    anyhow::ensure!(
        !records.is_empty(),
        "no run's record in .fare/{ns}-e2e/ or .fare/{ns}-chaos/: run `fare e2e` first"
    );
    for path in &records {
        crate::terminal::progress(&format!("reading {}", path.display()));
    }
    let allowed = pacts.parent().unwrap_or(Path::new(".")).join("coverage.toml");
    let report = crate::contracts::coverage::coverage(pacts, &records, &allowed).await?;
    print!("{}", crate::contracts::coverage::table(&report));
    write_junit(junit, || crate::contracts::coverage::junit(&report))?;
    Ok(if strict && !report.full() { ExitCode::from(1) } else { ExitCode::SUCCESS })
}

/// The providers and the stand-in of `verify`, served until a signal.
async fn serve(services: &Path, profile: &Option<String>, port: u16, wanted: &[String]) -> anyhow::Result<ExitCode> {
    let manifests = crate::manifest::load_all(services)?;
    let wanted: std::collections::BTreeSet<String> = if wanted.is_empty() {
        verify::providers::known(&manifests).into_iter().collect()
    } else {
        wanted.iter().cloned().collect()
    };
    let providers = verify::providers::Providers::start(&wanted, &manifests, profile.as_deref()).await?;
    let stop = tokio_util::sync::CancellationToken::new();
    let _stop = stop.clone().drop_guard();
    let addr = std::net::SocketAddr::from(([127, 0, 0, 1], port));
    let standin = verify::standin::StandIn::start_on(addr, providers.targets(), None, stop)
        .await
        .with_context(|| format!("listening on {addr}"))?;
    let port = standin.url.rsplit(':').next().unwrap_or_default();
    println!("{}/messages/PROVIDER", standin.url);
    for (name, url) in &providers.urls {
        crate::terminal::progress(&format!("{name} at {url}"));
    }
    crate::terminal::progress(&format!(
        "serving each provider's messages and states; e.g. `pact verifier --transports message:{port}/messages/store \
         --hostname 127.0.0.1 --provider-name store --file contracts/pacts/devices-store.json`; Ctrl-C stops"
    ));
    kit::shutdown_signal().await;
    Ok(ExitCode::SUCCESS)
}

fn write_junit(path: &Option<PathBuf>, render: impl FnOnce() -> String) -> anyhow::Result<()> {
    if let Some(path) = path {
        std::fs::write(path, render()).with_context(|| format!("writing {}", path.display()))?;
    }
    Ok(())
}

/// While it lives, whatever is written to standard output goes to standard
/// error instead.
struct StdoutToStderr {
    saved: libc::c_int,
}

impl StdoutToStderr {
    fn divert() -> StdoutToStderr {
        use std::io::Write;
        let _ = std::io::stdout().flush();
        // SAFETY: dup and dup2 on the process's own standard descriptors;
        // the saved copy is put back and closed on drop.
        let saved = unsafe { libc::dup(1) };
        if saved >= 0 {
            unsafe { libc::dup2(2, 1) };
        }
        StdoutToStderr { saved }
    }
}

impl Drop for StdoutToStderr {
    fn drop(&mut self) {
        use std::io::Write;
        let _ = std::io::stdout().flush();
        if self.saved >= 0 {
            // SAFETY: as in `divert`.
            unsafe {
                libc::dup2(self.saved, 1);
                libc::close(self.saved);
            }
        }
    }
}
