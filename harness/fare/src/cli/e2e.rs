//! `fare e2e [SCENARIO...]`: start the platform (or attach to a running
//! one, or go to an environment fare did not start: `--target FILE`, in
//! `remote.rs`), run the scenarios, write the reports; exit 0 when all
//! passed, 1 when one failed, 2 when fare could not run them.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Instant;

use anyhow::Context;
use kit::bus::Namespace;

use super::Cli;
use super::platform::Keep;
use crate::remote::{RemoteOptions, WhenNotApplicable};
use crate::runtime::{Platform, PlatformState, UpOptions, state_dir};
use crate::scenario::render::{self, TerminalProgress};
use crate::scenario::{self, Partition, RunOptions, RunReport, Share, Target};
use crate::trace::SavedRecord;

#[derive(Debug, Clone, clap::Args)]
pub struct E2eArgs {
    /// Scenarios to run, by name or file; all of them when none is given.
    pub scenarios: Vec<String>,
    /// The directory of the scenario files.
    #[arg(long, default_value = "scenarios", env = "FARE_SCENARIOS_DIR")]
    pub dir: PathBuf,
    /// Run against the platform `fare up` runs in the namespace instead of
    /// starting one (scenarios that stop services are then skipped).
    #[arg(long)]
    pub attach: bool,
    /// Run against an environment fare did not start, which this target
    /// file describes (TOML, or YAML; docs/remote.md): its services' URLs,
    /// its SNS/SQS endpoint, region and namespace, where fare receives its
    /// spans. Scenarios that program fakes or act on processes are not
    /// applicable there.
    #[arg(long, value_name = "FILE", env = "FARE_TARGET", conflicts_with_all = ["attach", "no_build"])]
    pub target: Option<PathBuf>,
    /// With --target: what a scenario that cannot run there becomes.
    #[arg(long, value_enum, value_name = "WHAT", default_value_t = WhenNotApplicable::Skip, requires = "target")]
    pub not_applicable: WhenNotApplicable,
    /// Write a JUnit XML report here (default when `CI` is set: target/e2e-junit.xml
    /// under the directory holding services/).
    #[arg(long)]
    pub junit: Option<PathBuf>,
    /// Print the summary as JSON on standard output (schema in docs/json.md).
    #[arg(long)]
    pub json: bool,
    /// Write the HTML report here (default: .fare/<namespace>/reports/e2e-<time>.html).
    #[arg(long)]
    pub html: Option<PathBuf>,
    /// Independent scenarios running at once.
    #[arg(long, default_value_t = 8)]
    pub jobs: usize,
    /// Skip `cargo build` (the binaries in target/debug must be current).
    #[arg(long)]
    pub no_build: bool,
    /// Run one partition of the scenarios, for a run sharded across CI
    /// runners: `count:M/N` deals them round-robin in name order, `hash:M/N`
    /// by a stable hash of each name (FNV-1a). `fare report merge` makes
    /// the partitions' reports one.
    #[arg(long, value_name = "KIND:M/N", env = "FARE_PARTITION")]
    pub partition: Option<Partition>,
    /// Also write the run's record here (it is always kept in
    /// .fare/<namespace>-e2e/record.json), for `fare report merge --record`.
    #[arg(long, value_name = "FILE", conflicts_with = "attach")]
    pub record: Option<PathBuf>,
    #[command(flatten)]
    pub restart: super::platform::RestartArgs,
    /// Replay the run of this seed: say where the faults struck otherwise
    /// than in the recorded run (default: a fresh seed, printed, for runs with faults).
    #[arg(long)]
    pub seed: Option<u64>,
}

