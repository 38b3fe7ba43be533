//! Who is asking, for every service that serves a user's data: the request
//! carries `Authorization: Bearer <token>`, and users says whose session it
//! is (`GET /sessions/current`, the token in the same header, never in a
//! path). Nothing is cached, so a session ended at users ends everywhere at
//! once.
//!
//! [`Caller`] is the user a request was authenticated as; [`Reader`] is who
//! reads a user's records and decides which of them they may see;
//! [`UserRecords`] is the state of a router that serves them.

use axum::extract::{FromRef, FromRequestParts};
use axum::http::request::Parts;
use reqwest::{Method, StatusCode};
use serde::Deserialize;

use super::{ApiError, CallError, ClientOptions, RequestContext, ServiceClient};
use crate::CorrelationId;
use crate::store::Db;

/// The user a request was authenticated as.
#[derive(Debug, Clone)]
pub struct Caller {
    pub user_id: String,
}

/// Who reads a user's records. Today only a signed-in user, who may read
/// their own; a service or operator credential, once services carry one,
/// is another variant here, and [`Reader::may_read`] says what it may see.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reader {
    User(String),
}

impl Reader {
    /// Whether a record of `owner` may be shown to this reader. A record it
    /// may not read is answered as one that does not exist, as the store
    /// answers another user's order: 404, or an empty list for a query.
    pub fn may_read(&self, owner: &str) -> bool {
        match self {
            Reader::User(user_id) => user_id == owner,
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum AuthError {
    #[error("missing bearer token: send `Authorization: Bearer <token>` from `POST /sessions` at users")]
    Missing,
    /// users' own words: unknown session, session expired.
    #[error("{0}")]
    Refused(String),
    #[error("sessions cannot be checked right now: {0}")]
    Unavailable(#[source] CallError),
    #[error("users answered {status} to a session check")]
    Unexpected { status: StatusCode },
    #[error(transparent)]
    Call(CallError),
}

impl From<AuthError> for ApiError {
    fn from(e: AuthError) -> Self {
        match e {
            AuthError::Missing | AuthError::Refused(_) => ApiError::Unauthorized(e.to_string()),
            // The chain (which URL, what failed) goes to the log, not the caller.
            AuthError::Unavailable(ref source) => {
                tracing::warn!(error = crate::error_chain(source), "users unavailable");
                ApiError::Unavailable("sessions cannot be checked right now; try again shortly".into())
            }
            AuthError::Unexpected { .. } | AuthError::Call(_) => ApiError::internal(e),
        }
    }
}

/// The state of a router that serves users' records: the service's
/// database and users, who vouches for sessions. Handlers take
/// `State<Db>` and a [`Reader`] from it.
#[derive(Clone)]
pub struct UserRecords {
    pub db: Db,
    pub sessions: Sessions,
}

impl FromRef<UserRecords> for Db {
    fn from_ref(state: &UserRecords) -> Db {
        state.db.clone()
    }
}

impl FromRef<UserRecords> for Sessions {
    fn from_ref(state: &UserRecords) -> Sessions {
        state.sessions.clone()
    }
}

/// The users service, as a service asks it whose session a token is.
#[derive(Debug, Clone)]
pub struct Sessions {
    client: ServiceClient,
}

#[derive(Deserialize)]
struct Session {
    user_id: String,
}

#[derive(Deserialize)]
struct Refusal {
    error: String,
}

impl Sessions {
    pub fn new(client: ServiceClient) -> Sessions {
        Sessions { client }
    }

    /// users at `USERS_URL`, the variable its manifest's `[[asks]]` names,
    /// asked with the service's identity (`FARE_SERVICE_KEY`), which users'
    /// manifest must grant `GET /sessions/current`.
    pub fn from_config(config: &crate::Config) -> Result<Sessions, crate::KitError> {
        let url = config.require("USERS_URL", "the users service's base URL")?;
        let signer = super::identity::Signer::from_config(config)?;
        Ok(Sessions::new(ServiceClient::new("users", url, ClientOptions::default())?.signed(signer)))
    }

    /// The user whose session `token` is.
    pub async fn who(&self, token: &str, correlation: &CorrelationId) -> Result<Caller, AuthError> {
        // A token users issues is hex; anything else cannot be a session.
        if token.len() > 256 || !token.chars().all(|c| c.is_ascii_alphanumeric()) {
            return Err(AuthError::Refused("unknown session".into()));
        }
        // The token goes in a header: a path is logged and traced on both sides.
        let path = "/sessions/current";
        let authorization = super::bearer_header(token);
        let headers = [(super::BEARER_HEADER, authorization.as_str())];
        let resp =
            self.client.call::<()>(Method::GET, path, correlation, None, &headers).await.map_err(|e| match e {
                CallError::Unreachable { .. } | CallError::ServerError { .. } => AuthError::Unavailable(e),
                other => AuthError::Call(other),
            })?;
        match resp.status() {
            StatusCode::OK => {
                let (_, session) =
                    self.client.parse::<Session>(Method::GET, path, resp).await.map_err(AuthError::Call)?;
                Ok(Caller { user_id: session.user_id })
            }
            StatusCode::UNAUTHORIZED => {
                let refusal = self.client.parse::<Refusal>(Method::GET, path, resp).await;
                Err(AuthError::Refused(refusal.map(|(_, r)| r.error).unwrap_or_else(|_| "invalid session".into())))
            }
            status => Err(AuthError::Unexpected { status }),
        }
    }
}

/// Any router state that holds the users client can authenticate callers.
impl<S: Send + Sync> FromRequestParts<S> for Caller
where
    Sessions: FromRef<S>,
{
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Caller, ApiError> {
        let ctx = RequestContext::from_request_parts(parts, state).await?;
        let token = super::bearer(&parts.headers).ok_or(AuthError::Missing)?;
        let caller = Sessions::from_ref(state).who(token, &ctx.correlation_id).await?;
        super::correlation::record_user(&caller.user_id);
        Ok(caller)
    }
}

/// A reader is, for now, the signed-in user of the request.
impl<S: Send + Sync> FromRequestParts<S> for Reader
where
    Sessions: FromRef<S>,
{
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Reader, ApiError> {
        let caller = Caller::from_request_parts(parts, state).await?;
        Ok(Reader::User(caller.user_id))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_user_reads_their_own_records_only() {
        let ada = Reader::User("u-ada".into());
        assert!(ada.may_read("u-ada"));
        assert!(!ada.may_read("u-bob"));
        assert!(!ada.may_read(""));
    }
}
