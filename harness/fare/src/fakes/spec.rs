//! A third party described as data: the file a platform keeps beside its
//! manifests (named by a manifest's `[[wraps]] fake = "…"`), from which fare
//! serves the fake. Routes answer in turn per key (a carrier reports a
//! parcel in transit for a few polls, then delivered), may replay the first
//! answer to a repeated key (an idempotent API), and provider states move a
//! key to a named answer, so the third party's pacts verify against the
//! same fake the scenarios run.
//!
//! ```yaml
//! name: carrier
//! vars: {polls_until_delivered: 1}
//! routes:
//!   - name: track
//!     method: GET
//!     path: /tracking/{tracking_number}
//!     key: "{path.tracking_number}"
//!     answers:
//!       - {name: in_transit, times: "{var.polls_until_delivered}", status: 200, body: {status: in_transit}}
//!       - {name: delivered, status: 200, body: {status: delivered, delivered_at: "{now}"}}
//! states:
//!   - {state: parcel N was delivered, route: track, key: "{N}", answer: delivered}
//! ```
//!
//! Placeholders in a body, a key or `times`: `{path.NAME}`, `{query.NAME}`,
//! `{header.NAME}`, `{body.FIELD.FIELD}` (a whole-string placeholder keeps
//! the JSON value: an object stays an object), `{var.NAME}`, `{seq}` and
//! `{seq:W}` (the key's number on its route, from 1, zero-padded to W
//! digits), `{now}` (RFC 3339) and `{uuid}`; in a state's key, its
//! one-letter capital parameters (`{N}`).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::Deserialize;
use serde_json::Value;

#[derive(Debug, thiserror::Error)]
pub enum SpecError {
    #[error("reading the fake {}: {source}", path.display())]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{}: {message}", path.display())]
    Invalid { path: PathBuf, message: String },
}

/// One fake, as its file describes it.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FakeSpec {
    /// The third party's name, as manifests wrap it.
    pub name: String,
    #[serde(default)]
    pub description: String,
    /// Values `{var.NAME}` stands for, which a run may override.
    #[serde(default)]
    pub vars: BTreeMap<String, Value>,
    pub routes: Vec<Route>,
    #[serde(default)]
    pub states: Vec<State>,
    /// How `fare chaos` breaks this third party, if it may.
    #[serde(default)]
    pub chaos: Option<Chaos>,
    #[serde(skip)]
    pub path: PathBuf,
}

/// How the fault matrix makes this third party fail a hop: the requests
/// its rules match, and the status it refuses them with.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Chaos {
    /// The requests a hop's fault answers (`{method, path, headers, body_contains}`).
    #[serde(rename = "match")]
    pub matcher: super::Matcher,
    /// The 4xx it refuses with (the 5xx cells answer 503).
    pub refuse: u16,
    /// The wrapping service gives up in a background poller, not by
    /// dead-lettering the event it was handling.
    #[serde(default)]
    pub background: bool,
    /// Per hop event, a narrower match (one mail per trigger: only the mail
    /// this hop sends fails); when given, a hop whose event is not listed
    /// has no third-party cell.
    #[serde(default)]
    pub by_event: BTreeMap<String, super::Matcher>,
}

