//! `{{name}}` in a scenario's strings: replaced by a variable (from `vars`,
//! a capture, or a built-in: `run`, `correlation_id`, `scenario`). A string
//! that is nothing but one `{{name}}` takes the variable's JSON value as it
//! is, so a captured number stays a number.

use std::collections::{BTreeMap, BTreeSet};

use serde_json::Value;

#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, thiserror::Error, schemars::JsonSchema)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum TemplateError {
    #[error("`{{{{{name}}}}}` is not set (set: {})", .known.join(", "))]
    Unset { name: String, known: Vec<String> },
    #[error("`{text}` opens `{{{{` without closing it")]
    Unclosed { text: String },
}

/// The variables of one scenario run, and the credentials it handled.
#[derive(Debug, Clone, Default)]
pub struct Vars {
    values: BTreeMap<String, Value>,
    secrets: BTreeSet<String>,
}

impl Vars {
    pub fn set(&mut self, name: &str, value: Value) {
        self.values.insert(name.to_owned(), value);
    }

    pub fn get(&self, name: &str) -> Option<&Value> {
        self.values.get(name)
    }

    /// Takes from `other` every variable not set here, and its credentials.
    pub fn extend_from(&mut self, other: &Vars) {
        for (name, value) in &other.values {
            self.values.entry(name.clone()).or_insert_with(|| value.clone());
        }
        self.secrets.extend(other.secrets.iter().cloned());
    }

    /// Notes a credential the run sent or was given (a bearer token, a
    /// password, a token in an answer), for a leak check to look for.
    pub fn handled_secret(&mut self, secret: &str) {
        if !secret.is_empty() {
            self.secrets.insert(secret.to_owned());
        }
    }

    /// Every string under a secret key of `value` ([`kit::redact::is_secret_key`]).
    pub fn handled_secrets_in(&mut self, value: &Value) {
        match value {
            Value::Object(map) => {
                for (key, v) in map {
                    match v {
                        Value::String(s) if kit::redact::is_secret_key(key) => self.handled_secret(s),
                        other => self.handled_secrets_in(other),
                    }
                }
            }
            Value::Array(items) => items.iter().for_each(|v| self.handled_secrets_in(v)),
            _ => {}
        }
    }

    /// The credentials noted so far.
    pub fn secrets(&self) -> Vec<String> {
        self.secrets.iter().cloned().collect()
    }

    fn lookup(&self, name: &str) -> Result<&Value, TemplateError> {
        self.values
            .get(name)
            .ok_or_else(|| TemplateError::Unset { name: name.to_owned(), known: self.values.keys().cloned().collect() })
    }

    /// `text` with every `{{name}}` replaced, as text.
    pub fn text(&self, text: &str) -> Result<String, TemplateError> {
        let mut out = String::new();
        let mut rest = text;
        while let Some(start) = rest.find("{{") {
            out.push_str(&rest[..start]);
            let after = &rest[start + 2..];
            let end = after.find("}}").ok_or_else(|| TemplateError::Unclosed { text: text.to_owned() })?;
            match self.lookup(after[..end].trim())? {
                Value::String(s) => out.push_str(s),
                other => out.push_str(&other.to_string()),
            }
            rest = &after[end + 2..];
        }
        out.push_str(rest);
        Ok(out)
    }

    /// `value` with every string templated; `"{{name}}"` alone keeps the
    /// variable's own JSON type.
    pub fn value(&self, value: &Value) -> Result<Value, TemplateError> {
        Ok(match value {
            Value::String(s) => {
                let trimmed = s.trim();
                let whole = trimmed.strip_prefix("{{").and_then(|r| r.strip_suffix("}}"));
                match whole.filter(|inner| !inner.contains("{{") && !inner.contains("}}")) {
                    Some(name) => self.lookup(name.trim())?.clone(),
                    None => Value::String(self.text(s)?),
                }
            }
            Value::Array(items) => Value::Array(items.iter().map(|v| self.value(v)).collect::<Result<_, _>>()?),
            Value::Object(map) => Value::Object(
                map.iter().map(|(k, v)| Ok((self.text(k)?, self.value(v)?))).collect::<Result<_, TemplateError>>()?,
            ),
            other => other.clone(),
        })
    }
}

