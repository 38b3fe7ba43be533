//! `POST /devices` and `GET /inventory`.

use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::{get, post};
use axum::{Json, Router};
use kit::http::{self, ApiError};
use kit::store::{Db, StoreError};
use serde::Deserialize;

use crate::domain::{Model, Serial};
use crate::store::{self, Device, ModelCount};

pub fn router(db: Db) -> Router {
    Router::new().route("/devices", post(add)).route("/inventory", get(inventory)).with_state(db)
}

#[derive(Deserialize)]
struct NewDevice {
    model: Model,
    serial: Serial,
}

/// Adds a device to the stock of its model.
async fn add(
    State(db): State<Db>,
    http::Json(new): http::Json<NewDevice>,
) -> Result<(StatusCode, Json<Device>), ApiError> {
    let serial = new.serial.as_str().to_owned();
    let added = db.write(move |tx| store::insert(tx, &new.model, &new.serial).map_err(StoreError::from)).await?;
    let device = added.ok_or_else(|| ApiError::Conflict(format!("a device with serial `{serial}` already exists")))?;
    tracing::info!(serial = %device.serial, model = %device.model, "device added");
    Ok((StatusCode::CREATED, Json(device)))
}

async fn inventory(State(db): State<Db>) -> Result<Json<Vec<ModelCount>>, ApiError> {
    let counts = db.read(|conn| store::inventory(conn).map_err(StoreError::from)).await?;
    Ok(Json(counts))
}
