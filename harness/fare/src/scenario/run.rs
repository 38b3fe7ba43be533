//! Running one scenario: its chains' correlation ids, the fakes programmed
//! for them, the faults armed, the steps, quiescence, then the checks and,
//! when something did not hold, the diagnosis. Everything is read from the
//! recorder's record, and a failed step never keeps the chains from being
//! compared and diagnosed.

use std::collections::BTreeMap;
use std::time::Instant;

use kit::EventType;
use serde_json::Value;
use tokio::sync::Mutex;

use super::chain;
use super::failure::{DeadLetterCount, Failure};
use super::faults::{self, Gate, OnProcesses, Tap, Waiter};
use super::http;
use super::model::{ChainExpectation, Fault, Label, Scenario, Step};
use super::report::{ChainReport, Line, Outcome, ScenarioReport};
use super::target::Target;
use super::template::Vars;
use crate::diagnosis::{self, Diagnosis, Environment, Evidence, Expected};
use crate::fakes::{FakeClient, Rule};
use crate::runtime::Platform;
use crate::trace::{ChainDiff, DeadLetter, InjectedFault, ProgrammedRule};

/// The correlation id of one chain of a scenario run.
pub fn correlation_id(base: &str, label: &Label) -> String {
    if *label == Label::main() { base.to_owned() } else { format!("{base}.{label}") }
}

/// `e2e-<scenario>-<run>`: valid as a correlation id, unique per run.
pub fn base_id(scenario: &str, run: &str) -> String {
    let name: String = scenario
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() || c == '-' { c.to_ascii_lowercase() } else { '-' })
        .take(80)
        .collect();
    format!("e2e-{name}-{run}")
}

/// Runs `s`; `control` is needed for scenarios that stop services.
pub async fn run_one(
    target: &Target,
    s: &Scenario,
    run: &str,
    control: Option<&Mutex<&mut Platform>>,
) -> ScenarioReport {
    let started = Instant::now();
    let began_unix_nanos = time::OffsetDateTime::now_utc().unix_timestamp_nanos().max(0) as u64;
    let base = base_id(&s.name, run);
    let mut report = ScenarioReport::of(s, base.clone());
    if let (Some(why), None) = (s.needs_control(), control) {
        report.outcome = Outcome::Skipped(format!("{why}: run it on a platform `fare e2e` starts (not --attach)"));
        return report;
    }
    let mut vars = Vars::default();
    vars.set("run", Value::String(run.to_owned()));
    vars.set("scenario", Value::String(s.name.clone()));
    vars.set("correlation_id", Value::String(base.clone()));
    for (name, value) in &s.file.vars {
        let t = Instant::now();
        match vars.text(value) {
            Ok(v) => vars.set(name, Value::String(v)),
            Err(e) => report.steps.push(Line::new(format!("vars.{name}"), t, Err(e.into()))),
        }
    }
    let programmed = program_fakes(target, s, &base, &mut report.steps).await;
    let taps = open_taps(target, s, &base, &mut report.steps).await;
    let (hooked, handler_faults) = set_handler_faults(target, s, &base, control, &mut report.steps).await;
    let filtered = filter_out(target, s, &base, &mut report.steps).await;
    if report.steps.iter().all(Line::ok) {
        // Once the steps are done nothing more will be asked of the
        // platform: a fault still waiting may then give up when it is quiet.
        let gate = Gate::default();
        let steps = async {
            let lines = run_steps(target, s, &base, &mut vars, control, &gate).await;
            gate.steps_done();
            lines
        };
        let (steps, fault_lines) = tokio::join!(steps, run_faults(target, s, &base, control, &taps, &gate));
        report.steps.extend(fault_lines);
        report.steps.extend(steps);
    }
    for (tap, ..) in taps {
        tap.close().await;
    }
    let t = Instant::now();
    let mut stuck = false;
    match target.wait_quiet().await {
        Ok(took) => report.quiet_after = Some(took),
        Err(e) => {
            stuck = e.is_stuck();
            report.steps.push(Line::new("wait until quiet", t, Err(e.into())));
        }
    }
    let verdict_from = Instant::now();
    let steps_ok = report.steps.iter().all(Line::ok);
    gather(target, s, &base, &mut report).await;
    compare_chains(target, s, &mut report);
    if steps_ok {
        check(target, s, &base, &mut vars, &mut report).await;
    }
    for fake in programmed {
        let _ = FakeClient::new(&fake, target.url(&fake).unwrap_or_default()).remove(&base).await;
    }
    if report.failures().next().is_some() {
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
        report.diagnosis = diagnose(target, s, &report, &env);
    }
    report.verdict_after = Some(verdict_from.elapsed());
    for f in filtered {
        let t = Instant::now();
        if let Err(e) = f.restore(target).await {
            report.steps.push(Line::new("restore a filtered subscription", t, Err(Failure::harness(&e))));
        }
    }
    if let Some(control) = control {
        let t = Instant::now();
        if let Err(e) = faults::clear_handlers(control, &hooked, &base).await {
            report.steps.push(Line::new("clear the handler faults", t, Err(Failure::harness(&e))));
        }
        for fault in handler_faults {
            if let Err(e) = target.record_fault(&fault.ended()).await {
                report.steps.push(Line::new("record the handler faults' end", t, Err(Failure::harness(&e))));
            }
        }
        restore(s, *control.lock().await, &mut report.steps).await;
    }
    report.took = started.elapsed();
    report.secrets = vars.secrets();
    report
}

