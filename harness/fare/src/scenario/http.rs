//! One HTTP request of a scenario, a step or a final check: templated, sent
//! in its chain (its own `X-Correlation-ID`), its answer checked and its
//! captures taken into the variables. Every credential it sends or is
//! given is noted ([`Vars::handled_secret`]); what it reports of an answer
//! is masked.

use std::time::Instant;

use serde_json::Value;

use super::model::Http;
use super::report::Line;
use super::target::Target;
use super::template::{Vars, pick, subset};

/// Sends `h` with `correlation_id` unless it sets its own header.
pub async fn run(target: &Target, vars: &mut Vars, h: &Http, correlation_id: &str) -> Line {
    let started = Instant::now();
    let shown_path = vars.text(&h.http.path).unwrap_or_else(|_| h.http.path.clone());
    let what = h.name.clone().unwrap_or_else(|| format!("{} {} {shown_path}", h.http.method, h.http.target));
    let line = |ok: bool, detail: String| Line {
        what: what.clone(),
        ok,
        took: started.elapsed(),
        detail,
        chain: Some(h.chain.to_string()),
    };
    match send(target, vars, h, correlation_id).await {
        Ok(detail) => line(true, detail),
        Err(detail) => line(false, detail),
    }
}

async fn send(target: &Target, vars: &mut Vars, h: &Http, correlation_id: &str) -> Result<String, String> {
    let t = |e: super::template::TemplateError| e.to_string();
    let base = target.url(&h.http.target).ok_or_else(|| format!("no service or fake `{}` runs", h.http.target))?;
    let path = vars.text(&h.http.path).map_err(t)?;
    let mut req = target.http.request(h.http.method.clone(), format!("{base}{path}"));
    let mut has_correlation = false;
    for (k, v) in &h.headers {
        has_correlation |= k.eq_ignore_ascii_case("x-correlation-id");
        req = req.header(k.as_str(), vars.text(v).map_err(t)?);
    }
    if !has_correlation {
        req = req.header("x-correlation-id", correlation_id);
    }
    if let Some(token) = &h.auth {
        let token = vars.text(token).map_err(t)?;
        vars.handled_secret(&token);
        req = req.bearer_auth(token);
    }
    if let Some(body) = &h.body {
        let body = vars.value(body).map_err(t)?;
        vars.handled_secrets_in(&body);
        req = req.json(&body);
    }
    let started = Instant::now();
    let resp = req.send().await.map_err(|e| {
        kit::redact::text(&format!("{} {base}{path}: {}", h.http.method, kit::error_chain(&e))).into_owned()
    })?;
    let status = resp.status();
    let headers = resp.headers().clone();
    let text = resp.text().await.unwrap_or_default();
    let took = started.elapsed().as_millis();
    let json: Option<Value> = serde_json::from_str(&text).ok();
    if let Some(answer) = &json {
        vars.handled_secrets_in(answer);
    }
    let shown: String = text.chars().take(300).collect();
    let shown = kit::redact::text(&shown).into_owned();
    match h.status {
        Some(want) if status.as_u16() != want => return Err(format!("answered {status}, expected {want}: {shown}")),
        None if !status.is_success() => return Err(format!("answered {status}, expected a 2xx: {shown}")),
        _ => {}
    }
    if let Some(want) = &h.response {
        let want = vars.value(want).map_err(t)?;
        let have = json.as_ref().ok_or_else(|| format!("answered {status} with no JSON: {shown}"))?;
        subset(&want, have, "").map_err(|e| format!("answered {status}, but {e}"))?;
    }
    if let Some(n) = h.length {
        match json.as_ref().and_then(Value::as_array) {
            Some(items) if items.len() == n => {}
            Some(items) => return Err(format!("answered {} elements, expected {n}: {shown}", items.len())),
            None => return Err(format!("answered no JSON array, expected {n} elements: {shown}")),
        }
    }
    for (name, from) in &h.capture {
        let value = match from.strip_prefix("header:") {
            Some(header) => headers.get(header).and_then(|v| v.to_str().ok()).map(|v| Value::String(v.to_owned())),
            None => json.as_ref().and_then(|j| pick(j, from)).cloned(),
        };
        let value = value.ok_or_else(|| format!("capture {name}: the answer has no `{from}`: {shown}"))?;
        vars.set(name, value);
    }
    Ok(format!("{status} in {took} ms"))
}
