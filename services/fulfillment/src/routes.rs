//! `GET /shipments?order_id=`: for the signed-in owner of the order only.

use axum::extract::{Query, State};
use axum::routing::get;
use axum::{Json, Router};
use kit::http::{ApiError, Reader, UserRecords};
use kit::store::{Db, StoreError};
use serde::Deserialize;

use crate::store::{self, Shipment};

pub fn router(state: UserRecords) -> Router {
    Router::new().route("/shipments", get(list)).with_state(state)
}

#[derive(Deserialize)]
struct ListQuery {
    order_id: Option<String>,
}

/// The shipments of one order: an empty list until it is requested.
/// Another user's order gets the same empty list, so the answer does not
/// tell that it exists (the store answers another user's order 404 for the
/// same reason).
async fn list(
    State(db): State<Db>,
    reader: Reader,
    Query(q): Query<ListQuery>,
) -> Result<Json<Vec<Shipment>>, ApiError> {
    let order_id = q.order_id.filter(|id| !id.is_empty()).ok_or_else(|| ApiError::BadRequest {
        field: Some("order_id".into()),
        message: "order_id: the query parameter is required".into(),
    })?;
    let shipment = db.read(move |conn| store::by_order(conn, &order_id).map_err(StoreError::from)).await?;
    Ok(Json(shipment.into_iter().filter(|s| reader.may_read(&s.user_id)).collect()))
}
