//! Programmed answers: rules a scenario installs on a fake (`POST
//! /__fare/rules`), each a request matcher and a sequence of replies ("503
//! twice, then as usual"), optionally scoped to one chain by its
//! `X-Correlation-ID`; and the log of every request the fake answered
//! (`GET /__fare/requests?correlation_id=`), which checks and diagnoses read.
//!
//! Scoping is what lets scenarios that program fakes run side by side: the
//! services carry the chain's correlation id on every third-party call, so a
//! rule scoped to one chain never touches another.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use axum::body::{Body, to_bytes};
use axum::extract::{Query, Request, State};
use axum::http::{HeaderName, HeaderValue, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::{Json, Router};
use serde::{Deserialize, Serialize};
use serde_json::Value;

/// The most requests a fake remembers; older ones are forgotten first.
const LOG_LIMIT: usize = 20_000;
/// The largest request body a rule looks into.
const BODY_LIMIT: usize = 1 << 20;

/// Which requests a rule applies to; every field given must match.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Matcher {
    /// `GET`, `POST`… (any case).
    pub method: Option<String>,
    /// The exact path, or a prefix when it ends with `*`.
    pub path: Option<String>,
    /// Header values, compared exactly; names in any case.
    pub headers: BTreeMap<String, String>,
    /// A piece of text the body must contain.
    pub body_contains: Option<String>,
}

/// One answer of a rule's sequence.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Reply {
    /// Answer with this status (and `body`, `headers`)…
    pub status: Option<u16>,
    pub body: Option<Value>,
    pub headers: BTreeMap<String, String>,
    /// …or let the fake answer as it always does.
    pub as_usual: bool,
    /// Wait this long before answering.
    pub delay_ms: u64,
    /// How many requests this reply answers. Unset: one, except for the
    /// last reply of a sequence, which then answers every request after.
    pub times: Option<u32>,
}

impl Reply {
    /// Why this reply cannot be used, if it cannot.
    pub fn problem(&self) -> Option<String> {
        match (self.status, self.as_usual) {
            (Some(_), true) => Some("give either `status` or `as_usual: true`, not both".into()),
            (None, false) => Some("give `status` (with an optional `body`) or `as_usual: true`".into()),
            (Some(s), false) if StatusCode::from_u16(s).is_err() => Some(format!("{s} is not an HTTP status")),
            _ if self.times == Some(0) => Some("`times` must be at least 1".into()),
            _ => None,
        }
    }
}

/// A matcher and its replies, as installed on a fake.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Rule {
    #[serde(rename = "match", default)]
    pub matcher: Matcher,
    pub respond: Vec<Reply>,
    /// Only requests of this chain match: their `X-Correlation-ID` is this
    /// id or starts with it and a `.`. `None`: every request.
    #[serde(default)]
    pub scope: Option<String>,
}

/// One request a fake answered.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Logged {
    /// Milliseconds since the Unix epoch, when the answer went out.
    pub at_ms: u64,
    pub method: String,
    pub path: String,
    pub correlation_id: Option<String>,
    pub status: u16,
    /// Whether a scenario's rule (rather than the fake itself) answered.
    pub programmed: bool,
}

struct Installed {
    rule: Rule,
    served: u32,
}

#[derive(Clone, Default)]
pub(super) struct Rules {
    installed: Arc<Mutex<Vec<Installed>>>,
    log: Arc<Mutex<Vec<Logged>>>,
}

/// What a matching rule says to do with one request.
enum Decision {
    Answer(Reply),
    AsUsual(Reply),
    NoRule,
}

impl Rules {
    fn decide(&self, method: &str, path: &str, headers: &axum::http::HeaderMap, body: &str) -> Decision {
        let correlation = header(headers, "x-correlation-id");
        let mut installed = self.installed.lock().unwrap_or_else(|p| p.into_inner());
        for entry in installed.iter_mut() {
            if !in_scope(entry.rule.scope.as_deref(), correlation.as_deref())
                || !matches(&entry.rule.matcher, method, path, headers, body)
            {
                continue;
            }
            let Some(reply) = next_reply(&entry.rule.respond, entry.served) else { continue };
            entry.served += 1;
            return if reply.as_usual { Decision::AsUsual(reply) } else { Decision::Answer(reply) };
        }
        Decision::NoRule
    }

