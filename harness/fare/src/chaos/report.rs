//! What the matrix found, as data, and its renderings: the table with its
//! totals for the terminal, and JUnit XML through [`crate::junit`].

use std::fmt::Write as _;
use std::time::Duration;

use super::matrix::{Cell, Promise};
use crate::junit::{self, Case, Suite, Verdict};
use crate::scenario::ScenarioReport;

/// A cell's report held against what the cell must show.
#[derive(Debug, Clone)]
pub struct Judgement {
    /// (a): the platform kept its promise under the fault.
    pub promise_held: bool,
    /// (b): the diagnosis named the injected hop and reason (or nothing,
    /// where the platform recovers).
    pub diagnosis_right: bool,
    /// The first broken hop fare named, and its reason kind.
    pub diagnosed: Option<(String, String)>,
    /// What did not hold, in words.
    pub why: Option<String>,
}

#[derive(Debug, Clone)]
pub struct CellReport {
    pub cell: Cell,
    pub report: Option<ScenarioReport>,
    pub judgement: Option<Judgement>,
    /// Why the cell could not run (its fault is not injectable here).
    pub skipped: Option<String>,
}

impl CellReport {
    pub fn passed(&self) -> bool {
        self.judgement.as_ref().is_some_and(|j| j.promise_held && j.diagnosis_right)
    }

    pub fn failed(&self) -> bool {
        self.judgement.is_some() && !self.passed()
    }
}

#[derive(Debug, Clone)]
pub struct ChaosReport {
    pub namespace: String,
    pub started_at: String,
    pub took: Duration,
    pub cells: Vec<CellReport>,
}

/// The figures of a run.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Totals {
    pub cells: usize,
    pub run: usize,
    pub passed: usize,
    pub skipped: usize,
    pub promise_held_pct: f64,
    pub diagnosis_right_pct: f64,
}

impl ChaosReport {
    pub fn failed(&self) -> usize {
        self.cells.iter().filter(|c| c.failed()).count()
    }

    pub fn totals(&self) -> Totals {
        let judged: Vec<&Judgement> = self.cells.iter().filter_map(|c| c.judgement.as_ref()).collect();
        let pct = |n: usize| if judged.is_empty() { 0.0 } else { 100.0 * n as f64 / judged.len() as f64 };
        Totals {
            cells: self.cells.len(),
            run: judged.len(),
            passed: self.cells.iter().filter(|c| c.passed()).count(),
            skipped: self.cells.iter().filter(|c| c.skipped.is_some()).count(),
            promise_held_pct: pct(judged.iter().filter(|j| j.promise_held).count()),
            diagnosis_right_pct: pct(judged.iter().filter(|j| j.diagnosis_right).count()),
        }
    }
}

fn promise_word(p: &Promise) -> &'static str {
    match p {
        Promise::Recovers => "recovers",
        Promise::Quarantined { .. } => "quarantined",
        Promise::Broken { .. } => "broken",
    }
}

/// The cells without running them, one a line; those that cannot run on
/// `runtime` say why.
pub fn list(cells: &[Cell], runtime: crate::runtime::Runtime) -> String {
    let mut out = format!("{:<21} {:<34} {:<12} EXPECTED\n", "KIND", "HOP", "PROMISE");
    for c in cells {
        let expected = match (c.kind.not_applicable(runtime), &c.promise) {
            (Some(why), _) => why.to_owned(),
            (None, Promise::Recovers) => "passes, no broken hop".to_owned(),
            (None, Promise::Quarantined { dlq }) => format!("passes, poison in {dlq} DLQ"),
            (None, Promise::Broken { dlq: Some(q), reason }) => format!("{reason}, in {q} DLQ"),
            (None, Promise::Broken { dlq: None, reason }) => reason.to_string(),
        };
        let _ = writeln!(
            out,
            "{:<21} {:<34} {:<12} {expected}",
            c.kind.name(),
            c.hop.to_string(),
            promise_word(&c.promise)
        );
    }
    let _ = writeln!(out, "{} cells", cells.len());
    out
}