/// Starts again what a fault stopped or killed and left down (its restart
/// never came, or the restart policy keeps it down): the diagnosis has seen
/// it down, the next scenario needs it up.
async fn restore(s: &Scenario, platform: &mut Platform, lines: &mut Vec<Line>) {
    for f in &s.file.faults {
        let (Fault::Stop { service, .. } | Fault::Kill { service, .. }) = f else { continue };
        if platform.is_running(service) {
            continue;
        }
        let t = Instant::now();
        if let Err(e) = platform.start_service(service).await {
            lines.push(Line::new(format!("restore {service}"), t, Err(Failure::harness(&e))));
        }
    }
}

/// Each chain's broken hops, against its `expect` or, without one, the
/// events its `wait_for` steps waited on.
fn diagnose(target: &Target, s: &Scenario, report: &ScenarioReport, env: &Environment) -> Vec<Diagnosis> {
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

/// Installs the scenario's fake rules; returns the fakes it programmed.
async fn program_fakes(target: &Target, s: &Scenario, base: &str, lines: &mut Vec<Line>) -> Vec<String> {
    let mut programmed = Vec::new();
    for (fake, rules) in &s.file.fakes {
        let t = Instant::now();
        let Some(url) = target.fakes.get(fake) else {
            lines.push(Line::new(format!("program {fake}"), t, Err(Failure::NoTarget { name: fake.clone() })));
            continue;
        };
        let client = FakeClient::new(fake, url);
        programmed.push(fake.clone());
        for rule in rules {
            let scope = if rule.global { None } else { Some(base.to_owned()) };
            let rule = Rule { matcher: rule.matcher.clone(), respond: rule.respond.clone(), scope };
            let result = client.install(&rule).await.map(|()| format!("{} replies", rule.respond.len()));
            lines.push(Line::new(format!("program {fake}"), t, result.map_err(|e| Failure::harness(&e))));
            let kept = ProgrammedRule { fake: fake.clone(), rule };
            if let Err(e) = target.record_rule(&kept).await {
                lines.push(Line::new(format!("record the rule given to {fake}"), t, Err(Failure::harness(&e))));
            }
        }
    }
    programmed
}

/// A tap, the event it duplicates, how many more times, in which chain.
type Taps = Vec<(Tap, kit::EventType, u32, String)>;

/// Duplicates need their tap subscribed before the event is published.
async fn open_taps(target: &Target, s: &Scenario, base: &str, lines: &mut Vec<Line>) -> Taps {
    let mut taps = Vec::new();
    for f in &s.file.faults {
        if let Fault::Duplicate { event, times, chain } = f {
            let t = Instant::now();
            let cid = correlation_id(base, chain);
            match Tap::open(target, event, &cid).await {
                Ok(tap) => taps.push((tap, event.clone(), *times, cid)),
                Err(e) => lines.push(Line::new(format!("tap {event}"), t, Err(e.into()))),
            }
        }
    }
    taps
}

/// Filters are set before the first step, like handler faults; returns
/// what to restore once the verdict is in.
async fn filter_out(target: &Target, s: &Scenario, base: &str, lines: &mut Vec<Line>) -> Vec<faults::Filtered> {
    let mut filtered = Vec::new();
    for f in &s.file.faults {
        let Fault::FilterOut { service, on, chain } = f else { continue };
        let t = Instant::now();
        match faults::filter_out(target, service, on, &correlation_id(base, chain)).await {
            Ok(done) => {
                lines.push(Line::new(format!("fault: {f}"), t, Ok(done.to_string())).in_chain(chain));
                filtered.push(done);
            }
            Err(e) => lines.push(Line::new(format!("fault: {f}"), t, Err(e.into())).in_chain(chain)),
        }
    }
    filtered
}

/// Handler faults are set before the first step, so the first event
/// already meets them; returns the services whose hooks were given rules,
/// and the faults as recorded (to be recorded again when they end).
async fn set_handler_faults<'s>(
    target: &Target,
    s: &'s Scenario,
    base: &str,
    control: Option<&Mutex<&mut Platform>>,
    lines: &mut Vec<Line>,
) -> (Vec<&'s str>, Vec<InjectedFault>) {
    let mut hooked = Vec::new();
    let mut recorded = Vec::new();
    for f in &s.file.faults {
        let Fault::Handler { service, on, action, chain } = f else { continue };
        let t = Instant::now();
        let done = faults::handler(target, control, service, on, action, &correlation_id(base, chain)).await;
        // Cleared at the end even if setting failed half-way.
        if !hooked.contains(&service.as_str()) {
            hooked.push(service.as_str());
        }
        let done = done.map(|(what, fault)| {
            recorded.push(fault);
            what
        });
        lines.push(Line::new(format!("fault: {f}"), t, done.map_err(|e| Failure::harness(&e))).in_chain(chain));
    }
    (hooked, recorded)
}

