//! Why a step or a check did not hold, as data. The runner records what it
//! saw (the status a request got, the event that never came, the chain's
//! difference, the dead letters counted); the renderers turn it into words,
//! and the diagnosis and the tests match on it instead of on sentences.
//!
//! What fails inside the harness itself (a fault that could not be set, a
//! fake that could not be programmed, a service that would not restart) is
//! [`Failure::Harness`]: its error chain, redacted, taken where the report
//! is made, because a report is kept, cloned and written long after the
//! error's sources are gone.

use std::fmt;
use std::time::Duration;

use kit::EventType;
use serde::Serialize;

use super::faults::FaultError;
use super::template::TemplateError;
use crate::runtime::NotQuiet;
use crate::trace::ChainDiff;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, schemars::JsonSchema)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Failure {
    /// A `{{name}}` of the step could not be filled.
    Template { error: TemplateError },
    /// The step names a service or fake that does not run.
    NoTarget { name: String },
    /// The request got no answer at all.
    NoAnswer { request: String, error: String },
    /// The answer's status is not the one expected (`None`: any 2xx).
    Status { status: u16, expected: Option<u16>, body: String },
    /// The answer should have been JSON.
    NotJson { status: u16, body: String },
    /// The answer's JSON lacks, or differs in, what the step expects.
    Body { status: u16, mismatch: String },
    /// The answer's array has another length (`None`: not an array).
    Length { found: Option<usize>, expected: usize, body: String },
    /// A capture found nothing where it looked.
    Capture { name: String, from: String, body: String },
    /// The event did not appear in its chain before the step's deadline.
    NeverSeen {
        event: EventType,
        correlation_id: String,
        #[serde(with = "crate::millis")]
        #[schemars(with = "u64")]
        waited: Duration,
    },
    /// The platform settled without the event: it will not come.
    NeverComing {
        event: EventType,
        correlation_id: String,
        #[serde(with = "crate::millis")]
        #[schemars(with = "u64")]
        waited: Duration,
    },
    /// The platform did not settle (timeout), or stopped moving (stuck).
    NotQuiet { error: NotQuiet },
    /// The chain seen is not the chain expected.
    Chain { diff: ChainDiff },
    /// Services whose dead-letter count is not the one expected.
    DeadLetters { wrong: Vec<DeadLetterCount> },
    /// The harness could not do what the step asked of it.
    Harness { error: String },
    /// The scenario cannot run on this platform (it programs a fake, or
    /// acts on processes, fare does not have there), and was failed on
    /// purpose rather than skipped (`fare e2e --target … --not-applicable fail`).
    NotApplicable { reason: String },
}

/// `error`'s whole chain, as a report may show it: redacted.
pub(super) fn redacted(error: &(dyn std::error::Error + 'static)) -> String {
    kit::redact::text(&kit::error_chain(error)).into_owned()
}

/// One service's dead letters, counted against the expectation.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, schemars::JsonSchema)]
pub struct DeadLetterCount {
    pub service: String,
    pub found: usize,
    pub expected: usize,
}

impl Failure {
    /// `error`'s whole chain, redacted: what the harness could not do.
    pub fn harness(error: &(dyn std::error::Error + 'static)) -> Self {
        Failure::Harness { error: redacted(error) }
    }
}

impl From<TemplateError> for Failure {
    fn from(error: TemplateError) -> Self {
        Failure::Template { error }
    }
}

impl From<NotQuiet> for Failure {
    fn from(error: NotQuiet) -> Self {
        Failure::NotQuiet { error }
    }
}

impl From<FaultError> for Failure {
    fn from(e: FaultError) -> Self {
        match e {
            FaultError::NeverSeen { event, correlation_id, waited } => {
                Failure::NeverSeen { event, correlation_id, waited }
            }
            FaultError::NeverComing { event, correlation_id, waited } => {
                Failure::NeverComing { event, correlation_id, waited }
            }
            other => Failure::harness(&other),
        }
    }
}

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Failure::Template { error } => write!(f, "{error}"),
            Failure::NoTarget { name } => write!(f, "no service or fake `{name}` runs"),
            Failure::NoAnswer { request, error } => write!(f, "{request}: {error}"),
            Failure::Status { status, expected: Some(want), body } => {
                write!(f, "answered {}, expected {want}: {body}", status_text(*status))
            }
            Failure::Status { status, expected: None, body } => {
                write!(f, "answered {}, expected a 2xx: {body}", status_text(*status))
            }
            Failure::NotJson { status, body } => write!(f, "answered {} with no JSON: {body}", status_text(*status)),
            Failure::Body { status, mismatch } => write!(f, "answered {}, but {mismatch}", status_text(*status)),
            Failure::Length { found: Some(n), expected, body } => {
                write!(f, "answered {n} elements, expected {expected}: {body}")
            }
            Failure::Length { found: None, expected, body } => {
                write!(f, "answered no JSON array, expected {expected} elements: {body}")
            }
            Failure::Capture { name, from, body } => write!(f, "capture {name}: the answer has no `{from}`: {body}"),
            Failure::NeverSeen { event, correlation_id, waited } => {
                write!(f, "`{event}` never appeared in chain {correlation_id} within {waited:?}")
            }
            Failure::NeverComing { event, correlation_id, waited } => write!(
                f,
                "`{event}` will not come in chain {correlation_id}: the platform settled without it ({waited:?})"
            ),
            Failure::NotQuiet { error } => write!(f, "{error}"),
            Failure::Chain { diff } => write!(f, "{diff}"),
            Failure::DeadLetters { wrong } => {
                let parts: Vec<String> =
                    wrong.iter().map(|c| format!("{}: {} (expected {})", c.service, c.found, c.expected)).collect();
                write!(f, "{}", parts.join(", "))
            }
            Failure::Harness { error } => write!(f, "{error}"),
            Failure::NotApplicable { reason } => write!(f, "{reason}"),
        }
    }
}

/// `404 Not Found`, as an HTTP client prints a status.
fn status_text(status: u16) -> String {
    match reqwest::StatusCode::from_u16(status) {
        Ok(s) => s.to_string(),
        Err(_) => status.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_status_reads_as_the_client_prints_it() {
        let f = Failure::Status { status: 404, expected: Some(201), body: "{}".into() };
        assert_eq!(f.to_string(), "answered 404 Not Found, expected 201: {}");
        let any = Failure::Status { status: 500, expected: None, body: String::new() };
        assert_eq!(any.to_string(), "answered 500 Internal Server Error, expected a 2xx: ");
    }

    #[test]
    fn a_fault_that_waited_in_vain_stays_typed_and_any_other_becomes_the_harness() {
        let event = EventType::parse("order.placed").unwrap();
        let waited = Duration::from_secs(2);
        let never = FaultError::NeverSeen { event: event.clone(), correlation_id: "c".into(), waited };
        assert_eq!(Failure::from(never), Failure::NeverSeen { event, correlation_id: "c".into(), waited });
        let other = Failure::from(FaultError::NoControl { what: "kill: store".into() });
        assert!(matches!(other, Failure::Harness { ref error } if error.contains("kill: store")), "{other:?}");
    }

    #[test]
    fn serialises_with_its_kind() {
        let f =
            Failure::DeadLetters { wrong: vec![DeadLetterCount { service: "mailer".into(), found: 1, expected: 0 }] };
        let json = serde_json::to_value(&f).unwrap();
        assert_eq!(json["kind"], "dead_letters");
        assert_eq!(json["wrong"][0]["service"], "mailer");
        assert_eq!(f.to_string(), "mailer: 1 (expected 0)");
    }
}
