//! Running the cells and judging them. Each cell is a scenario read by the
//! scenario loader, so every fault, a kill or a freeze as much as a handler
//! fault, is injected by the scenario machinery: [`scenario::run_all`] runs
//! the independent cells side by side and those that act on processes one
//! at a time, the platform supervised. Each report is then held against the
//! cell's promise and its diagnosis.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Instant;

use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use super::matrix::{self, Cell, Promise};
use super::report::{CellReport, ChaosReport, Judgement};
use crate::runtime::Platform;
use crate::scenario::model::ChainExpectation;
use crate::scenario::{self, Progress, RunOptions, Scenario, ScenarioError, ScenarioReport, Target};
use crate::topology::Topology;
use crate::trace::ChainDiff;

/// Why a cell was not run, as its report's `skipped` says.
#[derive(Debug, thiserror::Error)]
pub enum Skipped {
    /// The fault kind has no meaning in this runtime.
    #[error("{0}")]
    NotApplicable(&'static str),
    #[error("the scenario model cannot express this fault here: {0}")]
    Inexpressible(#[source] ScenarioError),
    /// Built, yet the run gave no report for it.
    #[error("not run")]
    NotRun,
}

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
    let runtime = platform.state.runtime;
    let built: Vec<Result<Scenario, Skipped>> = cells
        .iter()
        .map(|c| match c.kind.not_applicable(runtime) {
            Some(why) => Err(Skipped::NotApplicable(why)),
            None => scenario_of(c, topology).map_err(Skipped::Inexpressible),
        })
        .collect();
    let batch: Vec<Scenario> = built.iter().filter_map(|b| b.as_ref().ok().cloned()).collect();
    let run = scenario::run_all(target, &batch, Some(platform), options, progress).await;
    let mut reports = run.scenarios.into_iter();
    let cells = cells
        .iter()
        .zip(&built)
        .map(|(cell, built)| {
            let report = match built {
                Ok(_) => reports.next().ok_or_else(|| Skipped::NotRun.to_string()),
                Err(why) => Err(why.to_string()),
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
    let owed = first.and_then(|h| h.faults.first()).map(|b| &b.fault);
    let diagnosed = first.map(|h| {
        let fault = owed.map(|f| format!(" ({} {})", f.kind, f.target)).unwrap_or_default();
        (h.hop.to_string(), format!("{}{fault}", h.kind()))
    });
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
            // The fault fare injected (not a fake's answers, which the reason names) is named as its cause.
            let owed_ok =
                cell.kind.injects().is_none_or(|kind| owed.is_some_and(|f| f.kind == kind && f.target == service));
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
            if let Some(kind) = cell.kind.injects().filter(|_| !owed_ok) {
                why.push(format!("expected the {kind} on {service} named as the cause"));
            }
            let why = (!why.is_empty()).then(|| why.join("; "));
            (dlq_ok && missing.is_empty(), !passed && named && owed_ok, why)
        }
    };
    Judgement { promise_held: promise, diagnosis_right: diagnosis, diagnosed, why }
}

/// The events each chain should still have with the hop broken (the chain
/// derived without the hop's follow-ups), that the record lacks.
fn rest_missing(cell: &Cell, topology: &Topology, report: &ScenarioReport) -> Vec<String> {
    let service = cell.hop.service.as_deref().unwrap_or_default();
    let workload = &cell.workload;
    let cut = matrix::follow_ups(topology, workload, service, &cell.hop.event);
    let mut missing = Vec::new();
    for c in &report.chains {
        let Some(root) = workload.chains.iter().find(|w| w.label == c.label).map(|w| w.root.clone()) else { continue };
        let mut except = workload.alternatives.clone();
        if matrix::root_of(topology, workload, &cell.hop.event) == root {
            except.extend(cut.iter().cloned());
        }
        let expected = scenario::chain::expected_paths(&ChainExpectation::Derive { root, except }, topology);
        let diff = ChainDiff::between(&expected, &c.trace.paths());
        missing.extend(diff.missing.iter().map(|m| format!("{m:?}")));
    }
    missing
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::diagnosis::{Blame, BrokenHop, Diagnosis, Hop, Reason};
    use crate::scenario::Outcome;
    use crate::trace::{DeadLetter, FaultKind, InjectedFault};

    fn reference() -> Topology {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../services");
        crate::load_topology(&dir).expect("the reference topology").0
    }

    /// A failed cell's report: fulfillment dead-lettered device.allocated,
    /// owed to the faults `owed`.
    fn dead_lettered(owed: Vec<InjectedFault>) -> ScenarioReport {
        let hop = Hop {
            after: Some("device.allocated".into()),
            queue: Some("t-fulfillment".into()),
            service: Some("fulfillment".into()),
            expected: "shipment.requested".into(),
        };
        let reason = Reason::DeadLettered { queue: "t-fulfillment-dlq".into(), attempts: 5, rejected: None };
        let faults = owed.into_iter().map(|fault| Blame { fault, anchor_unix_nanos: 0 }).collect();
        let hops = vec![BrokenHop { hop, reason, evidence: Vec::new(), faults }];
        let dead = DeadLetter {
            service: "fulfillment".into(),
            queue: "t-fulfillment-dlq".into(),
            message_id: "m".into(),
            correlation_id: Some("c".into()),
            event_type: Some("device.allocated".into()),
            event: None,
            reason: None,
            receive_count: 5,
        };
        ScenarioReport {
            name: "cell".into(),
            file: "chaos/cell.yaml".into(),
            description: String::new(),
            correlation_id: "c".into(),
            outcome: Outcome::Failed,
            took: Default::default(),
            quiet_after: None,
            steps: Vec::new(),
            checks: Vec::new(),
            chains: Vec::new(),
            dead_letters: vec![dead],
            diagnosis: vec![Diagnosis { label: "main".into(), correlation_id: "c".into(), hops }],
            verdict_after: None,
            secrets: Vec::new(),
        }
    }

    #[test]
    fn a_broken_cell_is_right_only_when_the_diagnosis_names_the_injected_fault_as_the_cause() {
        let topology = reference();
        let cell = matrix::matrix(&topology, &super::super::workload::reference(), None)
            .into_iter()
            .find(|c| {
                c.kind == matrix::Kind::HandlerFailsAlways && c.hop.to_string() == "device.allocated → fulfillment"
            })
            .expect("the cell");
        let handler = InjectedFault::now(FaultKind::Handler, "fulfillment", "had its handler fail_always");
        let j = judge(&cell, &topology, &dead_lettered(vec![handler]));
        assert!(j.promise_held && j.diagnosis_right, "{j:?}");
        assert_eq!(j.diagnosed.map(|d| d.1).as_deref(), Some("dead_lettered (handler fault fulfillment)"));

        let j = judge(&cell, &topology, &dead_lettered(Vec::new()));
        assert!(j.promise_held && !j.diagnosis_right, "{j:?}");
        assert!(j.why.unwrap_or_default().contains("expected the handler fault on fulfillment named as the cause"));
        let elsewhere = InjectedFault::now(FaultKind::Handler, "devices", "had its handler fail_always");
        assert!(!judge(&cell, &topology, &dead_lettered(vec![elsewhere])).diagnosis_right);
    }
}
