//! Run records of one run's partitions made one: every event, span,
//! scenario, dead letter, exit, fault, rule and fake answer of each, which `fare contracts coverage --record` reads as it
//! reads an unpartitioned run's. A scenario, or an event (by its id), in
//! two inputs is refused.

use std::path::PathBuf;

use super::{Claims, MergeError, read_all};
use crate::trace::SavedRecord;

/// Reads the records `inputs` and merges them.
pub fn merge_files(inputs: &[PathBuf]) -> Result<SavedRecord, MergeError> {
    merge(read_all(inputs, |path| Ok(SavedRecord::read(path)?))?)
}

/// Merges `records`, each with the file it came from.
pub fn merge(records: Vec<(PathBuf, SavedRecord)>) -> Result<SavedRecord, MergeError> {
    let paths: Vec<PathBuf> = records.iter().map(|(path, _)| path.clone()).collect();
    let (mut scenarios, mut events) = (Claims::new(), Claims::new());
    let mut merged = SavedRecord::default();
    for (input, (_, record)) in records.into_iter().enumerate() {
        for name in &record.scenarios {
            scenarios.claim(name.clone(), input, &paths, || format!("scenario `{name}`"))?;
        }
        // Records of old, or of `fare up`, name no scenario: their events tell them apart.
        for published in &record.events {
            let what = || format!("event {} ({})", published.event.id, published.event.event_type);
            events.claim(published.event.id, input, &paths, what)?;
        }
        merged.events.extend(record.events);
        merged.spans.extend(record.spans);
        merged.scenarios.extend(record.scenarios);
        merged.dead_letters.extend(record.dead_letters);
        merged.exits.extend(record.exits);
        merged.faults.extend(record.faults);
        merged.rules.extend(record.rules);
        // Each partition ran its own fakes: their logs add up.
        for (fake, logged) in record.fakes {
            merged.fakes.entry(fake).or_default().extend(logged);
        }
    }
    merged.scenarios.sort();
    Ok(merged)
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;
    use std::path::{Path, PathBuf};

    use super::*;
    use crate::contracts::coverage::{CoverageReport, coverage};
    use crate::contracts::pacts;
    use crate::diagnosis::tests::span;
    use crate::trace::Published;

    /// A scenario's part of a record: `provider`'s event handled by
    /// `consumer`, and a call of `caller` to users.
    fn part(scenario: &str, provider: &str, event_type: &str, consumer: &str, caller: &str) -> SavedRecord {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../contracts/pacts");
        let example = pacts::example_event(&pacts::load_dir(&dir).unwrap(), provider, event_type).unwrap();
        let mut event = kit::Envelope::from_json(&example.to_string()).unwrap();
        // Pacts' examples share ids; each event published in a run has its own.
        event.id = uuid::Uuid::new_v4();
        let id = event.id.to_string();
        let attributes = BTreeMap::from([("event_type".to_owned(), event_type.to_owned())]);
        let url = "http://127.0.0.1:4000/sessions/current";
        SavedRecord {
            events: vec![Published { event, attributes }],
            spans: vec![
                span(consumer, "handle", "", "", &[("event_type", event_type), ("event_id", &id)]),
                span(
                    caller,
                    "call",
                    "",
                    "",
                    &[("service", "users"), ("method", "GET"), ("url", url), ("status", "200")],
                ),
            ],
            scenarios: vec![scenario.to_owned()],
            ..SavedRecord::default()
        }
    }

    fn partitions() -> Vec<(PathBuf, SavedRecord)> {
        vec![
            ("record-1.json".into(), part("order-delivered", "store", "order.placed", "devices", "store")),
            ("record-2.json".into(), part("device-allocated", "devices", "device.allocated", "fulfillment", "store")),
            ("record-3.json".into(), part("invoice-issued", "invoice", "invoice.issued", "loyalty", "loyalty")),
        ]
    }

    async fn covered(records: &[PathBuf], dir: &Path) -> CoverageReport {
        let pacts = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../contracts/pacts");
        coverage(&pacts, records, &dir.join("none.toml")).await.unwrap()
    }

    fn rows(report: &CoverageReport) -> Vec<String> {
        report.rows.iter().map(|r| format!("{} {} {} {:?}", r.section, r.parties, r.subject, r.verdict)).collect()
    }

    #[tokio::test]
    async fn coverage_reads_the_merged_record_as_the_partitions_together() {
        let dir = tempfile::tempdir().unwrap();
        let mut files = Vec::new();
        for (name, record) in partitions() {
            let path = dir.path().join(name);
            record.write(&path).unwrap();
            files.push(path);
        }
        let merged = merge_files(&files).unwrap();
        assert_eq!(merged.scenarios, ["device-allocated", "invoice-issued", "order-delivered"]);
        assert_eq!((merged.events.len(), merged.spans.len()), (3, 6));
        let path = dir.path().join("record.json");
        merged.write(&path).unwrap();
        let (one, apart) = (covered(&[path], dir.path()).await, covered(&files, dir.path()).await);
        assert_eq!(rows(&one), rows(&apart));
        assert!(rows(&one).iter().any(|r| r.starts_with("pact devices → store") && r.contains("Covered")), "{one:?}");
    }

    #[test]
    fn a_scenario_or_an_event_in_two_records_is_refused() {
        let mut inputs = partitions();
        let mut again = inputs[1].1.clone();
        again.events.clear();
        inputs.push(("record-4.json".into(), again));
        let err = merge(inputs).unwrap_err();
        let MergeError::Overlap { first, second, .. } = &err else { panic!("{err}") };
        assert_eq!((first, second), (&PathBuf::from("record-2.json"), &PathBuf::from("record-4.json")));
        assert!(err.to_string().contains("scenario `device-allocated` is in both"), "{err}");

        // Records that name no scenario: the same event in two of them.
        let mut unnamed = partitions();
        unnamed.iter_mut().for_each(|(_, r)| r.scenarios.clear());
        let twice = unnamed[0].clone();
        unnamed.push(twice);
        assert!(matches!(merge(unnamed), Err(MergeError::Overlap { .. })));
        // One event twice in one record (a duplicated delivery) is no overlap.
        let mut duplicated = partitions();
        let event = duplicated[0].1.events[0].clone();
        duplicated[0].1.events.push(event);
        assert_eq!(merge(duplicated).unwrap().events.len(), 4);
    }
}
