//! HTTP in and out: the one `ApiError`, the JSON extractor that names the
//! bad field, correlation of requests, the client services use to ask
//! each other and their third parties, and the session check of every
//! endpoint that serves a user's data.

mod bearer;
mod client;
mod correlation;
mod error;
mod json;
mod session;

pub use bearer::{HEADER as BEARER_HEADER, bearer, header_value as bearer_header};
pub use client::{CallError, ClientOptions, ServiceClient, excerpt};
pub use correlation::{CORRELATION_HEADER, RequestContext, correlate};
pub use error::ApiError;
pub use json::Json;
pub use session::{AuthError, Caller, Reader, Sessions, UserRecords};
