//! `fare contracts coverage`: the committed pacts held against what really
//! ran, as the recorder kept it (`trace::SavedRecord`, left by `fare e2e`
//! and `fare chaos`). Three questions, one row each answer:
//!
//! - `pact`: which interactions did the run exercise, and how often? An
//!   HTTP interaction is exercised by a call from its consumer to its
//!   provider with the same method, a path of the same shape (a segment of
//!   the pact's path with a digit in it is an id, and matches any) and the
//!   same status; a message interaction by its consumer handling an event of
//!   its type that its provider published.
//! - `traffic`: which calls between services (and to third parties) and
//!   which events a service handled does no pact describe? Calls that got
//!   no answer or a 5xx are `fault` rows, never gaps: they are what the
//!   scenarios' and the fault matrix's injected failures look like, and no
//!   consumer writes a pact for them.
//! - `message`: does every message actually published match each pact of
//!   its provider and type? Matched as `--via-queue` matches
//!   (`verify::queue::match_capture`); a difference only where the record
//!   holds a masked secret (an email address) is not one.
//!
//! Gaps a team accepts are declared, with the reason, in
//! `contracts/coverage.toml`; they show as `on purpose` and do not fail `--strict`.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use serde::Deserialize;

use super::ContractsError;
use super::pacts::{self, Kind, PactFile};
use super::verify::queue::{Capture, Captured, QueueError, match_capture};
use super::verify::report::Outcome;
use crate::junit::{Case, Suite, Verdict, render};
use crate::trace::{SavedError, SavedRecord};

/// What a row is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Section {
    Pact,
    Traffic,
    Message,
}

impl std::fmt::Display for Section {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Section::Pact => "pact",
            Section::Traffic => "traffic",
            Section::Message => "message",
        })
    }
}

/// The answer for one row.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Found {
    /// Seen this many times, and covered.
    Covered(usize),
    /// A gap: an interaction never exercised, traffic no pact describes, a message that differs.
    Gap(String),
    /// A gap `contracts/coverage.toml` accepts, with its reason.
    OnPurpose(String),
    /// Traffic that is a failure, not a contract (no answer, 5xx).
    Fault(usize),
}

/// One row of the report.
#[derive(Debug, Clone)]
pub struct Row {
    pub section: Section,
    /// `consumer → provider`.
    pub parties: String,
    /// The interaction's description, the call or the event.
    pub subject: String,
    pub verdict: Found,
}

#[derive(Debug, Clone, Default)]
pub struct CoverageReport {
    pub rows: Vec<Row>,
    /// The records read.
    pub records: Vec<PathBuf>,
}

impl CoverageReport {
    pub fn gaps(&self) -> impl Iterator<Item = &Row> {
        self.rows.iter().filter(|r| matches!(r.verdict, Found::Gap(_)))
    }

    /// Full coverage both ways: no gap that is not on purpose.
    pub fn full(&self) -> bool {
        self.gaps().next().is_none()
    }
}

