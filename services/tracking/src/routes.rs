//! `GET /shipments/{tracking_number}`.

use axum::extract::{Path, State};
use axum::routing::get;
use axum::{Json, Router};
use kit::http::ApiError;
use kit::store::{Db, StoreError};

use crate::domain::TrackingNumber;
use crate::store::{self, Shipment};

pub fn router(db: Db) -> Router {
    Router::new().route("/shipments/{tracking_number}", get(one)).with_state(db)
}

async fn one(State(db): State<Db>, Path(tracking_number): Path<String>) -> Result<Json<Shipment>, ApiError> {
    let number = TrackingNumber::parse(&tracking_number)
        .map_err(|e| ApiError::BadRequest { field: Some("tracking_number".into()), message: e.to_string() })?;
    let found = {
        let number = number.clone();
        db.read(move |conn| store::get(conn, &number).map_err(StoreError::from)).await?
    };
    found.map(Json).ok_or_else(|| ApiError::NotFound(format!("no shipment is tracked under {number}")))
}
