//! Asking the users service for a user's contact:
//! `GET /users/{user_id}/contact` → `{user_id, email, name}`.

use axum::http::{Method, StatusCode};
use kit::CorrelationId;
use kit::http::{CallError, ServiceClient};
use serde::Deserialize;

use crate::domain::{Email, UserId};

#[derive(Debug, Clone, Deserialize)]
pub struct Contact {
    pub user_id: UserId,
    pub email: Email,
    pub name: String,
}

#[derive(Debug, thiserror::Error)]
pub enum UsersError {
    /// No such user: asking again will not make one.
    #[error("users knows no user {0}")]
    Unknown(UserId),
    #[error("users refused the contact of {user_id} with {status}: {body}")]
    Refused { user_id: UserId, status: StatusCode, body: String },
    /// Down, failing, or answering what its API does not say: its problem,
    /// worth asking again.
    #[error(transparent)]
    Unavailable(#[from] CallError),
    #[error("users answered with the contact of {answered} when asked for {asked}")]
    WrongUser { asked: UserId, answered: UserId },
}

#[derive(Debug, Clone)]
pub struct Users {
    client: ServiceClient,
}

impl Users {
    pub fn new(client: ServiceClient) -> Users {
        Users { client }
    }

    pub async fn contact(&self, user_id: &UserId, correlation: &CorrelationId) -> Result<Contact, UsersError> {
        let path = format!("/users/{user_id}/contact");
        let resp = self.client.call::<()>(Method::GET, &path, correlation, None, &[]).await?;
        let status = resp.status();
        if status == StatusCode::NOT_FOUND {
            return Err(UsersError::Unknown(user_id.clone()));
        }
        if !status.is_success() {
            let body = kit::http::excerpt(resp).await;
            return Err(UsersError::Refused { user_id: user_id.clone(), status, body });
        }
        let (_, contact): (_, Contact) = self.client.parse(Method::GET, &path, resp).await?;
        if &contact.user_id != user_id {
            return Err(UsersError::WrongUser { asked: user_id.clone(), answered: contact.user_id });
        }
        Ok(contact)
    }
}
