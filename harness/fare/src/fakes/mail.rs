//! The mail provider: accepts a message and answers with its id,
//! idempotent on `Idempotency-Key`; `GET /messages` shows what was sent.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::routing::post;
use axum::{Json, Router};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

#[derive(Debug, Clone, Serialize, Deserialize)]
struct Message {
    to: String,
    subject: String,
    body: String,
    template: String,
    #[serde(default)]
    message_id: String,
}

#[derive(Clone, Default)]
struct Provider {
    by_key: Arc<Mutex<BTreeMap<String, Message>>>,
}

pub fn router() -> Router {
    Router::new().route("/messages", post(send).get(list)).with_state(Provider::default())
}

async fn send(
    State(provider): State<Provider>,
    headers: HeaderMap,
    Json(mut message): Json<Message>,
) -> (StatusCode, Json<Value>) {
    let Some(key) = headers.get("idempotency-key").and_then(|v| v.to_str().ok()).map(str::to_owned) else {
        return (StatusCode::BAD_REQUEST, Json(json!({"error": "Idempotency-Key header is required"})));
    };
    let mut by_key = provider.by_key.lock().unwrap_or_else(|p| p.into_inner());
    let n = by_key.len() + 1;
    let stored = by_key.entry(key).or_insert_with(|| {
        message.message_id = format!("msg-{n:06}");
        message
    });
    (StatusCode::ACCEPTED, Json(json!({"message_id": stored.message_id})))
}

async fn list(State(provider): State<Provider>) -> Json<Vec<Message>> {
    Json(provider.by_key.lock().unwrap_or_else(|p| p.into_inner()).values().cloned().collect())
}
