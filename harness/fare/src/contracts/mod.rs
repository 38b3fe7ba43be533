//! Contracts: the committed Pact files held against the manifests (`fare
//! contracts check`) and replayed against the real providers (`fare
//! contracts verify`). Running and rendering are separate: each report is
//! data, the tables and JUnit are views of it.
//!
//! # Layout
//! - `pacts`: reading a pact file: its parties, interactions, and the event each message carries.
//! - `broker`: fare as a Pact Broker client: publish, can-i-deploy, environments, deployments.
//! - `check`: the topology rules, the filter-policy evaluation, the typed report.
//! - `verify`: provider verification with `pact_verifier`: providers, message stand-in, report.
//! - `coverage`: the pacts held against a run's record: interactions not exercised, traffic without a pact, messages that differ.
//! - this file: errors, loading both sides, rendering the check.

pub mod broker;
pub mod check;
pub mod coverage;
pub mod pacts;
pub mod verify;

use crate::junit::{Case, Suite, Verdict, render};
use std::path::{Path, PathBuf};

pub use check::{CheckReport, Finding, Rule, check};
pub use pacts::PactFile;

#[derive(Debug, thiserror::Error)]
pub enum ContractsError {
    #[error("reading {path}: {source}")]
    Read { path: PathBuf, source: std::io::Error },
    #[error("{path} is not a pact file: {message}")]
    BadPact { path: PathBuf, message: String },
    #[error(transparent)]
    Manifest(#[from] crate::ManifestError),
}

/// Loads every manifest under `services_dir` and every pact under
/// `pacts_dir`, and checks them. The manifests are not required to agree
/// among themselves first: their disagreements are findings here.
pub fn check_dirs(services_dir: &Path, pacts_dir: &Path) -> Result<CheckReport, ContractsError> {
    let manifests = crate::manifest::load_all(services_dir)?;
    let pacts = pacts::load_dir(pacts_dir)?;
    Ok(check(&manifests, &pacts))
}

/// The report as a terminal table, failures last in each rule.
pub fn table(report: &CheckReport) -> String {
    let mut out = format!("{:<10} {:<44} {:<6} DETAIL\n", "RULE", "SUBJECT", "RESULT");
    for f in &report.findings {
        let (result, detail) = match &f.failure {
            None => ("ok", f.detail.as_str()),
            Some(message) => ("FAIL", message.as_str()),
        };
        out.push_str(&format!("{:<10} {:<44} {:<6} {detail}\n", f.rule.to_string(), f.subject, result));
    }
    let failed = report.failures().count();
    out.push_str(&format!("{} checks, {failed} failed\n", report.findings.len()));
    out
}

/// The report as JUnit XML: one test case per finding, one suite per rule.
pub fn junit(report: &CheckReport) -> String {
    let mut rules: Vec<Rule> = report.findings.iter().map(|f| f.rule).collect();
    rules.dedup();
    let suites: Vec<Suite> = rules
        .into_iter()
        .map(|rule| Suite {
            name: rule.to_string(),
            cases: report
                .findings
                .iter()
                .filter(|f| f.rule == rule)
                .map(|f| Case {
                    classname: rule.to_string(),
                    name: f.subject.clone(),
                    verdict: match &f.failure {
                        None => Verdict::Passed,
                        Some(m) => Verdict::Failed { message: m.clone(), kind: None, text: None },
                    },
                    ..Case::default()
                })
                .collect(),
            ..Suite::default()
        })
        .collect();
    render("fare contracts check", None, &suites)
}
