//! Running the cells and judging them. Each cell is a scenario read by the
//! scenario loader; the independent ones run side by side through
//! [`scenario::run_all`], those that signal processes (a kill, the emulator
//! paused) or that the scenario machinery runs alone, one at a time. Each
//! report is then held against the cell's promise and its diagnosis.

use std::convert::Infallible;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::AtomicBool;
use std::time::{Duration, Instant};

use kit::EventType;
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;
use tokio::sync::Mutex;

use super::matrix::{self, ALTERNATIVES, Cell, Kind, Promise};
use super::report::{CellReport, ChaosReport, Judgement};
use crate::runtime::{Platform, TICK};
use crate::scenario::model::{ChainExpectation, Label};
use crate::scenario::run::{base_id, correlation_id, run_one};
use crate::scenario::{self, Progress, RunOptions, Scenario, ScenarioError, ScenarioReport, Target, faults};
use crate::topology::Topology;
use crate::trace::ChainDiff;

/// How long the emulator stays paused in an `emulator-paused` cell.
const PAUSE: Duration = Duration::from_secs(3);
/// How long an injector waits for its event to be seen.
const SEEN_DEADLINE: Duration = Duration::from_secs(90);

/// The cell as a scenario, read and checked by the scenario loader.
pub fn scenario_of(cell: &Cell, topology: &Topology) -> Result<Scenario, ScenarioError> {
    let text = serde_json::to_string_pretty(&cell.document(topology)).unwrap_or_default();
    let path = PathBuf::from(format!("chaos/{}.yaml", cell.name()));
    let s = scenario::parse(&path, &text)?;
    scenario::load::check(&s, topology)?;
    Ok(s)
}

/// Runs `cells` on `platform` (which `target` reaches) and judges each.
pub async fn run(
    target: &Target,
    cells: &[Cell],
    platform: &mut Platform,
    options: &RunOptions,
    progress: Arc<dyn Progress>,
) -> ChaosReport {
    let started = Instant::now();
    let started_at = OffsetDateTime::now_utc().format(&Rfc3339).unwrap_or_default();
    let topology = &target.topology;
    let built: Vec<Result<Scenario, ScenarioError>> = cells.iter().map(|c| scenario_of(c, topology)).collect();
    let side_by_side: Vec<usize> = (0..cells.len())
        .filter(|&i| built[i].as_ref().is_ok_and(|s| !s.exclusive() && !cells[i].kind.signals()))
        .collect();
    let mut reports: Vec<Option<Result<ScenarioReport, String>>> = vec![None; cells.len()];
    let batch: Vec<Scenario> = side_by_side.iter().filter_map(|&i| built[i].as_ref().ok().cloned()).collect();
    if !batch.is_empty() {
        let run = scenario::run_all(target, &batch, Some(&mut *platform), options, progress.clone()).await;
        for (&i, report) in side_by_side.iter().zip(run.scenarios) {
            reports[i] = Some(Ok(report));
        }
    }
    for (i, cell) in cells.iter().enumerate() {
        if reports[i].is_some() {
            continue;
        }
        reports[i] = Some(match &built[i] {
            Err(e) => Err(format!("the scenario model cannot express this fault here: {e}")),
            Ok(s) => Ok(alone(target, s, cell, platform, progress.clone()).await),
        });
    }
    let cells = cells
        .iter()
        .zip(reports)
        .map(|(cell, report)| match report.unwrap_or_else(|| Err("not run".into())) {
            Ok(report) => CellReport {
                judgement: Some(judge(cell, topology, &report)),
                cell: cell.clone(),
                report: Some(report),
                skipped: None,
            },
            Err(why) => CellReport { cell: cell.clone(), report: None, judgement: None, skipped: Some(why) },
        })
        .collect();
    ChaosReport { namespace: target.bus.namespace.to_string(), started_at, took: started.elapsed(), cells }
}

/// One cell on its own, the platform supervised (a killed service comes
/// back by its restart policy) and the cell's own fault injected beside it.
async fn alone(
    target: &Target,
    s: &Scenario,
    cell: &Cell,
    platform: &mut Platform,
    progress: Arc<dyn Progress>,
) -> ScenarioReport {
    let run = uuid::Uuid::new_v4().simple().to_string()[..8].to_owned();
    let label = Label::try_from(cell.chain(&target.topology).to_owned()).unwrap_or_default();
    let cid = correlation_id(&base_id(&s.name, &run), &label);
    let control = Mutex::new(platform);
    let supervise = async {
        loop {
            tokio::time::sleep(TICK).await;
            let events = control.lock().await.supervise_once().await;
            events.iter().for_each(|e| progress.supervised(e));
        }
        #[allow(unreachable_code)]
        std::future::pending::<Infallible>().await
    };
    progress.started(s);
    let work = async {
        let (mut report, injected) =
            tokio::join!(run_one(target, s, &run, Some(&control)), inject(target, &control, cell, &cid));
        if let Some(Err(e)) = injected {
            report.outcome = scenario::Outcome::Failed;
            report.steps.push(scenario::report::Line {
                what: format!("fault: {}", cell.kind),
                ok: false,
                took: Duration::ZERO,
                detail: e,
                chain: Some(label.to_string()),
            });
        } else if let Some(Ok(done)) = injected {
            report.steps.push(scenario::report::Line {
                what: format!("fault: {}", cell.kind),
                ok: true,
                took: Duration::ZERO,
                detail: done,
                chain: Some(label.to_string()),
            });
        }
        report
    };
    let report = tokio::select! {
        report = work => report,
        never = supervise => match never {},
    };
    progress.finished(&report);
    report
}

