//! Running one scenario: its chains' correlation ids, the fakes programmed
//! for them, the faults armed, the steps, quiescence, then the checks and,
//! when something did not hold, the diagnosis.

use std::collections::BTreeMap;
use std::time::Instant;

use serde_json::Value;
use tokio::sync::Mutex;

use super::chain::{self, ChainDiff, SeenEvent};
use super::deadletters::{self, DeadLetter};
use super::diagnosis::{self, Evidence};
use super::faults::{self, Tap};
use super::http;
use super::model::{ChainExpectation, Fault, Label, Scenario, Step};
use super::report::{ChainReport, Line, Outcome, ScenarioReport};
use super::target::Target;
use super::template::Vars;
use crate::fakes::{FakeClient, Logged, Rule};
use crate::runtime::Platform;

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

fn line(what: impl Into<String>, started: Instant, result: Result<String, String>) -> Line {
    let (ok, detail) = match result {
        Ok(d) => (true, d),
        Err(d) => (false, d),
    };
    Line { what: what.into(), ok, took: started.elapsed(), detail }
}

/// Runs `s`; `control` is needed for scenarios that stop services.
pub async fn run_one(target: &Target, s: &Scenario, run: &str, control: Option<&mut Platform>) -> ScenarioReport {
    let started = Instant::now();
    let base = base_id(&s.name, run);
    let mut report = ScenarioReport {
        name: s.name.clone(),
        file: s.path.clone(),
        description: s.file.description.clone(),
        correlation_id: base.clone(),
        outcome: Outcome::Passed,
        took: Default::default(),
        quiet_after: None,
        steps: Vec::new(),
        checks: Vec::new(),
        chains: Vec::new(),
        dead_letters: Vec::new(),
        diagnosis: None,
    };
    if s.exclusive() && control.is_none() {
        report.outcome = Outcome::Skipped(
            "it stops services or programs every chain's fakes: run it on a platform `fare e2e` starts (not --attach)"
                .into(),
        );
        return report;
    }
    let control = control.map(Mutex::new);
    let mut vars = Vars::default();
    vars.set("run", Value::String(run.to_owned()));
    vars.set("scenario", Value::String(s.name.clone()));
    vars.set("correlation_id", Value::String(base.clone()));
    for (name, value) in &s.file.vars {
        let t = Instant::now();
        match vars.text(value) {
            Ok(v) => vars.set(name, Value::String(v)),
            Err(e) => report.steps.push(line(format!("vars.{name}"), t, Err(e.to_string()))),
        }
    }
    let programmed = program_fakes(target, s, &base, &mut report.steps).await;
    let taps = open_taps(target, s, &base, &mut report.steps).await;
    if report.steps.iter().all(|l| l.ok) {
        let (steps, fault_lines) = tokio::join!(
            run_steps(target, s, &base, &mut vars, control.as_ref()),
            run_faults(target, s, &base, control.as_ref(), &taps),
        );
        report.steps.extend(fault_lines);
        report.steps.extend(steps);
    }
    for (tap, _, _) in taps {
        tap.close(target).await;
    }
    let t = Instant::now();
    match target.wait_quiet().await {
        Ok(took) => report.quiet_after = Some(took),
        Err(e) => report.steps.push(line("wait until quiet", t, Err(e.to_string()))),
    }
    let steps_ok = report.steps.iter().all(|l| l.ok);
    gather(target, s, &base, &mut report).await;
    if steps_ok {
        check(target, s, &base, &mut vars, &mut report).await;
    }
    let third_parties = requests(target, &base).await;
    for fake in programmed {
        let _ = FakeClient::new(&fake, target.url(&fake).unwrap_or_default()).remove(&base).await;
    }
    if report.failures().next().is_some() {
        report.outcome = Outcome::Failed;
        let down = down(target).await;
        let evidence = Evidence {
            topology: &target.topology,
            namespace: &target.bus.namespace,
            chains: &report.chains,
            dead_letters: &report.dead_letters,
            third_parties: &third_parties,
            down: &down,
        };
        report.diagnosis = diagnosis::diagnose(&evidence);
    }
    report.took = started.elapsed();
    report
}

