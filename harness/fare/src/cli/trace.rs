//! `fare trace ID`: the causal tree of a chain of a running platform, and,
//! given the events the chain should reach, the broken hop.

use std::path::Path;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::Context;
use kit::EventType;
use kit::bus::Namespace;

use crate::runtime::PlatformState;
use crate::trace::{Environment, Trace, diagnose};

#[derive(Debug, Clone, clap::Args)]
pub struct TraceArgs {
    /// The correlation id: the `X-Correlation-ID` of any response of the chain.
    correlation_id: String,
    /// Events the chain should reach, comma-separated (`order.placed,package.delivered`):
    /// the first one missing is diagnosed.
    #[arg(long, value_delimiter = ',')]
    expect: Vec<String>,
    /// Print the trace as JSON.
    #[arg(long)]
    json: bool,
}

pub async fn trace(root: &Path, services: &Path, ns: &Namespace, args: &TraceArgs) -> anyhow::Result<ExitCode> {
    let expected: Vec<EventType> = args
        .expect
        .iter()
        .map(|e| EventType::parse(e).with_context(|| format!("--expect {e}")))
        .collect::<Result<_, _>>()?;
    let state = PlatformState::load(root, ns.as_str())?;
    let recorder = state.recorder_url.clone().context("this platform runs without a trace recorder")?;
    let http = reqwest::Client::builder().timeout(Duration::from_secs(5)).build()?;
    let url = format!("{recorder}/traces/{}", args.correlation_id);
    let trace: Trace = http.get(&url).send().await?.error_for_status()?.json().await.with_context(|| url.clone())?;
    if args.json {
        println!("{}", serde_json::to_string_pretty(&trace)?);
    } else {
        print!("{}", trace.render_text());
    }
    if expected.is_empty() {
        return Ok(if trace.events.is_empty() { ExitCode::from(1) } else { ExitCode::SUCCESS });
    }
    let (topology, _) = crate::load_topology(services)?;
    let mut env = Environment::default();
    for s in &state.services {
        if !http.get(format!("{}/health", s.url)).send().await.is_ok_and(|r| r.status().is_success()) {
            env.down.insert(s.name.clone());
        }
    }
    match diagnose(&trace, &topology, &expected, &env) {
        Some(diagnosis) => {
            println!("{diagnosis}");
            Ok(ExitCode::from(1))
        }
        None => {
            println!("every expected event happened");
            Ok(ExitCode::SUCCESS)
        }
    }
}
