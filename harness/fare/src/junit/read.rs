//! Reading JUnit XML back into a [`Document`]: what fare writes, and the
//! subset other tools write alike (`testsuites`, or a lone `testsuite`;
//! `testcase` with `failure`, `error`, `skipped` and `system-out`).
//! Anything else (`properties`, `system-err`, attributes fare does not
//! write) is passed over. `xmlparser` (already in the build, through the
//! AWS SDK) tokenizes; entities are resolved here.

use std::time::Duration;

use xmlparser::{ElementEnd, Token, Tokenizer};

use super::{Case, Document, Suite, Verdict};

#[derive(Debug, thiserror::Error)]
pub enum ReadError {
    #[error("not well-formed XML: {0}")]
    Xml(#[from] xmlparser::Error),
    #[error("line {line}: <{element}> outside a <{parent}>")]
    Misplaced { line: usize, element: String, parent: &'static str },
    #[error("line {line}: </{closed}> closes <{open}>")]
    Mismatched { line: usize, closed: String, open: String },
    #[error("line {line}: time=\"{value}\" is not a number of seconds")]
    Time { line: usize, value: String },
    #[error("the text ends inside <{element}>: cut short?")]
    Unclosed { element: String },
    #[error("no <testsuites> or <testsuite> element: not JUnit XML")]
    NotJunit,
}

/// The document in `text`.
pub fn read(text: &str) -> Result<Document, ReadError> {
    let mut reader = Reader { text, doc: Document::default(), open: Vec::new(), junit: false };
    let mut tag: Option<Tag> = None;
    for token in Tokenizer::from(text) {
        match token? {
            Token::ElementStart { local, span, .. } => {
                tag = Some(Tag { name: local.to_string(), attributes: Vec::new(), at: span.start() })
            }
            Token::Attribute { local, value, .. } => {
                if let Some(tag) = &mut tag {
                    tag.attributes.push((local.to_string(), unescape(value.as_str())));
                }
            }
            Token::ElementEnd { end: end @ (ElementEnd::Open | ElementEnd::Empty), .. } => {
                if let Some(tag) = tag.take() {
                    reader.start(&tag, matches!(end, ElementEnd::Empty))?;
                    if matches!(end, ElementEnd::Open) {
                        reader.open.push(tag.name);
                    }
                }
            }
            Token::ElementEnd { end: ElementEnd::Close(_, local), span } => match reader.open.pop() {
                Some(open) if open == local.as_str() => {}
                open => {
                    let (closed, open) = (local.to_string(), open.unwrap_or_default());
                    return Err(ReadError::Mismatched { line: reader.line(span.start()), closed, open });
                }
            },
            Token::Text { text } => reader.text(&unescape(text.as_str())),
            Token::Cdata { text, .. } => reader.text(text.as_str()),
            _ => {}
        }
    }
    if let Some(element) = tag.map(|t| t.name).or_else(|| reader.open.pop()) {
        return Err(ReadError::Unclosed { element });
    }
    if !reader.junit {
        return Err(ReadError::NotJunit);
    }
    Ok(reader.doc)
}

/// A start tag as it is read: its name, its attributes (values resolved),
/// where it began.
struct Tag {
    name: String,
    attributes: Vec<(String, String)>,
    at: usize,
}

struct Reader<'a> {
    text: &'a str,
    doc: Document,
    /// The elements open, outermost first.
    open: Vec<String>,
    /// Whether a `testsuites` or `testsuite` was seen.
    junit: bool,
}

impl Reader<'_> {
    fn line(&self, at: usize) -> usize {
        self.text.get(..at).unwrap_or_default().matches('\n').count() + 1
    }

    fn parent(&self) -> Option<&str> {
        self.open.last().map(String::as_str)
    }

    /// The case an element inside a `testcase` belongs to.
    fn case(&mut self, element: &str, at: usize) -> Result<&mut Case, ReadError> {
        let line = self.line(at);
        let misplaced = || ReadError::Misplaced { line, element: element.to_owned(), parent: "testcase" };
        if self.parent() != Some("testcase") {
            return Err(misplaced());
        }
        self.doc.suites.last_mut().and_then(|s| s.cases.last_mut()).ok_or_else(misplaced)
    }

