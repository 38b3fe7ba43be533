//! JUnit XML, as CI systems read it, for every report fare writes (e2e
//! scenarios, chaos, contract checks, provider verification). quick-junit
//! writes and reads the XML; fare's reports build the document as the data
//! here, which says only what fare writes.
//!
//! # Layout
//! - this file: the document as data ([`Document`], [`Suite`], [`Case`]), and writing it.
//! - `convert`: the document as quick-junit's `Report` and back, the one place that knows both.
//! - `read`: reading a document back (`fare report merge`), and what can be wrong with one.

mod convert;
mod read;

use std::time::Duration;

pub use read::{ReadError, read};

/// A whole document: `testsuites`, named, with its suites.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Document {
    pub name: String,
    pub time: Option<Duration>,
    pub suites: Vec<Suite>,
}

/// What CI systems count: the attributes of `testsuites`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Totals {
    pub tests: usize,
    pub failures: usize,
    pub errors: usize,
    pub skipped: usize,
    /// To the nearest millisecond, as the document writes it.
    pub time_ms: Option<u128>,
}

/// One `testsuite`.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Suite {
    pub name: String,
    pub cases: Vec<Case>,
    pub time: Option<Duration>,
    /// When the suite started, RFC 3339 (one that is not is left out of
    /// the document: JUnit readers refuse it). Written and read back in UTC
    /// to the millisecond, as `2025-05-01T10:00:00.000Z`.
    pub timestamp: Option<String>,
}

/// One `testcase`.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Case {
    pub classname: String,
    pub name: String,
    /// The file the case was written in: the `file` attribute, which is
    /// not in JUnit's schema but GitLab, Jenkins and others read.
    pub file: Option<String>,
    pub time: Option<Duration>,
    pub verdict: Verdict,
    /// What the case printed: `system-out`, written and read back trimmed.
    pub out: Option<String>,
}

#[derive(Debug, Clone, Default, PartialEq)]
pub enum Verdict {
    #[default]
    Passed,
    /// A check did not hold: `failure`.
    Failed {
        message: String,
        kind: Option<String>,
        /// The whole failure report, inside the element: written and read
        /// back trimmed, as JUnit readers trim it; none if that is empty.
        text: Option<String>,
    },
    /// The test could not run to a verdict: `error` (fare writes none; other tools do).
    Errored {
        message: String,
        kind: Option<String>,
        text: Option<String>,
    },
    Skipped(String),
}

impl Suite {
    fn count(&self, verdict: impl Fn(&Verdict) -> bool) -> usize {
        self.cases.iter().filter(|c| verdict(&c.verdict)).count()
    }

    fn failures(&self) -> usize {
        self.count(|v| matches!(v, Verdict::Failed { .. }))
    }

    fn errors(&self) -> usize {
        self.count(|v| matches!(v, Verdict::Errored { .. }))
    }

    fn skipped(&self) -> usize {
        self.count(|v| matches!(v, Verdict::Skipped(_)))
    }
}

impl Document {
    pub fn render(&self) -> String {
        render(&self.name, self.time, &self.suites)
    }

    pub fn totals(&self) -> Totals {
        Totals::of(self.time, &self.suites)
    }
}

impl Totals {
    fn of(time: Option<Duration>, suites: &[Suite]) -> Totals {
        let sum = |count: fn(&Suite) -> usize| suites.iter().map(count).sum();
        Totals {
            tests: sum(|s| s.cases.len()),
            failures: sum(Suite::failures),
            errors: sum(Suite::errors),
            skipped: sum(Suite::skipped),
            time_ms: time.map(|t| (t.as_micros() + 500) / 1000),
        }
    }
}

