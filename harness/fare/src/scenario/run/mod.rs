//! Running one scenario: its chains' correlation ids, the fakes programmed
//! for them, the faults armed, the steps driven, quiescence, then the
//! checks, the diagnosis when something did not hold, and the faults
//! disarmed ([`run_one`] reads in that order). Everything is read from the
//! recorder's record, and a failed step never keeps the chains from being
//! compared and diagnosed.
//!
//! # Layout
//! - `mod.rs`: [`run_one`], the ids of a run's chains, its variables, the fakes programmed and forgotten, the wait for quiet.
//! - `arm`: what is set before the first step (taps, handler faults, filters) and undone once the verdict is in.
//! - `drive`: the steps, and beside them the faults that wait for events of the chains.
//! - `verdict`: the chains read and compared, the final state and dead letters checked, the diagnosis.

mod arm;
mod drive;
mod verdict;

use std::time::Instant;

use serde_json::Value;
use tokio::sync::Mutex;

use super::failure::Failure;
use super::model::{Label, Scenario};
use super::report::{Line, Outcome, ScenarioReport};
use super::target::Target;
use super::template::Vars;
use crate::fakes::{FakeClient, Rule};
use crate::runtime::Platform;
use crate::trace::ProgrammedRule;
use arm::{arm, disarm};
use drive::drive;
use verdict::{check, diagnose};

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
///
/// Each part below is a step of its own and adds its lines to the report,
/// in this order. Nothing returns early once the fakes are programmed, so
/// what was armed is disarmed whether or not the steps held.
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
    let mut vars = vars(s, run, &base, &mut report.steps);
    let programmed = program_fakes(target, s, &base, &mut report.steps).await;
    let (taps, armed) = arm(target, s, &base, control, &mut report.steps).await;
    drive(target, s, &base, &mut vars, control, taps, &mut report.steps).await;
    let stuck = wait_until_quiet(target, &mut report).await;
    let verdict_from = Instant::now();
    check(target, s, &base, &mut vars, &mut report).await;
    forget_fakes(target, programmed, &base).await;
    diagnose(target, s, &mut report, stuck, began_unix_nanos).await;
    report.verdict_after = Some(verdict_from.elapsed());
    disarm(target, s, &base, control, armed, &mut report.steps).await;
    report.took = started.elapsed();
    report.secrets = vars.secrets();
    report
}

/// The run's variables: `run`, `scenario` and `correlation_id`, then the
/// file's own `vars`, each rendered with those before it.
fn vars(s: &Scenario, run: &str, base: &str, lines: &mut Vec<Line>) -> Vars {
    let mut vars = Vars::default();
    vars.set("run", Value::String(run.to_owned()));
    vars.set("scenario", Value::String(s.name.clone()));
    vars.set("correlation_id", Value::String(base.to_owned()));
    for (name, value) in &s.file.vars {
        let t = Instant::now();
        match vars.text(value) {
            Ok(v) => vars.set(name, Value::String(v)),
            Err(e) => lines.push(Line::new(format!("vars.{name}"), t, Err(e.into()))),
        }
    }
    vars
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

/// Takes the run's rules off the fakes it programmed, once the checks,
/// which may ask the services and through them the fakes, are done.
async fn forget_fakes(target: &Target, programmed: Vec<String>, base: &str) {
    for fake in programmed {
        let _ = FakeClient::new(&fake, target.url(&fake).unwrap_or_default()).remove(base).await;
    }
}

/// Waits until the platform is quiet and keeps how long that took; returns
/// whether it was stuck instead, for the diagnosis.
async fn wait_until_quiet(target: &Target, report: &mut ScenarioReport) -> bool {
    let t = Instant::now();
    match target.wait_quiet().await {
        Ok(took) => {
            report.quiet_after = Some(took);
            false
        }
        Err(e) => {
            let stuck = e.is_stuck();
            report.steps.push(Line::new("wait until quiet", t, Err(e.into())));
            stuck
        }
    }
}
