//! The requests that entered the platform from outside, as steps. The
//! requests of the chain and of the chains under it come in the order they
//! were sent; a session they used that was made elsewhere (a sign-up and
//! a login by hand before the order) is made first, in a chain `setup`.
//!
//! Nothing secret is copied: the record holds `<email>` and `<redacted>`
//! where a request had an address, a password or a token. Each becomes a
//! variable per user, made fresh for every run (`user1.{{scenario}}.{{run}}@…`);
//! a token an answer gave is captured, and every later request signed in
//! as that user sends it. An id an answer gave (`order_id`) is captured
//! where a later request uses it, in its path, its query or its body.

use std::collections::{BTreeMap, BTreeSet};

use serde::Serialize;
use serde_json::Value;

use super::{Family, map_strings, var};
use crate::trace::Exchange;

/// One `http` step, as the file spells it.
#[derive(Debug, Serialize)]
pub(super) struct Step {
    http: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    chain: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    auth: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    body: Option<Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    status: Option<u16>,
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    capture: BTreeMap<String, String>,
}

/// The steps, the variables they need, and the service the chain's first
/// request went to (whose events a derived expectation starts from).
pub(super) struct Steps {
    pub steps: Vec<Step>,
    pub vars: BTreeMap<String, String>,
    pub first_service: Option<String>,
}

/// The chain label of requests made before the chain, for its session.
const SETUP: &str = "setup";

pub(super) fn write(family: &Family, exchanges: &[Exchange], notes: &mut Vec<String>) -> Steps {
    let chosen = chosen(family, exchanges, notes);
    let mut w = Writer::default();
    for (n, e) in chosen.iter().enumerate() {
        let later = used_later(&chosen[n + 1..]);
        let step = w.step(family, e, &later, notes);
        w.steps.push(step);
    }
    let first_service = chosen.iter().find(|e| e.in_family(&family.base)).map(|e| e.service.clone());
    Steps { steps: w.steps, vars: w.vars, first_service }
}

/// The chain's requests from outside, and those that made the sessions
/// they used when those were made in another chain.
fn chosen<'e>(family: &Family, exchanges: &'e [Exchange], notes: &mut Vec<String>) -> Vec<&'e Exchange> {
    let operator = |e: &Exchange| {
        family.topology.service(&e.service).is_some_and(|m| m.operator.iter().any(|o| o.matches(&e.method, &e.path)))
    };
    let mut chosen: Vec<&Exchange> = Vec::new();
    for e in exchanges.iter().filter(|e| e.in_family(&family.base)) {
        if operator(e) {
            notes.push(format!("{} {} {} is an operator's request: left out", e.method, e.service, e.path));
        } else {
            chosen.push(e);
        }
    }
    let users: BTreeSet<&str> = chosen.iter().filter_map(|e| e.user_id.as_deref()).collect();
    let mut before: Vec<&Exchange> = Vec::new();
    for user in users {
        let has = |list: &[&Exchange], login: bool| list.iter().any(|e| answers_for(e, user, login));
        let first_use = chosen.iter().find(|e| e.user_id.as_deref() == Some(user)).map_or(0, |e| e.start_unix_nanos);
        let elsewhere = exchanges.iter().filter(|e| !e.in_family(&family.base) && e.start_unix_nanos < first_use);
        let elsewhere: Vec<&Exchange> = elsewhere.collect();
        for login in [false, true] {
            if has(&chosen, login) {
                continue;
            }
            // The sign-up is the first answer about the user, the login the last before its use.
            let mut found = elsewhere.iter().filter(|e| answers_for(e, user, login));
            match if login { found.next_back() } else { found.next() } {
                Some(e) => before.push(e),
                None => notes.push(format!(
                    "the {} of user {user} is not in the record: the steps make none",
                    if login { "session" } else { "account" }
                )),
            }
        }
    }
    before.sort_by_key(|e| e.start_unix_nanos);
    before.dedup_by_key(|e| e.start_unix_nanos);
    before.extend(chosen);
    before
}

/// Whether `e` answered about `user`: with a session token (`login`), or
/// as the user's sign-up (a success that names the user, without one).
fn answers_for(e: &Exchange, user: &str, login: bool) -> bool {
    let Some(answer) = &e.response else { return false };
    let names = answer.get("user_id").and_then(Value::as_str) == Some(user);
    let ok = e.status.is_some_and(|s| (200..300).contains(&s));
    names && ok && (masked_credential(answer).is_some() == login) && (login || e.method == "POST")
}

