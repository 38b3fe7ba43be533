//! `fare e2e --json`: each scenario's result, failures and diagnosis.

use std::path::{Path, PathBuf};

use schemars::JsonSchema;
use serde::Serialize;

use crate::diagnosis::Diagnosis;
use crate::scenario::failure::Failure;
use crate::scenario::{Outcome, RunReport, ScenarioReport};

#[derive(Debug, Serialize, JsonSchema)]
pub struct E2eDoc {
    pub passed: usize,
    pub failed: usize,
    pub skipped: usize,
    pub took_ms: u64,
    /// What the whole run could not do (no spans from a remote target…).
    pub notes: Vec<String>,
    pub junit: Option<PathBuf>,
    pub html: PathBuf,
    pub scenarios: Vec<ScenarioDoc>,
}

#[derive(Debug, Serialize, JsonSchema)]
pub struct ScenarioDoc {
    pub name: String,
    pub file: PathBuf,
    pub result: Verdict,
    /// Why it was skipped.
    pub reason: Option<String>,
    pub took_ms: u64,
    pub quiet_after_ms: Option<u64>,
    pub correlation_id: String,
    pub failures: Vec<FailureDoc>,
    /// Where each chain broke, as `fare trace --expect` says it.
    pub diagnosis: Vec<Diagnosis>,
}

#[derive(Debug, Clone, Copy, Serialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum Verdict {
    Passed,
    Failed,
    Skipped,
}

/// A step or check that did not hold: `detail` in words, `failure` as data.
#[derive(Debug, Serialize, JsonSchema)]
pub struct FailureDoc {
    pub what: String,
    pub detail: String,
    pub chain: Option<String>,
    pub failure: Option<Failure>,
}

impl E2eDoc {
    pub fn new(report: &RunReport, junit: Option<&Path>, html: &Path) -> E2eDoc {
        E2eDoc {
            passed: report.passed(),
            failed: report.failed(),
            skipped: report.skipped(),
            took_ms: report.took.as_millis() as u64,
            notes: report.notes.clone(),
            junit: junit.map(Path::to_path_buf),
            html: html.to_path_buf(),
            scenarios: report.scenarios.iter().map(ScenarioDoc::of).collect(),
        }
    }
}

impl ScenarioDoc {
    fn of(s: &ScenarioReport) -> ScenarioDoc {
        let (result, reason) = match &s.outcome {
            Outcome::Passed => (Verdict::Passed, None),
            Outcome::Failed => (Verdict::Failed, None),
            Outcome::Skipped(why) => (Verdict::Skipped, Some(why.clone())),
        };
        let failures = s
            .failures()
            .map(|l| FailureDoc {
                what: l.what.clone(),
                detail: l.result.to_string(),
                chain: l.chain.clone(),
                failure: l.failure().cloned(),
            })
            .collect();
        ScenarioDoc {
            name: s.name.clone(),
            file: s.file.clone(),
            result,
            reason,
            took_ms: s.took.as_millis() as u64,
            quiet_after_ms: s.quiet_after.map(|q| q.as_millis() as u64),
            correlation_id: s.correlation_id.clone(),
            failures,
            diagnosis: s.diagnosis.clone(),
        }
    }
}