/// Installs the scenario's fake rules; returns the fakes it programmed.
async fn program_fakes(target: &Target, s: &Scenario, base: &str, lines: &mut Vec<Line>) -> Vec<String> {
    let mut programmed = Vec::new();
    for (fake, rules) in &s.file.fakes {
        let t = Instant::now();
        let Some(url) = target.fakes.get(fake) else {
            lines.push(line(format!("program {fake}"), t, Err(format!("no fake `{fake}` runs"))));
            continue;
        };
        let client = FakeClient::new(fake, url);
        programmed.push(fake.clone());
        for rule in rules {
            let scope = if rule.global { None } else { Some(base.to_owned()) };
            let rule = Rule { matcher: rule.matcher.clone(), respond: rule.respond.clone(), scope };
            let result = client.install(&rule).await.map(|()| format!("{} replies", rule.respond.len()));
            lines.push(line(format!("program {fake}"), t, result.map_err(|e| e.to_string())));
        }
    }
    programmed
}

type Taps = Vec<(Tap, kit::EventType, u32)>;

/// Duplicates need their tap subscribed before the event is published.
async fn open_taps(target: &Target, s: &Scenario, base: &str, lines: &mut Vec<Line>) -> Taps {
    let mut taps = Vec::new();
    for f in &s.file.faults {
        if let Fault::Duplicate { event, times, chain } = f {
            let t = Instant::now();
            match Tap::open(target, event, &correlation_id(base, chain)).await {
                Ok(tap) => taps.push((tap, event.clone(), *times)),
                Err(e) => lines.push(line(format!("tap {event}"), t, Err(e.to_string()))),
            }
        }
    }
    taps
}