/// The key of the masked credential an answer carries (`token`), if any.
fn masked_credential(answer: &Value) -> Option<String> {
    let map = answer.as_object()?;
    map.iter()
        .find(|(k, v)| kit::redact::is_secret_key(k) && v.as_str() == Some(kit::redact::MASK))
        .map(|(k, _)| k.clone())
}

/// Every path segment and body string of `rest`: the values a capture is worth taking for.
fn used_later(rest: &[&Exchange]) -> BTreeSet<String> {
    let mut used = BTreeSet::new();
    for e in rest {
        used.extend(e.path.split('/').filter(|s| !s.is_empty()).map(str::to_owned));
        let values = e.query.iter().flat_map(|q| q.split('&')).filter_map(|p| p.split_once('=')).map(|(_, v)| v);
        used.extend(values.map(str::to_owned));
        if let Some(body) = &e.request {
            map_strings(body, &mut |s, _| {
                used.insert(s.to_owned());
                Value::Null
            });
        }
    }
    used
}

/// One user of the steps: the variables their credentials became.
#[derive(Default)]
struct User {
    id: Option<String>,
    /// Body key (`email`, `password`) → variable.
    vars: BTreeMap<String, String>,
    token: Option<String>,
}

#[derive(Default)]
struct Writer {
    steps: Vec<Step>,
    vars: BTreeMap<String, String>,
    users: Vec<User>,
    /// Value an answer gave → the variable it was captured into.
    captured: Vec<(String, String)>,
    /// The user of the last request, for one that names none.
    current: Option<usize>,
}

impl Writer {
    fn step(&mut self, family: &Family, e: &Exchange, later: &BTreeSet<String>, notes: &mut Vec<String>) -> Step {
        let answered = e.response.as_ref().and_then(|r| r.get("user_id")).and_then(Value::as_str);
        let user = self.user(answered.or(e.user_id.as_deref()));
        let body = e.request.as_ref().map(|b| self.body(b, user));
        let path = match &e.query {
            Some(query) => format!("{}?{}", self.path(&e.path), self.query(query)),
            None => self.path(&e.path),
        };
        let auth = e.signed_in.then(|| self.auth(e, notes));
        let capture = self.captures(e, user, later);
        let chain = match family.label_of(&e.correlation_id) {
            Some(label) if label == super::Label::main() => None,
            Some(label) => Some(label.to_string()),
            None => Some(SETUP.to_owned()),
        };
        let status = match e.status {
            Some(s) if s < 500 => Some(s),
            other => {
                let got = other.map_or("no answer".to_owned(), |s| s.to_string());
                notes.push(format!("{} {} {} got {got}: the step expects success", e.method, e.service, e.path));
                None
            }
        };
        Step { http: format!("{} {} {path}", e.method, e.service), chain, auth, body, status, capture }
    }

    /// The user `id` names (a new one if unknown), or the current one.
    fn user(&mut self, id: Option<&str>) -> usize {
        let found = match id {
            Some(id) => self.users.iter().position(|u| u.id.as_deref() == Some(id)),
            None => self.current.or_else(|| self.users.iter().position(|u| u.id.is_none())),
        };
        let n = found.unwrap_or_else(|| {
            self.users.push(User { id: id.map(str::to_owned), ..User::default() });
            self.users.len() - 1
        });
        self.current = Some(n);
        n
    }

    /// A variable for `key` of user `n` (`email`, `email_2`), made on first use.
    fn user_var(&mut self, n: usize, key: &str) -> String {
        if let Some(name) = self.users[n].vars.get(key) {
            return name.clone();
        }
        let key: String =
            key.chars().map(|c| if c.is_ascii_alphanumeric() { c.to_ascii_lowercase() } else { '_' }).collect();
        let name = self.fresh_name(&key);
        let value = match key.as_str() {
            "email" => format!("user{}.{}.{}@example.com", n + 1, var("scenario"), var("run")),
            _ => format!("not-the-recorded-{key} {}", var("run")),
        };
        self.vars.insert(name.clone(), value);
        self.users[n].vars.insert(key, name.clone());
        name
    }

    /// `base`, or `base_2`, `base_3`… if taken.
    fn fresh_name(&self, base: &str) -> String {
        let taken = |n: &str| self.vars.contains_key(n) || self.captured.iter().any(|(_, v)| v == n);
        let taken = |n: &str| taken(n) || self.users.iter().any(|u| u.token.as_deref() == Some(n));
        (1..)
            .map(|i| if i == 1 { base.to_owned() } else { format!("{base}_{i}") })
            .find(|n| !taken(n))
            .unwrap_or_default()
    }