pub async fn e2e(cli: &Cli, root: &Path, ns: Namespace, args: &E2eArgs) -> anyhow::Result<ExitCode> {
    let (topology, _) = crate::load_topology(&cli.services)?;
    let dir = if args.dir.is_absolute() { args.dir.clone() } else { root.join(&args.dir) };
    let all = scenario::load_dir(&dir, &args.scenarios, &topology)?;
    anyhow::ensure!(!all.is_empty(), "no scenario in {}", dir.display());
    let share = args.partition.map(|partition| Share { partition, of: all.len() });
    let scenarios = match &args.partition {
        Some(partition) => partition.select(all, |s| s.name.as_str()),
        None => all,
    };
    let progress_line = crate::terminal::progress;
    if let Some(share) = &share {
        progress_line(&format!("e2e: {}", share.line(scenarios.len())));
    }
    let options = RunOptions { jobs: args.jobs };
    let seed = super::replay::for_scenarios(&scenarios, args.seed, "e2e");
    let progress = Arc::new(TerminalProgress::new(scenarios.len()));
    let mut kept = Ok(());
    let (mut report, reports_dir) = if scenarios.is_empty() {
        // Nothing to start: the reports say so, and merge with the others.
        if let Some(path) = &args.record {
            SavedRecord::default().write(path).context("--record")?;
        }
        let ns = own_namespace(&ns, "e2e")?;
        (RunReport::nothing(ns.to_string()), state_dir(root, &ns).join("reports"))
    } else if let Some(file) = &args.target {
        let options = RemoteOptions { run: options.clone(), not_applicable: args.not_applicable };
        match super::remote::e2e(root, file, &topology, &scenarios, &options, args.record.as_deref(), progress).await? {
            Ok(ran) => ran,
            Err(interrupted) => return Ok(interrupted),
        }
    } else if args.attach {
        let state = PlatformState::load(root, &ns)?;
        let operator = crate::runtime::read_operator_token(root, &ns);
        let target = Target::new(&state, &ns, topology.clone(), operator).await?;
        progress_line(&format!("e2e: {} scenarios against the platform in namespace {ns}", scenarios.len()));
        let report = scenario::run_all(&target, &scenarios, None, &options, progress).await;
        (report, state_dir(root, &ns).join("reports"))
    } else {
        let (build, restart) = (!args.no_build, args.restart.options());
        let own = Own { suffix: "e2e", build, restart, topology: &topology, overrides: BTreeMap::new() };
        let (mut platform, ns) = own_platform(cli, root, &ns, own).await?;
        progress_line(&format!("{} scenarios", scenarios.len()));
        let target = Target::of(&platform)?;
        let report = scenario::run_all(&target, &scenarios, Some(&mut platform), &options, progress).await;
        let ran = report.scenarios.iter().map(|s| s.name.clone()).collect();
        kept = super::platform::stop_keeping(platform, Keep { scenarios: ran, copy: args.record.as_deref() }).await;
        (report, state_dir(root, &ns).join("reports"))
    };
    report.share = share;
    if let (Some(seed), Some(dir)) = (seed, reports_dir.parent()) {
        let moments = crate::replay::fault_moments(&report.scenarios);
        super::replay::keep(dir, "e2e", seed, args.seed.is_some(), moments);
    }
    let junit = args.junit.clone().or_else(|| on_ci().then(|| root.join(CI_JUNIT)));
    if let Some(path) = &junit {
        write(path, &render::junit(&report))?;
        progress_line(&format!("JUnit report in {}", path.display()));
    }
    let html = match &args.html {
        Some(path) => path.clone(),
        None => reports_dir.join(format!("e2e-{}.html", report.started_at.replace(':', "-"))),
    };
    write(&html, &render::html(&report, &topology))?;
    progress_line(&format!("HTML report in {}", html.display()));
    if args.json {
        crate::json::print(&crate::json::E2eDoc::new(&report, junit.as_deref(), &html))?;
    } else {
        print!("{}", render::summary(&report));
    }
    kept?;
    Ok(if report.failed() > 0 { ExitCode::from(1) } else { ExitCode::SUCCESS })
}

/// Where `fare e2e` writes JUnit on CI when no `--junit` is given, under
/// the directory holding `services/`.
pub const CI_JUNIT: &str = "target/e2e-junit.xml";

/// Whether this runs on CI: `CI` set to anything but empty, `0` or `false`
/// (the variable every CI service sets).
fn on_ci() -> bool {
    std::env::var("CI").is_ok_and(|v| !matches!(v.trim().to_ascii_lowercase().as_str(), "" | "0" | "false"))
}

/// What [`own_platform`] starts.
pub(super) struct Own<'a> {
    /// Its namespace is `<ns>-<suffix>`.
    pub suffix: &'static str,
    /// `cargo build` the services first.
    pub build: bool,
    pub restart: crate::runtime::RestartOptions,
    /// The topology, read already to check what will run on it.
    pub topology: &'a crate::topology::Topology,
    /// Laid over the e2e settings of every service.
    pub overrides: BTreeMap<String, String>,
}

