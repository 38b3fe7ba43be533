//! JUnit XML, as CI systems read it: one `testsuite` per run, one
//! `testcase` per scenario, the failure report in `failure`, the chains in
//! `system-out`.

use super::{escape, secs};
use crate::scenario::report::{Outcome, RunReport};

pub fn junit(report: &RunReport) -> String {
    let mut out = String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
    out.push_str(&format!(
        "<testsuites name=\"fare e2e\" tests=\"{}\" failures=\"{}\" skipped=\"{}\" time=\"{}\">\n",
        report.scenarios.len(),
        report.failed(),
        report.skipped(),
        secs(report.took)
    ));
    out.push_str(&format!(
        "  <testsuite name=\"e2e\" tests=\"{}\" failures=\"{}\" errors=\"0\" skipped=\"{}\" time=\"{}\" timestamp=\"{}\">\n",
        report.scenarios.len(),
        report.failed(),
        report.skipped(),
        secs(report.took),
        escape(&report.started_at)
    ));
    for s in &report.scenarios {
        out.push_str(&format!(
            "    <testcase name=\"{}\" classname=\"scenarios.{}\" file=\"{}\" time=\"{}\">\n",
            escape(&s.name),
            escape(&s.name),
            escape(&s.file.display().to_string()),
            secs(s.took)
        ));
        match &s.outcome {
            Outcome::Failed => {
                let first = s.failures().next().map(|l| format!("{}: {}", l.what, l.detail)).unwrap_or_default();
                out.push_str(&format!(
                    "      <failure message=\"{}\" type=\"ScenarioFailed\">{}</failure>\n",
                    escape(&first),
                    escape(&s.failure_text())
                ));
            }
            Outcome::Skipped(why) => out.push_str(&format!("      <skipped message=\"{}\"/>\n", escape(why))),
            Outcome::Passed => {}
        }
        let chains: String = s
            .chains
            .iter()
            .map(|c| format!("chain {} ({}):\n{}", c.label, c.correlation_id, c.trace.render_text()))
            .collect();
        out.push_str(&format!("      <system-out>{}</system-out>\n", escape(&chains)));
        out.push_str("    </testcase>\n");
    }
    out.push_str("  </testsuite>\n</testsuites>\n");
    out
}