#[derive(Debug, thiserror::Error)]
pub enum CoverageError {
    #[error(transparent)]
    Pacts(#[from] ContractsError),
    #[error("the run's record {0}")]
    Record(#[from] SavedError),
    #[error(transparent)]
    Match(#[from] QueueError),
    #[error("{}: {message}", path.display())]
    Allowed { path: PathBuf, message: String },
}

/// `contracts/coverage.toml`: the gaps a team accepts.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct Allowed {
    #[serde(default)]
    on_purpose: Vec<OnPurpose>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct OnPurpose {
    /// `consumer → provider`, as the report writes it.
    parties: String,
    /// The row's subject, as the report writes it.
    subject: String,
    why: String,
}

/// Reads the pacts under `pacts_dir`, the records, and the accepted gaps
/// (`allowed`, if the file exists), and answers the three questions.
pub async fn coverage(pacts_dir: &Path, records: &[PathBuf], allowed: &Path) -> Result<CoverageReport, CoverageError> {
    let pacts = pacts::load_dir(pacts_dir)?;
    let mut record = SavedRecord::default();
    for path in records {
        let one = SavedRecord::read(path)?;
        record.events.extend(one.events);
        record.spans.extend(one.spans);
    }
    let allowed: Allowed = match std::fs::read_to_string(allowed) {
        Ok(text) => toml::from_str(&text)
            .map_err(|e| CoverageError::Allowed { path: allowed.to_owned(), message: e.to_string() })?,
        Err(_) => Allowed::default(),
    };
    let seen = Observed::of(&record);
    let mut rows = interactions(&pacts, &seen);
    rows.extend(traffic(&pacts, &seen));
    rows.extend(messages(pacts_dir, &record).await?);
    for row in &mut rows {
        let accepted = allowed.on_purpose.iter().find(|a| a.parties == row.parties && a.subject == row.subject);
        if let (Found::Gap(_), Some(a)) = (&row.verdict, accepted) {
            row.verdict = Found::OnPurpose(a.why.clone());
        }
    }
    Ok(CoverageReport { rows, records: records.to_vec() })
}

/// An HTTP call one party made to another, as its span says.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
struct Call {
    caller: String,
    callee: String,
    method: String,
    path: String,
    status: Option<u16>,
}

/// An event a service handled, and who published it.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
struct Handled {
    producer: String,
    consumer: String,
    event_type: String,
}

/// What the record shows, counted.
struct Observed {
    calls: BTreeMap<Call, usize>,
    handled: BTreeMap<Handled, usize>,
}

impl Observed {
    fn of(record: &SavedRecord) -> Observed {
        let mut calls = BTreeMap::new();
        for span in record.spans.iter().filter(|s| s.name == "call") {
            let call = Call {
                caller: span.service.clone(),
                callee: span.attr("service").unwrap_or("?").to_owned(),
                method: span.attr("method").unwrap_or("?").to_ascii_uppercase(),
                path: path_of(span.attr("url").unwrap_or("/")),
                status: span.attr("status").and_then(|s| s.parse().ok()),
            };
            *calls.entry(call).or_insert(0) += 1;
        }
        let producers: BTreeMap<String, &str> =
            record.events.iter().map(|p| (p.event.id.to_string(), p.event.producer.as_str())).collect();
        // A message handled many times (retries, redeliveries) is one receipt.
        let mut receipts = BTreeSet::new();
        for span in record.spans.iter().filter(|s| s.name == "handle") {
            let (Some(event_type), Some(id)) = (span.attr("event_type"), span.attr("event_id")) else { continue };
            let producer = producers.get(id).copied().unwrap_or("?");
            receipts.insert((
                Handled { producer: producer.into(), consumer: span.service.clone(), event_type: event_type.into() },
                id,
            ));
        }
        let mut handled = BTreeMap::new();
        for (h, _) in receipts {
            *handled.entry(h).or_insert(0) += 1;
        }
        Observed { calls, handled }
    }
}

/// The path of a URL, without its query.
fn path_of(url: &str) -> String {
    let rest = url.split_once("://").map(|(_, r)| r).unwrap_or(url);
    let path = rest.find('/').map(|i| &rest[i..]).unwrap_or("/");
    path.split(['?', '#']).next().unwrap_or("/").to_owned()
}

/// Whether `actual` has the shape of the pact's `path`: the same segments,
/// where a pact segment with a digit in it (an id: `u-1`, `TRK-0002`) matches any.
fn same_shape(pact: &str, actual: &str) -> bool {
    let (p, a): (Vec<&str>, Vec<&str>) = (pact.split('/').collect(), actual.split('/').collect());
    p.len() == a.len()
        && p.iter().zip(&a).all(|(p, a)| p == a || (p.bytes().any(|b| b.is_ascii_digit()) && !a.is_empty()))
}

/// The call as a row's subject: `GET /users/{id}/contact → 404`, a
/// segment with a digit in it written `{id}`, in the pact's path (or the
/// call's, when no pact describes it): the same row from run to run.
fn call_subject(call: &Call, pact_path: Option<&str>) -> String {
    let segments: Vec<&str> = pact_path
        .unwrap_or(&call.path)
        .split('/')
        .map(|s| if s.bytes().any(|b| b.is_ascii_digit()) { "{id}" } else { s })
        .collect();
    let path = segments.join("/");
    let status = call.status.map(|s| s.to_string()).unwrap_or_else(|| "no answer".into());
    format!("{} {path} → {status}", call.method)
}

fn parties(consumer: &str, provider: &str) -> String {
    format!("{consumer} → {provider}")
}

fn exercised(pact: &PactFile, interaction: &pacts::Interaction, seen: &Observed) -> usize {
    match (&interaction.kind, &interaction.http) {
        (Kind::Http, Some(shape)) => seen
            .calls
            .iter()
            .filter(|(c, _)| {
                c.caller == pact.consumer
                    && c.callee == pact.provider
                    && c.method == shape.method
                    && c.status == Some(shape.status)
                    && same_shape(&shape.path, &c.path)
            })
            .map(|(_, n)| n)
            .sum(),
        (Kind::Message { event_type: Some(event_type) }, _) => seen
            .handled
            .iter()
            .filter(|(h, _)| h.consumer == pact.consumer && h.producer == pact.provider && &h.event_type == event_type)
            .map(|(_, n)| n)
            .sum(),
        _ => 0,
    }
}

fn interactions(pacts: &[PactFile], seen: &Observed) -> Vec<Row> {
    let mut rows = Vec::new();
    for pact in pacts {
        for interaction in &pact.interactions {
            let times = exercised(pact, interaction, seen);
            let verdict = if times > 0 { Found::Covered(times) } else { Found::Gap("no scenario exercised it".into()) };
            let subject = interaction.description.clone();
            rows.push(Row {
                section: Section::Pact,
                parties: parties(&pact.consumer, &pact.provider),
                subject,
                verdict,
            });
        }
    }
    rows
}

fn traffic(pacts: &[PactFile], seen: &Observed) -> Vec<Row> {
    let mut rows: BTreeMap<(String, String), Found> = BTreeMap::new();
    for (call, n) in &seen.calls {
        let key = parties(&call.caller, &call.callee);
        let described = pacts.iter().filter(|p| p.consumer == call.caller && p.provider == call.callee).find_map(|p| {
            p.interactions
                .iter()
                .filter_map(|i| i.http.as_ref())
                .find(|s| s.method == call.method && Some(s.status) == call.status && same_shape(&s.path, &call.path))
        });
        let (subject, verdict) = match (described, call.status) {
            (Some(shape), _) => (call_subject(call, Some(&shape.path)), Found::Covered(*n)),
            (None, None) => (call_subject(call, None), Found::Fault(*n)),
            (None, Some(s)) if s >= 500 => (call_subject(call, None), Found::Fault(*n)),
            (None, Some(_)) => (call_subject(call, None), Found::Gap(format!("{n} call(s) no pact describes"))),
        };
        merge(rows.entry((key, subject)).or_insert(Found::Covered(0)), verdict);
    }
    for (h, n) in &seen.handled {
        let key = parties(&h.consumer, &h.producer);
        let covered =
            pacts.iter().any(|p| p.consumer == h.consumer && p.provider == h.producer && p.carries(&h.event_type));
        let verdict = if covered {
            Found::Covered(*n)
        } else {
            Found::Gap(format!("{n} event(s) handled that no consumer pact describes"))
        };
        merge(rows.entry((key, h.event_type.clone())).or_insert(Found::Covered(0)), verdict);
    }
    rows.into_iter()
        .map(|((parties, subject), verdict)| Row { section: Section::Traffic, parties, subject, verdict })
        .collect()
}

/// Two rows of the same subject (ids made the paths differ) as one.
fn merge(into: &mut Found, next: Found) {
    *into = match (std::mem::replace(into, Found::Covered(0)), next) {
        (Found::Covered(a), Found::Covered(b)) => Found::Covered(a + b),
        (Found::Fault(a), Found::Fault(b)) => Found::Fault(a + b),
        (Found::Covered(0), other) => other,
        (gap @ Found::Gap(_), _) | (_, gap @ Found::Gap(_)) => gap,
        (kept, _) => kept,
    };
}

async fn messages(pacts_dir: &Path, record: &SavedRecord) -> Result<Vec<Row>, CoverageError> {
    let messages = record
        .events
        .iter()
        .filter_map(|p| {
            let body = p.event.to_json().ok()?;
            Some(Captured { message_id: p.event.id.to_string(), body, attributes: p.attributes.clone() })
        })
        .collect();
    let report = match_capture(pacts_dir, &[], &Capture { messages }).await?;
    let mut rows = Vec::new();
    for pact in &report.pacts {
        for i in &pact.interactions {
            let verdict = match &i.outcome {
                Outcome::Passed => Found::Covered(1),
                // Nothing of the kind was published: the `pact` rows say so.
                Outcome::Error(_) => continue,
                Outcome::Mismatched(mismatches) => {
                    let real: Vec<String> = mismatches
                        .iter()
                        .filter(|m| !masked(&m.actual))
                        .map(|m| format!("{}: {}", m.at, m.detail))
                        .collect();
                    if real.is_empty() { Found::Covered(1) } else { Found::Gap(real.join("; ")) }
                }
            };
            let parties = parties(&pact.consumer, &pact.provider);
            rows.push(Row { section: Section::Message, parties, subject: i.description.clone(), verdict });
        }
    }
    Ok(rows)
}

/// Whether a value is what the recorder left of a secret.
fn masked(actual: &str) -> bool {
    actual.contains(kit::redact::EMAIL_MASK) || actual.contains(kit::redact::MASK)
}

/// The report as a table: covered rows first, then faults, gaps on purpose, gaps.
pub fn table(report: &CoverageReport) -> String {
    let mut out = format!("{:<8} {:<34} {:<48} RESULT\n", "WHAT", "PARTIES", "SUBJECT");
    for row in &report.rows {
        let result = match &row.verdict {
            Found::Covered(n) if row.section == Section::Message => format!("matches ({n})"),
            Found::Covered(n) => format!("covered ×{n}"),
            Found::Fault(n) => format!("fault ×{n} (no contract promises it)"),
            Found::OnPurpose(why) => format!("gap on purpose: {why}"),
            Found::Gap(why) => format!("GAP: {why}"),
        };
        out.push_str(&format!("{:<8} {:<34} {:<48} {result}\n", row.section.to_string(), row.parties, row.subject));
    }
    let count = |s: Section| report.rows.iter().filter(|r| r.section == s).count();
    let gaps = |s: Section| report.gaps().filter(|r| r.section == s).count();
    let on_purpose = report.rows.iter().filter(|r| matches!(r.verdict, Found::OnPurpose(_))).count();
    out.push_str(&format!(
        "{} interactions, {} not exercised; {} kinds of traffic, {} without a pact; {} message checks, {} differ; {on_purpose} gaps on purpose\n",
        count(Section::Pact),
        gaps(Section::Pact),
        count(Section::Traffic),
        gaps(Section::Traffic),
        count(Section::Message),
        gaps(Section::Message),
    ));
    out
}

/// The report as JUnit: one suite per section, a gap is a failure, a gap
/// on purpose is skipped.
pub fn junit(report: &CoverageReport) -> String {
    let suites: Vec<Suite> = [Section::Pact, Section::Traffic, Section::Message]
        .into_iter()
        .map(|section| Suite {
            name: format!("coverage {section}"),
            cases: report
                .rows
                .iter()
                .filter(|r| r.section == section)
                .map(|r| Case {
                    classname: r.parties.clone(),
                    name: r.subject.clone(),
                    verdict: match &r.verdict {
                        Found::Gap(why) => Verdict::Failed { message: why.clone(), kind: None, text: None },
                        Found::OnPurpose(why) => Verdict::Skipped(why.clone()),
                        Found::Covered(_) | Found::Fault(_) => Verdict::Passed,
                    },
                    ..Case::default()
                })
                .collect(),
            ..Suite::default()
        })
        .collect();
    render("fare contracts coverage", None, &suites)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_id_in_the_pacts_path_matches_any_and_the_rest_must_be_equal() {
        assert!(same_shape("/users/u-1/contact", "/users/3f2a6c1e-8a5b/contact"));
        assert!(same_shape("/tracking/TRK-0002", "/tracking/1Z999"));
        assert!(same_shape("/sessions/current", "/sessions/current"));
        assert!(!same_shape("/sessions/current", "/sessions/other"));
        assert!(!same_shape("/users/u-1/contact", "/users/u-1"));
        assert_eq!(path_of("http://127.0.0.1:4040/users/u-1/contact?x=1"), "/users/u-1/contact");
    }

    #[test]
    fn a_gap_wins_a_merge_and_counts_add_up() {
        let mut v = Found::Covered(0);
        merge(&mut v, Found::Covered(2));
        merge(&mut v, Found::Covered(3));
        assert_eq!(v, Found::Covered(5));
        merge(&mut v, Found::Gap("x".into()));
        assert_eq!(v, Found::Gap("x".into()));
    }
}
