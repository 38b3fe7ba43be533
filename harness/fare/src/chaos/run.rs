//! Running the cells and judging them. Each cell is a scenario read by the
//! scenario loader, so every fault, a kill or a freeze as much as a handler
//! fault, is injected by the scenario machinery: [`scenario::run_all`] runs
//! the independent cells side by side and those that act on processes one
//! at a time, the platform supervised. Each report is then held against the
//! cell's promise and its diagnosis.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Instant;

use kit::EventType;
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use super::matrix::{self, ALTERNATIVES, Cell, Promise};
use super::report::{CellReport, ChaosReport, Judgement};
use crate::runtime::Platform;
use crate::scenario::model::ChainExpectation;
use crate::scenario::{self, Progress, RunOptions, Scenario, ScenarioError, ScenarioReport, Target};
use crate::topology::Topology;
use crate::trace::ChainDiff;

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
    let batch: Vec<Scenario> = built.iter().filter_map(|b| b.as_ref().ok().cloned()).collect();
    let run = scenario::run_all(target, &batch, Some(platform), options, progress).await;
    let mut reports = run.scenarios.into_iter();
    let cells = cells
        .iter()
        .zip(&built)
        .map(|(cell, built)| {
            let report = match built {
                Ok(_) => reports.next().ok_or_else(|| "not run".to_owned()),
                Err(e) => Err(format!("the scenario model cannot express this fault here: {e}")),
            };
            match report {
                Ok(report) => CellReport {
                    judgement: Some(judge(cell, topology, &report)),
                    cell: cell.clone(),
                    report: Some(report),
                    skipped: None,
                },
                Err(why) => CellReport { cell: cell.clone(), report: None, judgement: None, skipped: Some(why) },
            }
        })
        .collect();
    ChaosReport { namespace: target.bus.namespace.to_string(), started_at, took: started.elapsed(), cells }
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
