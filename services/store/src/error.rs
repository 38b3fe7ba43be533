//! What can go wrong with an order request, and the one place each becomes
//! an HTTP answer.

use kit::http::ApiError;
use kit::store::StoreError;

#[derive(Debug, thiserror::Error)]
pub enum OrderError {
    #[error("model: `{model}` is not on sale; the models are {known}")]
    UnknownModel { model: String, known: String },
    /// Also the answer for someone else's order: its existence is not theirs to know.
    #[error("no order {order_id}")]
    NotFound { order_id: String },
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("encoding an event: {0}")]
    Event(#[from] kit::envelope::EnvelopeError),
    #[error("order {order_id} has a stored value that no longer parses: {message}")]
    Corrupt { order_id: String, message: String },
}

impl From<rusqlite::Error> for OrderError {
    fn from(e: rusqlite::Error) -> Self {
        OrderError::Store(e.into())
    }
}

impl From<OrderError> for ApiError {
    fn from(e: OrderError) -> Self {
        match e {
            OrderError::UnknownModel { .. } => ApiError::invalid("model", e.to_string()),
            OrderError::NotFound { .. } => ApiError::NotFound(e.to_string()),
            OrderError::Store(_) | OrderError::Event(_) | OrderError::Corrupt { .. } => ApiError::internal(e),
        }
    }
}
