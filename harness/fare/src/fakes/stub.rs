//! A fake served from its [`FakeSpec`]: each route answers in turn per key,
//! replays a repeated key's first answer where the file says so, and
//! `POST /__fare/state` moves a key to a named answer (Pact's provider-state
//! change call, so the third party's pacts verify against this fake).

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use axum::body::{Bytes, to_bytes};
use axum::extract::{Query, Request, State};
use axum::http::{HeaderMap, HeaderName, HeaderValue, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::{Json, Router};
use serde_json::{Value, json};

use super::spec::{FakeSpec, Route, SpecError, state_params};
use super::template::Context;

/// The largest request body a fake reads.
const BODY_LIMIT: usize = 1 << 20;

/// How far one key of one route has got.
#[derive(Debug, Default)]
struct Turn {
    /// Requests answered.
    answered: u64,
    /// Its number on its route, from 1.
    seq: u64,
    /// Its first answer, for a route that replays.
    first: Option<(StatusCode, BTreeMap<String, String>, Value)>,
}

#[derive(Debug, Default)]
struct RouteState {
    turns: BTreeMap<String, Turn>,
    seen: u64,
}

impl RouteState {
    fn turn(&mut self, key: &str) -> &mut Turn {
        if !self.turns.contains_key(key) {
            self.seen += 1;
            self.turns.insert(key.to_owned(), Turn { seq: self.seen, ..Turn::default() });
        }
        self.turns.get_mut(key).expect("just inserted")
    }
}

struct Stub {
    spec: FakeSpec,
    vars: BTreeMap<String, Value>,
    /// Per route, per answer: how many requests it takes (`None`: every one after).
    times: Vec<Vec<Option<u64>>>,
    state: Mutex<Vec<RouteState>>,
}

/// The fake `spec` describes, with `overrides` of its vars, as a router.
pub fn router(spec: FakeSpec, overrides: &BTreeMap<String, String>) -> Result<Router, SpecError> {
    let invalid = |message: String| SpecError::Invalid { path: spec.path.clone(), message };
    let mut vars = spec.vars.clone();
    for (name, value) in overrides {
        if !vars.contains_key(name) {
            let known: Vec<&str> = spec.vars.keys().map(String::as_str).collect();
            return Err(invalid(format!("no var `{name}` to set (its vars: {})", known.join(", "))));
        }
        vars.insert(name.clone(), serde_json::from_str(value).unwrap_or_else(|_| Value::String(value.clone())));
    }
    let cx = Context { vars: Some(&vars), ..Context::default() };
    let mut times = Vec::new();
    for (i, route) in spec.routes.iter().enumerate() {
        let mut route_times = Vec::new();
        for (j, answer) in route.answers.iter().enumerate() {
            let last = j + 1 == route.answers.len();
            let count = match &answer.times {
                None => Some(1),
                Some(Value::String(t)) => {
                    let text = cx.text(t);
                    Some(text.trim().parse::<u64>().map_err(|_| {
                        invalid(format!("routes[{i}].answers[{j}].times: `{t}` is `{text}`, not a count"))
                    })?)
                }
                Some(v) => v.as_u64(),
            };
            route_times.push(if last { None } else { count });
        }
        times.push(route_times);
    }
    let state = Mutex::new(spec.routes.iter().map(|_| RouteState::default()).collect());
    let stub = Arc::new(Stub { spec, vars, times, state });
    Ok(Router::new().route("/__fare/state", post(set_state)).fallback(answer).with_state(stub))
}

/// The path parameters of `path` if it is `route`'s.
fn matches(route: &Route, method: &Method, path: &str) -> Option<BTreeMap<String, String>> {
    if !route.method.eq_ignore_ascii_case(method.as_str()) {
        return None;
    }
    let want: Vec<&str> = route.path.trim_end_matches('/').split('/').collect();
    let got: Vec<&str> = path.trim_end_matches('/').split('/').collect();
    if want.len() != got.len() {
        return None;
    }
    let mut params = BTreeMap::new();
    for (w, g) in want.iter().zip(&got) {
        match w.strip_prefix('{').and_then(|w| w.strip_suffix('}')) {
            Some(name) if !g.is_empty() => {
                params.insert(name.to_owned(), (*g).to_owned());
            }
            _ if w == g => {}
            _ => return None,
        }
    }
    Some(params)
}

fn error(status: StatusCode, message: String) -> Response {
    (status, Json(json!({"error": message}))).into_response()
}

async fn answer(State(stub): State<Arc<Stub>>, req: Request) -> Response {
    let (parts, body) = req.into_parts();
    let found =
        stub.spec.routes.iter().enumerate().find_map(|(i, r)| Some((i, matches(r, &parts.method, parts.uri.path())?)));
    let Some((index, path)) = found else {
        let message = format!("the {} fake has no route {} {}", stub.spec.name, parts.method, parts.uri.path());
        return error(StatusCode::NOT_FOUND, message);
    };
    let bytes = to_bytes(body, BODY_LIMIT).await.unwrap_or_else(|_| Bytes::new());
    let json_body: Option<Value> = serde_json::from_slice(&bytes).ok();
    let cx = context(&stub, path, &parts.uri, &parts.headers, json_body.as_ref());
    let route = &stub.spec.routes[index];
    if let Some(listed) = &route.list {
        return respond(StatusCode::OK, &BTreeMap::new(), listing(&stub, listed));
    }
    if let Some(missing) = route.require.iter().find(|r| cx.lookup(r).is_none_or(|v| v.is_null())) {
        return error(StatusCode::BAD_REQUEST, required(missing));
    }
    let key = route.key.as_deref().map(|k| cx.text(k)).unwrap_or_default();
    let (chosen, seq) = {
        let mut states = stub.state.lock().unwrap_or_else(|p| p.into_inner());
        let turn = states[index].turn(&key);
        if let Some((status, headers, body)) = turn.first.clone().filter(|_| route.replay) {
            return respond(status, &headers, body);
        }
        let chosen = pick(&stub.times[index], turn.answered);
        turn.answered += 1;
        (chosen, turn.seq)
    };
    let cx = Context { seq, ..cx };
    let answer = &route.answers[chosen];
    let status = StatusCode::from_u16(answer.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let headers: BTreeMap<String, String> = answer.headers.iter().map(|(k, v)| (k.clone(), cx.text(v))).collect();
    let body = answer.body.as_ref().map(|b| cx.value(b)).unwrap_or(Value::Null);
    if route.replay {
        let mut states = stub.state.lock().unwrap_or_else(|p| p.into_inner());
        let turn = states[index].turn(&key);
        // Two first requests at once: the one stored first is the answer to both from now on.
        let first = turn.first.get_or_insert((status, headers, body)).clone();
        return respond(first.0, &first.1, first.2);
    }
    respond(status, &headers, body)
}

/// Every key's first answer of the route named `name`, in the order the keys came.
fn listing(stub: &Stub, name: &str) -> Value {
    let Some(index) = stub.spec.routes.iter().position(|r| r.name.as_deref() == Some(name)) else {
        return Value::Array(Vec::new());
    };
    let states = stub.state.lock().unwrap_or_else(|p| p.into_inner());
    let mut turns: Vec<&Turn> = states[index].turns.values().filter(|t| t.first.is_some()).collect();
    turns.sort_by_key(|t| t.seq);
    Value::Array(turns.iter().filter_map(|t| t.first.as_ref().map(|f| f.2.clone())).collect())
}

/// Which answer the request after `answered` others of its key gets.
fn pick(times: &[Option<u64>], answered: u64) -> usize {
    let mut before = 0;
    for (i, t) in times.iter().enumerate() {
        match t {
            Some(n) if answered >= before + n => before += n,
            _ => return i,
        }
    }
    times.len().saturating_sub(1)
}

fn required(what: &str) -> String {
    match what.split_once('.') {
        Some(("header", name)) => format!("the {name} header is required"),
        Some(("query", name)) => format!("the query parameter {name} is required"),
        Some((_, field)) => format!("the body's {field} is required"),
        None => format!("{what} is required"),
    }
}

fn respond(status: StatusCode, headers: &BTreeMap<String, String>, body: Value) -> Response {
    let mut response = if body.is_null() { status.into_response() } else { (status, Json(body)).into_response() };
    for (name, value) in headers {
        if let (Ok(n), Ok(v)) = (HeaderName::try_from(name.as_str()), HeaderValue::from_str(value)) {
            response.headers_mut().insert(n, v);
        }
    }
    response
}

fn context<'a>(
    stub: &'a Stub,
    path: BTreeMap<String, String>,
    uri: &Uri,
    headers: &HeaderMap,
    body: Option<&'a Value>,
) -> Context<'a> {
    let query = Query::<BTreeMap<String, String>>::try_from_uri(uri).map(|q| q.0).unwrap_or_default();
    let headers = headers
        .iter()
        .filter_map(|(k, v)| Some((k.as_str().to_ascii_lowercase(), v.to_str().ok()?.to_owned())))
        .collect();
    Context { path, query, headers, body, vars: Some(&stub.vars), ..Context::default() }
}

