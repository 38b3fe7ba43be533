//! `GET /mails?user_id=`.

use axum::extract::{Query, State};
use axum::routing::get;
use axum::{Json, Router};
use kit::http::ApiError;
use kit::store::{Db, StoreError};
use serde::Deserialize;

use crate::domain::UserId;
use crate::store::{self, Mail};

pub fn router(db: Db) -> Router {
    Router::new().route("/mails", get(list)).with_state(db)
}

#[derive(Deserialize)]
struct ListQuery {
    user_id: Option<String>,
}

/// The mails sent to one user: an empty list until the first is sent.
async fn list(State(db): State<Db>, Query(q): Query<ListQuery>) -> Result<Json<Vec<Mail>>, ApiError> {
    let bad = |message: String| ApiError::BadRequest { field: Some("user_id".into()), message };
    let raw =
        q.user_id.filter(|id| !id.is_empty()).ok_or_else(|| bad("user_id: the query parameter is required".into()))?;
    let user_id = UserId::parse(&raw).map_err(|e| bad(format!("user_id: {e}")))?;
    let mails = db.read(move |conn| store::by_user(conn, user_id.as_str()).map_err(StoreError::from)).await?;
    Ok(Json(mails))
}
