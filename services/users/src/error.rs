//! What can go wrong in the users service, and the one place each becomes
//! an HTTP answer.

use kit::http::ApiError;
use kit::store::StoreError;

use crate::password::HashError;

#[derive(Debug, thiserror::Error)]
pub enum UsersError {
    #[error("an account with this email already exists")]
    EmailTaken,
    /// One message for an unknown email and a wrong password: the answer
    /// must not tell which addresses have accounts.
    #[error("wrong email or password")]
    BadCredentials,
    #[error("unknown session")]
    UnknownSession,
    #[error("session expired")]
    SessionExpired,
    #[error("no user {user_id}")]
    UnknownUser { user_id: String },
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Hash(#[from] HashError),
    #[error("encoding an event: {0}")]
    Event(#[from] kit::envelope::EnvelopeError),
}

impl From<rusqlite::Error> for UsersError {
    fn from(e: rusqlite::Error) -> Self {
        UsersError::Store(e.into())
    }
}

impl From<UsersError> for ApiError {
    fn from(e: UsersError) -> Self {
        match e {
            UsersError::EmailTaken => ApiError::Conflict(e.to_string()),
            UsersError::BadCredentials | UsersError::UnknownSession | UsersError::SessionExpired => {
                ApiError::Unauthorized(e.to_string())
            }
            UsersError::UnknownUser { .. } => ApiError::NotFound(e.to_string()),
            UsersError::Store(_) | UsersError::Hash(_) | UsersError::Event(_) => ApiError::internal(e),
        }
    }
}