impl Chaos {
    /// The match for the hop of `event`: `match`, narrowed by `by_event`.
    pub fn matcher_for(&self, event: &str) -> Option<super::Matcher> {
        if self.by_event.is_empty() {
            return Some(self.matcher.clone());
        }
        let narrow = self.by_event.get(event)?;
        let mut m = self.matcher.clone();
        m.method = narrow.method.clone().or(m.method);
        m.path = narrow.path.clone().or(m.path);
        m.headers.extend(narrow.headers.clone());
        m.body_contains = narrow.body_contains.clone().or(m.body_contains);
        Some(m)
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Route {
    /// What a state refers to it by.
    #[serde(default)]
    pub name: Option<String>,
    pub method: String,
    /// `/tracking/{tracking_number}`: `{…}` segments are parameters.
    pub path: String,
    /// `header.NAME`, `query.NAME` or `body.FIELD` the request must carry;
    /// without it the fake answers 400 naming it.
    #[serde(default)]
    pub require: Vec<String>,
    /// What the answers advance by: each distinct key has its own turn
    /// (`{path.tracking_number}`); one turn for the whole route when unset.
    #[serde(default)]
    pub key: Option<String>,
    /// A repeated key gets its first answer again, as an idempotent API does.
    #[serde(default)]
    pub replay: bool,
    #[serde(default)]
    pub answers: Vec<Answer>,
    /// Instead of answers: every key's first answer of the route of this
    /// name (one that replays), in the order the keys came, as a JSON
    /// array: what a third party lists of what it was given.
    #[serde(default)]
    pub list: Option<String>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Answer {
    #[serde(default)]
    pub name: Option<String>,
    /// How many requests of a key this answer takes before the next; the
    /// last answer takes every one after. A number or a placeholder.
    #[serde(default)]
    pub times: Option<Value>,
    pub status: u16,
    #[serde(default)]
    pub body: Option<Value>,
    #[serde(default)]
    pub headers: BTreeMap<String, String>,
}

/// A provider state the fake knows: it moves a key of a route to an answer.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct State {
    /// `parcel N was delivered`: one-letter capital words are parameters.
    pub state: String,
    pub route: String,
    pub key: String,
    pub answer: String,
}

impl FakeSpec {
    /// Reads and checks the fake at `path`.
    pub fn load(path: &Path) -> Result<FakeSpec, SpecError> {
        let text = std::fs::read_to_string(path).map_err(|source| SpecError::Read { path: path.to_owned(), source })?;
        FakeSpec::parse(&text, path)
    }

    /// Parses `text` (the file at `path`) and checks what a file can get wrong.
    pub fn parse(text: &str, path: &Path) -> Result<FakeSpec, SpecError> {
        let invalid = |message: String| SpecError::Invalid { path: path.to_owned(), message };
        let de = serde_norway::Deserializer::from_str(text);
        let mut spec: FakeSpec = serde_path_to_error::deserialize(de).map_err(|e| {
            let at = e.path().to_string();
            let inner = e.into_inner();
            let line = inner.location().map(|l| format!("line {}: ", l.line())).unwrap_or_default();
            invalid(format!("{line}{}: {inner}", if at == "." { "the file".to_owned() } else { at }))
        })?;
        spec.path = path.to_owned();
        if let Some(problem) = spec.problems().into_iter().next() {
            return Err(invalid(problem));
        }
        Ok(spec)
    }

    /// Every mistake a reader of the file would want named.
    fn problems(&self) -> Vec<String> {
        let mut out = Vec::new();
        if self.routes.is_empty() {
            out.push("routes: a fake answers at least one route".to_owned());
        }
        for (i, r) in self.routes.iter().enumerate() {
            let at = format!("routes[{i}]");
            if !r.path.starts_with('/') {
                out.push(format!("{at}.path: `{}` must start with `/`", r.path));
            }
            if r.method.parse::<axum::http::Method>().is_err() || r.method.is_empty() {
                out.push(format!("{at}.method: `{}` is not an HTTP method", r.method));
            }
            match (&r.list, r.answers.is_empty()) {
                (None, true) => out.push(format!("{at}.answers: give at least one answer (or `list: ROUTE`)")),
                (Some(_), false) => out.push(format!("{at}: give `answers` or `list`, not both")),
                (Some(name), true) => {
                    let listed = self.routes.iter().find(|o| o.name.as_deref() == Some(name.as_str()));
                    match listed {
                        Some(o) if o.replay => {}
                        Some(_) => {
                            out.push(format!("{at}.list: route `{name}` does not replay, so it keeps no answers"))
                        }
                        None => out.push(format!("{at}.list: no route named `{name}`")),
                    }
                }
                (None, false) => {}
            }
            for req in &r.require {
                if !["header.", "query.", "body."].iter().any(|p| req.starts_with(p)) {
                    out.push(format!("{at}.require: `{req}`: expected `header.NAME`, `query.NAME` or `body.FIELD`"));
                }
            }
            let params = path_params(&r.path);
            let check = |field: String, text: &str| -> Vec<String> {
                super::template::placeholders(text)
                    .into_iter()
                    .filter_map(|name| self.unknown_placeholder(&name, &params, &[]))
                    .map(|problem| format!("{field}: {problem}"))
                    .collect()
            };
            if let Some(key) = &r.key {
                out.extend(check(format!("{at}.key"), key));
            }
            for (j, a) in r.answers.iter().enumerate() {
                if !(100..=599).contains(&a.status) {
                    out.push(format!("{at}.answers[{j}].status: {} is not an HTTP status", a.status));
                }
                if let Some(times) = &a.times {
                    match times {
                        Value::Number(n) if n.as_u64().is_some() => {}
                        Value::String(t) => out.extend(check(format!("{at}.answers[{j}].times"), t)),
                        other => out.push(format!("{at}.answers[{j}].times: {other} is not a count or a placeholder")),
                    }
                }
                for text in strings(a.body.as_ref()) {
                    out.extend(check(format!("{at}.answers[{j}].body"), &text));
                }
            }
        }
        if let Some(chaos) = &self.chaos
            && !(400..=499).contains(&chaos.refuse)
        {
            out.push(format!("chaos.refuse: {} is not a 4xx status", chaos.refuse));
        }
        for (i, s) in self.states.iter().enumerate() {
            let at = format!("states[{i}]");
            let Some(route) = self.routes.iter().find(|r| r.name.as_deref() == Some(s.route.as_str())) else {
                let names: Vec<&str> = self.routes.iter().filter_map(|r| r.name.as_deref()).collect();
                out.push(format!("{at}.route: no route named `{}` (named: {})", s.route, names.join(", ")));
                continue;
            };
            if !route.answers.iter().any(|a| a.name.as_deref() == Some(s.answer.as_str())) {
                out.push(format!("{at}.answer: route `{}` has no answer named `{}`", s.route, s.answer));
            }
            let params: Vec<String> = state_params(&s.state);
            for name in super::template::placeholders(&s.key) {
                if !params.contains(&name) {
                    out.push(format!("{at}.key: `{{{name}}}` is not a parameter of `{}`", s.state));
                }
            }
        }
        out
    }

    fn unknown_placeholder(&self, name: &str, path_params: &[String], state_params: &[String]) -> Option<String> {
        let (space, rest) = name.split_once('.').unwrap_or((name, ""));
        let ok = match space {
            "path" => path_params.iter().any(|p| p == rest),
            "var" => self.vars.contains_key(rest),
            "query" | "header" | "body" => !rest.is_empty(),
            "now" | "uuid" => rest.is_empty(),
            _ if name == "seq" => true,
            _ if name.starts_with("seq:") => name[4..].parse::<usize>().is_ok(),
            _ => state_params.iter().any(|p| p == name),
        };
        (!ok).then(|| {
            let vars: Vec<&str> = self.vars.keys().map(String::as_str).collect();
            format!(
                "`{{{name}}}` is not a placeholder here (path parameters: {}; vars: {}; or query.NAME, header.NAME, body.FIELD, seq, seq:W, now, uuid)",
                if path_params.is_empty() { "none".to_owned() } else { path_params.join(", ") },
                if vars.is_empty() { "none".to_owned() } else { vars.join(", ") },
            )
        })
    }
}

/// The parameters of a route path, `{name}` segments.
pub fn path_params(path: &str) -> Vec<String> {
    path.split('/').filter_map(|s| s.strip_prefix('{').and_then(|s| s.strip_suffix('}'))).map(str::to_owned).collect()
}

/// The one-letter capital words of a state, its parameters.
pub fn state_params(state: &str) -> Vec<String> {
    state
        .split_whitespace()
        .filter(|w| w.len() == 1 && w.bytes().all(|b| b.is_ascii_uppercase()))
        .map(str::to_owned)
        .collect()
}

/// Every string inside `value`.
fn strings(value: Option<&Value>) -> Vec<String> {
    let mut out = Vec::new();
    let mut todo: Vec<&Value> = value.into_iter().collect();
    while let Some(v) = todo.pop() {
        match v {
            Value::String(s) => out.push(s.clone()),
            Value::Array(items) => todo.extend(items),
            Value::Object(map) => todo.extend(map.values()),
            _ => {}
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<FakeSpec, SpecError> {
        FakeSpec::parse(text, Path::new("fakes/x.yaml"))
    }

    #[test]
    fn the_platforms_fakes_load() {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../services/fakes");
        for name in ["carrier", "fulfillment-center", "mail-provider"] {
            let spec = FakeSpec::load(&dir.join(format!("{name}.yaml"))).unwrap();
            assert_eq!(spec.name, name);
        }
    }

    #[test]
    fn mistakes_are_named_with_the_file_and_field() {
        let e = parse("name: x\nroutes:\n  - method: GET\n    path: /a/{id}\n    answers: [{status: 200, body: {id: '{path.idd}'}}]\n").unwrap_err().to_string();
        assert!(
            e.starts_with(
                "fakes/x.yaml: routes[0].answers[0].body: `{path.idd}` is not a placeholder here (path parameters: id"
            ),
            "{e}"
        );
        let e =
            parse("name: x\nroutes:\n  - {method: GET, path: /a, answers: [{status: 999}]}\n").unwrap_err().to_string();
        assert!(e.contains("routes[0].answers[0].status: 999 is not an HTTP status"), "{e}");
        let e = parse("name: x\nroutes:\n  - {method: GET, path: /a, anwsers: []}\n").unwrap_err().to_string();
        assert!(e.contains("line 3") && e.contains("anwsers"), "{e}");
        let e = parse("name: x\nroutes:\n  - {name: r, method: GET, path: /a, answers: [{status: 200}]}\nstates:\n  - {state: a N, route: r, key: '{M}', answer: done}\n").unwrap_err().to_string();
        assert!(e.contains("states[0].answer: route `r` has no answer named `done`"), "{e}");
    }
}
