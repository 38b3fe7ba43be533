//! `fare trace ID`: the causal tree of a chain of a running platform, and,
//! given the events the chain should reach, its broken hops.

use std::path::Path;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::Context;
use kit::EventType;
use kit::bus::Namespace;

use crate::diagnosis::{self, Diagnosis, Environment, Expected};
use crate::runtime::PlatformState;
use crate::trace::Trace;

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
}

pub async fn trace(root: &Path, services: &Path, ns: &Namespace, args: &TraceArgs) -> anyhow::Result<ExitCode> {
    let expected: Vec<EventType> = args
        .expect
        .iter()
        .map(|e| EventType::parse(e).with_context(|| format!("--expect {e}")))
        .collect::<Result<_, _>>()?;
    let state = PlatformState::load(root, ns)?;
    let recorder = state.recorder_url.clone().context("this platform runs without a trace recorder")?;
    let http = reqwest::Client::builder().timeout(Duration::from_secs(10)).build()?;
    let url = format!("{recorder}/traces/{}", args.correlation_id);
    let trace: Trace = http.get(&url).send().await?.error_for_status()?.json().await.with_context(|| url.clone())?;
    let diagnosis = if expected.is_empty() {
        None
    } else {
        let (topology, _) = crate::load_topology(services)?;
        let bus = crate::connect(&state.endpoint, ns).await?;
        let list: Vec<(String, String)> = state.services.iter().map(|s| (s.name.clone(), s.url.clone())).collect();
        let env = Environment::observe(&bus, &topology, &list).await;
        let hops = diagnosis::diagnose(&trace, Expected::Events(&expected), &topology, ns, &env, "main");
        Some(Diagnosis { label: "main".into(), correlation_id: args.correlation_id.clone(), hops })
    };
    if args.json {
        let out = serde_json::json!({ "trace": trace, "diagnosis": diagnosis });
        println!("{}", serde_json::to_string_pretty(&out)?);
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
