//! What can go wrong in the broker, and how each answers a client: the
//! Pact Broker's shape, `{"errors": {"field": ["message"]}}`, which every
//! Pact client prints.

use std::net::SocketAddr;

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::json;

use crate::db::StoreError;

#[derive(Debug, thiserror::Error)]
pub enum BrokerError {
    #[error("binding {addr}: {source}")]
    Bind {
        addr: SocketAddr,
        #[source]
        source: std::io::Error,
    },
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("no {what} `{name}`")]
    NotFound { what: &'static str, name: String },
    #[error("{field}: {message}")]
    Invalid { field: String, message: String },
    #[error("{field}: {message}")]
    Conflict { field: String, message: String },
}

impl BrokerError {
    pub fn invalid(field: &str, message: impl Into<String>) -> BrokerError {
        BrokerError::Invalid { field: field.to_owned(), message: message.into() }
    }

    pub fn not_found(what: &'static str, name: impl Into<String>) -> BrokerError {
        BrokerError::NotFound { what, name: name.into() }
    }
}

impl From<rusqlite::Error> for BrokerError {
    fn from(e: rusqlite::Error) -> Self {
        BrokerError::Store(e.into())
    }
}

impl IntoResponse for BrokerError {
    fn into_response(self) -> Response {
        let (status, field) = match &self {
            BrokerError::NotFound { what, .. } => (StatusCode::NOT_FOUND, (*what).to_owned()),
            BrokerError::Invalid { field, .. } => (StatusCode::BAD_REQUEST, field.clone()),
            BrokerError::Conflict { field, .. } => (StatusCode::CONFLICT, field.clone()),
            BrokerError::Bind { .. } | BrokerError::Store(_) => {
                tracing::error!(error = error_chain(&self), "fare broker failed");
                (StatusCode::INTERNAL_SERVER_ERROR, "error".to_owned())
            }
        };
        let message = match &self {
            BrokerError::Invalid { message, .. } | BrokerError::Conflict { message, .. } => message.clone(),
            BrokerError::NotFound { .. } => self.to_string(),
            BrokerError::Bind { .. } | BrokerError::Store(_) => "the broker failed; its log says why".to_owned(),
        };
        let body = json!({ "errors": { field: [message] } });
        (status, [("content-type", "application/hal+json")], body.to_string()).into_response()
    }
}

/// `error: its source: its source's source…`, a source left out when the
/// text before already says it (as `#[error(transparent)]` and `{source}` do).
fn error_chain(error: &(dyn std::error::Error + 'static)) -> String {
    let mut out = error.to_string();
    let mut source = error.source();
    while let Some(e) = source {
        let text = e.to_string();
        if !out.contains(&text) {
            out.push_str(": ");
            out.push_str(&text);
        }
        source = e.source();
    }
    out
}