    fn start(&mut self, tag: &Tag, empty: bool) -> Result<(), ReadError> {
        let (name, at) = (tag.name.as_str(), tag.at);
        let attr = |key: &str| tag.attributes.iter().find(|(k, _)| k == key).map(|(_, v)| v.clone());
        let time = |line: usize| -> Result<Option<Duration>, ReadError> {
            attr("time").map(|value| seconds(&value).ok_or(ReadError::Time { line, value })).transpose()
        };
        let line = self.line(at);
        match name {
            "testsuites" => {
                self.junit = true;
                self.doc.name = attr("name").unwrap_or_default();
                self.doc.time = time(line)?;
            }
            "testsuite" => {
                self.junit = true;
                let (name, timestamp) = (attr("name").unwrap_or_default(), attr("timestamp"));
                self.doc.suites.push(Suite { name, cases: Vec::new(), time: time(line)?, timestamp });
            }
            "testcase" => {
                let case = Case {
                    classname: attr("classname").unwrap_or_default(),
                    name: attr("name").unwrap_or_default(),
                    file: attr("file"),
                    time: time(line)?,
                    ..Case::default()
                };
                let suite = self.doc.suites.last_mut().filter(|_| self.open.last().is_some_and(|p| p == "testsuite"));
                let misplaced = || ReadError::Misplaced { line, element: name.to_owned(), parent: "testsuite" };
                suite.ok_or_else(misplaced)?.cases.push(case);
            }
            "failure" | "error" => {
                let (message, kind) = (attr("message").unwrap_or_default(), attr("type"));
                let text = (!empty).then(String::new);
                self.case(name, at)?.verdict = match name {
                    "failure" => Verdict::Failed { message, kind, text },
                    _ => Verdict::Errored { message, kind, text },
                };
            }
            "skipped" => self.case(name, at)?.verdict = Verdict::Skipped(attr("message").unwrap_or_default()),
            "system-out" => self.case(name, at)?.out = Some(String::new()),
            _ => {}
        }
        Ok(())
    }

    /// Text inside the element open: kept where a case holds it.
    fn text(&mut self, text: &str) {
        let Some(element) = self.open.last().cloned() else { return };
        let in_case = self.open.len() >= 2 && self.open[self.open.len() - 2] == "testcase";
        let Some(case) = self.doc.suites.last_mut().and_then(|s| s.cases.last_mut()).filter(|_| in_case) else {
            return;
        };
        let into = match (element.as_str(), &mut case.verdict) {
            ("system-out", _) => case.out.as_mut(),
            ("failure", Verdict::Failed { text, .. }) | ("error", Verdict::Errored { text, .. }) => text.as_mut(),
            _ => None,
        };
        if let Some(into) = into {
            into.push_str(text);
        }
    }
}

/// `12.345` (JUnit's seconds) as a duration, to the microsecond.
fn seconds(text: &str) -> Option<Duration> {
    let secs: f64 = text.trim().parse().ok()?;
    (secs.is_finite() && secs >= 0.0).then(|| Duration::from_micros((secs * 1e6).round() as u64))
}

