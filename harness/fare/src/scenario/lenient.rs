//! Every mistake of a scenario file that does not parse, not only the first:
//! the YAML is read as plain values, and each step, fault, fake rule and
//! other top-level field is then read on its own, so one mistake does not
//! hide the next. A mistake's line comes from its field path, found in the
//! text by indentation.

use std::path::Path;

use serde::de::DeserializeOwned;
use serde_norway::Value;

use super::error::ScenarioError;
use super::model::{Expect, FakeRule, Fault, Step};

/// The top-level fields a scenario may have.
const FIELDS: [&str; 7] = ["name", "description", "vars", "fakes", "faults", "steps", "expect"];

/// Each problem of `source`, read piece by piece; empty when it is not even
/// YAML (the parser's own error says it best then).
pub(super) fn problems(path: &Path, source: &str) -> Vec<ScenarioError> {
    let Ok(Value::Mapping(top)) = serde_norway::from_str::<Value>(source) else { return Vec::new() };
    let mut found = Vec::new();
    let mut problem = |field: String, message: String| {
        let at = locate(source, &field);
        found.push(ScenarioError::Invalid {
            path: path.to_owned(),
            line: at.map(|(l, _)| l),
            column: at.map(|(_, c)| c),
            field,
            message,
        });
    };
    if !top.contains_key("steps") {
        problem("(top)".into(), "missing field `steps`".into());
    }
    for (key, value) in top {
        let Some(key) = key.as_str().map(str::to_owned) else { continue };
        let mut each = |field: &str, value: Value, check: fn(Value) -> Result<(), (String, String)>| {
            if let Err((inner, message)) = check(value) {
                let sep = if inner.is_empty() || inner.starts_with('[') { "" } else { "." };
                problem(format!("{field}{sep}{inner}"), message);
            }
        };
        match (key.as_str(), value) {
            ("steps", Value::Sequence(items)) => {
                items.into_iter().enumerate().for_each(|(i, v)| each(&format!("steps[{i}]"), v, read::<Step>))
            }
            ("faults", Value::Sequence(items)) => {
                items.into_iter().enumerate().for_each(|(i, v)| each(&format!("faults[{i}]"), v, read::<Fault>))
            }
            ("fakes", Value::Mapping(fakes)) => {
                for (name, rules) in fakes {
                    let name = name.as_str().unwrap_or_default().to_owned();
                    match rules {
                        Value::Sequence(rules) => rules
                            .into_iter()
                            .enumerate()
                            .for_each(|(i, v)| each(&format!("fakes.{name}[{i}]"), v, read::<FakeRule>)),
                        other => each(&format!("fakes.{name}"), other, read::<Vec<FakeRule>>),
                    }
                }
            }
            ("steps", v) => each("steps", v, read::<Vec<Step>>),
            ("faults", v) => each("faults", v, read::<Vec<Fault>>),
            ("fakes", v) => each("fakes", v, read::<std::collections::BTreeMap<String, Vec<FakeRule>>>),
            ("expect", v) => each("expect", v, read::<Expect>),
            ("vars", v) => each("vars", v, read::<std::collections::BTreeMap<String, String>>),
            ("name", v) => each("name", v, read::<Option<String>>),
            ("description", v) => each("description", v, read::<String>),
            (other, _) => {
                let expected = FIELDS.map(|f| format!("`{f}`")).join(", ");
                let hint = kit::suggest::did_you_mean(other, FIELDS);
                problem(other.to_owned(), format!("unknown field `{other}`, expected one of {expected}{hint}"));
            }
        }
    }
    found
}

/// Reads `value` as a `T`: the path inside it and the message when it is not one.
fn read<T: DeserializeOwned>(value: Value) -> Result<(), (String, String)> {
    serde_path_to_error::deserialize::<_, T>(value).map(drop).map_err(|e| {
        let inner = e.path().to_string();
        let inner = if inner == "." { String::new() } else { inner };
        let mut message = e.into_inner().to_string();
        if let Some(rest) = message.strip_prefix(&format!("{inner}: ")) {
            message = rest.to_owned();
        }
        message.push_str(&kit::suggest::for_serde_message(&message));
        (inner, message)
    })
}

