//! `POST /users`, `POST /sessions` (log in, rate limited), `DELETE /sessions`
//! (log out), `GET /sessions/current` (the session of the bearer token in
//! `Authorization`), `GET /users/{user_id}/contact`. A token is only ever
//! read from the header: a path or query is logged.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::extract::{ConnectInfo, Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::routing::{get, post};
use axum::{Extension, Json, Router};
use kit::http::{ApiError, Reader, RequestContext};
use kit::store::{Db, outbox};
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use crate::domain::{Email, Name, Password};
use crate::error::UsersError;
use crate::limit::Limiter;
use crate::password::Hasher;
use crate::store::{self, Contact, Session};

#[derive(Clone)]
pub struct AppState {
    pub db: Db,
    pub session_ttl: Duration,
    pub hasher: Hasher,
    pub limiter: Arc<Limiter>,
}

pub fn router(state: AppState) -> Router {
    Router::new()
        .route("/users", post(sign_up))
        .route("/users/{user_id}/contact", get(contact))
        .route("/sessions", post(log_in).delete(log_out))
        .route("/sessions/current", get(session))
        .with_state(state)
}

#[derive(Deserialize)]
struct SignUp {
    email: Email,
    password: Password,
    name: Name,
}

/// Creates the account and stages `user.registered` in one transaction.
async fn sign_up(
    State(state): State<AppState>,
    ctx: RequestContext,
    kit::http::Json(req): kit::http::Json<SignUp>,
) -> Result<(StatusCode, Json<Contact>), ApiError> {
    let password_hash = state.hasher.hash(req.password.expose().to_owned()).await.map_err(UsersError::from)?;
    let contact = Contact { user_id: uuid::Uuid::new_v4().to_string(), email: req.email.into(), name: req.name.into() };
    let event =
        crate::events::user_registered(&contact, ctx.correlation_id, Some(ctx.request_id)).map_err(UsersError::from)?;
    let created_at = now().format(&Rfc3339).map_err(ApiError::internal)?;
    let row = contact.clone();
    state
        .db
        .write(move |tx| {
            if !store::insert_user(tx, &row, &password_hash, &created_at)? {
                return Err(UsersError::EmailTaken);
            }
            outbox::stage(tx, &event)?;
            Ok(())
        })
        .await?;
    tracing::info!(user_id = %contact.user_id, "user registered");
    Ok((StatusCode::CREATED, Json(contact)))
}

/// Plain strings: a malformed email or a short password at login is just
/// a wrong one, answered like any other.
#[derive(Deserialize)]
struct LogIn {
    email: String,
    password: String,
}

#[derive(Serialize)]
struct NewSession {
    token: String,
    user_id: String,
    expires_at: String,
}

/// Checks the rate limits before any hashing: a login over them costs a
/// map lookup.
async fn log_in(
    State(state): State<AppState>,
    // Absent when the router is driven without a socket (tests).
    peer: Option<Extension<ConnectInfo<SocketAddr>>>,
    kit::http::Json(req): kit::http::Json<LogIn>,
) -> Result<(StatusCode, Json<NewSession>), ApiError> {
    let account = req.email.trim().to_lowercase();
    let client = peer.map(|Extension(ConnectInfo(addr))| addr.ip().to_string()).unwrap_or_default();
    state.limiter.attempt(&account, &client).map_err(|retry_after| {
        tracing::warn!(client, "login refused: over the rate limit");
        ApiError::TooManyRequests { retry_after }
    })?;
    let credentials = match Email::parse(&req.email) {
        Ok(email) => {
            state.db.read(move |conn| store::credentials(conn, email.as_str()).map_err(UsersError::from)).await?
        }
        Err(_) => None,
    };
    let stored = credentials.as_ref().map(|c| c.password_hash.clone());
    let matches = state.hasher.verify(req.password, stored).await.map_err(UsersError::from)?;
    let user_id = match credentials {
        Some(c) if matches => c.user_id,
        _ => {
            state.limiter.failed(&account);
            return Err(UsersError::BadCredentials.into());
        }
    };
    let now_ms = unix_ms(now());
    let ttl_ms = i64::try_from(state.session_ttl.as_millis()).unwrap_or(i64::MAX);
    let session = Session { user_id: user_id.clone(), expires_at_ms: now_ms.saturating_add(ttl_ms) };
    let expires_at = rfc3339(session.expires_at_ms)?;
    let token = new_token();
    let stored_token = token.clone();
    state.db.write(move |tx| store::insert_session(tx, &stored_token, &session).map_err(UsersError::from)).await?;
    Ok((StatusCode::CREATED, Json(NewSession { token, user_id, expires_at })))
}

