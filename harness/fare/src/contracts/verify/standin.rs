//! The stand-in `pact_verifier` talks to for what is not a running
//! service's HTTP API, served in this process on a loopback port:
//!
//! - `POST /messages/{provider}` `{"description", "providerStates"}`: the
//!   `message` transport, passed to the provider's own (its manifest's
//!   `[contracts] messages`), whose answer (the message, and its SNS
//!   attributes as base64 JSON in `Pact-Message-Metadata`) comes back
//!   through here so a test can tamper with it and a failure is explained.
//! - `POST /states/{provider}` `{"state", "params", "action"}`: a provider
//!   state, forwarded to the provider's own state endpoint (then to those
//!   of the services it asks, for a state it does not know), or to a
//!   third-party fake's `/__fare/state`, which sets the states its file
//!   describes.
//!
//! The verifier only sees a status code when either goes wrong, so the
//! reason is kept here, per provider and description or state, for the
//! report.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::{Json, Router};
use base64::Engine;
use serde_json::{Map, Value, json};
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

/// What a provider answers the message transport: the body and the
/// metadata (SNS message attributes, and `contentType`).
#[derive(Debug, Clone)]
pub struct Answer {
    pub body: Value,
    pub metadata: Map<String, Value>,
}

/// Changes a provider's answer before the verifier sees it: how a test
/// shows what a provider that renamed a field or dropped an attribute gets.
pub type Tamper = Arc<dyn Fn(&str, &mut Answer) + Send + Sync>;

/// A state-change endpoint: a provider's, or a service's it asks, or a
/// fake's. A provider's states are POSTed as they come to the first of its
/// list; one that does not know a state passes it to the next, in turn.
#[derive(Debug, Clone)]
pub struct Forward {
    pub service: String,
    pub url: String,
}

/// Where each provider's states are set and its messages made.
#[derive(Debug, Clone, Default)]
pub struct Targets {
    pub states: BTreeMap<String, Vec<Forward>>,
    /// Each provider's message transport URL.
    pub messages: BTreeMap<String, String>,
}

#[derive(Clone)]
struct Shared {
    tamper: Option<Tamper>,
    states: Arc<BTreeMap<String, Vec<Forward>>>,
    messages: Arc<BTreeMap<String, String>>,
    notes: Arc<Mutex<Vec<Note>>>,
    http: reqwest::Client,
}

/// Why the stand-in could not do what the verifier asked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Note {
    pub provider: String,
    /// The message description or the provider state name.
    pub subject: String,
    pub problem: String,
}

pub struct StandIn {
    pub url: String,
    shared: Shared,
}

impl StandIn {
    pub async fn start(targets: Targets, tamper: Option<Tamper>, stop: CancellationToken) -> std::io::Result<StandIn> {
        StandIn::start_on(SocketAddr::from(([127, 0, 0, 1], 0)), targets, tamper, stop).await
    }

    /// [`StandIn::start`] on `addr`: what `fare contracts serve` runs for
    /// the official `pact verifier` and any other Pact tooling.
    pub async fn start_on(
        addr: SocketAddr,
        targets: Targets,
        tamper: Option<Tamper>,
        stop: CancellationToken,
    ) -> std::io::Result<StandIn> {
        let shared = Shared {
            tamper,
            states: Arc::new(targets.states),
            messages: Arc::new(targets.messages),
            notes: Arc::default(),
            http: reqwest::Client::new(),
        };
        let router = Router::new()
            .route("/messages/{provider}", post(message))
            .route("/states/{provider}", post(state))
            .with_state(shared.clone());
        let listener = TcpListener::bind(addr).await?;
        let url = format!("http://{}", listener.local_addr()?);
        tokio::spawn(async move {
            let _ = axum::serve(listener, router).with_graceful_shutdown(stop.cancelled_owned()).await;
        });
        Ok(StandIn { url, shared })
    }

    /// The problems noted since the last call.
    pub fn take_notes(&self) -> Vec<Note> {
        std::mem::take(&mut *self.shared.notes.lock().unwrap_or_else(|p| p.into_inner()))
    }
}

impl Shared {
    fn note(&self, provider: &str, subject: &str, problem: String) -> Response {
        let note = Note { provider: provider.to_owned(), subject: subject.to_owned(), problem: problem.clone() };
        self.notes.lock().unwrap_or_else(|p| p.into_inner()).push(note);
        (StatusCode::INTERNAL_SERVER_ERROR, Json(json!({"error": problem}))).into_response()
    }
}

