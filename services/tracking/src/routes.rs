//! `GET /shipments/{tracking_number}`: for the signed-in owner of the order only.

use axum::extract::{Path, State};
use axum::routing::get;
use axum::{Json, Router};
use kit::http::{ApiError, Reader, UserRecords};
use kit::store::{Db, StoreError};

use crate::domain::TrackingNumber;
use crate::store::{self, Shipment};

pub fn router(state: UserRecords) -> Router {
    Router::new().route("/shipments/{tracking_number}", get(one)).with_state(state)
}

/// Another user's shipment is answered as one not tracked (404), as the
/// store answers another user's order: tracking numbers are sequential, and
/// a 403 would confirm that a guessed one exists.
async fn one(
    State(db): State<Db>,
    reader: Reader,
    Path(tracking_number): Path<String>,
) -> Result<Json<Shipment>, ApiError> {
    let number = TrackingNumber::parse(&tracking_number)
        .map_err(|e| ApiError::BadRequest { field: Some("tracking_number".into()), message: e.to_string() })?;
    let found = {
        let number = number.clone();
        db.read(move |conn| store::get(conn, &number).map_err(StoreError::from)).await?
    };
    found
        .filter(|s| reader.may_read(&s.user_id))
        .map(Json)
        .ok_or_else(|| ApiError::NotFound(format!("no shipment is tracked under {number}")))
}
