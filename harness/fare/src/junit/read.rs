//! Reading JUnit XML back into a [`Document`] (`fare report merge`): what
//! fare writes, and what other tools write alike, a lone `testsuite` as
//! the root too. quick-junit reads; what it finds wrong is said here, with
//! where in the document.

use std::borrow::Cow;

use quick_junit::{DeserializeError, DeserializeErrorKind, PathElement, Report};
use quick_xml::events::Event;

use super::{Document, convert};

/// What is wrong with a text read as JUnit XML; `at` says where, as
/// `testsuites/testsuite[0]("e2e")/@time`.
#[derive(Debug, thiserror::Error)]
pub enum ReadError {
    #[error("no <testsuites> or <testsuite> element: not JUnit XML")]
    NotJunit,
    #[error("{at}: \"{value}\" is not a number of seconds")]
    Time { at: String, value: String },
    #[error("{at}: \"{value}\" is not an RFC 3339 date and time")]
    Timestamp { at: String, value: String },
    #[error("{at}: missing, and JUnit needs it")]
    Missing { at: String },
    /// Not well-formed XML, or not JUnit's shape: the source says what and where.
    #[error("unreadable JUnit XML: {0}")]
    Unreadable(#[source] DeserializeError),
}

/// The document in `text`.
pub fn read(text: &str) -> Result<Document, ReadError> {
    let text = match root(text) {
        Ok(Some(Root { name, .. })) if name == "testsuites" => Cow::Borrowed(text),
        Ok(Some(Root { name, before, from })) if name == "testsuite" => {
            Cow::Owned(format!("{before}<testsuites>{from}</testsuites>"))
        }
        Ok(_) => return Err(ReadError::NotJunit),
        // quick-junit says what is wrong, and where.
        Err(_) => Cow::Borrowed(text),
    };
    let report = Report::deserialize_from_str(&text)?;
    Ok(convert::document(report))
}

/// The root element of a text.
struct Root<'a> {
    name: String,
    /// The text before its start tag: the declaration, comments.
    before: &'a str,
    /// The text from its start tag on.
    from: &'a str,
}

/// The root element of `text`; none if it has no element.
fn root(text: &str) -> Result<Option<Root<'_>>, quick_xml::Error> {
    let mut reader = quick_xml::Reader::from_str(text);
    loop {
        let at = usize::try_from(reader.buffer_position()).ok();
        match reader.read_event()? {
            Event::Start(tag) | Event::Empty(tag) => {
                let name = String::from_utf8_lossy(tag.name().as_ref()).into_owned();
                let (before, from) = at.and_then(|at| text.split_at_checked(at)).unwrap_or(("", text));
                return Ok(Some(Root { name, before, from }));
            }
            Event::Eof => return Ok(None),
            _ => {}
        }
    }
}

impl From<DeserializeError> for ReadError {
    fn from(error: DeserializeError) -> ReadError {
        let at = || error.path().iter().map(PathElement::to_string).collect::<Vec<_>>().join("/");
        match error.kind() {
            DeserializeErrorKind::ParseDurationError(value) => ReadError::Time { at: at(), value: value.clone() },
            DeserializeErrorKind::ParseTimestampError(value) => ReadError::Timestamp { at: at(), value: value.clone() },
            DeserializeErrorKind::MissingAttribute(_) => ReadError::Missing { at: at() },
            _ => ReadError::Unreadable(error),
        }
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;
    use crate::junit::Verdict;

    #[test]
    fn another_tools_lone_testsuite_reads_too() {
        let text = "<?xml version=\"1.0\"?>\n<testsuite name=\"x\" tests=\"2\"><properties><property name=\"a\" value=\"b\"/></properties>\
                    <testcase name=\"t1\" classname=\"c\" time=\"0.5\"><error message=\"boom\" type=\"E\"><![CDATA[a < b]]></error><system-err>x</system-err></testcase>\
                    <testcase name=\"t2\" classname=\"c\"><skipped/></testcase></testsuite>";
        let doc = read(text).unwrap();
        let cases = &doc.suites[0].cases;
        assert_eq!(doc.suites[0].name, "x");
        assert_eq!(cases[0].time, Some(Duration::from_millis(500)));
        let Verdict::Errored { message, kind, text } = &cases[0].verdict else { panic!("{:?}", cases[0]) };
        assert_eq!((message.as_str(), kind.as_deref(), text.as_deref()), ("boom", Some("E"), Some("a < b")));
        assert_eq!(cases[1].verdict, Verdict::Skipped(String::new()));
        assert_eq!(doc.totals().errors, 1);
    }

    #[test]
    fn what_is_not_junit_is_refused_with_where() {
        assert!(matches!(read("<html><testsuites/></html>"), Err(ReadError::NotJunit)));
        assert!(matches!(read("<!-- nothing -->"), Err(ReadError::NotJunit)));
        let at = |result: Result<Document, ReadError>| match result {
            Err(ReadError::Time { at, .. } | ReadError::Timestamp { at, .. } | ReadError::Missing { at }) => at,
            other => panic!("{other:?}"),
        };
        assert_eq!(at(read("<testsuites time=\"soon\"/>")), "testsuites/@time");
        let late = "<testsuites><testsuite name=\"e2e\" timestamp=\"yesterday\"/></testsuites>";
        assert_eq!(at(read(late)), "testsuites/testsuite[0]/@timestamp");
        let unnamed = "<testsuites><testsuite name=\"e2e\"><testcase classname=\"c\"/></testsuite></testsuites>";
        assert_eq!(at(read(unnamed)), "testsuites/testsuite[0](\"e2e\")/testcase[0]/@name");

        let unreadable = |text: &str| match read(text) {
            Err(e @ ReadError::Unreadable(_)) => kit::error_chain(&e),
            other => panic!("{text}: {other:?}"),
        };
        let mismatched = unreadable("<testsuites><testsuite name=\"e2e\"></testsuites>");
        assert!(mismatched.contains("testsuite[0](\"e2e\")") && mismatched.contains("</testsuites>"), "{mismatched}");
        let cut = unreadable("<testsuites><testsuite name=\"e2e\">");
        assert!(cut.contains("testsuite[0](\"e2e\")") && cut.contains("EOF"), "{cut}");
        assert!(unreadable("<testsuites a=></testsuites>").starts_with("unreadable JUnit XML"));
        assert!(unreadable("<testsuites").contains("not closed"));
    }

    #[test]
    fn entities_and_character_references_resolve() {
        let text = "<testsuites name=\"a &amp; b &lt;c&gt; &quot;&apos;&#39;&#x41;\"><testsuite name=\"s\">\
                    <testcase name=\"t\"><failure message=\"m\">x &lt; y &amp;&amp; z</failure></testcase>\
                    </testsuite></testsuites>";
        let doc = read(text).unwrap();
        assert_eq!(doc.name, "a & b <c> \"''A");
        let Verdict::Failed { text, .. } = &doc.suites[0].cases[0].verdict else { panic!("{doc:?}") };
        assert_eq!(text.as_deref(), Some("x < y && z"));
    }
}