async fn run_steps(
    target: &Target,
    s: &Scenario,
    base: &str,
    vars: &mut Vars,
    control: Option<&Mutex<&mut Platform>>,
    gate: &Gate,
) -> Vec<Line> {
    let mut lines = Vec::new();
    for step in &s.file.steps {
        let t = Instant::now();
        let done = match step {
            Step::Http(h) => http::run(target, vars, h, &correlation_id(base, &h.chain)).await,
            Step::WaitFor(w) => {
                let cid = correlation_id(base, &w.chain);
                let deadline = std::time::Duration::from_secs(w.timeout_seconds);
                // The steps before this one are done: a quiet platform without the event ends the wait.
                let seen = faults::seen(target, &cid, &w.event, deadline, gate, Waiter::Step).await;
                let what = format!("wait for {} in chain {}", w.event, w.chain);
                Line::new(what, t, seen.map(|()| "seen".into()).map_err(Failure::from)).in_chain(&w.chain)
            }
            Step::Quiet => {
                let quiet = target.wait_quiet().await;
                Line::new(
                    "wait until quiet",
                    t,
                    quiet.map(|d| format!("quiet after {} ms", d.as_millis())).map_err(Failure::from),
                )
            }
            Step::Restart(r) => {
                let result = match control {
                    Some(c) => {
                        let mut platform = c.lock().await;
                        match platform.stop_service(&r.service).await {
                            Ok(()) => platform.start_service_with(&r.service, &r.env).await,
                            Err(e) => Err(e),
                        }
                    }
                    None => Err(crate::runtime::ControlError::Stopped { name: r.service.clone() }),
                };
                let env: Vec<String> = r.env.iter().map(|(k, v)| format!("{k}={v}")).collect();
                let what = format!("restart {} {}", r.service, env.join(" "));
                Line::new(what, t, result.map(|()| "ready".into()).map_err(|e| Failure::harness(&e)))
            }
        };
        let ok = done.ok();
        lines.push(done);
        if !ok {
            break;
        }
    }
    lines
}

async fn run_faults(
    target: &Target,
    s: &Scenario,
    base: &str,
    control: Option<&Mutex<&mut Platform>>,
    taps: &Taps,
    gate: &Gate,
) -> Vec<Line> {
    let mut lines = Vec::new();
    for f in &s.file.faults {
        let t = Instant::now();
        match f {
            Fault::Poison { service, body, chain } => {
                let done = faults::poison(target, service, body, &correlation_id(base, chain)).await;
                lines.push(Line::new(format!("fault: {f}"), t, done.map_err(Failure::from)));
            }
            Fault::Stop { chain, .. }
            | Fault::Kill { chain, .. }
            | Fault::Pause { chain, .. }
            | Fault::Disconnect { chain, .. } => {
                let done = match control {
                    Some(control) => {
                        let cid = correlation_id(base, chain);
                        faults::on_processes(&OnProcesses { target, control, correlation_id: &cid, gate }, f).await
                    }
                    None => Err(faults::FaultError::NoControl { what: f.to_string() }),
                };
                lines.push(Line::new(format!("fault: {f}"), t, done.map_err(Failure::from)).in_chain(chain));
            }
            Fault::Duplicate { .. } => {}
            // Set before the steps, by `set_handler_faults`.
            Fault::Handler { .. } | Fault::FilterOut { .. } => {}
        }
    }
    for (tap, event, times, cid) in taps {
        let t = Instant::now();
        let done = tap.duplicate(target, event, *times, cid).await;
        lines.push(Line::new(format!("fault: duplicate {event}"), t, done.map_err(Failure::from)));
    }
    lines
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

async fn check(target: &Target, s: &Scenario, base: &str, vars: &mut Vars, report: &mut ScenarioReport) {
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
