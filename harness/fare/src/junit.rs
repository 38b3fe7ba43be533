//! JUnit XML, as CI systems read it, for every report fare writes (e2e
//! scenarios, contract checks, provider verification), and the one escaper
//! of text for XML and HTML.

use std::time::Duration;

/// One `testsuite`.
#[derive(Debug, Clone, Default)]
pub struct Suite {
    pub name: String,
    pub cases: Vec<Case>,
    pub time: Option<Duration>,
    pub timestamp: Option<String>,
}

/// One `testcase`.
#[derive(Debug, Clone, Default)]
pub struct Case {
    pub classname: String,
    pub name: String,
    pub file: Option<String>,
    pub time: Option<Duration>,
    pub verdict: Verdict,
    /// What the case printed: `system-out`.
    pub out: Option<String>,
}

#[derive(Debug, Clone, Default)]
pub enum Verdict {
    #[default]
    Passed,
    Failed {
        message: String,
        kind: Option<&'static str>,
        /// The whole failure report, inside the element.
        text: Option<String>,
    },
    Skipped(String),
}

impl Suite {
    fn failures(&self) -> usize {
        self.cases.iter().filter(|c| matches!(c.verdict, Verdict::Failed { .. })).count()
    }

    fn skipped(&self) -> usize {
        self.cases.iter().filter(|c| matches!(c.verdict, Verdict::Skipped(_))).count()
    }
}

/// The document: `testsuites` named `name`, with the totals of `suites`.
pub fn render(name: &str, time: Option<Duration>, suites: &[Suite]) -> String {
    let tests: usize = suites.iter().map(|s| s.cases.len()).sum();
    let failures: usize = suites.iter().map(Suite::failures).sum();
    let skipped: usize = suites.iter().map(Suite::skipped).sum();
    let mut out = String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
    out.push_str(&format!(
        "<testsuites name=\"{}\" tests=\"{tests}\" failures=\"{failures}\" skipped=\"{skipped}\"{}>\n",
        escape(name),
        time.map(|t| format!(" time=\"{}\"", secs(t))).unwrap_or_default()
    ));
    for suite in suites {
        out.push_str(&format!(
            "  <testsuite name=\"{}\" tests=\"{}\" failures=\"{}\" errors=\"0\" skipped=\"{}\"{}{}>\n",
            escape(&suite.name),
            suite.cases.len(),
            suite.failures(),
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
        Verdict::Failed { message, kind, text } => {
            let kind = kind.map(|k| format!(" type=\"{k}\"")).unwrap_or_default();
            match text {
                Some(text) => out.push_str(&format!(
                    "      <failure message=\"{}\"{kind}>{}</failure>\n",
                    escape(message),
                    escape(text)
                )),
                None => out.push_str(&format!("      <failure message=\"{}\"{kind}/>\n", escape(message))),
            }
        }
        Verdict::Skipped(why) => out.push_str(&format!("      <skipped message=\"{}\"/>\n", escape(why))),
    }
    if let Some(text) = &case.out {
        out.push_str(&format!("      <system-out>{}</system-out>\n", escape(text)));
    }
    out.push_str("    </testcase>\n");
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