/// The document: `testsuites` named `name`, with the totals of `suites`.
pub fn render(name: &str, time: Option<Duration>, suites: &[Suite]) -> String {
    convert::report(name, time, suites)
        .to_string()
        // Into memory there is no I/O to fail, and the text is UTF-8 as the strings are.
        .expect("JUnit XML writes into memory")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn case(name: &str, verdict: Verdict, out: Option<&str>) -> Case {
        Case {
            classname: format!("scenarios.{name}"),
            name: name.into(),
            file: Some(format!("scenarios/{name}.yaml")),
            time: Some(Duration::from_millis(1234)),
            verdict,
            out: out.map(String::from),
        }
    }

    /// A document of every verdict, its text as it reads back (trimmed,
    /// the timestamp to the millisecond).
    fn document() -> Document {
        let failed = Verdict::Failed {
            message: "chain main: missing a > b & \"c\" 'd'".into(),
            kind: Some("ScenarioFailed".into()),
            text: Some("✗ <step>: 503\n  ]]> &amp;".into()),
        };
        let errored = Verdict::Errored { message: "no answer".into(), kind: None, text: None };
        let bare_failure = Verdict::Failed { message: String::new(), kind: None, text: None };
        Document {
            name: "fare e2e".into(),
            time: Some(Duration::from_millis(41234)),
            suites: vec![Suite {
                name: "e2e".into(),
                cases: vec![
                    case("a", Verdict::Passed, None),
                    case("b", Verdict::Passed, Some("")),
                    case("c", failed, Some("chain main (x):\n  order.placed <by store>")),
                    case("d", Verdict::Skipped("needs --restart".into()), Some("")),
                    case("e", errored, None),
                    case("f", bare_failure, None),
                ],
                time: Some(Duration::from_millis(41234)),
                timestamp: Some("2025-01-02T03:04:05.678Z".into()),
            }],
        }
    }

    #[test]
    fn what_fare_writes_reads_back_the_same() {
        let doc = document();
        let text = doc.render();
        assert_eq!(read(&text).unwrap(), doc, "{text}");
        assert_eq!(read(&text).unwrap().render(), text);
        let totals = doc.totals();
        assert_eq!((totals.tests, totals.failures, totals.errors, totals.skipped), (6, 2, 1, 1));
        assert_eq!(totals.time_ms, Some(41234));
        let empty = render("", None, &[]);
        assert_eq!(read(&empty).unwrap(), Document::default());
        assert_eq!(read(&empty).unwrap().render(), empty);
    }

    /// CI systems take the counts from the attributes (fare's reader counts
    /// the cases), and the file from each case's `file`.
    #[test]
    fn the_counts_and_files_ci_reads_are_written() {
        let report = quick_junit::Report::deserialize_from_str(&document().render()).unwrap();
        assert_eq!((report.tests, report.failures, report.errors, report.skipped), (6, 2, 1, 1));
        assert_eq!(report.time, Some(Duration::from_secs_f64(41.234)));
        let suite = &report.test_suites[0];
        assert_eq!((suite.tests, suite.failures, suite.errors, suite.skipped), (6, 2, 1, 1));
        assert_eq!(suite.timestamp.map(|t| t.timestamp_millis()), Some(1_735_787_045_678));
        let case = &suite.test_cases[2];
        assert_eq!(case.classname.as_deref(), Some("scenarios.c"));
        assert_eq!(case.extra.get("file").map(|f| f.as_str()), Some("scenarios/c.yaml"));
        assert!(case.system_out.is_some(), "{case:?}");
    }

    #[test]
    fn text_is_written_as_it_reads_back() {
        let mut doc = document();
        let suite = &mut doc.suites[0];
        suite.timestamp = Some("2025-01-02T04:04:05+01:00".into());
        suite.cases[1].out = Some("  \n".into());
        suite.cases[2].verdict = Verdict::Failed {
            message: "bell\u{7} here".into(),
            kind: None,
            text: Some("  ✗ chain main\n\tnote: seen\n".into()),
        };
        suite.cases[5].verdict = Verdict::Failed { message: String::new(), kind: None, text: Some("\n".into()) };
        let text = doc.render();
        let back = read(&text).unwrap();
        assert_eq!(back.render(), text, "a document read and written again is the same text");
        let (suite, cases) = (&back.suites[0], &back.suites[0].cases);
        assert_eq!(suite.timestamp.as_deref(), Some("2025-01-02T03:04:05.000Z"));
        assert_eq!(cases[1].out.as_deref(), Some(""));
        let failed =
            Verdict::Failed {
                message: "bell here".into(), kind: None, text: Some("✗ chain main\nnote: seen".into())
            };
        assert_eq!(cases[2].verdict, failed);
        assert_eq!(cases[5].verdict, Verdict::Failed { message: String::new(), kind: None, text: None });

        doc.suites[0].timestamp = Some("not a time".into());
        assert_eq!(read(&doc.render()).unwrap().suites[0].timestamp, None);
    }
}
