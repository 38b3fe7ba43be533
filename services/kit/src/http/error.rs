//! The one error type HTTP handlers return, and the one place it becomes a
//! status code and a JSON body.

use axum::Json;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::json;

use crate::bus::consumer::BoxError;

/// An error answered to a caller. Client errors carry a message a person
/// can act on (and the field at fault, when there is one); an internal error
/// is logged with its whole chain and answered as an opaque 500.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    #[error("{message}")]
    BadRequest { field: Option<String>, message: String },
    #[error("{message}")]
    Unprocessable { field: Option<String>, message: String },
    #[error("{0}")]
    Unauthorized(String),
    /// The caller is known, and not allowed this.
    #[error("{0}")]
    Forbidden(String),
    #[error("{0}")]
    NotFound(String),
    #[error("{0}")]
    Conflict(String),
    #[error("{0}")]
    UnsupportedMediaType(String),
    #[error("the request body is larger than {limit} bytes")]
    PayloadTooLarge { limit: usize },
    /// Over a rate limit: answered 429 with `Retry-After`.
    #[error("too many attempts; try again in {} s", .retry_after.as_secs())]
    TooManyRequests { retry_after: std::time::Duration },
    /// A service this one depends on could not answer.
    #[error("{0}")]
    Unavailable(String),
    #[error("internal error")]
    Internal(#[source] BoxError),
}

impl ApiError {
    pub fn invalid(field: &str, message: impl Into<String>) -> ApiError {
        ApiError::Unprocessable { field: Some(field.to_owned()), message: message.into() }
    }

    pub fn internal(e: impl Into<BoxError>) -> ApiError {
        ApiError::Internal(e.into())
    }

    pub fn status(&self) -> StatusCode {
        match self {
            ApiError::BadRequest { .. } => StatusCode::BAD_REQUEST,
            ApiError::Unprocessable { .. } => StatusCode::UNPROCESSABLE_ENTITY,
            ApiError::Unauthorized(_) => StatusCode::UNAUTHORIZED,
            ApiError::Forbidden(_) => StatusCode::FORBIDDEN,
            ApiError::NotFound(_) => StatusCode::NOT_FOUND,
            ApiError::Conflict(_) => StatusCode::CONFLICT,
            ApiError::UnsupportedMediaType(_) => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            ApiError::PayloadTooLarge { .. } => StatusCode::PAYLOAD_TOO_LARGE,
            ApiError::TooManyRequests { .. } => StatusCode::TOO_MANY_REQUESTS,
            ApiError::Unavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
            ApiError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }
}

impl From<crate::store::StoreError> for ApiError {
    fn from(e: crate::store::StoreError) -> Self {
        ApiError::internal(e)
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let status = self.status();
        let field = match &self {
            ApiError::BadRequest { field, .. } | ApiError::Unprocessable { field, .. } => field.clone(),
            _ => None,
        };
        if let ApiError::Internal(e) = &self {
            tracing::error!(error = crate::error_chain(e.as_ref()), "request failed");
        } else if status.is_server_error() {
            tracing::warn!(error = %self, "request failed");
        }
        let mut body = json!({ "error": self.to_string() });
        if let Some(field) = field {
            body["field"] = json!(field);
        }
        let mut response = (status, Json(body)).into_response();
        if let ApiError::TooManyRequests { retry_after } = &self {
            response.headers_mut().insert(axum::http::header::RETRY_AFTER, retry_after.as_secs().max(1).into());
        }
        response
    }
}
