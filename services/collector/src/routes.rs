//! `GET /metrics` and `GET /events?correlation_id=`.

use axum::extract::{Query, State};
use axum::http::header::CONTENT_TYPE;
use axum::response::IntoResponse;
use axum::routing::get;
use axum::{Json, Router};
use kit::CorrelationId;
use kit::http::ApiError;
use kit::store::{Db, StoreError};
use serde::Deserialize;

use crate::metrics;
use crate::store::{self, Seen};

pub fn router(db: Db) -> Router {
    Router::new().route("/metrics", get(metrics)).route("/events", get(chain)).with_state(db)
}

async fn metrics(State(db): State<Db>) -> Result<impl IntoResponse, ApiError> {
    let counts = db.read(|conn| store::counts(conn).map_err(StoreError::from)).await?;
    Ok(([(CONTENT_TYPE, metrics::CONTENT_TYPE)], metrics::render(&counts)))
}

#[derive(Deserialize)]
struct ChainQuery {
    correlation_id: Option<String>,
}

/// The events of one chain in arrival order: empty for a chain not seen.
async fn chain(State(db): State<Db>, Query(q): Query<ChainQuery>) -> Result<Json<Vec<Seen>>, ApiError> {
    let bad = |message: String| ApiError::BadRequest { field: Some("correlation_id".into()), message };
    let raw = q.correlation_id.ok_or_else(|| bad("correlation_id: the query parameter is required".into()))?;
    let id = CorrelationId::parse(&raw).map_err(|e| bad(format!("correlation_id: {e}")))?;
    let events = db.read(move |conn| store::chain(conn, id.as_str()).map_err(StoreError::from)).await?;
    Ok(Json(events))
}