/// XML's five named entities and character references resolved; an `&`
/// that starts none of them is kept as it is.
fn unescape(raw: &str) -> String {
    let mut out = String::with_capacity(raw.len());
    let mut rest = raw;
    while let Some(at) = rest.find('&') {
        out.push_str(&rest[..at]);
        rest = &rest[at..];
        let end = rest.find(';');
        let resolved = end.and_then(|end| match &rest[1..end] {
            "amp" => Some('&'),
            "lt" => Some('<'),
            "gt" => Some('>'),
            "quot" => Some('"'),
            "apos" => Some('\''),
            hex if hex.starts_with("#x") => u32::from_str_radix(&hex[2..], 16).ok().and_then(char::from_u32),
            dec if dec.starts_with('#') => dec[1..].parse().ok().and_then(char::from_u32),
            _ => None,
        });
        match (resolved, end) {
            (Some(c), Some(end)) => {
                out.push(c);
                rest = &rest[end + 1..];
            }
            _ => {
                out.push('&');
                rest = &rest[1..];
            }
        }
    }
    out.push_str(rest);
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::junit::render;

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

    #[test]
    fn what_fare_writes_reads_back_the_same() {
        let failed = Verdict::Failed {
            message: "chain main: missing a > b & \"c\" 'd'".into(),
            kind: Some("ScenarioFailed".into()),
            text: Some("  ✗ <step>: 503\n\ttab\u{fffd}".into()),
        };
        let errored = Verdict::Errored { message: "no answer".into(), kind: None, text: None };
        let empty_failure = Verdict::Failed { message: String::new(), kind: None, text: Some(String::new()) };
        let doc = Document {
            name: "fare e2e".into(),
            time: Some(Duration::from_millis(41234)),
            suites: vec![Suite {
                name: "e2e".into(),
                cases: vec![
                    case("a", Verdict::Passed, None),
                    case("b", Verdict::Passed, Some("")),
                    case("c", failed, Some("chain main (x):\n  order.placed <by store>\n")),
                    case("d", Verdict::Skipped("needs --restart".into()), Some("")),
                    case("e", errored, None),
                    case("f", empty_failure, None),
                ],
                time: Some(Duration::from_millis(41234)),
                timestamp: Some("2025-01-02T03:04:05.678Z".into()),
            }],
        };
        let text = doc.render();
        assert_eq!(read(&text).unwrap(), doc, "{text}");
        assert_eq!(read(&text).unwrap().render(), text);
        let totals = doc.totals();
        assert_eq!((totals.tests, totals.failures, totals.errors, totals.skipped), (6, 2, 1, 1));
        assert_eq!(totals.time_ms, Some(41234));
        assert!(text.contains("tests=\"6\" failures=\"2\" errors=\"1\" skipped=\"1\" time=\"41.234\""), "{text}");
    }

    #[test]
    fn another_tools_lone_testsuite_reads_too() {
        let text = "<?xml version=\"1.0\"?>\n<testsuite name=\"x\" tests=\"2\"><properties><property name=\"a\" value=\"b\"/></properties>\
                    <testcase name=\"t1\" classname=\"c\" time=\"0.5\"><error message=\"boom\" type=\"E\"><![CDATA[a < b]]></error><system-err>x</system-err></testcase>\
                    <testcase name=\"t2\" classname=\"c\"><skipped/></testcase></testsuite>";
        let doc = read(text).unwrap();
        let cases = &doc.suites[0].cases;
        assert_eq!(cases[0].time, Some(Duration::from_millis(500)));
        let Verdict::Errored { message, kind, text } = &cases[0].verdict else { panic!("{:?}", cases[0]) };
        assert_eq!((message.as_str(), kind.as_deref(), text.as_deref()), ("boom", Some("E"), Some("a < b")));
        assert_eq!(cases[1].verdict, Verdict::Skipped(String::new()));
        assert_eq!(doc.totals().errors, 1);
    }

    #[test]
    fn what_is_not_junit_is_refused_with_where() {
        assert!(matches!(read("<html></html>"), Err(ReadError::NotJunit)));
        assert!(matches!(read("<testsuites><testsuite></testsuites>"), Err(ReadError::Mismatched { line: 1, .. })));
        assert!(matches!(
            read("<testsuites>\n<testcase name=\"a\"/></testsuites>"),
            Err(ReadError::Misplaced { line: 2, .. })
        ));
        assert!(matches!(read("<testsuites time=\"soon\"/>"), Err(ReadError::Time { .. })));
        assert!(matches!(read("<testsuites a=></testsuites>"), Err(ReadError::Xml(_))));
        assert!(
            matches!(read("<testsuites><testsuite>"), Err(ReadError::Unclosed { element }) if element == "testsuite")
        );
        assert!(matches!(read("<testsuites"), Err(ReadError::Unclosed { .. })));
        assert_eq!(render("", None, &[]), read(&render("", None, &[])).unwrap().render());
    }

    #[test]
    fn entities_and_character_references_resolve() {
        assert_eq!(unescape("a &amp; b &lt;c&gt; &quot;&apos;&#39;&#x41;"), "a & b <c> \"''A");
        assert_eq!(unescape("AT&T &unknown; & &#xZZ;"), "AT&T &unknown; & &#xZZ;");
    }
}
