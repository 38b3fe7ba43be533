//! `fare trace ID`: the causal tree of a chain, from the running
//! platform's recorder or from a run's saved record; given the events the
//! chain should reach, its broken hops; with `--as-scenario`, a scenario
//! written from the chain's record.

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Duration;

use anyhow::Context;
use kit::EventType;
use kit::bus::Namespace;

use crate::diagnosis::{self, Diagnosis, Environment, Expected};
use crate::runtime::{PlatformState, state_dir};
use crate::scenario::write::{self, ExpectFrom, WriteOptions};
use crate::trace::{SavedRecord, Trace};

#[derive(Debug, Clone, clap::Args)]
pub struct TraceArgs {
    /// The correlation id: the `X-Correlation-ID` of any response of the chain.
    correlation_id: String,
    /// Events the chain should reach, comma-separated (`order.placed,package.delivered`):
    /// each one missing is diagnosed, with the hop that broke and why.
    #[arg(long, value_delimiter = ',')]
    expect: Vec<String>,
    /// Print the trace (and the diagnosis, with --expect) as JSON.
    #[arg(long)]
    json: bool,
    /// Write a scenario from the chain's record instead (its requests from
    /// outside as steps, the fakes' answers, the faults fare injected, the
    /// chain as seen): to FILE, or to standard output without one.
    #[arg(long, value_name = "FILE", num_args = 0..=1, default_missing_value = "-")]
    as_scenario: Option<PathBuf>,
    /// With --as-scenario: expect the chain the topology derives from its
    /// first event, not the one seen, so the scenario fails until the chain completes.
    #[arg(long, requires = "as_scenario")]
    expect_topology: bool,
    /// With --expect-topology: events that should not happen, comma-separated
    /// [default: the alternatives whose names say they are failures].
    #[arg(long, value_delimiter = ',', requires = "expect_topology")]
    except: Vec<String>,
    /// Read the chain from a run's saved record (`fare e2e` and `fare chaos`
    /// leave `.fare/<namespace>/record.json`) instead of the running
    /// platform; the namespace's saved record is read when no platform runs.
    #[arg(long, value_name = "FILE")]
    record: Option<PathBuf>,
}

/// Where the chain is read from.
enum Source {
    Running(PlatformState, String),
    Saved(SavedRecord),
}

pub async fn trace(root: &Path, services: &Path, ns: &Namespace, args: &TraceArgs) -> anyhow::Result<ExitCode> {
    let events = |list: &[String], flag: &str| -> anyhow::Result<Vec<EventType>> {
        list.iter().map(|e| EventType::parse(e).with_context(|| format!("--{flag} {e}"))).collect()
    };
    let expected = events(&args.expect, "expect")?;
    let except = events(&args.except, "except")?;
    let source = source(root, ns, args.record.as_deref())?;
    let http = reqwest::Client::builder().timeout(Duration::from_secs(10)).build()?;
    if let Some(out) = &args.as_scenario {
        let expect = match args.expect_topology {
            true => ExpectFrom::Topology { except: (!except.is_empty()).then_some(except) },
            false => ExpectFrom::Seen,
        };
        return as_scenario(&http, source, services, args, out, expect).await;
    }
    let trace: Trace = match &source {
        Source::Running(_, recorder) => {
            let url = format!("{recorder}/traces/{}", args.correlation_id);
            http.get(&url).send().await?.error_for_status()?.json().await.with_context(|| url.clone())?
        }
        Source::Saved(record) => record.trace(&args.correlation_id),
    };
    let diagnosis = if expected.is_empty() {
        None
    } else {
        let (topology, _) = crate::load_topology(services)?;
        // What the platform shows now, when there is one to look at.
        let env = match &source {
            Source::Running(state, _) => {
                let bus = crate::connect(&state.endpoint, ns).await?;
                let list: Vec<(String, String)> =
                    state.services.iter().map(|s| (s.name.clone(), s.url.clone())).collect();
                Environment::observe(&bus, &topology, &list).await
            }
            Source::Saved(_) => Environment::default(),
        };
        let hops = diagnosis::diagnose(&trace, Expected::Events(&expected), &topology, ns, &env, "main");
        Some(Diagnosis { label: "main".into(), correlation_id: args.correlation_id.clone(), hops })
    };
    if args.json {
        crate::json::print(&crate::json::TraceDoc { trace: &trace, diagnosis: diagnosis.as_ref() })?;
    } else {
        print!("{}", trace.render_text());
        match &diagnosis {
            Some(d) if d.hops.is_empty() => println!("every expected event happened"),
            Some(d) => println!("{d}"),
            None => {}
        }
    }
    Ok(match diagnosis {
        Some(d) if !d.hops.is_empty() => ExitCode::from(1),
        None if trace.events.is_empty() => ExitCode::from(1),
        _ => ExitCode::SUCCESS,
    })
}

/// `--record FILE`; else the running platform; else the namespace's saved record.
fn source(root: &Path, ns: &Namespace, record: Option<&Path>) -> anyhow::Result<Source> {
    if let Some(path) = record {
        return Ok(Source::Saved(SavedRecord::read(path)?));
    }
    match PlatformState::load(root, ns) {
        Ok(state) => {
            let recorder = state.recorder_url.clone().context("this platform runs without a trace recorder")?;
            Ok(Source::Running(state, recorder))
        }
        Err(not_running) => {
            let saved = state_dir(root, ns).join(SavedRecord::FILE);
            if !saved.is_file() {
                return Err(not_running.into());
            }
            crate::terminal::progress(&format!("no platform runs in {ns}: reading the record {}", saved.display()));
            Ok(Source::Saved(SavedRecord::read(&saved)?))
        }
    }
}

/// Writes the scenario of the chain to `out` (`-`: standard output).
async fn as_scenario(
    http: &reqwest::Client,
    source: Source,
    services: &Path,
    args: &TraceArgs,
    out: &Path,
    expect: ExpectFrom,
) -> anyhow::Result<ExitCode> {
    let record = match source {
        Source::Saved(record) => record,
        Source::Running(state, recorder) => {
            let url = format!("{recorder}/record");
            let mut record: SavedRecord =
                http.get(&url).send().await?.error_for_status()?.json().await.with_context(|| url.clone())?;
            let fakes: Vec<(String, String)> = state.fakes.iter().map(|f| (f.name.clone(), f.url.clone())).collect();
            record.add_fakes(&fakes).await;
            record
        }
    };
    let (topology, _) = crate::load_topology(services)?;
    let options = WriteOptions { expect, command: Some(command(args, out)) };
    let written = write::write(&record, &args.correlation_id, &topology, &options)?;
    for note in &written.notes {
        eprintln!("fare: note: {note}");
    }
    if out == Path::new("-") {
        print!("{}", written.yaml);
    } else {
        super::e2e::write(out, &written.yaml)?;
        crate::terminal::progress(&format!("wrote {}; `fare e2e {}` runs it", out.display(), out.display()));
    }
    Ok(ExitCode::SUCCESS)
}

/// The command line that writes the scenario, as its file names it.
fn command(args: &TraceArgs, out: &Path) -> String {
    let mut words = vec!["fare trace".to_owned(), args.correlation_id.clone(), "--as-scenario".into()];
    if out != Path::new("-") {
        words.push(out.display().to_string());
    }
    if args.expect_topology {
        words.push("--expect-topology".into());
    }
    if !args.except.is_empty() {
        words.push(format!("--except {}", args.except.join(",")));
    }
    if let Some(record) = &args.record {
        words.push(format!("--record {}", record.display()));
    }
    words.join(" ")
}
