//! One HTTP request of a scenario, a step or a final check: templated, sent
//! in its chain (its own `X-Correlation-ID`), its answer checked and its
//! captures taken into the variables. Every credential it sends or is
//! given is noted ([`Vars::handled_secret`]); what it reports of an answer
//! is masked.

use std::time::Instant;

use serde_json::Value;

use super::failure::Failure;
use super::model::Http;
use super::report::Line;
use super::target::Target;
use super::template::{Vars, pick, subset};

/// Sends `h` with `correlation_id` unless it sets its own header.
pub async fn run(target: &Target, vars: &mut Vars, h: &Http, correlation_id: &str) -> Line {
    let started = Instant::now();
    let shown_path = vars.text(&h.http.path).unwrap_or_else(|_| h.http.path.clone());
    let what = h.name.clone().unwrap_or_else(|| format!("{} {} {shown_path}", h.http.method, h.http.target));
    Line::new(what, started, send(target, vars, h, correlation_id).await).in_chain(&h.chain)
}

async fn send(target: &Target, vars: &mut Vars, h: &Http, correlation_id: &str) -> Result<String, Failure> {
    let answer = exchange(target, vars, h, correlation_id).await?;
    Ok(format!("{} in {} ms", answer.status, answer.took_ms))
}

/// [`ask`], then the answer held to `h` and its captures taken.
pub async fn exchange(target: &Target, vars: &mut Vars, h: &Http, correlation_id: &str) -> Result<Answer, Failure> {
    let answer = ask(target, vars, h, correlation_id).await?;
    answer.holds(vars, h)?;
    answer.capture(vars, h)?;
    Ok(answer)
}

/// An answer to a request of a scenario or a workload, its status as expected.
#[derive(Debug, Clone)]
pub struct Answer {
    pub status: reqwest::StatusCode,
    pub headers: reqwest::header::HeaderMap,
    /// The answer's JSON, if it is JSON.
    pub json: Option<Value>,
    /// Its first 300 characters, redacted: what a report may show.
    pub shown: String,
    pub took_ms: u128,
}

/// Sends `h` (templated) with `correlation_id` unless it sets its own
/// header; `Err` when no answer came or its status is not `h.status`
/// (any 2xx when unset). Notes the credentials it sent and was given.
pub async fn ask(target: &Target, vars: &mut Vars, h: &Http, correlation_id: &str) -> Result<Answer, Failure> {
    let base = target.url(&h.http.target).ok_or_else(|| Failure::NoTarget { name: h.http.target.clone() })?;
    let path = vars.text(&h.http.path)?;
    let mut req = target.http.request(h.http.method.clone(), format!("{base}{path}"));
    let mut has_correlation = false;
    for (k, v) in &h.headers {
        has_correlation |= k.eq_ignore_ascii_case("x-correlation-id");
        req = req.header(k.as_str(), vars.text(v)?);
    }
    if !has_correlation {
        req = req.header("x-correlation-id", correlation_id);
    }
    if let Some(token) = &h.auth {
        let token = vars.text(token)?;
        vars.handled_secret(&token);
        req = req.bearer_auth(token);
    }
    if let Some(body) = &h.body {
        let body = vars.value(body)?;
        vars.handled_secrets_in(&body);
        req = req.json(&body);
    }
    let started = Instant::now();
    let resp = req.send().await.map_err(|e| Failure::NoAnswer {
        request: kit::redact::text(&format!("{} {base}{path}", h.http.method)).into_owned(),
        error: super::failure::redacted(&e),
    })?;
    let status = resp.status();
    let headers = resp.headers().clone();
    let text = resp.text().await.unwrap_or_default();
    let took_ms = started.elapsed().as_millis();
    let json: Option<Value> = serde_json::from_str(&text).ok();
    if let Some(answer) = &json {
        vars.handled_secrets_in(answer);
    }
    let shown: String = text.chars().take(300).collect();
    let shown = kit::redact::text(&shown).into_owned();
    let code = status.as_u16();
    match h.status {
        Some(want) if code != want => Err(Failure::Status { status: code, expected: Some(want), body: shown }),
        None if !status.is_success() => Err(Failure::Status { status: code, expected: None, body: shown }),
        _ => Ok(Answer { status, headers, json, shown, took_ms }),
    }
}

impl Answer {
    /// Whether the answer has what `h` says it must: its `response` fields, its `length`.
    pub fn holds(&self, vars: &Vars, h: &Http) -> Result<(), Failure> {
        let code = self.status.as_u16();
        if let Some(want) = &h.response {
            let want = vars.value(want)?;
            let have = self.json.as_ref().ok_or_else(|| Failure::NotJson { status: code, body: self.shown.clone() })?;
            subset(&want, have, "").map_err(|m| Failure::Body {
                status: code,
                mismatch: kit::redact::text(&m.to_string()).into_owned(),
            })?;
        }
        if let Some(n) = h.length {
            let found = self.json.as_ref().and_then(Value::as_array).map(Vec::len);
            if found != Some(n) {
                return Err(Failure::Length { found, expected: n, body: self.shown.clone() });
            }
        }
        Ok(())
    }

    /// Takes `h`'s captures from the answer into `vars`.
    pub fn capture(&self, vars: &mut Vars, h: &Http) -> Result<(), Failure> {
        for (name, from) in &h.capture {
            let value = match from.strip_prefix("header:") {
                Some(header) => {
                    self.headers.get(header).and_then(|v| v.to_str().ok()).map(|v| Value::String(v.to_owned()))
                }
                None => self.json.as_ref().and_then(|j| pick(j, from)).cloned(),
            };
            let value = value.ok_or_else(|| Failure::Capture {
                name: name.clone(),
                from: from.clone(),
                body: self.shown.clone(),
            })?;
            vars.set(name, value);
        }
        Ok(())
    }
}