    /// The request's body: credentials as the user's variables, captured values as theirs.
    fn body(&mut self, body: &Value, user: usize) -> Value {
        map_strings(body, &mut |s, key| {
            if let Some((_, name)) = self.captured.iter().find(|(value, _)| value == s) {
                return Value::String(var(name));
            }
            if s == kit::redact::MASK {
                let key = key.filter(|k| kit::redact::is_secret_key(k)).unwrap_or("secret");
                return Value::String(var(&self.user_var(user, key)));
            }
            if s.contains(kit::redact::EMAIL_MASK) {
                let email = var(&self.user_var(user, "email"));
                return Value::String(s.replace(kit::redact::EMAIL_MASK, &email));
            }
            let mut text = s.to_owned();
            for (value, name) in &self.captured {
                text = text.replace(value.as_str(), &var(name));
            }
            Value::String(text)
        })
    }

    /// The path, each segment an answer gave replaced by its variable.
    fn path(&self, path: &str) -> String {
        let segment = |s: &str| match self.captured.iter().find(|(value, _)| value == s) {
            Some((_, name)) => var(name),
            None => s.to_owned(),
        };
        path.split('/').map(segment).collect::<Vec<_>>().join("/")
    }

    /// The query string, each value an answer gave replaced by its variable.
    fn query(&self, query: &str) -> String {
        let pair = |p: &str| match p.split_once('=') {
            Some((key, value)) => match self.captured.iter().find(|(v, _)| v == value) {
                Some((_, name)) => format!("{key}={}", var(name)),
                None => p.to_owned(),
            },
            None => p.to_owned(),
        };
        query.split('&').map(pair).collect::<Vec<_>>().join("&")
    }

    /// The token of the user the request was signed in as; a made-up one
    /// for a request whose session was refused.
    fn auth(&self, e: &Exchange, notes: &mut Vec<String>) -> String {
        let of_user = e.user_id.as_deref().and_then(|id| self.users.iter().find(|u| u.id.as_deref() == Some(id)));
        if let Some(token) = of_user.and_then(|u| u.token.clone()) {
            return var(&token);
        }
        let latest = self.users.iter().rev().find_map(|u| u.token.clone());
        match latest {
            Some(token) if e.status != Some(401) => var(&token),
            _ => {
                if e.status != Some(401) {
                    notes.push(format!(
                        "the session {} {} {} was sent is not in the record",
                        e.method, e.service, e.path
                    ));
                }
                format!("not-a-session-{}", var("run"))
            }
        }
    }

    /// What to take from the answer: its credential, and every id a later request uses.
    fn captures(&mut self, e: &Exchange, user: usize, later: &BTreeSet<String>) -> BTreeMap<String, String> {
        let mut capture = BTreeMap::new();
        let Some(answer) = &e.response else { return capture };
        if let Some(key) = masked_credential(answer) {
            let name = self.fresh_name("token");
            self.users[user].token = Some(name.clone());
            capture.insert(name, key);
        }
        let mut found = Vec::new();
        strings_at(answer, String::new(), &mut found);
        for (path, value) in found {
            let worth = value.len() >= 6 && later.contains(&value) && !value.contains('<');
            if !worth || self.captured.iter().any(|(v, _)| *v == value) {
                continue;
            }
            let last = path.rsplit('.').next().unwrap_or("value").to_owned();
            let base: String =
                last.chars().map(|c| if c.is_ascii_alphanumeric() { c.to_ascii_lowercase() } else { '_' }).collect();
            let name = self.fresh_name(if base.is_empty() || base.starts_with(|c: char| c.is_ascii_digit()) {
                "value"
            } else {
                &base
            });
            self.captured.push((value, name.clone()));
            capture.insert(name, path);
        }
        capture
    }
}

/// Every string of `value` with its dotted path (`items.0.id`), three levels deep at most.
fn strings_at(value: &Value, at: String, out: &mut Vec<(String, String)>) {
    let child = |key: &str| if at.is_empty() { key.to_owned() } else { format!("{at}.{key}") };
    if at.matches('.').count() >= 3 {
        return;
    }
    match value {
        Value::String(s) if !at.is_empty() => out.push((at, s.clone())),
        Value::Object(map) => map.iter().for_each(|(k, v)| strings_at(v, child(k), out)),
        Value::Array(items) => items.iter().enumerate().for_each(|(i, v)| strings_at(v, child(&i.to_string()), out)),
        _ => {}
    }
}
