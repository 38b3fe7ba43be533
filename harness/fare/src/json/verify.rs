//! `fare contracts verify --json`: each pact, each interaction, each mismatch.

use std::path::PathBuf;

use schemars::JsonSchema;
use serde::Serialize;

use crate::contracts::verify::report::{Mismatch, Outcome, VerifyReport};

#[derive(Debug, Serialize, JsonSchema)]
pub struct VerifyDoc {
    pub passed: bool,
    pub pacts: Vec<PactDoc>,
}

#[derive(Debug, Serialize, JsonSchema)]
pub struct PactDoc {
    pub file: PathBuf,
    pub consumer: String,
    pub provider: String,
    pub passed: bool,
    pub interactions: Vec<InteractionDoc>,
}

#[derive(Debug, Serialize, JsonSchema)]
pub struct InteractionDoc {
    pub description: String,
    pub result: Verdict,
    pub mismatches: Vec<Mismatch>,
    /// Why it could not be replayed, for `error`.
    pub error: Option<String>,
}

#[derive(Debug, Clone, Copy, Serialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum Verdict {
    Passed,
    Mismatched,
    Error,
}

impl VerifyDoc {
    pub fn new(report: &VerifyReport) -> VerifyDoc {
        let pacts = report
            .pacts
            .iter()
            .map(|p| PactDoc {
                file: p.path.clone(),
                consumer: p.consumer.clone(),
                provider: p.provider.clone(),
                passed: p.passed(),
                interactions: p
                    .interactions
                    .iter()
                    .map(|i| {
                        let (result, mismatches, error) = match &i.outcome {
                            Outcome::Passed => (Verdict::Passed, Vec::new(), None),
                            Outcome::Mismatched(list) => (Verdict::Mismatched, list.clone(), None),
                            Outcome::Error(e) => (Verdict::Error, Vec::new(), Some(e.clone())),
                        };
                        InteractionDoc { description: i.description.clone(), result, mismatches, error }
                    })
                    .collect(),
            })
            .collect();
        VerifyDoc { passed: report.passed(), pacts }
    }
}
