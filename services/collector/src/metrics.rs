//! The Prometheus text exposition format (0.0.4) of the event counts.

use std::fmt::Write;

use crate::store::Count;

/// The `Content-Type` Prometheus expects of this format.
pub const CONTENT_TYPE: &str = "text/plain; version=0.0.4";

const NAME: &str = "fare_events_total";
const HELP: &str = "Events seen on the platform's bus, by event type and producer, each event counted once.";

/// The whole `/metrics` page: help, type, then one sample per count.
pub fn render(counts: &[Count]) -> String {
    let mut out = format!("# HELP {NAME} {HELP}\n# TYPE {NAME} counter\n");
    for c in counts {
        // Writing to a String cannot fail.
        let _ = writeln!(
            out,
            "{NAME}{{type=\"{}\",producer=\"{}\"}} {}",
            escape_label(&c.event_type),
            escape_label(&c.producer),
            c.count
        );
    }
    out
}

/// A label value as the format requires: backslash, double quote and line
/// feed escaped, everything else as it is.
pub fn escape_label(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    for c in value.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '"' => out.push_str("\\\""),
            '\n' => out.push_str("\\n"),
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn label_values_escape_backslash_quote_and_newline() {
        assert_eq!(escape_label("store"), "store");
        assert_eq!(escape_label(r#"a\b"c"#), r#"a\\b\"c"#);
        assert_eq!(escape_label("two\nlines"), "two\\nlines");
        assert_eq!(escape_label("naïve \t tab"), "naïve \t tab");
    }

    #[test]
    fn renders_help_type_and_one_line_per_count() {
        let counts = [
            Count { event_type: "order.placed".into(), producer: "store".into(), count: 3 },
            Count { event_type: "odd.type".into(), producer: "a\"b".into(), count: 1 },
        ];
        let page = render(&counts);
        let lines: Vec<&str> = page.lines().collect();
        assert!(lines[0].starts_with("# HELP fare_events_total "), "{page}");
        assert_eq!(lines[1], "# TYPE fare_events_total counter");
        assert_eq!(lines[2], r#"fare_events_total{type="order.placed",producer="store"} 3"#);
        assert_eq!(lines[3], r#"fare_events_total{type="odd.type",producer="a\"b"} 1"#);
        assert!(page.ends_with('\n'));
        assert_eq!(render(&[]).lines().count(), 2);
    }
}
