//! What `--json` prints: one typed document per command, serialised from
//! its type, and the JSON Schema of each generated from that same type
//! (`fare schema NAME`). The schemas are committed under `docs/schemas/`,
//! and a test holds them to the types and the commands' output to them.
//!
//! # Layout
//! - this file: the documents by name, their schemas, printing one.
//! - `plan`, `check`, `verify`, `e2e`, `status`: each command's document,
//!   built from its typed result. `fare trace --json` and `fare chaos
//!   --load --json` print typed results as they are ([`TraceDoc`],
//!   [`crate::chaos::LoadReport`]).

mod check;
mod e2e;
mod plan;
mod status;
mod verify;

use schemars::JsonSchema;
use serde::Serialize;

pub use check::{CheckDoc, ProblemDoc};
pub use e2e::{E2eDoc, FailureDoc, ScenarioDoc};
pub use plan::{ChangeDoc, PlanDoc};
pub use status::{FakeDoc, ServiceDoc, StatusDoc};
pub use verify::{InteractionDoc, PactDoc, VerifyDoc};

/// `fare trace ID --json`: the chain's tree, and with `--expect` where it broke.
#[derive(Debug, Serialize, JsonSchema)]
pub struct TraceDoc<'a> {
    pub trace: &'a crate::trace::Trace,
    pub diagnosis: Option<&'a crate::diagnosis::Diagnosis>,
}

/// Every document `--json` prints, by the name `fare schema` takes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Doc {
    /// `fare plan --json`.
    Plan,
    /// `fare check --json`.
    Check,
    /// `fare contracts verify --json`.
    Verify,
    /// `fare e2e --json`.
    E2e,
    /// `fare trace ID --json`.
    Trace,
    /// `fare status --json`.
    Status,
    /// `fare chaos --load N --json`.
    Load,
}

impl Doc {
    pub const ALL: [Doc; 7] = [Doc::Plan, Doc::Check, Doc::Verify, Doc::E2e, Doc::Trace, Doc::Status, Doc::Load];

    /// Its name: `e2e`, as `fare schema` and the file under `docs/schemas/` spell it.
    pub fn name(self) -> &'static str {
        match self {
            Doc::Plan => "plan",
            Doc::Check => "check",
            Doc::Verify => "verify",
            Doc::E2e => "e2e",
            Doc::Trace => "trace",
            Doc::Status => "status",
            Doc::Load => "load",
        }
    }

    /// `NAME.schema.json`: its file under `docs/schemas/`.
    pub fn file_name(self) -> String {
        format!("{}.schema.json", self.name())
    }

    /// Its JSON Schema (draft 2020-12), generated from its type.
    pub fn schema(self) -> serde_json::Value {
        let schema = match self {
            Doc::Plan => schemars::schema_for!(PlanDoc),
            Doc::Check => schemars::schema_for!(CheckDoc),
            Doc::Verify => schemars::schema_for!(VerifyDoc),
            Doc::E2e => schemars::schema_for!(E2eDoc),
            Doc::Trace => schemars::schema_for!(TraceDoc<'static>),
            Doc::Status => schemars::schema_for!(StatusDoc),
            Doc::Load => schemars::schema_for!(crate::chaos::LoadReport),
        };
        schema.to_value()
    }

    /// Its schema as the committed file holds it: pretty, with a final newline.
    pub fn schema_text(self) -> String {
        let mut text = serde_json::to_string_pretty(&self.schema()).unwrap_or_default();
        text.push('\n');
        text
    }
}

/// Prints `doc` on standard output, pretty.
pub fn print(doc: &impl Serialize) -> Result<(), serde_json::Error> {
    println!("{}", serde_json::to_string_pretty(doc)?);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The schemas under `docs/schemas/` are what the types generate:
    /// a type changed without its schema (or a schema edited by hand) fails here.
    #[test]
    fn the_committed_schemas_are_the_types() {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../docs/schemas");
        let stale: Vec<String> = Doc::ALL
            .iter()
            .filter(|doc| std::fs::read_to_string(dir.join(doc.file_name())).ok() != Some(doc.schema_text()))
            .map(|doc| format!("docs/schemas/{}", doc.file_name()))
            .collect();
        assert!(stale.is_empty(), "{stale:?} differ from the types: `fare schema --write docs/schemas`");
    }

    /// A document as fare prints it conforms to its schema; one of another
    /// shape does not, and is told where.
    #[test]
    fn a_schema_takes_the_document_and_refuses_another_shape() {
        let ns = kit::bus::Namespace::parse("fare").unwrap();
        let changes = [crate::provision::Change::CreateTopic { name: "fare-order-placed".into() }];
        let printed = serde_json::to_value(PlanDoc::new(&ns, "http://127.0.0.1:4566", &changes)).unwrap();
        let validator = jsonschema::validator_for(&Doc::Plan.schema()).unwrap();
        assert!(validator.is_valid(&printed), "{printed:#}");
        let mut other = printed.clone();
        other["changes"][0]["op"] = "make".into();
        let errors: Vec<String> = validator.iter_errors(&other).map(|e| e.instance_path().to_string()).collect();
        assert_eq!(errors, ["/changes/0/op"]);
    }

    /// Every document's schema names the fields scripts read.
    #[test]
    fn each_schema_describes_its_document() {
        let e2e = Doc::E2e.schema();
        let scenario = &e2e["$defs"]["ScenarioDoc"]["properties"];
        for field in ["name", "result", "failures", "diagnosis", "correlation_id"] {
            assert!(scenario.get(field).is_some(), "{field} in {scenario:#}");
        }
        let results = &e2e["$defs"]["Verdict"];
        assert_eq!(results["enum"], serde_json::json!(["passed", "failed", "skipped"]), "{results:#}");
        let trace = Doc::Trace.schema();
        assert!(trace["$defs"].get("Trace").is_some() && trace["$defs"].get("Diagnosis").is_some(), "{trace:#}");
    }
}
