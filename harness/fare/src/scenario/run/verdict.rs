//! The verdict on a scenario run: every chain read from the record and
//! compared with its expectation, the final HTTP state and the dead letters
//! checked and, when something did not hold, each chain's broken hops.

use std::collections::BTreeMap;
use std::time::Instant;

use kit::EventType;

use super::correlation_id;
use crate::diagnosis::{self, Diagnosis, Environment, Evidence, Expected};
use crate::scenario::chain;
use crate::scenario::failure::{DeadLetterCount, Failure};
use crate::scenario::http;
use crate::scenario::model::{ChainExpectation, Label, Scenario, Step};
use crate::scenario::report::{ChainReport, Line, Outcome, ScenarioReport};
use crate::scenario::target::Target;
use crate::scenario::template::Vars;
use crate::trace::{ChainDiff, DeadLetter};

/// Reads every chain from the record and compares it with its
/// expectation, whether or not the steps held; checks the final HTTP state
/// and the dead letters only if they did.
pub(super) async fn check(target: &Target, s: &Scenario, base: &str, vars: &mut Vars, report: &mut ScenarioReport) {
    let steps_ok = report.steps.iter().all(Line::ok);
    gather(target, s, base, report).await;
    compare_chains(target, s, report);
    if steps_ok {
        check_final_state(target, s, base, vars, report).await;
    }
}

/// Reads every chain of the scenario from the record (all at once: each
/// read waits for the record to catch up), and its dead letters.
async fn gather(target: &Target, s: &Scenario, base: &str, report: &mut ScenarioReport) {
    let t = Instant::now();
    let labels = s.labels();
    let reads = labels.iter().map(|label| {
        let cid = correlation_id(base, label);
        async move { (label, target.trace(&cid, true).await, cid) }
    });
    for (label, read, cid) in futures_util::future::join_all(reads).await {
        match read {
            Ok(trace) => {
                for d in &trace.dead_letters {
                    if !report.dead_letters.iter().any(|k| k.message_id == d.message_id) {
                        report.dead_letters.push(d.clone());
                    }
                }
                report.chains.push(ChainReport { label: label.to_string(), correlation_id: cid, trace, diff: None });
            }
            Err(e) => report.checks.push(Line::new(format!("read chain {label}"), t, Err(Failure::harness(&e)))),
        }
    }
}

/// Compares each chain with its expectation; run whether or not the steps held.
fn compare_chains(target: &Target, s: &Scenario, report: &mut ScenarioReport) {
    for chain in &mut report.chains {
        let t = Instant::now();
        let label = Label::try_from(chain.label.clone()).unwrap_or_default();
        let Some(expectation) = expectation(s, &label) else { continue };
        let diff = ChainDiff::between(&chain::expected_paths(expectation, &target.topology), &chain.trace.paths());
        let how = match expectation {
            ChainExpectation::Tree(_) => "as written",
            ChainExpectation::Derive { .. } => "as the topology predicts",
        };
        let result = if diff.is_empty() {
            Ok(format!("{} events, {how}", chain.trace.events.len()))
        } else {
            Err(Failure::Chain { diff: diff.clone() })
        };
        report.checks.push(Line::new(format!("chain {label}"), t, result));
        chain.diff = Some(diff);
    }
}

/// The final HTTP state the scenario expects, and its dead letters.
async fn check_final_state(target: &Target, s: &Scenario, base: &str, vars: &mut Vars, report: &mut ScenarioReport) {
    for h in &s.file.expect.http {
        report.checks.push(http::run(target, vars, h, &correlation_id(base, &h.chain)).await);
    }
    let t = Instant::now();
    report.checks.push(Line::new("dead letters", t, dead_letters(&s.file.expect.dead_letters, &report.dead_letters)));
}

fn dead_letters(expected: &BTreeMap<String, usize>, found: &[DeadLetter]) -> Result<String, Failure> {
    let mut by_service: BTreeMap<&str, usize> = BTreeMap::new();
    for l in found {
        *by_service.entry(l.service.as_str()).or_default() += 1;
    }
    let services: std::collections::BTreeSet<&str> =
        by_service.keys().copied().chain(expected.keys().map(String::as_str)).collect();
    let wrong: Vec<DeadLetterCount> = services
        .into_iter()
        .filter_map(|s| {
            let (want, got) = (expected.get(s).copied().unwrap_or(0), by_service.get(s).copied().unwrap_or(0));
            (want != got).then(|| DeadLetterCount { service: s.to_owned(), found: got, expected: want })
        })
        .collect();
    if wrong.is_empty() {
        let all: Vec<String> = by_service.iter().map(|(s, n)| format!("{s}: {n}")).collect();
        Ok(if all.is_empty() { "none".into() } else { all.join(", ") })
    } else {
        Err(Failure::DeadLetters { wrong })
    }
}

/// If anything did not hold, fails the scenario and names each chain's
/// broken hops, from the record and the platform as it is now (whether it
/// was `stuck`, its queues and dead letters, the steps that failed).
pub(super) async fn diagnose(
    target: &Target,
    s: &Scenario,
    report: &mut ScenarioReport,
    stuck: bool,
    began_unix_nanos: u64,
) {
    if report.failures().next().is_none() {
        return;
    }
    report.outcome = Outcome::Failed;
    let mut env = Environment::observe(&target.bus, &target.topology, &target.service_list()).await;
    env.stuck = stuck;
    env.began_unix_nanos = Some(began_unix_nanos);
    env.failed_steps = report
        .steps
        .iter()
        .filter_map(|l| {
            let label = l.chain.clone().unwrap_or_else(|| Label::main().to_string());
            Some((label, Evidence::Step { what: l.what.clone(), detail: l.failure()?.to_string() }))
        })
        .collect();
    report.diagnosis = broken_hops(target, s, report, &env);
}

/// Each chain's broken hops, against its `expect` or, without one, the
/// events its `wait_for` steps waited on.
fn broken_hops(target: &Target, s: &Scenario, report: &ScenarioReport, env: &Environment) -> Vec<Diagnosis> {
    let mut out = Vec::new();
    for c in &report.chains {
        let label = Label::try_from(c.label.clone()).unwrap_or_default();
        let paths = expectation(s, &label).map(|e| chain::expected_paths(e, &target.topology));
        let waited: Vec<EventType> = s
            .file
            .steps
            .iter()
            .filter_map(|step| match step {
                Step::WaitFor(w) if w.chain == label => Some(w.event.clone()),
                _ => None,
            })
            .collect();
        let expected = match &paths {
            Some(paths) => Expected::Paths(paths),
            None if !waited.is_empty() => Expected::Events(&waited),
            None => continue,
        };
        let ns = &target.bus.namespace;
        let hops = diagnosis::diagnose(&c.trace, expected, &target.topology, ns, env, &c.label);
        if !hops.is_empty() {
            out.push(Diagnosis { label: c.label.clone(), correlation_id: c.correlation_id.clone(), hops });
        }
    }
    out
}

/// The chain expectation of `label`, if the scenario has one.
fn expectation<'s>(s: &'s Scenario, label: &Label) -> Option<&'s ChainExpectation> {
    if *label == Label::main() {
        s.file.expect.chain.as_ref().or_else(|| s.file.expect.chains.get(label))
    } else {
        s.file.expect.chains.get(label)
    }
}