/// The faults the scenario model does not have: signals to processes, sent
/// once the hop's event is seen in the chain. `None` for other kinds.
async fn inject(
    target: &Target,
    control: &Mutex<&mut Platform>,
    cell: &Cell,
    cid: &str,
) -> Option<Result<String, String>> {
    if !cell.kind.signals() {
        return None;
    }
    let seen = faults::seen(target, cid, &cell.hop.event, SEEN_DEADLINE, &AtomicBool::new(false)).await;
    if let Err(e) = seen {
        return Some(Err(e.to_string()));
    }
    Some(match cell.kind {
        Kind::Kill => {
            let service = cell.hop.service.clone().unwrap_or_default();
            let pid = control.lock().await.state.services.iter().find(|p| p.name == service).map(|p| p.pid);
            match pid {
                Some(pid) => signal(pid, libc::SIGKILL)
                    .map(|()| format!("{service} (pid {pid}) SIGKILLed once {} was seen", cell.hop.event)),
                None => Err(format!("no pid for {service}")),
            }
        }
        Kind::EmulatorPaused => {
            let pid = control.lock().await.emulator().map(|e| e.pid());
            match pid {
                Some(pid) => match signal(pid, libc::SIGSTOP) {
                    Ok(()) => {
                        // The outage is the fault: its length is what is injected, not a wait.
                        tokio::time::sleep(PAUSE).await;
                        signal(pid, libc::SIGCONT)
                            .map(|()| format!("emulator (pid {pid}) paused {} s", PAUSE.as_secs()))
                    }
                    Err(e) => Err(e),
                },
                None => Err("the emulator is not fare's to pause (--endpoint)".into()),
            }
        }
        _ => Ok(String::new()),
    })
}

fn signal(pid: u32, sig: libc::c_int) -> Result<(), String> {
    // SAFETY: kill(2) with a pid fare started (a service or the emulator).
    let rc = unsafe { libc::kill(pid as libc::pid_t, sig) };
    if rc == 0 { Ok(()) } else { Err(format!("kill({pid}, {sig}): {}", std::io::Error::last_os_error())) }
}

/// Holds a cell's scenario report against what the cell must show.
pub fn judge(cell: &Cell, topology: &Topology, report: &ScenarioReport) -> Judgement {
    let chain = cell.chain(topology);
    let first = report
        .diagnosis
        .iter()
        .find(|d| d.label == chain && !d.hops.is_empty())
        .or_else(|| report.diagnosis.iter().find(|d| !d.hops.is_empty()))
        .and_then(|d| d.hops.first());
    let diagnosed = first.map(|h| (h.hop.to_string(), h.kind().to_owned()));
    let passed = !report.failed();
    let no_hop = first.is_none();
    let dlqs: Vec<&str> = report.dead_letters.iter().map(|d| d.service.as_str()).collect();
    let (promise, diagnosis, why) = match &cell.promise {
        Promise::Recovers => {
            let why = (!passed).then(|| "the chain did not complete with every effect once".to_owned());
            (passed, passed && no_hop, why)
        }
        Promise::Quarantined { dlq } => {
            let held = passed && dlqs == [dlq.as_str()];
            let why = (!held).then(|| {
                format!("expected the poison alone in {dlq}'s DLQ, the chain complete; dead letters: {dlqs:?}")
            });
            (held, passed && no_hop, why)
        }
        Promise::Broken { dlq, reason } => {
            let service = cell.hop.service.as_deref().unwrap_or_default();
            let dlq_ok = match dlq {
                Some(q) => dlqs == [q.as_str()],
                None => dlqs.is_empty(),
            };
            let missing = rest_missing(cell, topology, report);
            let named = first.is_some_and(|h| {
                h.hop.service.as_deref() == Some(service)
                    && h.hop.after.as_deref() == Some(cell.hop.event.as_str())
                    && h.kind() == *reason
            });
            let mut why = Vec::new();
            if !dlq_ok {
                why.push(format!("dead letters {dlqs:?}, expected {:?}", dlq.iter().collect::<Vec<_>>()));
            }
            if !missing.is_empty() {
                why.push(format!("what does not depend on the hop did not flow: {}", missing.join(", ")));
            }
            if !named {
                why.push(format!("expected {reason} at {} → {service}", cell.hop.event));
            }
            let why = (!why.is_empty()).then(|| why.join("; "));
            (dlq_ok && missing.is_empty(), !passed && named, why)
        }
    };
    Judgement { promise_held: promise, diagnosis_right: diagnosis, diagnosed, why }
}

/// The events each chain should still have with the hop broken (the chain
/// derived without the hop's follow-ups), that the record lacks.
fn rest_missing(cell: &Cell, topology: &Topology, report: &ScenarioReport) -> Vec<String> {
    let service = cell.hop.service.as_deref().unwrap_or_default();
    let cut = matrix::follow_ups(topology, service, &cell.hop.event);
    let mut missing = Vec::new();
    for c in &report.chains {
        let root = if c.label == "signup" { matrix::ROOTS[1] } else { matrix::ROOTS[0] };
        let Ok(root) = EventType::parse(root) else { continue };
        let mut except: Vec<EventType> = ALTERNATIVES.iter().filter_map(|e| EventType::parse(e).ok()).collect();
        if matrix::root_of(topology, &cell.hop.event) == root {
            except.extend(cut.iter().cloned());
        }
        let expected = scenario::chain::expected_paths(&ChainExpectation::Derive { root, except }, topology);
        let diff = ChainDiff::between(&expected, &c.trace.paths());
        missing.extend(diff.missing.iter().map(|m| format!("{m:?}")));
    }
    missing
}
