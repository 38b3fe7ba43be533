//! `fare contracts coverage` on records made here, against the committed
//! pacts: what a run exercised, the traffic no pact describes, and a
//! published message that differs from its pact.

use crate::common;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use fare::contracts::coverage::{CoverageReport, Found, Section, coverage};
use fare::trace::{Published, SavedRecord, SpanRecord};

fn pacts() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../contracts/pacts")
}

fn span(service: &str, name: &str, attributes: &[(&str, &str)]) -> SpanRecord {
    SpanRecord {
        service: service.into(),
        name: name.into(),
        trace_id: String::new(),
        span_id: String::new(),
        parent_span_id: String::new(),
        start_unix_nanos: 0,
        end_unix_nanos: 0,
        attributes: attributes.iter().map(|(k, v)| ((*k).into(), (*v).into())).collect(),
        events: Vec::new(),
    }
}

/// `provider`'s event, as its pact's example shows it, published and handled by `consumer`.
fn published(record: &mut SavedRecord, provider: &str, event_type: &str, consumer: &str) -> Published {
    // Pacts' examples share ids; each event published in a run has its own.
    let all = fare::contracts::pacts::load_dir(&pacts()).unwrap();
    let example = fare::contracts::pacts::example_event(&all, provider, event_type).unwrap();
    let mut event = kit::Envelope::from_json(&example.to_string()).unwrap();
    event.id = uuid::Uuid::new_v4();
    let attributes = BTreeMap::from([("event_type".to_owned(), event_type.to_owned())]);
    let id = event.id.to_string();
    record.spans.push(span(consumer, "handle", &[("event_type", event_type), ("event_id", &id)]));
    Published { event, attributes }
}

async fn report(record: &SavedRecord) -> CoverageReport {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("record.json");
    record.write(&path).unwrap();
    coverage(&pacts(), &[path], &dir.path().join("none.toml")).await.unwrap()
}

fn row<'a>(report: &'a CoverageReport, section: Section, parties: &str, subject: &str) -> &'a Found {
    let found = report.rows.iter().find(|r| r.section == section && r.parties == parties && r.subject == subject);
    &found
        .unwrap_or_else(|| {
            panic!("no {section} row {parties} {subject} in\n{}", fare::contracts::coverage::table(report))
        })
        .verdict
}

#[tokio::test]
async fn a_run_covers_what_it_exercised_and_names_every_gap() {
    let _shared = common::shared().await;
    let mut record = SavedRecord::default();
    let url = "http://127.0.0.1:4000/sessions/current";
    record.spans.push(span(
        "store",
        "call",
        &[("service", "users"), ("method", "GET"), ("url", url), ("status", "200")],
    ));
    let refused = "http://127.0.0.1:4001/tracking/1Z999";
    record.spans.push(span(
        "tracking",
        "call",
        &[("service", "carrier"), ("method", "GET"), ("url", refused), ("status", "404")],
    ));
    record.spans.push(span("tracking", "call", &[("service", "carrier"), ("method", "GET"), ("url", refused)]));
    let event = published(&mut record, "store", "order.placed", "devices");
    record.events.push(event);
    let mut renamed = published(&mut record, "devices", "device.allocated", "store");
    let serial = renamed.event.data["serial"].take();
    renamed.event.data.as_object_mut().unwrap().insert("device_serial".into(), serial);
    record.events.push(renamed);
    // An event nobody has a pact for: invoice.issued handled by mailer.
    let event = published(&mut record, "invoice", "invoice.issued", "mailer");
    record.events.push(event);
    // What the recorder keeps of an email address is not a difference.
    let mut masked = published(&mut record, "users", "user.registered", "mailer");
    masked.event.data["email"] = kit::redact::EMAIL_MASK.into();
    record.events.push(masked);

    let report = report(&record).await;
    let table = fare::contracts::coverage::table(&report);
    assert_eq!(
        row(&report, Section::Pact, "store → users", "a session check for a valid token"),
        &Found::Covered(1),
        "{table}"
    );
    assert_eq!(row(&report, Section::Pact, "devices → store", "a order.placed event"), &Found::Covered(1), "{table}");
    assert!(
        matches!(row(&report, Section::Pact, "mailer → users", "a contact lookup for a known user"), Found::Gap(_)),
        "{table}"
    );
    assert_eq!(
        row(&report, Section::Traffic, "store → users", "GET /sessions/current → 200"),
        &Found::Covered(1),
        "{table}"
    );
    assert!(
        matches!(row(&report, Section::Traffic, "tracking → carrier", "GET /tracking/{id} → 404"), Found::Gap(g) if g == "1 call(s) no pact describes"),
        "{table}"
    );
    assert_eq!(
        row(&report, Section::Traffic, "tracking → carrier", "GET /tracking/{id} → no answer"),
        &Found::Fault(1),
        "{table}"
    );
    assert!(matches!(row(&report, Section::Traffic, "mailer → invoice", "invoice.issued"), Found::Gap(_)), "{table}");
    let Found::Gap(why) = row(&report, Section::Message, "store → devices", "a device.allocated event") else {
        panic!("the renamed field is no gap:\n{table}")
    };
    assert!(why.contains("$.data.serial"), "{why}");
    assert_eq!(
        row(&report, Section::Message, "mailer → users", "a user.registered event"),
        &Found::Covered(1),
        "{table}"
    );
    assert!(!report.full());
}

/// A gap `contracts/coverage.toml` accepts is shown with its reason and is no gap.
#[tokio::test]
async fn a_gap_on_purpose_says_why_and_is_not_a_gap() {
    let _shared = common::shared().await;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("record.json");
    SavedRecord::default().write(&path).unwrap();
    let allowed = dir.path().join("coverage.toml");
    let text = "[[on_purpose]]\nparties = \"mailer → users\"\nsubject = \"a contact lookup for an unknown user\"\nwhy = \"no user is ever deleted\"\n";
    std::fs::write(&allowed, text).unwrap();
    let report = coverage(&pacts(), &[path], &allowed).await.unwrap();
    assert_eq!(
        row(&report, Section::Pact, "mailer → users", "a contact lookup for an unknown user"),
        &Found::OnPurpose("no user is ever deleted".into())
    );
}
