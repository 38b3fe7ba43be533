//! JUnit XML, as CI systems read it, for every report fare writes (e2e
//! scenarios, contract checks, provider verification), and the one escaper
//! of text for XML and HTML.
//!
//! # Layout
//! - this file: the document as data ([`Document`], [`Suite`], [`Case`]), and writing it.
//! - `read`: reading a document back (`fare report merge`).

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
    pub timestamp: Option<String>,
}

/// One `testcase`.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Case {
    pub classname: String,
    pub name: String,
    pub file: Option<String>,
    pub time: Option<Duration>,
    pub verdict: Verdict,
    /// What the case printed: `system-out`.
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
        /// The whole failure report, inside the element.
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
    let Totals { tests, failures, errors, skipped, .. } = Totals::of(time, suites);
    let mut out = String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
    out.push_str(&format!(
        "<testsuites name=\"{}\" tests=\"{tests}\" failures=\"{failures}\" errors=\"{errors}\" skipped=\"{skipped}\"{}>\n",
        escape(name),
        time.map(|t| format!(" time=\"{}\"", secs(t))).unwrap_or_default()
    ));
    for suite in suites {
        out.push_str(&format!(
            "  <testsuite name=\"{}\" tests=\"{}\" failures=\"{}\" errors=\"{}\" skipped=\"{}\"{}{}>\n",
            escape(&suite.name),
            suite.cases.len(),
            suite.failures(),
            suite.errors(),
            suite.skipped(),
            suite.time.map(|t| format!(" time=\"{}\"", secs(t))).unwrap_or_default(),
            suite.timestamp.as_ref().map(|t| format!(" timestamp=\"{}\"", escape(t))).unwrap_or_default()
        ));
        for case in &suite.cases {
            case_xml(&mut out, case);
        }
        out.push_str("  </testsuite>\n");
    }
    out.push_str("</testsuites>\n");
    out
}

fn case_xml(out: &mut String, case: &Case) {
    out.push_str(&format!(
        "    <testcase name=\"{}\" classname=\"{}\"{}{}",
        escape(&case.name),
        escape(&case.classname),
        case.file.as_ref().map(|f| format!(" file=\"{}\"", escape(f))).unwrap_or_default(),
        case.time.map(|t| format!(" time=\"{}\"", secs(t))).unwrap_or_default()
    ));
    if matches!(case.verdict, Verdict::Passed) && case.out.is_none() {
        out.push_str("/>\n");
        return;
    }
    out.push_str(">\n");
    match &case.verdict {
        Verdict::Passed => {}
        Verdict::Failed { message, kind, text } => problem_xml(out, "failure", message, kind, text),
        Verdict::Errored { message, kind, text } => problem_xml(out, "error", message, kind, text),
        Verdict::Skipped(why) => out.push_str(&format!("      <skipped message=\"{}\"/>\n", escape(why))),
    }
    if let Some(text) = &case.out {
        out.push_str(&format!("      <system-out>{}</system-out>\n", escape(text)));
    }
    out.push_str("    </testcase>\n");
}

/// A `failure` or an `error` element.
fn problem_xml(out: &mut String, element: &str, message: &str, kind: &Option<String>, text: &Option<String>) {
    let kind = kind.as_ref().map(|k| format!(" type=\"{}\"", escape(k))).unwrap_or_default();
    match text {
        Some(text) => out.push_str(&format!(
            "      <{element} message=\"{}\"{kind}>{}</{element}>\n",
            escape(message),
            escape(text)
        )),
        None => out.push_str(&format!("      <{element} message=\"{}\"{kind}/>\n", escape(message))),
    }
}

/// Seconds with millisecond precision, as JUnit's `time` wants.
pub fn secs(d: Duration) -> String {
    format!("{:.3}", d.as_secs_f64())
}

/// `&`, `<`, `>`, `"` and `'` escaped, for XML and HTML alike.
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            // XML 1.0 forbids most control characters, even escaped.
            c if c.is_control() && !matches!(c, '\n' | '\r' | '\t') => out.push('\u{fffd}'),
            c => out.push(c),
        }
    }
    out
}
