//! The fulfillment center: takes an order to ship a device and answers with
//! a shipment and a tracking number. Idempotent on `Idempotency-Key`, as the
//! real one is: a retried request gets the first answer again.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::routing::post;
use axum::{Json, Router};
use serde::{Deserialize, Serialize};
use serde_json::Value;

#[derive(Debug, Deserialize)]
struct FulfillmentOrder {
    reference: String,
    device_serial: String,
    model: String,
    ship_to: Value,
}

#[derive(Debug, Clone, Serialize)]
struct Shipment {
    shipment_id: String,
    tracking_number: String,
    carrier: String,
    reference: String,
    device_serial: String,
    model: String,
    ship_to: Value,
}

#[derive(Clone, Default)]
struct Center {
    by_key: Arc<Mutex<BTreeMap<String, Shipment>>>,
}

pub fn router() -> Router {
    Router::new().route("/fulfillment-orders", post(create).get(list)).with_state(Center::default())
}

async fn create(
    State(center): State<Center>,
    headers: HeaderMap,
    Json(order): Json<FulfillmentOrder>,
) -> (StatusCode, Json<Value>) {
    let Some(key) = headers.get("idempotency-key").and_then(|v| v.to_str().ok()).map(str::to_owned) else {
        return (StatusCode::BAD_REQUEST, Json(serde_json::json!({"error": "Idempotency-Key header is required"})));
    };
    let mut by_key = center.by_key.lock().unwrap_or_else(|p| p.into_inner());
    let n = by_key.len() + 1;
    let shipment = by_key
        .entry(key)
        .or_insert_with(|| Shipment {
            shipment_id: format!("shp-{n:06}"),
            tracking_number: format!("TRK{n:09}"),
            carrier: "fastship".into(),
            reference: order.reference,
            device_serial: order.device_serial,
            model: order.model,
            ship_to: order.ship_to,
        })
        .clone();
    (StatusCode::CREATED, Json(serde_json::to_value(shipment).unwrap_or_default()))
}

async fn list(State(center): State<Center>) -> Json<Vec<Shipment>> {
    Json(center.by_key.lock().unwrap_or_else(|p| p.into_inner()).values().cloned().collect())
}
