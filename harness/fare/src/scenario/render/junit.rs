//! JUnit XML, as CI systems read it: one `testsuite` per run, one
//! `testcase` per scenario, the failure report in `failure`, the chains in
//! `system-out`.

use crate::junit::{Case, Suite, Verdict, render};
use crate::scenario::report::{Outcome, RunReport};

pub fn junit(report: &RunReport) -> String {
    let cases = report
        .scenarios
        .iter()
        .map(|s| {
            let verdict = match &s.outcome {
                Outcome::Failed => Verdict::Failed {
                    message: s.failures().next().map(|l| format!("{}: {}", l.what, l.result)).unwrap_or_default(),
                    kind: Some("ScenarioFailed".into()),
                    text: Some(with_notes(s.failure_text(), &report.notes)),
                },
                Outcome::Skipped(why) => Verdict::Skipped(why.clone()),
                Outcome::Passed => Verdict::Passed,
            };
            let chains: String = s
                .chains
                .iter()
                .map(|c| format!("chain {} ({}):\n{}", c.label, c.correlation_id, c.trace.render_text()))
                .collect();
            Case {
                classname: format!("scenarios.{}", s.name),
                name: s.name.clone(),
                file: Some(s.file.display().to_string()),
                time: Some(s.took),
                verdict,
                out: Some(chains),
            }
        })
        .collect();
    let suite =
        Suite { name: "e2e".into(), cases, time: Some(report.took), timestamp: Some(report.started_at.clone()) };
    render("fare e2e", Some(report.took), &[suite])
}

/// A failure report and, below its diagnosis, what the run's notes say of
/// how it was observed.
fn with_notes(mut text: String, notes: &[String]) -> String {
    for note in notes {
        text.push_str(&format!("  note: {note}\n"));
    }
    text
}
