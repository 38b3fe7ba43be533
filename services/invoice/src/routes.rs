//! `GET /invoices?order_id=`.

use axum::extract::{Query, State};
use axum::routing::get;
use axum::{Json, Router};
use kit::http::ApiError;
use kit::store::{Db, StoreError};
use serde::Deserialize;

use crate::store::{self, Invoice};

pub fn router(db: Db) -> Router {
    Router::new().route("/invoices", get(list)).with_state(db)
}

#[derive(Deserialize)]
struct ListQuery {
    order_id: Option<String>,
}

/// The invoices of one order: an empty list until it is issued.
async fn list(State(db): State<Db>, Query(q): Query<ListQuery>) -> Result<Json<Vec<Invoice>>, ApiError> {
    let order_id = q.order_id.filter(|id| !id.is_empty()).ok_or_else(|| ApiError::BadRequest {
        field: Some("order_id".into()),
        message: "order_id: the query parameter is required".into(),
    })?;
    let invoice = db.read(move |conn| store::by_order(conn, &order_id).map_err(StoreError::from)).await?;
    Ok(Json(invoice.into_iter().collect()))
}