/// The table (fault kind × hop) and the totals.
pub fn table(report: &ChaosReport) -> String {
    let mut out =
        format!("{:<21} {:<34} {:<8} {:<84} {:<6} {:>8}\n", "KIND", "HOP", "OUTCOME", "DIAGNOSED", "RIGHT", "VERDICT");
    for c in &report.cells {
        let (outcome, diagnosed, right, verdict) = match (&c.report, &c.judgement) {
            (Some(r), Some(j)) => {
                let outcome = if r.failed() { "failed" } else { "passed" };
                let diagnosed = j.diagnosed.as_ref().map(|(h, k)| format!("{h}: {k}")).unwrap_or_else(|| "—".into());
                let right = if c.passed() { "right" } else { "WRONG" };
                let verdict = r.verdict_after.map(|v| format!("{} ms", v.as_millis())).unwrap_or_default();
                (outcome, diagnosed, right, verdict)
            }
            _ => ("skipped", "—".into(), "-", String::new()),
        };
        let _ = writeln!(
            out,
            "{:<21} {:<34} {:<8} {:<84} {:<6} {:>8}",
            c.cell.kind.name(),
            c.cell.hop.to_string(),
            outcome,
            diagnosed,
            right,
            verdict
        );
        if let Some(why) = c.judgement.as_ref().and_then(|j| j.why.as_ref()).filter(|_| c.failed()) {
            let _ = writeln!(out, "    ✗ {why}");
        }
        // A cell that did not hold, kept as a scenario of its own.
        for (_, command) in
            c.report.iter().filter(|_| c.failed()).flat_map(|r| r.regression_commands(&report.namespace))
        {
            let _ = writeln!(out, "    as a scenario: {command}");
        }
        if let Some(why) = &c.skipped {
            let first = why.lines().next().unwrap_or_default();
            let _ = writeln!(out, "    skipped: {first}");
        }
    }
    let t = report.totals();
    let _ = writeln!(
        out,
        "\n{} cells: {} run, {} passed, {} failed, {} skipped; promise held {:.0} %, diagnosis right {:.0} %; {:.1} s",
        t.cells,
        t.run,
        t.passed,
        report.failed(),
        t.skipped,
        t.promise_held_pct,
        t.diagnosis_right_pct,
        report.took.as_secs_f64()
    );
    out
}

/// One `testcase` per cell, classname `chaos.<kind>`.
pub fn junit(report: &ChaosReport) -> String {
    let cases = report
        .cells
        .iter()
        .map(|c| {
            let verdict = match (&c.judgement, &c.skipped) {
                (_, Some(why)) => Verdict::Skipped(why.clone()),
                (Some(j), _) if !c.passed() => Verdict::Failed {
                    message: j.why.clone().unwrap_or_else(|| "the cell did not hold".into()),
                    kind: Some(if j.promise_held { "diagnosis" } else { "promise" }.into()),
                    text: c.report.as_ref().map(|r| r.failure_text()),
                },
                _ => Verdict::Passed,
            };
            Case {
                classname: format!("chaos.{}", c.cell.kind.name()),
                name: c.cell.hop.to_string(),
                file: None,
                time: c.report.as_ref().map(|r| r.took),
                verdict,
                out: c
                    .judgement
                    .as_ref()
                    .and_then(|j| j.diagnosed.as_ref())
                    .map(|(h, k)| format!("diagnosed {h}: {k}")),
            }
        })
        .collect();
    let suite =
        Suite { name: "chaos".into(), cases, time: Some(report.took), timestamp: Some(report.started_at.clone()) };
    junit::render("fare chaos", Some(report.took), &[suite])
}

/// The load's ledger and kills, for the terminal.
pub fn load_table(report: &super::LoadReport) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "{:<26} {:<12} {:<6} {:>8} {:>6} {:>5} {:>7}",
        "EFFECT", "READ FROM", "PER", "EXPECTED", "FOUND", "LOST", "DOUBLED"
    );
    for r in &report.ledger.rows {
        let mark = if r.holds() { "" } else { "  ✗" };
        let _ = writeln!(
            out,
            "{:<26} {:<12} {:<6} {:>8} {:>6} {:>5} {:>7}{mark}",
            r.effect,
            r.service,
            match r.per {
                crate::workload::Per::Order => "order",
                crate::workload::Per::User => "user",
                crate::workload::Per::Load => "load",
            },
            r.expected,
            r.found,
            r.lost.len(),
            r.doubled.len()
        );
        for (what, list) in [("lost", &r.lost), ("doubled", &r.doubled), ("unread", &r.unread)] {
            if !list.is_empty() {
                let shown: Vec<&str> = list.iter().take(5).map(String::as_str).collect();
                let more = list.len().saturating_sub(shown.len());
                let more = if more > 0 { format!(" and {more} more") } else { String::new() };
                let _ = writeln!(out, "  {what}: {}{more}", shown.join(", "));
            }
        }
    }
    for k in &report.kills {
        let back = k.back_after_ms.map_or_else(|| "did not come back".to_owned(), |ms| format!("back after {ms} ms"));
        let _ = writeln!(
            out,
            "kill: {} (pid {}) at {:.1}s, with {} orders placed and {} done; {back}",
            k.service,
            k.pid,
            k.at_ms as f64 / 1e3,
            k.after_orders,
            k.done
        );
    }
    for r in &report.refused {
        let _ = writeln!(out, "refused: {r}");
    }
    if let Some(e) = &report.not_drained {
        let _ = writeln!(out, "not drained: {e}");
    }
    let _ = writeln!(
        out,
        "{} of {} orders placed in {:.1}s ({} found placed after their request died); \
         drained {:.1}s after the last; seed {}",
        report.placed.len(),
        report.asked,
        report.placing_ms as f64 / 1e3,
        report.reconciled,
        report.drain_ms as f64 / 1e3,
        report.seed
    );
    if let Some(d) = &report.diverged {
        let _ = writeln!(out, "{d}");
    }
    let verdict = if report.held() { "every effect exactly once" } else { "NOT every effect exactly once" };
    let _ = writeln!(out, "{verdict}");
    out
}