/// `POST /__fare/state` `{state, params, action}`: a key moved to an answer.
async fn set_state(State(stub): State<Arc<Stub>>, Json(req): Json<Value>) -> Response {
    let name = req["state"].as_str().unwrap_or_default();
    if name.is_empty() || req["action"].as_str().is_some_and(|a| a != "setup") {
        return Json(json!({})).into_response();
    }
    let words: Vec<&str> = name.split_whitespace().collect();
    let found = stub.spec.states.iter().find_map(|s| {
        let parts: Vec<&str> = s.state.split_whitespace().collect();
        if parts.len() != words.len() {
            return None;
        }
        let mut params = BTreeMap::new();
        for (p, w) in parts.iter().zip(&words) {
            if state_params(p).len() == 1 {
                params.insert((*p).to_owned(), (*w).to_owned());
            } else if p != w {
                return None;
            }
        }
        Some((s, params))
    });
    let Some((state, mut params)) = found else {
        let known: Vec<String> = stub.spec.states.iter().map(|s| format!("`{}`", s.state)).collect();
        let templates: Vec<&str> = stub.spec.states.iter().map(|s| s.state.as_str()).collect();
        let hint = kit::suggest::did_you_mean_template(name, &templates, |w| state_params(w).len() == 1);
        let message = format!(
            "the {} fake knows no provider state `{name}`{hint}; it knows {}",
            stub.spec.name,
            if known.is_empty() { "none".to_owned() } else { known.join(", ") }
        );
        return (StatusCode::UNPROCESSABLE_ENTITY, Json(json!({"error": message, "field": "state"}))).into_response();
    };
    if let Some(given) = req["params"].as_object() {
        for (k, v) in given {
            params.insert(k.clone(), v.as_str().map(str::to_owned).unwrap_or_else(|| v.to_string()));
        }
    }
    let cx = Context { params, vars: Some(&stub.vars), ..Context::default() };
    let key = cx.text(&state.key);
    let index = stub.spec.routes.iter().position(|r| r.name.as_deref() == Some(state.route.as_str()));
    let Some(index) = index else { return error(StatusCode::INTERNAL_SERVER_ERROR, "no such route".into()) };
    let route = &stub.spec.routes[index];
    let at = route.answers.iter().position(|a| a.name.as_deref() == Some(state.answer.as_str())).unwrap_or(0);
    let before: u64 = stub.times[index][..at].iter().map(|t| t.unwrap_or(0)).sum();
    let mut states = stub.state.lock().unwrap_or_else(|p| p.into_inner());
    let turn = states[index].turn(&key);
    turn.answered = before;
    turn.first = None;
    Json(json!({})).into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn answers_take_their_turns_and_the_last_repeats() {
        let times = [Some(2), Some(0), None];
        let picked: Vec<usize> = (0..5).map(|n| pick(&times, n)).collect();
        assert_eq!(picked, vec![0, 0, 2, 2, 2]);
        assert_eq!(pick(&[Some(0), None], 0), 1, "an answer of zero times is never given");
    }
}

