//! What running scenarios found, as data: the renderers (terminal, JUnit,
//! HTML) read these and nothing else.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use serde::Serialize;

use super::failure::Failure;
use super::partition::Share;
use crate::diagnosis::Diagnosis;
use crate::trace::{ChainDiff, DeadLetter, Trace};

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "outcome", content = "reason", rename_all = "snake_case")]
pub enum Outcome {
    Passed,
    /// A step or an expectation did not hold.
    Failed,
    /// Not run, and why (it needs what this platform cannot give).
    Skipped(String),
}

/// One step, or one final check.
#[derive(Debug, Clone, Serialize)]
pub struct Line {
    pub what: String,
    #[serde(with = "crate::millis")]
    pub took: Duration,
    /// The chain the step belongs to, when it belongs to one.
    pub chain: Option<String>,
    #[serde(flatten)]
    pub result: Held,
}

/// Whether a step or check held: what it did (`201 in 12 ms`), or why not.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Held {
    Done(String),
    Failed(Failure),
}

impl Line {
    /// `result` of a step or check named `what`, begun at `started`.
    pub fn new(what: impl Into<String>, started: Instant, result: Result<String, Failure>) -> Self {
        let result = match result {
            Ok(done) => Held::Done(done),
            Err(failure) => Held::Failed(failure),
        };
        Line { what: what.into(), took: started.elapsed(), chain: None, result }
    }

    /// The same line, about one chain.
    pub fn in_chain(self, chain: impl ToString) -> Self {
        Line { chain: Some(chain.to_string()), ..self }
    }

    pub fn ok(&self) -> bool {
        matches!(self.result, Held::Done(_))
    }

    /// Why it did not hold, if it did not.
    pub fn failure(&self) -> Option<&Failure> {
        match &self.result {
            Held::Failed(f) => Some(f),
            Held::Done(_) => None,
        }
    }
}

impl std::fmt::Display for Held {
    /// What it did, or why it did not hold.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Held::Done(done) => write!(f, "{done}"),
            Held::Failed(failure) => write!(f, "{failure}"),
        }
    }
}

/// One chain of a scenario as it was seen.
#[derive(Debug, Clone, Serialize)]
pub struct ChainReport {
    pub label: String,
    pub correlation_id: String,
    /// The chain as the recorder has it.
    pub trace: Trace,
    /// Set when the chain was expected to be something.
    pub diff: Option<ChainDiff>,
}

#[derive(Debug, Clone, Serialize)]
pub struct ScenarioReport {
    pub name: String,
    pub file: PathBuf,
    pub description: String,
    pub correlation_id: String,
    pub outcome: Outcome,
    #[serde(with = "crate::millis")]
    pub took: Duration,
    /// How long the platform took to become quiet after the steps.
    #[serde(with = "crate::millis::opt")]
    pub quiet_after: Option<Duration>,
    pub steps: Vec<Line>,
    pub checks: Vec<Line>,
    pub chains: Vec<ChainReport>,
    pub dead_letters: Vec<DeadLetter>,
    /// Where each chain broke and why, when the scenario failed.
    pub diagnosis: Vec<Diagnosis>,
    /// From the platform going quiet (or stuck) to the verdict.
    #[serde(with = "crate::millis::opt")]
    pub verdict_after: Option<Duration>,
    /// Every credential the scenario sent or was given: never rendered,
    /// kept for a leak check to look for in logs, traces and reports.
    #[serde(skip)]
    pub secrets: Vec<String>,
}

impl ScenarioReport {
    /// The report of `s` under `correlation_id`, before anything ran: passed, so far.
    pub fn of(s: &super::Scenario, correlation_id: String) -> ScenarioReport {
        ScenarioReport {
            name: s.name.clone(),
            file: s.path.clone(),
            description: s.file.description.clone(),
            correlation_id,
            outcome: Outcome::Passed,
            took: Default::default(),
            quiet_after: None,
            steps: Vec::new(),
            checks: Vec::new(),
            chains: Vec::new(),
            dead_letters: Vec::new(),
            diagnosis: Vec::new(),
            verdict_after: None,
            secrets: Vec::new(),
        }
    }

    pub fn failed(&self) -> bool {
        self.outcome == Outcome::Failed
    }

    /// Every step and check that did not hold.
    pub fn failures(&self) -> impl Iterator<Item = &Line> {
        self.steps.iter().chain(&self.checks).filter(|l| !l.ok())
    }

    /// For each failed chain (each with a broken hop; else the main one):
    /// its label and the command that writes a scenario from its record
    /// that fails until the chain completes.
    pub fn regression_commands(&self, namespace: &str) -> Vec<(String, String)> {
        if !self.failed() {
            return Vec::new();
        }
        let mut chains: Vec<(&str, &str)> =
            self.diagnosis.iter().map(|d| (d.label.as_str(), d.correlation_id.as_str())).collect();
        if chains.is_empty() {
            chains.push(("main", &self.correlation_id));
        }
        chains.dedup();
        let file = |label: &str| match label {
            "main" => format!("{}-regression.yaml", self.name),
            label => format!("{}-{label}-regression.yaml", self.name),
        };
        chains
            .into_iter()
            .map(|(label, id)| {
                let command =
                    format!("fare --namespace {namespace} trace {id} --as-scenario {} --expect-topology", file(label));
                (label.to_owned(), command)
            })
            .collect()
    }

    /// The failure report: what did not hold, the diagnosis, the chain seen.
    pub fn failure_text(&self) -> String {
        let mut out = String::new();
        for l in self.failures() {
            out.push_str(&format!("  ✗ {}: {}\n", l.what, l.result));
        }
        for d in &self.diagnosis {
            out.push_str(&format!("  {}\n", d.to_string().replace('\n', "\n  ")));
        }
        if self.diagnosis.is_empty() && !self.chains.is_empty() {
            out.push_str("  no broken hop found: every chain is as expected\n");
        }
        if let Some(v) = self.verdict_after {
            out.push_str(&format!("  verdict {} ms after the platform settled\n", v.as_millis()));
        }
        for c in &self.chains {
            out.push_str(&format!("  chain {} ({}) as seen:\n{}", c.label, c.correlation_id, c.trace.render_text()));
        }
        out
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct RunReport {
    pub namespace: String,
    /// RFC 3339.
    pub started_at: String,
    #[serde(with = "crate::millis")]
    pub took: Duration,
    pub scenarios: Vec<ScenarioReport>,
    /// The partition this run was, when it was one (`--partition`).
    pub share: Option<Share>,
    /// What the reader of every diagnosis of the run should know: how
    /// fare observed the platform, when it saw less of it than usual (an
    /// environment that sends it no spans, `fare e2e --target`).
    pub notes: Vec<String>,
}

impl RunReport {
    /// A run of no scenario: a partition that got none of them.
    pub fn nothing(namespace: String) -> RunReport {
        let started_at =
            time::OffsetDateTime::now_utc().format(&time::format_description::well_known::Rfc3339).unwrap_or_default();
        RunReport { namespace, started_at, took: Duration::ZERO, scenarios: Vec::new(), share: None, notes: Vec::new() }
    }

    pub fn passed(&self) -> usize {
        self.scenarios.iter().filter(|s| s.outcome == Outcome::Passed).count()
    }

    pub fn failed(&self) -> usize {
        self.scenarios.iter().filter(|s| s.failed()).count()
    }

    pub fn skipped(&self) -> usize {
        self.scenarios.iter().filter(|s| matches!(s.outcome, Outcome::Skipped(_))).count()
    }
}
