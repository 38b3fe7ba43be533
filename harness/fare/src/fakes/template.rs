//! Placeholders in a fake's answers (see `spec`): found, and filled from a
//! request and the fake's state.

use std::collections::BTreeMap;

use serde_json::Value;

/// What a placeholder can stand for, for one request.
#[derive(Debug, Default)]
pub struct Context<'a> {
    pub path: BTreeMap<String, String>,
    pub query: BTreeMap<String, String>,
    /// Header names in lower case.
    pub headers: BTreeMap<String, String>,
    pub body: Option<&'a Value>,
    pub vars: Option<&'a BTreeMap<String, Value>>,
    /// The key's number on its route, from 1.
    pub seq: u64,
    /// A state's parameters.
    pub params: BTreeMap<String, String>,
}

/// The names of the placeholders in `text`, `{…}` of letters, digits, `_`, `-`, `.` and `:`.
pub fn placeholders(text: &str) -> Vec<String> {
    spans(text).into_iter().map(|(start, end)| text[start + 1..end - 1].to_owned()).collect()
}

/// Where each placeholder of `text` is, braces included.
fn spans(text: &str) -> Vec<(usize, usize)> {
    let mut out = Vec::new();
    let bytes = text.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'{' {
            let rest = &text[i + 1..];
            let len = rest.bytes().take_while(|b| b.is_ascii_alphanumeric() || b"_-.:".contains(b)).count();
            if len > 0 && rest.as_bytes().get(len) == Some(&b'}') {
                out.push((i, i + len + 2));
                i += len + 2;
                continue;
            }
        }
        i += 1;
    }
    out
}

impl Context<'_> {
    /// The value `name` stands for; `None` when the request does not have it.
    pub fn lookup(&self, name: &str) -> Option<Value> {
        let (space, rest) = name.split_once('.').unwrap_or((name, ""));
        match space {
            "path" => self.path.get(rest).cloned().map(Value::String),
            "query" => self.query.get(rest).cloned().map(Value::String),
            "header" => self.headers.get(&rest.to_ascii_lowercase()).cloned().map(Value::String),
            "body" => rest.split('.').try_fold(self.body?, |v, field| v.get(field)).cloned(),
            "var" => self.vars?.get(rest).cloned(),
            "now" => Some(Value::String(now())),
            "uuid" => Some(Value::String(uuid::Uuid::new_v4().to_string())),
            _ if name == "seq" => Some(Value::from(self.seq)),
            _ if name.starts_with("seq:") => {
                let width: usize = name[4..].parse().ok()?;
                Some(Value::String(format!("{:0width$}", self.seq)))
            }
            _ => self.params.get(name).cloned().map(Value::String),
        }
    }

    /// `text` with its placeholders filled in; one that stands for nothing becomes "".
    pub fn text(&self, text: &str) -> String {
        let mut out = String::new();
        let mut last = 0;
        for (start, end) in spans(text) {
            out.push_str(&text[last..start]);
            match self.lookup(&text[start + 1..end - 1]) {
                Some(Value::String(s)) => out.push_str(&s),
                Some(Value::Null) | None => {}
                Some(other) => out.push_str(&other.to_string()),
            }
            last = end;
        }
        out.push_str(&text[last..]);
        out
    }

    /// `value` with every string's placeholders filled in; a string that is
    /// one placeholder alone becomes the value it stands for.
    pub fn value(&self, value: &Value) -> Value {
        match value {
            Value::String(s) => match spans(s).as_slice() {
                [(0, end)] if *end == s.len() => self.lookup(&s[1..end - 1]).unwrap_or(Value::Null),
                _ => Value::String(self.text(s)),
            },
            Value::Array(items) => Value::Array(items.iter().map(|v| self.value(v)).collect()),
            Value::Object(map) => Value::Object(map.iter().map(|(k, v)| (k.clone(), self.value(v))).collect()),
            other => other.clone(),
        }
    }
}

fn now() -> String {
    time::OffsetDateTime::now_utc().format(&time::format_description::well_known::Rfc3339).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn placeholders_fill_from_the_request() {
        let body = json!({"ship_to": {"city": "London"}, "reference": "o-1"});
        let mut cx = Context { body: Some(&body), seq: 7, ..Context::default() };
        cx.path.insert("id".into(), "T1".into());
        cx.headers.insert("idempotency-key".into(), "k".into());
        assert_eq!(placeholders("TRK{seq:9} {path.id} {not a placeholder}"), vec!["seq:9", "path.id"]);
        assert_eq!(cx.text("TRK{seq:9}-{path.id}-{header.Idempotency-Key}"), "TRK000000007-T1-k");
        let filled =
            cx.value(&json!({"to": "{body.ship_to}", "ref": "r-{body.reference}", "n": "{seq}", "x": "{body.nope}"}));
        assert_eq!(filled, json!({"to": {"city": "London"}, "ref": "r-o-1", "n": 7, "x": null}));
    }
}
