//! A [`Document`] as quick-junit's [`Report`], and a `Report` read back as
//! a `Document`: the one place that knows how each part of fare's document
//! is written in JUnit XML.
//!
//! Text inside an element (a failure's report, `system-out`) is written
//! trimmed, as readers trim it (quick-junit among them), and timestamps in
//! UTC, so that what is read back is what was written and a document read
//! and written again is the same text (`fare report merge` of one input
//! writes that input). quick-junit leaves control characters (a tab among
//! them) and terminal colour codes out of all text: XML 1.0 forbids most.

use std::time::Duration;

use chrono::{DateTime, SecondsFormat};
use quick_junit::{NonSuccessKind, Report, TestCase, TestCaseStatus, TestSuite, XmlString};

use super::{Case, Document, Suite, Verdict};

/// The `testcase` attribute naming the file a case was written in.
const FILE: &str = "file";

/// `testsuites` named `name`, with `suites` and their totals.
pub(super) fn report(name: &str, time: Option<Duration>, suites: &[Suite]) -> Report {
    let mut report = Report::new(name);
    if let Some(time) = time {
        report.set_time(time);
    }
    report.add_test_suites(suites.iter().map(suite));
    report
}

fn suite(suite: &Suite) -> TestSuite {
    let mut out = TestSuite::new(&suite.name);
    if let Some(time) = suite.time {
        out.set_time(time);
    }
    if let Some(timestamp) = suite.timestamp.as_deref().and_then(|t| DateTime::parse_from_rfc3339(t).ok()) {
        out.set_timestamp(timestamp.to_utc().fixed_offset());
    }
    out.add_test_cases(suite.cases.iter().map(case));
    out
}

fn case(case: &Case) -> TestCase {
    let mut out = TestCase::new(&case.name, status(&case.verdict));
    out.set_classname(&case.classname);
    if let Some(time) = case.time {
        out.set_time(time);
    }
    if let Some(file) = &case.file {
        out.extra.insert(FILE.into(), file.into());
    }
    if let Some(printed) = &case.out {
        out.set_system_out(printed.trim());
    }
    out
}

fn status(verdict: &Verdict) -> TestCaseStatus {
    let problem = |kind, message: &String, ty: &Option<String>, text: &Option<String>| {
        let mut status = TestCaseStatus::non_success(kind);
        status.set_message(message);
        if let Some(ty) = ty {
            status.set_type(ty);
        }
        if let Some(text) = text.as_deref().map(str::trim).filter(|t| !t.is_empty()) {
            status.set_description(text);
        }
        status
    };
    match verdict {
        Verdict::Passed => TestCaseStatus::success(),
        Verdict::Failed { message, kind, text } => problem(NonSuccessKind::Failure, message, kind, text),
        Verdict::Errored { message, kind, text } => problem(NonSuccessKind::Error, message, kind, text),
        Verdict::Skipped(why) => {
            let mut status = TestCaseStatus::skipped();
            status.set_message(why);
            status
        }
    }
}

/// The document `report` holds: what fare writes. The rest (properties,
/// `system-err`, reruns, a case's own timestamp) is passed over.
pub(super) fn document(report: Report) -> Document {
    Document {
        name: report.name.map(String::from).unwrap_or_default(),
        time: report.time.map(micros),
        suites: report.test_suites.into_iter().map(suite_of).collect(),
    }
}

fn suite_of(suite: TestSuite) -> Suite {
    Suite {
        name: suite.name.into(),
        cases: suite.test_cases.into_iter().map(case_of).collect(),
        time: suite.time.map(micros),
        timestamp: suite.timestamp.map(|t| t.to_utc().to_rfc3339_opts(SecondsFormat::Millis, true)),
    }
}

fn case_of(case: TestCase) -> Case {
    Case {
        file: case.extra.get(FILE).map(|f| f.to_string()),
        classname: case.classname.map(String::from).unwrap_or_default(),
        name: case.name.into(),
        time: case.time.map(micros),
        verdict: verdict(case.status),
        out: case.system_out.map(String::from),
    }
}

/// `d` to the nearest microsecond: seconds read as a float (`41.234`) are
/// a hair off the milliseconds that were written.
fn micros(d: Duration) -> Duration {
    Duration::from_micros(u64::try_from((d.as_nanos() + 500) / 1000).unwrap_or(u64::MAX))
}

fn verdict(status: TestCaseStatus) -> Verdict {
    let owned = |s: Option<XmlString>| s.map(String::from);
    match status {
        TestCaseStatus::Success { .. } => Verdict::Passed,
        TestCaseStatus::NonSuccess { kind, message, ty, description, .. } => {
            let (message, ty, text) = (owned(message).unwrap_or_default(), owned(ty), owned(description));
            match kind {
                NonSuccessKind::Failure => Verdict::Failed { message, kind: ty, text },
                NonSuccessKind::Error => Verdict::Errored { message, kind: ty, text },
            }
        }
        TestCaseStatus::Skipped { message, .. } => Verdict::Skipped(owned(message).unwrap_or_default()),
    }
}