/// The names of the variables `text` uses, in order (an unclosed `{{` ends them).
pub fn names(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut rest = text;
    while let Some(start) = rest.find("{{") {
        let after = &rest[start + 2..];
        let Some(end) = after.find("}}") else { break };
        out.push(after[..end].trim().to_owned());
        rest = &after[end + 2..];
    }
    out
}

/// The names of the variables the strings (keys too) of `value` use.
pub fn names_in(value: &Value) -> Vec<String> {
    match value {
        Value::String(s) => names(s),
        Value::Array(items) => items.iter().flat_map(names_in).collect(),
        Value::Object(map) => map.iter().flat_map(|(k, v)| names(k).into_iter().chain(names_in(v))).collect(),
        _ => Vec::new(),
    }
}

/// The value at `path` in `json`: dotted keys and array indexes (`items.0.id`).
pub fn pick<'a>(json: &'a Value, path: &str) -> Option<&'a Value> {
    path.split('.').filter(|p| !p.is_empty()).try_fold(json, |v, key| match v {
        Value::Array(items) => key.parse::<usize>().ok().and_then(|i| items.get(i)),
        Value::Object(map) => map.get(key),
        _ => None,
    })
}

/// The first place where an answer lacks what was expected of it; `at` is
/// its dotted path (`(answer)` for the answer as a whole).
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum Difference {
    #[error("{at}: missing (expected {expected})")]
    Missing { at: String, expected: Value },
    #[error("{at}: {found} elements, expected {expected}")]
    Length { at: String, found: usize, expected: usize },
    #[error("{at}: {found}, expected {expected}")]
    Value { at: String, found: Value, expected: Value },
}

/// Whether `actual` has everything `expected` has: objects by key (extra
/// keys allowed), arrays element by element (same length), the rest equal.
/// `Err` says where they differ.
pub fn subset(expected: &Value, actual: &Value, at: &str) -> Result<(), Difference> {
    match (expected, actual) {
        (Value::Object(want), Value::Object(have)) => {
            for (k, w) in want {
                let here = if at.is_empty() { k.clone() } else { format!("{at}.{k}") };
                match have.get(k) {
                    Some(h) => subset(w, h, &here)?,
                    None => return Err(Difference::Missing { at: here, expected: w.clone() }),
                }
            }
            Ok(())
        }
        (Value::Array(want), Value::Array(have)) => {
            if want.len() != have.len() {
                return Err(Difference::Length { at: or_top(at).into(), found: have.len(), expected: want.len() });
            }
            want.iter().zip(have).enumerate().try_for_each(|(i, (w, h))| subset(w, h, &format!("{at}.{i}")))
        }
        (w, h) if w == h => Ok(()),
        (w, h) => Err(Difference::Value { at: or_top(at).into(), found: h.clone(), expected: w.clone() }),
    }
}

fn or_top(at: &str) -> &str {
    if at.is_empty() { "(answer)" } else { at }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn vars() -> Vars {
        let mut v = Vars::default();
        v.set("order_id", json!("o-1"));
        v.set("n", json!(3));
        v
    }

    #[test]
    fn strings_are_templated_and_a_lone_variable_keeps_its_type() {
        let v = vars();
        assert_eq!(v.text("/orders/{{order_id}}").unwrap(), "/orders/o-1");
        assert_eq!(v.value(&json!({"n": "{{ n }}", "s": "n={{n}}"})).unwrap(), json!({"n": 3, "s": "n=3"}));
        assert!(matches!(v.text("{{nope}}"), Err(TemplateError::Unset { .. })));
        assert!(matches!(v.text("{{order_id"), Err(TemplateError::Unclosed { .. })));
        assert_eq!(names("/a/{{ x }}/{{y}}{{z"), ["x", "y"]);
        assert_eq!(names_in(&json!({"{{k}}": ["{{v}}", 1]})), ["k", "v"]);
    }

    #[test]
    fn subset_names_the_first_difference() {
        let have = json!({"status": "allocated", "timeline": [1, 2]});
        assert!(subset(&json!({"status": "allocated"}), &have, "").is_ok());
        assert_eq!(
            subset(&json!({"status": "delivered"}), &have, "").unwrap_err().to_string(),
            "status: \"allocated\", expected \"delivered\""
        );
        let length = Difference::Length { at: "timeline".into(), found: 2, expected: 1 };
        assert_eq!(subset(&json!({"timeline": [1]}), &have, ""), Err(length));
        assert_eq!(pick(&json!({"a": [{"id": 7}]}), "a.0.id"), Some(&json!(7)));
    }
}
