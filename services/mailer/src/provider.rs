//! The mail provider: `POST /messages` `{to, subject, body, template}` with
//! `Idempotency-Key: <user id>:<event id>` → 202 `{message_id}`.

use axum::http::{Method, StatusCode};
use kit::CorrelationId;
use kit::http::{CallError, ServiceClient};
use serde::Deserialize;

use crate::mail::Letter;

#[derive(Debug, thiserror::Error)]
pub enum ProviderError {
    /// The provider will not take this mail: sending it again changes nothing.
    #[error("the mail provider refused the mail with {status}: {body}")]
    Refused { status: StatusCode, body: String },
    /// Rate limited or timed out on its side (429, 408): later will do.
    #[error("the mail provider is busy ({status}): {body}")]
    Busy { status: StatusCode, body: String },
    #[error(transparent)]
    Unavailable(#[from] CallError),
}

#[derive(Debug, Deserialize)]
struct Accepted {
    message_id: String,
}

#[derive(Debug, Clone)]
pub struct Provider {
    client: ServiceClient,
}

impl Provider {
    pub fn new(client: ServiceClient) -> Provider {
        Provider { client }
    }

    /// Hands `letter` over; the provider's message id once it accepted.
    /// `idempotency_key` makes a repeat of the same mail a no-op there.
    pub async fn send(
        &self,
        letter: &Letter,
        idempotency_key: &str,
        correlation: &CorrelationId,
    ) -> Result<String, ProviderError> {
        let headers = [("Idempotency-Key", idempotency_key)];
        let resp = self.client.call(Method::POST, "/messages", correlation, Some(letter), &headers).await?;
        let status = resp.status();
        if !status.is_success() {
            let body = kit::http::excerpt(resp).await;
            let busy = matches!(status, StatusCode::TOO_MANY_REQUESTS | StatusCode::REQUEST_TIMEOUT);
            return Err(if busy {
                ProviderError::Busy { status, body }
            } else {
                ProviderError::Refused { status, body }
            });
        }
        let (_, accepted): (_, Accepted) = self.client.parse(Method::POST, "/messages", resp).await?;
        Ok(accepted.message_id)
    }
}
