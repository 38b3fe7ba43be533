//! JUnit documents of one run's partitions made one: the suites of one name
//! (`e2e`) become one suite with every case, in the order of their files
//! (the order an unpartitioned run has them), its time the sum of theirs and
//! its timestamp the earliest; the document's time is the sum of the
//! partitions' times, the runner time they took together. The totals
//! (tests, failures, errors, skipped) are counted from the cases, so they
//! are the whole run's. A case (by class name and name) in two inputs is
//! refused.

use std::path::PathBuf;
use std::time::Duration;

use super::{Claims, MergeError, read_all};
use crate::junit::{self, Document};

/// Reads the JUnit files `inputs` and merges them.
pub fn merge_files(inputs: &[PathBuf]) -> Result<Document, MergeError> {
    let documents = read_all(inputs, |path| {
        let text = std::fs::read_to_string(path).map_err(|source| MergeError::Read { path: path.clone(), source })?;
        junit::read(&text).map_err(|source| MergeError::Junit { path: path.clone(), source })
    })?;
    merge(documents)
}

/// Merges `documents`, each with the file it came from.
pub fn merge(documents: Vec<(PathBuf, Document)>) -> Result<Document, MergeError> {
    let paths: Vec<PathBuf> = documents.iter().map(|(path, _)| path.clone()).collect();
    let mut claims = Claims::new();
    let mut merged = Document::default();
    for (input, (_, document)) in documents.into_iter().enumerate() {
        if input == 0 {
            merged.name = document.name;
        }
        merged.time = sum(merged.time, document.time);
        for suite in document.suites {
            for case in &suite.cases {
                let what = || format!("test case `{}` (class {})", case.name, case.classname);
                claims.claim((case.classname.clone(), case.name.clone()), input, &paths, what)?;
            }
            match merged.suites.iter_mut().find(|s| s.name == suite.name) {
                Some(into) => {
                    into.cases.extend(suite.cases);
                    into.time = sum(into.time, suite.time);
                    into.timestamp = match (into.timestamp.take(), suite.timestamp) {
                        // RFC 3339 in UTC, as fare writes it, sorts as text.
                        (Some(a), Some(b)) => Some(a.min(b)),
                        (a, b) => a.or(b),
                    };
                }
                None => merged.suites.push(suite),
            }
        }
    }
    for suite in &mut merged.suites {
        suite.cases.sort_by(|a, b| (&a.file, &a.classname, &a.name).cmp(&(&b.file, &b.classname, &b.name)));
    }
    Ok(merged)
}

fn sum(a: Option<Duration>, b: Option<Duration>) -> Option<Duration> {
    match (a, b) {
        (Some(a), Some(b)) => Some(a + b),
        (a, b) => a.or(b),
    }
}

#[cfg(test)]
mod tests {
    use std::path::PathBuf;
    use std::time::Duration;

    use super::*;
    use crate::scenario::failure::Failure;
    use crate::scenario::report::{Held, Line, Outcome, RunReport, ScenarioReport};
    use crate::scenario::{Partition, render};

    fn scenario(name: &str, outcome: Outcome, took_ms: u64) -> ScenarioReport {
        let result = match outcome {
            Outcome::Failed => {
                Held::Failed(Failure::Harness { error: "missing order.placed > device.allocated & <more>".into() })
            }
            _ => Held::Done("as expected".into()),
        };
        let check =
            Line { what: "chain main".into(), took: Duration::from_millis(3), chain: Some("main".into()), result };
        ScenarioReport {
            name: name.into(),
            file: PathBuf::from(format!("scenarios/{name}.yaml")),
            description: String::new(),
            correlation_id: format!("e2e-{name}"),
            outcome,
            took: Duration::from_millis(took_ms),
            quiet_after: None,
            steps: Vec::new(),
            checks: vec![check],
            chains: Vec::new(),
            dead_letters: Vec::new(),
            diagnosis: Vec::new(),
            verdict_after: None,
            secrets: Vec::new(),
        }
    }