async fn run_steps(
    target: &Target,
    s: &Scenario,
    base: &str,
    vars: &mut Vars,
    control: Option<&Mutex<&mut Platform>>,
) -> Vec<Line> {
    let mut lines = Vec::new();
    for step in &s.file.steps {
        let t = Instant::now();
        let done = match step {
            Step::Http(h) => http::run(target, vars, h, &correlation_id(base, &h.chain)).await,
            Step::WaitFor(w) => {
                let cid = correlation_id(base, &w.chain);
                let deadline = std::time::Duration::from_secs(w.timeout_seconds);
                let seen = faults::seen(target, &cid, &w.event, deadline).await;
                line(
                    format!("wait for {} in chain {}", w.event, w.chain),
                    t,
                    seen.map(|()| "seen".into()).map_err(|e| e.to_string()),
                )
            }
            Step::Quiet => {
                let quiet = target.wait_quiet().await;
                line(
                    "wait until quiet",
                    t,
                    quiet.map(|d| format!("quiet after {} ms", d.as_millis())).map_err(|e| e.to_string()),
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
                line(
                    format!("restart {} {}", r.service, env.join(" ")),
                    t,
                    result.map(|()| "ready".into()).map_err(|e| e.to_string()),
                )
            }
        };
        let ok = done.ok;
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
) -> Vec<Line> {
    let mut lines = Vec::new();
    for f in &s.file.faults {
        let t = Instant::now();
        match f {
            Fault::Poison { service, body, chain } => {
                let done = faults::poison(target, service, body, &correlation_id(base, chain)).await;
                lines.push(line(format!("fault: poison {service}"), t, done.map_err(|e| e.to_string())));
            }
            Fault::Stop { service, when, restart_when, chain } => {
                let done = match control {
                    Some(c) => {
                        faults::stop(
                            target,
                            c,
                            service,
                            when.as_ref(),
                            restart_when.as_ref(),
                            &correlation_id(base, chain),
                        )
                        .await
                    }
                    None => Err(faults::FaultError::Control(crate::runtime::ControlError::Stopped {
                        name: service.clone(),
                    })),
                };
                lines.push(line(format!("fault: stop {service}"), t, done.map_err(|e| e.to_string())));
            }
            Fault::Duplicate { .. } => {}
        }
    }
    for (tap, event, times) in taps {
        let t = Instant::now();
        let done = tap.duplicate(target, event, *times).await;
        lines.push(line(format!("fault: duplicate {event}"), t, done.map_err(|e| e.to_string())));
    }
    lines
}

/// Reads every chain of the scenario and its dead letters into the report.
async fn gather(target: &Target, s: &Scenario, base: &str, report: &mut ScenarioReport) {
    let t = Instant::now();
    let collector = target.services.get("collector").cloned().unwrap_or_default();
    for label in s.labels() {
        let cid = correlation_id(base, &label);
        let events: Vec<SeenEvent> = match chain::fetch(&target.http, &collector, &cid).await {
            Ok(events) => events,
            Err(e) => {
                report.checks.push(line(format!("read chain {label}"), t, Err(e.to_string())));
                Vec::new()
            }
        };
        // The chain as the trace recorder saw it (who received each event,
        // attempts, errors, calls out); the collector's list without one.
        let text = match trace_text(target, &cid).await {
            Some(text) => text,
            None => chain::render(&events),
        };
        report.chains.push(ChainReport { label: label.to_string(), correlation_id: cid, events, text, diff: None });
    }
    match deadletters::peek(&target.bus, &target.dead_letter_queues, base).await {
        Ok(letters) => report.dead_letters = letters,
        Err(e) => report.checks.push(line("read dead-letter queues", t, Err(e.to_string()))),
    }
}

/// The recorder's causal tree of `correlation_id`, if the platform has a recorder.
async fn trace_text(target: &Target, correlation_id: &str) -> Option<String> {
    let url = format!("{}/traces/{correlation_id}/text", target.recorder.as_deref()?);
    let resp = target.http.get(url).send().await.ok()?;
    if resp.status().is_success() { resp.text().await.ok() } else { None }
}

async fn check(target: &Target, s: &Scenario, base: &str, vars: &mut Vars, report: &mut ScenarioReport) {
    let expected = s
        .file
        .expect
        .chain
        .iter()
        .map(|c| (Label::main(), c))
        .chain(s.file.expect.chains.iter().map(|(l, c)| (l.clone(), c)));
    for (label, expectation) in expected {
        let t = Instant::now();
        let Some(chain) = report.chains.iter_mut().find(|c| c.label == label.as_str()) else { continue };
        let diff =
            chain::compare(&chain::expected_paths(expectation, &target.topology), &chain::seen_paths(&chain.events));
        let how = match expectation {
            ChainExpectation::Tree(_) => "as written",
            ChainExpectation::Derive { .. } => "as the topology predicts",
        };
        let result =
            if diff.is_empty() { Ok(format!("{} events, {how}", chain.events.len())) } else { Err(describe(&diff)) };
        report.checks.push(line(format!("chain {label}"), t, result));
        chain.diff = Some(diff);
    }
    for h in &s.file.expect.http {
        report.checks.push(http::run(target, vars, h, &correlation_id(base, &h.chain)).await);
    }
    let t = Instant::now();
    report.checks.push(line("dead letters", t, dead_letters(&s.file.expect.dead_letters, &report.dead_letters)));
}

fn describe(diff: &ChainDiff) -> String {
    let mut parts = Vec::new();
    for (p, want, got) in &diff.missing {
        parts.push(format!("missing {p} (expected {want}, seen {got})"));
    }
    for (p, want, got) in &diff.unexpected {
        parts.push(format!("unexpected {p} (expected {want}, seen {got})"));
    }
    parts.join("; ")
}

fn dead_letters(expected: &BTreeMap<String, usize>, found: &[DeadLetter]) -> Result<String, String> {
    let mut by_service: BTreeMap<&str, usize> = BTreeMap::new();
    for l in found {
        *by_service.entry(l.service.as_str()).or_default() += 1;
    }
    let services: std::collections::BTreeSet<&str> =
        by_service.keys().copied().chain(expected.keys().map(String::as_str)).collect();
    let wrong: Vec<String> = services
        .into_iter()
        .filter_map(|s| {
            let (want, got) = (expected.get(s).copied().unwrap_or(0), by_service.get(s).copied().unwrap_or(0));
            (want != got).then(|| format!("{s}: {got} (expected {want})"))
        })
        .collect();
    if wrong.is_empty() {
        let all: Vec<String> = by_service.iter().map(|(s, n)| format!("{s}: {n}")).collect();
        Ok(if all.is_empty() { "none".into() } else { all.join(", ") })
    } else {
        Err(wrong.join(", "))
    }
}

/// What every fake was asked in the scenario's chains.
async fn requests(target: &Target, base: &str) -> BTreeMap<String, Vec<Logged>> {
    let mut out = BTreeMap::new();
    for (name, url) in &target.fakes {
        if let Ok(logged) = FakeClient::new(name, url).requests(base).await {
            out.insert(name.clone(), logged);
        }
    }
    out
}

async fn down(target: &Target) -> Vec<String> {
    let mut down = Vec::new();
    for (name, url) in &target.services {
        let ok = target.http.get(format!("{url}/health")).timeout(std::time::Duration::from_secs(2)).send().await;
        if !ok.is_ok_and(|r| r.status().is_success()) {
            down.push(name.clone());
        }
    }
    down
}
