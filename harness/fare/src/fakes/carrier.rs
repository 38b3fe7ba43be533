//! The carrier: reports a package in transit for a few polls, then
//! delivered. It knows any tracking number, as the fulfillment center that
//! hands them out is another fake.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use axum::extract::{Path, State};
use axum::routing::get;
use axum::{Json, Router};
use serde_json::{Value, json};

#[derive(Debug, Clone, Copy)]
pub struct CarrierOptions {
    /// How many polls answer `in_transit` before `delivered`.
    pub polls_until_delivered: u32,
}

impl Default for CarrierOptions {
    fn default() -> Self {
        CarrierOptions { polls_until_delivered: 2 }
    }
}

#[derive(Clone)]
struct Carrier {
    options: CarrierOptions,
    polls: Arc<Mutex<BTreeMap<String, u32>>>,
}

pub fn router(options: CarrierOptions) -> Router {
    Router::new()
        .route("/tracking/{tracking_number}", get(track))
        .with_state(Carrier { options, polls: Arc::default() })
}

async fn track(State(carrier): State<Carrier>, Path(tracking_number): Path<String>) -> Json<Value> {
    let polls = {
        let mut polls = carrier.polls.lock().unwrap_or_else(|p| p.into_inner());
        let n = polls.entry(tracking_number.clone()).or_default();
        *n += 1;
        *n
    };
    if polls > carrier.options.polls_until_delivered {
        let now = time_now();
        Json(json!({"tracking_number": tracking_number, "status": "delivered", "delivered_at": now}))
    } else {
        Json(json!({"tracking_number": tracking_number, "status": "in_transit", "delivered_at": null}))
    }
}

fn time_now() -> String {
    let now = time::OffsetDateTime::now_utc();
    now.format(&time::format_description::well_known::Rfc3339).unwrap_or_default()
}
