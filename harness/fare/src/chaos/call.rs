//! Why a call the load or the ledger made to a service of the platform did
//! not give what was asked.

use std::sync::Arc;

use reqwest::StatusCode;

#[derive(Debug, Clone, thiserror::Error)]
pub enum CallError {
    #[error("no service {0}")]
    NoService(String),
    /// No answer, or one that is not JSON. Shown with its causes, as
    /// reqwest's own message leaves out why ("error sending request");
    /// shared, as what depends on a failed read fails for the same reason.
    #[error("{}", kit::error_chain(.0.as_ref()))]
    Http(#[source] Arc<reqwest::Error>),
    #[error("{request} answered {status}")]
    Answered { request: String, status: StatusCode },
    #[error("no `{0}` in the answer")]
    Missing(&'static str),
}

impl CallError {
    /// Refused (a 4xx): asking again will not help. Anything else may have
    /// been done, or may work later.
    pub fn refused(&self) -> bool {
        matches!(self, CallError::Answered { status, .. } if status.is_client_error())
    }
}

impl From<reqwest::Error> for CallError {
    fn from(e: reqwest::Error) -> CallError {
        CallError::Http(Arc::new(e))
    }
}
