//! The result of verifying the pacts, as data: one [`PactVerification`]
//! per pact file, one [`InteractionVerification`] per interaction, each
//! failure down to the JSON path (or header, metadata key, status) with
//! what the pact expected and what the provider gave. The terminal table and
//! JUnit XML are views of it.

use crate::junit::{Case, Suite, Verdict, render};
use std::path::PathBuf;

use serde_json::Value;

#[derive(Debug, Clone)]
pub struct VerifyReport {
    pub pacts: Vec<PactVerification>,
}

#[derive(Debug, Clone)]
pub struct PactVerification {
    pub path: PathBuf,
    pub consumer: String,
    pub provider: String,
    pub interactions: Vec<InteractionVerification>,
}

#[derive(Debug, Clone)]
pub struct InteractionVerification {
    pub description: String,
    pub outcome: Outcome,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Outcome {
    Passed,
    /// The provider answered, and not as the pact says.
    Mismatched(Vec<Mismatch>),
    /// The interaction could not be replayed (state, transport, builder).
    Error(String),
}

/// One difference between the pact and the provider.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, schemars::JsonSchema)]
pub struct Mismatch {
    /// A JSON path (`$.data.order_id`), `metadata.<key>`, `header <name>`, `status`…
    pub at: String,
    pub expected: String,
    pub actual: String,
    /// The matcher's own words.
    pub detail: String,
}

impl Mismatch {
    /// From `pact_matching::Mismatch::to_json`.
    pub fn from_pact_json(json: &Value) -> Mismatch {
        // The matcher gives a missing value as null or as "".
        let text = |key: &str| match &json[key] {
            Value::Null => "(nothing)".to_owned(),
            Value::String(s) if s.is_empty() => "(nothing)".to_owned(),
            Value::String(s) => s.clone(),
            other => other.to_string(),
        };
        let at = match json["type"].as_str().unwrap_or_default() {
            "BodyMismatch" => text("path"),
            "MetadataMismatch" => format!("metadata.{}", text("key")),
            "HeaderMismatch" => format!("header {}", text("key")),
            "QueryMismatch" => format!("query {}", text("parameter")),
            "StatusMismatch" => "status".into(),
            "MethodMismatch" => "method".into(),
            "PathMismatch" => "path".into(),
            "BodyTypeMismatch" => "body content type".into(),
            other => other.to_owned(),
        };
        Mismatch { at, expected: text("expected"), actual: text("actual"), detail: text("mismatch") }
    }
}

impl PactVerification {
    pub fn passed(&self) -> bool {
        self.interactions.iter().all(|i| i.outcome == Outcome::Passed)
    }

    pub fn file_name(&self) -> String {
        self.path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default()
    }
}

impl VerifyReport {
    pub fn passed(&self) -> bool {
        self.pacts.iter().all(PactVerification::passed)
    }

    /// Every failure, one line each: pact, interaction, where, expected vs actual.
    pub fn failures(&self) -> Vec<String> {
        let mut out = Vec::new();
        for pact in &self.pacts {
            for i in &pact.interactions {
                let head = format!("{} ({} → {}) `{}`", pact.file_name(), pact.consumer, pact.provider, i.description);
                match &i.outcome {
                    Outcome::Passed => {}
                    Outcome::Error(e) => out.push(format!("{head}: {e}")),
                    Outcome::Mismatched(list) => out.extend(list.iter().map(|m| {
                        format!("{head}: {}: expected {}, actual {} ({})", m.at, m.expected, m.actual, m.detail)
                    })),
                }
            }
        }
        out
    }
}

/// One row per pact, then every failure.
pub fn table(report: &VerifyReport) -> String {
    let mut out = format!("{:<42} {:>12} {:<6} FILE\n", "CONSUMER → PROVIDER", "INTERACTIONS", "RESULT");
    for pact in &report.pacts {
        let pair = format!("{} → {}", pact.consumer, pact.provider);
        let result = if pact.passed() { "ok" } else { "FAIL" };
        out.push_str(&format!("{pair:<42} {:>12} {result:<6} {}\n", pact.interactions.len(), pact.path.display()));
    }
    let failures = report.failures();
    let interactions: usize = report.pacts.iter().map(|p| p.interactions.len()).sum();
    let failed = report.pacts.iter().filter(|p| !p.passed()).count();
    out.push_str(&format!("{} pacts, {interactions} interactions, {failed} pacts failed\n", report.pacts.len()));
    for f in failures {
        out.push_str(&format!("FAIL {f}\n"));
    }
    out
}

/// JUnit XML: one suite per pact, one test case per interaction.
pub fn junit(report: &VerifyReport) -> String {
    let suites: Vec<Suite> = report
        .pacts
        .iter()
        .map(|pact| {
            let name = format!("{} → {}", pact.consumer, pact.provider);
            let cases = pact
                .interactions
                .iter()
                .map(|i| {
                    let failure = match &i.outcome {
                        Outcome::Passed => None,
                        Outcome::Error(e) => Some(e.clone()),
                        Outcome::Mismatched(list) => Some(
                            list.iter()
                                .map(|m| {
                                    format!("{}: expected {}, actual {} ({})", m.at, m.expected, m.actual, m.detail)
                                })
                                .collect::<Vec<_>>()
                                .join("; "),
                        ),
                    };
                    Case {
                        classname: name.clone(),
                        name: i.description.clone(),
                        verdict: match failure {
                            None => Verdict::Passed,
                            Some(message) => Verdict::Failed { message, kind: None, text: None },
                        },
                        ..Case::default()
                    }
                })
                .collect();
            Suite { name, cases, ..Suite::default() }
        })
        .collect();
    render("fare contracts verify", None, &suites)
}