#[cfg(test)]
mod served {
    use std::path::Path;

    use super::*;

    fn platform_fake(name: &str) -> FakeSpec {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../services/fakes");
        FakeSpec::load(&dir.join(format!("{name}.yaml"))).unwrap()
    }

    async fn serve(spec: FakeSpec, vars: &[(&str, &str)]) -> String {
        let vars = vars.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect();
        let router = router(spec, &vars).unwrap();
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        tokio::spawn(async move { axum::serve(listener, router).await });
        url
    }

    #[tokio::test]
    async fn the_carrier_takes_turns_per_parcel_and_a_state_moves_one_on() {
        let url = serve(platform_fake("carrier"), &[("polls_until_delivered", "2")]).await;
        let http = reqwest::Client::new();
        let status = |tn: &'static str| {
            let (http, url) = (http.clone(), url.clone());
            async move {
                let body: Value = http.get(format!("{url}/tracking/{tn}")).send().await.unwrap().json().await.unwrap();
                assert_eq!(body["tracking_number"], tn);
                body["status"].as_str().unwrap().to_owned()
            }
        };
        assert_eq!(
            [status("A").await, status("A").await, status("A").await],
            ["in_transit", "in_transit", "delivered"]
        );
        assert_eq!(status("B").await, "in_transit", "each parcel has its own turn");
        let state = json!({"state": "parcel C was delivered", "action": "setup"});
        assert!(http.post(format!("{url}/__fare/state")).json(&state).send().await.unwrap().status().is_success());
        assert_eq!(status("C").await, "delivered");
        let unknown = json!({"state": "parcel C was lost"});
        let resp = http.post(format!("{url}/__fare/state")).json(&unknown).send().await.unwrap();
        assert_eq!(resp.status(), StatusCode::UNPROCESSABLE_ENTITY);
        let body: Value = resp.json().await.unwrap();
        assert_eq!(body["field"], "state");
        assert!(body["error"].as_str().unwrap().contains("knows no provider state `parcel C was lost`"), "{body}");
    }

    #[tokio::test]
    async fn the_fulfillment_center_replays_a_key_and_refuses_a_request_without_one() {
        let url = serve(platform_fake("fulfillment-center"), &[]).await;
        let http = reqwest::Client::new();
        let order = json!({"reference": "o-1", "device_serial": "s-1", "model": "m", "ship_to": {"city": "London"}});
        let ship = |key: &'static str| {
            let (http, url, order) = (http.clone(), url.clone(), order.clone());
            async move {
                let resp =
                    http.post(format!("{url}/fulfillment-orders")).header("Idempotency-Key", key).json(&order).send();
                let resp = resp.await.unwrap();
                (resp.status(), resp.json::<Value>().await.unwrap())
            }
        };
        let (status, first) = ship("k-1").await;
        assert_eq!(status, StatusCode::CREATED);
        assert_eq!(first["tracking_number"], "TRK000000001");
        assert_eq!(first["ship_to"], json!({"city": "London"}), "a whole-string placeholder keeps the JSON value");
        assert_eq!(ship("k-1").await.1, first, "a retried request gets the first answer again");
        assert_eq!(ship("k-2").await.1["shipment_id"], "shp-000002");
        let listed: Value = http.get(format!("{url}/fulfillment-orders")).send().await.unwrap().json().await.unwrap();
        let references: Vec<&Value> = listed.as_array().unwrap().iter().map(|s| &s["shipment_id"]).collect();
        assert_eq!(references, [&json!("shp-000001"), &json!("shp-000002")], "one per key, a retry not again");
        let resp = http.post(format!("{url}/fulfillment-orders")).json(&order).send().await.unwrap();
        assert_eq!(resp.status(), StatusCode::BAD_REQUEST);
        let body: Value = resp.json().await.unwrap();
        assert_eq!(body["error"], "the idempotency-key header is required");
        let resp = http.get(format!("{url}/nowhere")).send().await.unwrap();
        assert_eq!(resp.status(), StatusCode::NOT_FOUND);
    }

    /// A route that replays gives a repeated key its first answer, drawn
    /// `{uuid}` and all; one that does not draws again.
    #[tokio::test]
    async fn replay_keeps_a_keys_first_answer() {
        let spec = |replay: bool| {
            let text = format!(
                "name: x\nroutes:\n  - method: POST\n    path: /a\n    key: '{{header.k}}'\n    replay: {replay}\n    answers: [{{status: 201, body: {{id: '{{uuid}}'}}}}]\n"
            );
            FakeSpec::parse(&text, Path::new("x.yaml")).unwrap()
        };
        for replay in [true, false] {
            let url = serve(spec(replay), &[]).await;
            let http = reqwest::Client::new();
            let mut ids = Vec::new();
            for _ in 0..2 {
                let resp = http.post(format!("{url}/a")).header("k", "same").send().await.unwrap();
                ids.push(resp.json::<Value>().await.unwrap()["id"].clone());
            }
            assert_eq!(ids[0] == ids[1], replay, "replay: {replay}: {ids:?}");
        }
    }

    #[test]
    fn a_var_a_fake_does_not_have_is_refused_with_those_it_has() {
        let vars = [("polls".to_owned(), "2".to_owned())].into();
        let e = router(platform_fake("carrier"), &vars).err().unwrap().to_string();
        assert!(e.ends_with("no var `polls` to set (its vars: polls_until_delivered)"), "{e}");
    }
}