/// The 1-based line and column of `field` (`steps[1].status`,
/// `fakes.carrier[0]`) in block-style YAML, as deep as it can be followed.
pub(super) fn locate(source: &str, field: &str) -> Option<(usize, usize)> {
    let lines: Vec<&str> = source.lines().collect();
    let indent = |l: &str| l.len() - l.trim_start().len();
    let item = |l: &str| l.trim_start().starts_with("- ");
    // Where a line's key starts: after the dash of a list item.
    let key_column = |l: &str| indent(l) + if item(l) { 2 } else { 0 };
    let blank = |l: &str| l.trim().is_empty() || l.trim_start().starts_with('#');
    // The lines [from, to) the node followed so far spans.
    let (mut from, mut to) = (0, lines.len());
    let mut found = None;
    for segment in segments(field) {
        let rows: Vec<usize> = (from..to).filter(|&i| !blank(lines[i])).collect();
        let (line, end) = match &segment {
            Segment::Key(key) => {
                let column = rows.iter().map(|&i| key_column(lines[i])).min()?;
                let line = rows.iter().copied().find(|&i| {
                    let l = lines[i];
                    let bare = l[key_column(l)..].trim_start_matches('{');
                    let flow = l.contains('{') && (l.contains(&format!("{{{key}:")) || l.contains(&format!(" {key}:")));
                    (key_column(l) == column && bare.starts_with(&format!("{key}:"))) || flow
                });
                let Some(line) = line else { break };
                let k = key_column(lines[line]);
                // Its value: the lines below, deeper than the key or a list at its level.
                let end = rows
                    .iter()
                    .copied()
                    .find(|&i| i > line && (indent(lines[i]) < k || (indent(lines[i]) == k && !item(lines[i]))))
                    .unwrap_or(to);
                let column = lines[line].find(&format!("{key}:")).unwrap_or(k);
                found = Some((line + 1, column + 1));
                (line + 1, end)
            }
            Segment::Index(n) => {
                let dashes: Vec<usize> =
                    rows.iter().copied().filter(|&i| lines[i].trim_start().starts_with('-')).collect();
                let Some(d) = dashes.iter().map(|&i| indent(lines[i])).min() else { break };
                let Some(line) = dashes.iter().copied().filter(|&i| indent(lines[i]) == d).nth(*n) else { break };
                let end = rows.iter().copied().find(|&i| i > line && indent(lines[i]) <= d).unwrap_or(to);
                found = Some((line + 1, d + 1));
                (line, end)
            }
        };
        (from, to) = (line, end);
        if from >= to {
            break;
        }
    }
    found
}

enum Segment {
    Key(String),
    Index(usize),
}

/// `steps[1].status` as `steps`, `1`, `status`.
fn segments(field: &str) -> Vec<Segment> {
    let mut out = Vec::new();
    for part in field.split('.') {
        let mut rest = part;
        if let Some(open) = rest.find('[') {
            if open > 0 {
                out.push(Segment::Key(rest[..open].to_owned()));
            }
            rest = &rest[open..];
            // Each `[n]` in turn; text between or after the brackets is not a path.
            while let Some(open) = rest.find('[') {
                let Some(close) = rest[open..].find(']').map(|c| open + c) else { break };
                if let Ok(n) = rest[open + 1..close].parse() {
                    out.push(Segment::Index(n));
                }
                rest = &rest[close + 1..];
            }
        } else if !rest.is_empty() {
            out.push(Segment::Key(rest.to_owned()));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_field_path_is_found_by_indentation() {
        let text = "description: d\nsteps:\n  - http: POST store /orders\n    status: 201\n  - quiet: true\n\
                    fakes:\n  carrier:\n    - respond: [{status: 500}]\n";
        assert_eq!(locate(text, "steps"), Some((2, 1)));
        assert_eq!(locate(text, "steps[0]"), Some((3, 3)));
        assert_eq!(locate(text, "steps[0].status"), Some((4, 5)));
        assert_eq!(locate(text, "steps[0].http"), Some((3, 5)));
        assert_eq!(locate(text, "steps[1]"), Some((5, 3)));
        assert_eq!(locate(text, "fakes.carrier[0]"), Some((8, 5)));
        assert_eq!(locate(text, "fakes.carrier[0].respond"), Some((8, 7)));
        assert_eq!(locate(text, "steps[7]"), Some((2, 1)), "as deep as it goes");
        assert_eq!(locate(text, "nothing"), None);
    }

    #[test]
    fn a_field_path_with_text_between_its_brackets_is_read_without_panicking() {
        // Found by parsing_properties: a `]` after a multi-byte character.
        assert!(matches!(segments("A[]ቊ]:")[..], [Segment::Key(_)]));
        assert!(matches!(segments("a[1]x[2]")[..], [Segment::Key(_), Segment::Index(1), Segment::Index(2)]));
    }
}