#[derive(Serialize)]
struct ValidSession {
    user_id: String,
    expires_at: String,
}

async fn session(State(state): State<AppState>, headers: HeaderMap) -> Result<Json<ValidSession>, ApiError> {
    let token = kit::http::bearer(&headers).ok_or(UsersError::UnknownSession)?;
    let session = live_session(&state.db, token).await?;
    Ok(Json(ValidSession { user_id: session.user_id, expires_at: rfc3339(session.expires_at_ms)? }))
}

/// The live session of `token`: unknown and expired ones are refused.
async fn live_session(db: &Db, token: &str) -> Result<Session, UsersError> {
    let token = token.to_owned();
    let found = db.read(move |conn| store::session(conn, &token).map_err(UsersError::from)).await?;
    let session = found.ok_or(UsersError::UnknownSession)?;
    if unix_ms(now()) >= session.expires_at_ms {
        return Err(UsersError::SessionExpired);
    }
    Ok(session)
}

/// Ends the session of the bearer token, whether or not it still was one.
async fn log_out(State(state): State<AppState>, headers: HeaderMap) -> Result<StatusCode, ApiError> {
    let token = kit::http::bearer(&headers).ok_or(UsersError::UnknownSession)?.to_owned();
    state.db.write(move |tx| store::forget_session(tx, &token).map_err(UsersError::from)).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Forgets sessions long expired, every `every`, until `stop`.
pub async fn purge_sessions(db: Db, every: Duration, stop: tokio_util::sync::CancellationToken) {
    loop {
        tokio::select! {
            _ = tokio::time::sleep(every) => {}
            _ = stop.cancelled() => return,
        }
        let now_ms = unix_ms(now());
        match db.write(move |tx| store::purge_expired(tx, now_ms).map_err(UsersError::from)).await {
            Ok(0) => {}
            Ok(n) => tracing::info!(sessions = n, "expired sessions purged"),
            Err(e) => tracing::warn!(error = kit::error_chain(&e), "purging expired sessions failed"),
        }
    }
}

/// A user's contact, for mailer and for the user themself. A bearer token
/// must be a live session of that user, checked here where sessions live;
/// another user's session is answered as for an unknown user (404), as the
/// store answers another user's order, so ids cannot be probed. A call
/// without one is mailer's, whose service identity the kit is to check.
async fn contact(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(user_id): Path<String>,
) -> Result<Json<Contact>, ApiError> {
    if let Some(token) = kit::http::bearer(&headers) {
        let reader = Reader::User(live_session(&state.db, token).await?.user_id);
        if !reader.may_read(&user_id) {
            return Err(UsersError::UnknownUser { user_id }.into());
        }
    }
    let lookup = user_id.clone();
    let found = state.db.read(move |conn| store::contact(conn, &lookup).map_err(UsersError::from)).await?;
    Ok(Json(found.ok_or(UsersError::UnknownUser { user_id })?))
}

/// 32 random bytes, hex: unguessable.
fn new_token() -> String {
    rand::random::<[u8; 32]>().iter().map(|b| format!("{b:02x}")).collect()
}

fn now() -> OffsetDateTime {
    OffsetDateTime::now_utc()
}

fn unix_ms(t: OffsetDateTime) -> i64 {
    i64::try_from(t.unix_timestamp_nanos() / 1_000_000).unwrap_or(i64::MAX)
}

fn rfc3339(ms: i64) -> Result<String, ApiError> {
    OffsetDateTime::from_unix_timestamp_nanos(i128::from(ms) * 1_000_000)
        .map_err(ApiError::internal)?
        .format(&Rfc3339)
        .map_err(ApiError::internal)
}
