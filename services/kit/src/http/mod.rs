//! HTTP in and out: the one `ApiError`, the JSON extractor that names the
//! bad field, correlation of requests, the client services use to ask
//! each other and their third parties, the service identity those calls
//! carry, the access check a manifest's grants make of them, and the
//! session check of every endpoint that serves a user's data.

pub mod access;
mod bearer;
mod client;
mod correlation;
mod error;
pub mod identity;
mod json;
mod session;

pub use access::{Access, CallingService, Endpoint, Grant};
pub use bearer::{HEADER as BEARER_HEADER, bearer, header_value as bearer_header};
pub use client::{CallError, ClientOptions, ServiceClient, excerpt};
pub use correlation::{CORRELATION_HEADER, RequestContext, correlate};
pub use error::ApiError;
pub use identity::{HEADER as IDENTITY_HEADER, Signer};
pub use json::Json;
pub use session::{AuthError, Caller, Reader, Sessions, UserRecords};