    fn record(&self, entry: Logged) {
        let mut log = self.log.lock().unwrap_or_else(|p| p.into_inner());
        if log.len() >= LOG_LIMIT {
            log.drain(..LOG_LIMIT / 10);
        }
        log.push(entry);
    }
}

/// The reply for the request after `served` others, if the rule has one left.
fn next_reply(replies: &[Reply], served: u32) -> Option<Reply> {
    let mut before = 0u32;
    for (i, reply) in replies.iter().enumerate() {
        let last = i + 1 == replies.len();
        match reply.times {
            None if last => return Some(reply.clone()),
            times => {
                before = before.saturating_add(times.unwrap_or(1));
                if served < before {
                    return Some(reply.clone());
                }
            }
        }
    }
    None
}

fn in_scope(scope: Option<&str>, correlation: Option<&str>) -> bool {
    match (scope, correlation) {
        (None, _) => true,
        (Some(_), None) => false,
        (Some(s), Some(c)) => c == s || c.strip_prefix(s).is_some_and(|rest| rest.starts_with('.')),
    }
}

fn matches(m: &Matcher, method: &str, path: &str, headers: &axum::http::HeaderMap, body: &str) -> bool {
    let method_ok = m.method.as_deref().is_none_or(|want| want.eq_ignore_ascii_case(method));
    let path_ok = m.path.as_deref().is_none_or(|want| match want.strip_suffix('*') {
        Some(prefix) => path.starts_with(prefix),
        None => path == want,
    });
    let headers_ok = m.headers.iter().all(|(k, v)| header(headers, k).as_deref() == Some(v.as_str()));
    let body_ok = m.body_contains.as_deref().is_none_or(|want| body.contains(want));
    method_ok && path_ok && headers_ok && body_ok
}

fn header(headers: &axum::http::HeaderMap, name: &str) -> Option<String> {
    headers.get(name).and_then(|v| v.to_str().ok()).map(str::to_owned)
}

fn now_ms() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_millis() as u64).unwrap_or_default()
}

/// Middleware: answers from the first matching rule, or lets the request
/// through; logs every request with the status that went back.
pub(super) async fn programmed(State(rules): State<Rules>, req: Request, next: Next) -> Response {
    let (parts, body) = req.into_parts();
    let Ok(bytes) = to_bytes(body, BODY_LIMIT).await else {
        return (StatusCode::PAYLOAD_TOO_LARGE, "request body too large for a fake").into_response();
    };
    let method = parts.method.to_string();
    let path = parts.uri.path().to_owned();
    let correlation_id = header(&parts.headers, "x-correlation-id");
    let decision = rules.decide(&method, &path, &parts.headers, &String::from_utf8_lossy(&bytes));
    let (response, programmed) = match decision {
        Decision::Answer(reply) => {
            tokio::time::sleep(Duration::from_millis(reply.delay_ms)).await;
            (answer(&reply), true)
        }
        Decision::AsUsual(reply) => {
            tokio::time::sleep(Duration::from_millis(reply.delay_ms)).await;
            (next.run(Request::from_parts(parts, Body::from(bytes))).await, false)
        }
        Decision::NoRule => (next.run(Request::from_parts(parts, Body::from(bytes))).await, false),
    };
    let status = response.status().as_u16();
    rules.record(Logged { at_ms: now_ms(), method, path, correlation_id, status, programmed });
    response
}