async fn message(State(shared): State<Shared>, Path(provider): Path<String>, Json(req): Json<Value>) -> Response {
    let description = req["description"].as_str().unwrap_or_default().to_owned();
    let Some(url) = shared.messages.get(&provider) else {
        let problem = format!(
            "{provider} serves no message transport here: declare `messages = \"/_pact/messages\"` under \
             [contracts] in its manifest and serve it, or verify its messages over the real queue with `--via-queue`"
        );
        return shared.note(&provider, &description, problem);
    };
    let answer = match ask_for_message(&shared.http, url, &req).await {
        Ok(answer) => answer,
        Err(problem) => return shared.note(&provider, &description, format!("{provider}'s {url}: {problem}")),
    };
    let mut answer = answer;
    if let Some(tamper) = &shared.tamper {
        tamper(&provider, &mut answer);
    }
    let encoded = base64::engine::general_purpose::STANDARD.encode(Value::Object(answer.metadata).to_string());
    let mut headers = HeaderMap::new();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static("application/json"));
    if let Ok(value) = HeaderValue::from_str(&encoded) {
        headers.insert("pact-message-metadata", value);
    }
    (StatusCode::OK, headers, Json(answer.body)).into_response()
}

/// Why a provider's message transport gave no message.
#[derive(Debug, thiserror::Error)]
enum MessageError {
    /// No answer: shown with its causes, which reqwest's message leaves out.
    #[error("{}", kit::error_chain(.0))]
    Http(#[from] reqwest::Error),
    /// `error` is the answer's own `error` field, else its whole body.
    #[error("answered {status}: {error}")]
    Refused { status: StatusCode, error: String },
    #[error("the message is not JSON: {0}")]
    NotJson(#[source] serde_json::Error),
    #[error("its Pact-Message-Metadata header is not base64 JSON of an object")]
    Metadata,
}

/// The provider's answer to the message transport: its body, and its
/// metadata decoded; the reason, when it did not give one.
async fn ask_for_message(http: &reqwest::Client, url: &str, req: &Value) -> Result<Answer, MessageError> {
    let resp = http.post(url).json(req).send().await?;
    let status = resp.status();
    let header = resp.headers().get("pact-message-metadata").and_then(|v| v.to_str().ok()).map(str::to_owned);
    let text = resp.text().await?;
    if !status.is_success() {
        let body: Value = serde_json::from_str(&text).unwrap_or_default();
        let error = body["error"].as_str().map(str::to_owned).unwrap_or(text);
        return Err(MessageError::Refused { status, error });
    }
    let body: Value = serde_json::from_str(&text).map_err(MessageError::NotJson)?;
    let metadata = match header {
        None => Map::new(),
        Some(encoded) => base64::engine::general_purpose::STANDARD
            .decode(encoded.trim())
            .ok()
            .and_then(|bytes| serde_json::from_slice::<Map<String, Value>>(&bytes).ok())
            .ok_or(MessageError::Metadata)?,
    };
    Ok(Answer { body, metadata })
}

async fn state(State(shared): State<Shared>, Path(provider): Path<String>, Json(req): Json<Value>) -> Response {
    let name = req["state"].as_str().unwrap_or_default().to_owned();
    // The verifier asks for the state "" before an interaction that names
    // none, and may tear states down; a fresh provider needs neither.
    if name.is_empty() || req["action"].as_str().is_some_and(|a| a != "setup") {
        return Json(json!({})).into_response();
    }
    match shared.states.get(&provider) {
        Some(targets) => forward(&shared, &provider, &name, targets, &req).await,
        None => shared.note(&provider, &name, format!("{provider} has no provider states here")),
    }
}

async fn forward(shared: &Shared, provider: &str, name: &str, targets: &[Forward], req: &Value) -> Response {
    let mut unknown = Vec::new();
    for target in targets {
        let url = &target.url;
        let resp = match shared.http.post(url).json(req).send().await {
            Ok(resp) => resp,
            Err(e) => return shared.note(provider, name, format!("{url}: {}", kit::error_chain(&e))),
        };
        let status = resp.status();
        if status.is_success() {
            return Json(json!({})).into_response();
        }
        let body: Value = resp.json().await.unwrap_or_default();
        let error = body["error"].as_str().unwrap_or_default().to_owned();
        // Unknown here (the kit answers 422 on the field `state`): maybe a
        // state of a service it asks.
        if status == StatusCode::UNPROCESSABLE_ENTITY && body["field"] == "state" {
            unknown.push(error);
            continue;
        }
        return shared.note(provider, name, format!("{} answered {status}: {error}", target.service));
    }
    shared.note(provider, name, unknown.join("; and "))
}
