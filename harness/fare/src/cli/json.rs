//! `--json`: what `plan`, `check`, `contracts verify` and `e2e` print for
//! scripts, one schema each (documented in docs/json.md). Each
//! is a view of the same typed result the terminal view reads.

use std::path::Path;
use std::process::ExitCode;

use serde_json::{Value, json};

use crate::contracts::verify::report::{Outcome as VerifyOutcome, VerifyReport};
use crate::provision::Change;
use crate::scenario::{Outcome, RunReport};
use crate::topology::{Problem, Severity};

/// `fare plan --json`: `{namespace, endpoint, changes: [{op, kind, name, text}]}`.
pub fn plan(ns: &kit::bus::Namespace, endpoint: &str, changes: &[Change]) -> Value {
    let changes: Vec<Value> = changes
        .iter()
        .map(|c| {
            let (op, kind, name) = match c {
                Change::CreateTopic { name } => ("create", "topic", name.clone()),
                Change::DeleteTopic { name } => ("delete", "topic", name.clone()),
                Change::CreateQueue { name, .. } => ("create", "queue", name.clone()),
                Change::UpdateQueue { name, .. } => ("update", "queue", name.clone()),
                Change::DeleteQueue { name } => ("delete", "queue", name.clone()),
                Change::Subscribe { sub } => ("create", "subscription", format!("{} -> {}", sub.topic, sub.queue)),
                Change::UpdateFilter { sub } => ("update", "subscription", format!("{} -> {}", sub.topic, sub.queue)),
                Change::Unsubscribe { sub } => ("delete", "subscription", format!("{} -> {}", sub.topic, sub.queue)),
            };
            json!({"op": op, "kind": kind, "name": name, "text": c.to_string()})
        })
        .collect();
    json!({"namespace": ns.as_str(), "endpoint": endpoint, "changes": changes})
}

/// `fare check --json`: `{ok, services, events, problems: [{severity, path, line, column, message}]}`;
/// exit 1 when the manifests disagree, 2 when one cannot be read.
pub fn check(services: &Path) -> anyhow::Result<ExitCode> {
    let problem = |p: &Problem| {
        let severity = if p.severity == Severity::Error { "error" } else { "warning" };
        json!({"severity": severity, "path": p.path, "line": p.line, "column": p.column, "message": p.message})
    };
    let (out, code) = match crate::load_topology(services) {
        Ok((topology, warnings)) => (
            json!({
                "ok": true,
                "services": topology.services().count(),
                "events": topology.events().len(),
                "problems": warnings.iter().map(problem).collect::<Vec<_>>(),
            }),
            ExitCode::SUCCESS,
        ),
        Err(crate::LoadError::Topology(e)) => (
            json!({"ok": false, "services": null, "events": null, "problems": e.0.iter().map(problem).collect::<Vec<_>>()}),
            ExitCode::from(1),
        ),
        Err(crate::LoadError::Manifest(e)) => {
            let problems = unreadable(&e);
            (json!({"ok": false, "services": null, "events": null, "problems": problems}), ExitCode::from(2))
        }
    };
    println!("{}", serde_json::to_string_pretty(&out)?);
    Ok(code)
}

/// Each manifest that cannot be read, as a problem.
fn unreadable(e: &crate::ManifestError) -> Vec<Value> {
    use crate::ManifestError as E;
    let (path, line, column, message) = match e {
        E::Several(all) => return all.iter().flat_map(unreadable).collect(),
        E::Syntax { path, line, column, message } => (path, Some(*line), Some(*column), message.clone()),
        E::Invalid { path, line, key, message } => (path, Some(*line), None, format!("`{key}`: {message}")),
        E::Read { path, source } => (path, None, None, source.to_string()),
        E::None(path) => (path, None, None, e.to_string()),
    };
    vec![json!({"severity": "error", "path": path, "line": line, "column": column, "message": message})]
}

/// `fare contracts verify --json`: `{passed, pacts: [{file, consumer, provider, passed,
/// interactions: [{description, result, mismatches: [{at, expected, actual, detail}], error}]}]}`.
pub fn verify(report: &VerifyReport) -> Value {
    let pacts: Vec<Value> = report
        .pacts
        .iter()
        .map(|p| {
            let interactions: Vec<Value> = p
                .interactions
                .iter()
                .map(|i| {
                    let (result, mismatches, error) = match &i.outcome {
                        VerifyOutcome::Passed => ("passed", Vec::new(), None),
                        VerifyOutcome::Mismatched(list) => ("mismatched", list.clone(), None),
                        VerifyOutcome::Error(e) => ("error", Vec::new(), Some(e.clone())),
                    };
                    let mismatches: Vec<Value> = mismatches
                        .iter()
                        .map(|m| json!({"at": m.at, "expected": m.expected, "actual": m.actual, "detail": m.detail}))
                        .collect();
                    json!({"description": i.description, "result": result, "mismatches": mismatches, "error": error})
                })
                .collect();
            json!({
                "file": p.path, "consumer": p.consumer, "provider": p.provider,
                "passed": p.passed(), "interactions": interactions,
            })
        })
        .collect();
    json!({"passed": report.passed(), "pacts": pacts})
}

/// `fare e2e --json`: `{passed, failed, skipped, took_ms, notes, junit, html, scenarios: [{name, file,
/// result, reason, took_ms, quiet_after_ms, correlation_id, failures: [{what, detail, chain, failure}],
/// diagnosis}]}`.
pub fn e2e(report: &RunReport, junit: Option<&Path>, html: &Path) -> Value {
    let scenarios: Vec<Value> = report
        .scenarios
        .iter()
        .map(|s| {
            let (result, reason) = match &s.outcome {
                Outcome::Passed => ("passed", None),
                Outcome::Failed => ("failed", None),
                Outcome::Skipped(why) => ("skipped", Some(why.as_str())),
            };
            let failures: Vec<Value> =
                s.failures().map(|l| json!({"what": l.what, "detail": l.result.to_string(), "chain": l.chain, "failure": l.failure()})).collect();
            json!({
                "name": s.name,
                "file": s.file,
                "result": result,
                "reason": reason,
                "took_ms": s.took.as_millis() as u64,
                "quiet_after_ms": s.quiet_after.map(|q| q.as_millis() as u64),
                "correlation_id": s.correlation_id,
                "failures": failures,
                "diagnosis": s.diagnosis,
            })
        })
        .collect();
    json!({
        "passed": report.passed(),
        "failed": report.failed(),
        "skipped": report.skipped(),
        "took_ms": report.took.as_millis() as u64,
        "notes": report.notes,
        "junit": junit,
        "html": html,
        "scenarios": scenarios,
    })
}
