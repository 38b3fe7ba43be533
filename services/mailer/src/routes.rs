//! `GET /mails?user_id=`: for that user, signed in, only.

use axum::extract::{Query, State};
use axum::routing::get;
use axum::{Json, Router};
use kit::http::{ApiError, Reader, UserRecords};
use kit::store::{Db, StoreError};
use serde::Deserialize;

use crate::domain::UserId;
use crate::store::{self, Mail};

pub fn router(state: UserRecords) -> Router {
    Router::new().route("/mails", get(list)).with_state(state)
}

#[derive(Deserialize)]
struct ListQuery {
    user_id: Option<String>,
}

/// The mails sent to one user: an empty list until the first is sent.
/// Another user's mails are answered as none, as for a user with no mail
/// yet: the answer does not tell whether that user exists (the store
/// answers another user's order 404 for the same reason).
async fn list(State(db): State<Db>, reader: Reader, Query(q): Query<ListQuery>) -> Result<Json<Vec<Mail>>, ApiError> {
    let bad = |message: String| ApiError::BadRequest { field: Some("user_id".into()), message };
    let raw =
        q.user_id.filter(|id| !id.is_empty()).ok_or_else(|| bad("user_id: the query parameter is required".into()))?;
    let user_id = UserId::parse(&raw).map_err(|e| bad(format!("user_id: {e}")))?;
    let mails = db.read(move |conn| store::by_user(conn, user_id.as_str()).map_err(StoreError::from)).await?;
    Ok(Json(mails.into_iter().filter(|m| reader.may_read(&m.mail.user_id)).collect()))
}