    fn run(scenarios: Vec<ScenarioReport>) -> RunReport {
        RunReport {
            namespace: "fare-e2e".into(),
            started_at: "2025-05-01T10:00:00Z".into(),
            // The runner time of a partition: its scenarios one after another.
            took: scenarios.iter().map(|s| s.took).sum(),
            scenarios,
            share: None,
            notes: Vec::new(),
        }
    }

    fn whole() -> RunReport {
        let outcomes = [
            Outcome::Passed,
            Outcome::Failed,
            Outcome::Skipped("needs control of the platform".into()),
            Outcome::Passed,
            Outcome::Failed,
        ];
        let scenarios = (0..17)
            .map(|i| scenario(&format!("scenario-{i:02}"), outcomes[i % outcomes.len()].clone(), 100 + 37 * i as u64))
            .collect();
        run(scenarios)
    }

    fn partitions(spec: &str) -> Vec<(PathBuf, Document)> {
        (1..=3)
            .map(|m| {
                let partition: Partition = format!("{spec}:{m}/3").parse().unwrap();
                let mine = partition.select(whole().scenarios, |s| s.name.as_str());
                let path = PathBuf::from(format!("e2e-junit-{m}.xml"));
                (path, junit::read(&render::junit(&run(mine))).unwrap())
            })
            .collect()
    }

    #[test]
    fn three_partitions_merge_into_the_whole_runs_junit() {
        let whole = render::junit(&whole());
        for spec in ["hash", "count"] {
            let merged = merge(partitions(spec)).unwrap();
            let expected = junit::read(&whole).unwrap();
            assert_eq!(merged.totals(), expected.totals(), "{spec}");
            let totals = merged.totals();
            assert_eq!((totals.tests, totals.failures, totals.errors, totals.skipped), (17, 7, 0, 3), "{spec}");
            // Not only the totals: the very document, case by case.
            assert_eq!(merged.render(), whole, "{spec}");
        }
    }

    #[test]
    fn an_empty_partition_merges_as_nothing() {
        let mut inputs = partitions("count");
        let empty = render::junit(&RunReport { started_at: "2025-05-01T11:00:00Z".into(), ..run(Vec::new()) });
        inputs.push(("e2e-junit-4.xml".into(), junit::read(&empty).unwrap()));
        assert_eq!(merge(inputs).unwrap().render(), render::junit(&whole()));
    }

    #[test]
    fn a_case_in_two_inputs_is_refused_naming_both() {
        let mut inputs = partitions("hash");
        let again = inputs[0].1.clone();
        let case = again.suites[0].cases[0].name.clone();
        inputs.push(("again.xml".into(), again));
        let err = merge(inputs).unwrap_err();
        let MergeError::Overlap { first, second, .. } = &err else { panic!("{err}") };
        assert_eq!((first, second), (&PathBuf::from("e2e-junit-1.xml"), &PathBuf::from("again.xml")));
        let message = err.to_string();
        assert!(message.contains(&case) && message.contains("overlap"), "{message}");
    }

    #[test]
    fn files_are_read_and_named_in_errors() {
        let dir = tempfile::tempdir().unwrap();
        let inputs: Vec<PathBuf> = partitions("hash")
            .into_iter()
            .map(|(name, document)| {
                let path = dir.path().join(name);
                std::fs::write(&path, document.render()).unwrap();
                path
            })
            .collect();
        assert_eq!(merge_files(&inputs).unwrap().render(), render::junit(&whole()));
        assert!(matches!(merge_files(&[]), Err(MergeError::NoInput)));
        let same_twice = [inputs[0].clone(), inputs[0].clone()];
        assert!(matches!(merge_files(&same_twice), Err(MergeError::Overlap { .. })));
        let bad = dir.path().join("bad.xml");
        std::fs::write(&bad, "<html/>").unwrap();
        let err = merge_files(std::slice::from_ref(&bad)).unwrap_err().to_string();
        assert!(err.contains("bad.xml") && err.contains("not JUnit"), "{err}");
    }
}