fn answer(reply: &Reply) -> Response {
    let status = reply.status.and_then(|s| StatusCode::from_u16(s).ok()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let mut response = match &reply.body {
        Some(body) => (status, Json(body.clone())).into_response(),
        None => status.into_response(),
    };
    for (k, v) in &reply.headers {
        if let (Ok(k), Ok(v)) = (HeaderName::try_from(k.as_str()), HeaderValue::from_str(v)) {
            response.headers_mut().insert(k, v);
        }
    }
    response
}

#[derive(Debug, Deserialize)]
struct ScopeQuery {
    correlation_id: Option<String>,
}

async fn install(State(rules): State<Rules>, Json(rule): Json<Rule>) -> Response {
    if let Some((i, problem)) = rule.respond.iter().enumerate().find_map(|(i, r)| r.problem().map(|p| (i, p))) {
        return (StatusCode::BAD_REQUEST, Json(serde_json::json!({"error": format!("respond[{i}]: {problem}")})))
            .into_response();
    }
    if rule.respond.is_empty() {
        let error = "respond: give at least one reply";
        return (StatusCode::BAD_REQUEST, Json(serde_json::json!({ "error": error }))).into_response();
    }
    let mut installed = rules.installed.lock().unwrap_or_else(|p| p.into_inner());
    installed.push(Installed { rule, served: 0 });
    (StatusCode::CREATED, Json(serde_json::json!({"rules": installed.len()}))).into_response()
}

/// Removes the rules of one scope (`?correlation_id=`), or every rule.
async fn remove(State(rules): State<Rules>, Query(q): Query<ScopeQuery>) -> StatusCode {
    let mut installed = rules.installed.lock().unwrap_or_else(|p| p.into_inner());
    installed.retain(|i| q.correlation_id.is_some() && i.rule.scope != q.correlation_id);
    StatusCode::NO_CONTENT
}

async fn list(State(rules): State<Rules>) -> Json<Vec<Rule>> {
    Json(rules.installed.lock().unwrap_or_else(|p| p.into_inner()).iter().map(|i| i.rule.clone()).collect())
}

/// The requests of one chain (its labels included), or all of them.
async fn requests(State(rules): State<Rules>, Query(q): Query<ScopeQuery>) -> Json<Vec<Logged>> {
    let log = rules.log.lock().unwrap_or_else(|p| p.into_inner());
    let wanted =
        |l: &&Logged| q.correlation_id.is_none() || in_scope(q.correlation_id.as_deref(), l.correlation_id.as_deref());
    Json(log.iter().filter(wanted).cloned().collect())
}

/// `/__fare/rules` and `/__fare/requests`.
pub(super) fn routes(rules: Rules) -> Router {
    use axum::routing::get;
    Router::new()
        .route("/__fare/rules", get(list).post(install).delete(remove))
        .route("/__fare/requests", get(requests))
        .with_state(rules)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn reply(status: u16, times: Option<u32>) -> Reply {
        Reply { status: Some(status), times, ..Reply::default() }
    }

    #[test]
    fn a_sequence_answers_in_order_and_its_last_reply_repeats_unless_counted() {
        let seq = [reply(503, Some(2)), reply(201, None)];
        let statuses: Vec<_> = (0..4).map(|n| next_reply(&seq, n).and_then(|r| r.status)).collect();
        assert_eq!(statuses, [Some(503), Some(503), Some(201), Some(201)]);
        let spent = [reply(503, Some(2))];
        assert_eq!(next_reply(&spent, 2), None, "a counted last reply is used up");
    }

    #[test]
    fn a_scoped_rule_matches_its_chain_and_its_labels_only() {
        assert!(in_scope(Some("e2e-a"), Some("e2e-a")));
        assert!(in_scope(Some("e2e-a"), Some("e2e-a.setup")));
        assert!(!in_scope(Some("e2e-a"), Some("e2e-ab")));
        assert!(!in_scope(Some("e2e-a"), None));
        assert!(in_scope(None, None));
    }

    #[test]
    fn a_reply_needs_a_status_or_as_usual() {
        assert!(Reply::default().problem().is_some());
        assert!(Reply { as_usual: true, status: Some(200), ..Reply::default() }.problem().is_some());
        assert!(reply(1000, None).problem().is_some());
        assert!(reply(503, Some(0)).problem().is_some());
        assert!(reply(503, None).problem().is_none());
    }
}
