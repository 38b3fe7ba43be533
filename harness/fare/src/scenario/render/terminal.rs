//! The terminal: a line per scenario as it starts and ends (and what the
//! supervisor did to the platform meanwhile), then a summary
//! and, for each failed scenario, its failure report.

use std::io::Write;

use crate::runtime::SupervisorEvent;
use crate::scenario::model::Scenario;
use crate::scenario::report::{Outcome, RunReport, ScenarioReport};
use crate::scenario::schedule::Progress;
use crate::terminal::{self, Color, Stream, Verbosity, paint};

/// Prints progress on stderr as scenarios start and finish: the start
/// lines only where a person watches (a terminal, or `-v`), nothing with
/// `-q`, the marks in colour where colour shows.
pub struct TerminalProgress {
    pub total: usize,
    done: std::sync::atomic::AtomicUsize,
}

impl TerminalProgress {
    pub fn new(total: usize) -> TerminalProgress {
        TerminalProgress { total, done: Default::default() }
    }
}

impl Progress for TerminalProgress {
    fn started(&self, s: &Scenario) {
        let t = terminal::get();
        if t.verbosity >= Verbosity::Verbose || (t.stderr_tty && t.verbosity > Verbosity::Quiet) {
            eprintln!("fare: e2e: {} …", s.name);
        }
    }

    fn finished(&self, r: &ScenarioReport) {
        let n = self.done.fetch_add(1, std::sync::atomic::Ordering::Relaxed) + 1;
        if terminal::get().verbosity == Verbosity::Quiet {
            return;
        }
        let mark = match &r.outcome {
            Outcome::Passed => paint("ok  ", Color::Green, Stream::Stderr),
            Outcome::Failed => paint("FAIL", Color::Red, Stream::Stderr),
            Outcome::Skipped(_) => paint("skip", Color::Yellow, Stream::Stderr),
        };
        let mut err = std::io::stderr().lock();
        let _ = writeln!(err, "fare: e2e: [{n}/{}] {mark} {} ({:.1}s)", self.total, r.name, r.took.as_secs_f64());
    }

    fn supervised(&self, event: &SupervisorEvent) {
        eprintln!("fare: {event}");
    }
}

/// The summary: one line per scenario, the failures in full, the totals.
pub fn summary(report: &RunReport) -> String {
    let mut out = String::new();
    out.push_str(&format!("{:<34} {:<7} {:>8} {:>8}  CORRELATION ID\n", "SCENARIO", "RESULT", "TIME", "QUIET"));
    for s in &report.scenarios {
        let result = match &s.outcome {
            Outcome::Passed => "ok",
            Outcome::Failed => "FAILED",
            Outcome::Skipped(_) => "skipped",
        };
        let quiet = s.quiet_after.map(|q| format!("{:.1}s", q.as_secs_f64())).unwrap_or_else(|| "-".into());
        out.push_str(&format!(
            "{:<34} {:<7} {:>7.1}s {:>8}  {}\n",
            s.name,
            result,
            s.took.as_secs_f64(),
            quiet,
            s.correlation_id
        ));
    }
    for s in &report.scenarios {
        match &s.outcome {
            Outcome::Failed => {
                out.push_str(&format!("\n{} failed ({}):\n{}", s.name, s.file.display(), s.failure_text()))
            }
            Outcome::Skipped(why) => out.push_str(&format!("\n{} skipped: {why}\n", s.name)),
            Outcome::Passed => {}
        }
    }
    for note in &report.notes {
        out.push_str(&format!("\nnote: {note}\n"));
    }
    out.push_str(&format!(
        "\n{} passed, {} failed, {} skipped in {:.1}s\n",
        report.passed(),
        report.failed(),
        report.skipped(),
        report.took.as_secs_f64()
    ));
    if let Some(share) = &report.share {
        out.push_str(&format!("{}\n", share.line(report.scenarios.len())));
    }
    out
}