/// A platform of its own, for `fare e2e` and `fare chaos`: in namespace
/// `<ns>-<suffix>` (a `fare up` in `ns` keeps running), from empty stores
/// (stock and orders of an earlier run do not leak in), with the e2e settings.
pub(super) async fn own_platform(
    cli: &Cli,
    root: &Path,
    ns: &Namespace,
    own: Own<'_>,
) -> anyhow::Result<(Platform, Namespace)> {
    let ns = own_namespace(ns, own.suffix)?;
    let up = UpOptions {
        services_dir: cli.services.clone(),
        endpoint: cli.endpoint.clone(),
        backend: cli.backend(),
        build: own.build,
        restart: own.restart,
        topology: Some(own.topology.clone()),
        empty_stores: true,
        runtime: cli.runtime,
        rebuild: cli.rebuild,
        profile: cli.profile.clone(),
        ..UpOptions::new(root, ns.clone())
    };
    let started = Instant::now();
    let mut env = scenario::e2e_env(&root.join("scenarios"))?;
    env.extend(own.overrides);
    let platform = Platform::up_with_env(&up, &env, &mut crate::terminal::progress).await?;
    crate::terminal::progress(&format!("platform ready in {:.1}s", started.elapsed().as_secs_f64()));
    Ok((platform, ns))
}

/// The namespace of the platform [`own_platform`] starts: `<ns>-<suffix>`.
pub(super) fn own_namespace(ns: &Namespace, suffix: &str) -> anyhow::Result<Namespace> {
    ns.suffixed(suffix).with_context(|| format!("the {suffix} namespace"))
}

/// Writes a report, creating its directory.
pub(super) fn write(path: &Path, text: &str) -> anyhow::Result<()> {
    if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
        std::fs::create_dir_all(parent).with_context(|| format!("creating {}", parent.display()))?;
    }
    std::fs::write(path, text).with_context(|| format!("writing {}", path.display()))
}

#[cfg(test)]
mod tests {
    use clap::Parser;

    use super::super::{Cli, Command};

    fn parse(args: &[&str]) -> Result<Cli, clap::Error> {
        Cli::try_parse_from([&["fare", "e2e"], args].concat())
    }

    #[test]
    fn a_bad_partition_names_the_flag_and_the_form_expected() {
        for bad in ["hash:0/3", "hash:4/3", "foo:1/2", "1/2", "count:1/0", "hash:one/3"] {
            let err = parse(&["--partition", bad]).unwrap_err();
            assert_eq!(err.kind(), clap::error::ErrorKind::ValueValidation, "{err}");
            let text = err.to_string();
            assert!(text.contains("--partition") && text.contains(bad), "{text}");
            assert!(text.contains("`count:M/N` or `hash:M/N`"), "{text}");
        }
        let Command::E2e(args) = parse(&["--partition", "hash:2/3", "--record", "r.json"]).unwrap().command else {
            panic!("not e2e")
        };
        assert_eq!(args.partition.map(|p| p.to_string()).as_deref(), Some("hash:2/3"));
        assert!(parse(&["--attach", "--record", "r.json"]).is_err(), "an attached run keeps no record");
    }

    #[test]
    fn a_target_file_excludes_attaching_and_building_and_alone_takes_not_applicable() {
        let Command::E2e(args) = parse(&["--target", "staging.toml", "--not-applicable", "fail"]).unwrap().command
        else {
            panic!("not e2e")
        };
        assert_eq!(args.target.as_deref(), Some(std::path::Path::new("staging.toml")));
        assert_eq!(args.not_applicable, super::WhenNotApplicable::Fail);
        let Command::E2e(args) = parse(&[]).unwrap().command else { panic!("not e2e") };
        assert_eq!(args.not_applicable, super::WhenNotApplicable::Skip, "the default needs no --target");
        for bad in [
            &["--target", "s.toml", "--attach"][..],
            &["--target", "s.toml", "--no-build"],
            &["--not-applicable", "fail"],
        ] {
            assert!(parse(bad).is_err(), "{bad:?}");
        }
    }
}
