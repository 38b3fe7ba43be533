//! Who is asking: every order request carries `Authorization: Bearer
//! <token>`, and users says whose session it is. Nothing is cached, so a
//! session ended at users ends here at once.

use axum::extract::{FromRef, FromRequestParts};
use axum::http::request::Parts;
use kit::CorrelationId;
use kit::http::{ApiError, CallError, RequestContext, ServiceClient};
use reqwest::{Method, StatusCode};
use serde::Deserialize;

/// The user a request was authenticated as.
#[derive(Debug, Clone)]
pub struct Caller {
    pub user_id: String,
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
                tracing::warn!(error = kit::error_chain(source), "users unavailable");
                ApiError::Unavailable("sessions cannot be checked right now; try again shortly".into())
            }
            AuthError::Unexpected { .. } | AuthError::Call(_) => ApiError::internal(e),
        }
    }
}

/// The users service, as store asks it.
#[derive(Debug, Clone)]
pub struct Users {
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

impl Users {
    pub fn new(client: ServiceClient) -> Users {
        Users { client }
    }

    /// The user whose session `token` is.
    pub async fn who(&self, token: &str, correlation: &CorrelationId) -> Result<Caller, AuthError> {
        // A token users issues is hex; anything else cannot be a session.
        if token.len() > 256 || !token.chars().all(|c| c.is_ascii_alphanumeric()) {
            return Err(AuthError::Refused("unknown session".into()));
        }
        // The token goes in a header: a path is logged and traced on both sides.
        let path = "/sessions/current";
        let authorization = kit::http::bearer_header(token);
        let headers = [(kit::http::BEARER_HEADER, authorization.as_str())];
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
    Users: FromRef<S>,
{
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Caller, ApiError> {
        let ctx = RequestContext::from_request_parts(parts, state).await?;
        let token = kit::http::bearer(&parts.headers).ok_or(AuthError::Missing)?;
        Ok(Users::from_ref(state).who(token, &ctx.correlation_id).await?)
    }
}
