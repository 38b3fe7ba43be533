//! Rendering a [`RunReport`](super::RunReport): a terminal summary, JUnit XML
//! for CI, one self-contained HTML file per run. Rendering only reads the
//! report; it never runs anything.

mod html;
mod junit;
mod terminal;
mod waterfall;

pub use html::html;
pub use junit::junit;
pub use terminal::{TerminalProgress, summary};
pub use waterfall::waterfall;

/// `&`, `<`, `>`, `"` and `'` escaped, for XML and HTML alike.
pub(crate) fn escape(text: &str) -> String {
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

fn secs(d: std::time::Duration) -> String {
    format!("{:.3}", d.as_secs_f64())
}
