//! Correlation of HTTP requests: the `X-Correlation-ID` a caller sent (or a
//! new one), a request id, a span carrying both, and the id echoed back.

use std::time::Instant;

use axum::extract::{FromRequestParts, Request};
use axum::http::HeaderValue;
use axum::http::request::Parts;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use tracing::Instrument;
use uuid::Uuid;

use super::ApiError;
use crate::envelope::CorrelationId;

pub const CORRELATION_HEADER: &str = "x-correlation-id";

/// Who asked, in which chain: what a handler needs to carry the chain on.
#[derive(Debug, Clone)]
pub struct RequestContext {
    pub correlation_id: CorrelationId,
    /// This request's own id: the `causation_id` of events it causes.
    pub request_id: String,
}

impl RequestContext {
    /// A context for work that starts outside any request (background
    /// pollers): a new chain.
    pub fn detached() -> RequestContext {
        RequestContext { correlation_id: CorrelationId::generate(), request_id: Uuid::new_v4().to_string() }
    }
}

impl<S: Send + Sync> FromRequestParts<S> for RequestContext {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        parts
            .extensions
            .get::<RequestContext>()
            .cloned()
            .ok_or_else(|| ApiError::internal("the correlation middleware is not installed"))
    }
}

/// Middleware: every request runs inside a span with its correlation id.
pub async fn correlate(mut req: Request, next: Next) -> Response {
    let correlation_id = match req.headers().get(CORRELATION_HEADER).map(|v| v.to_str()) {
        None => CorrelationId::generate(),
        Some(Ok(value)) => match CorrelationId::parse(value) {
            Ok(id) => id,
            Err(e) => return bad_header(e.to_string()),
        },
        Some(Err(_)) => return bad_header("X-Correlation-ID is not visible ASCII".into()),
    };
    let request_id = Uuid::new_v4().to_string();
    let span = tracing::info_span!(
        "request",
        method = %req.method(),
        path = %req.uri().path(),
        correlation_id = %correlation_id,
        request_id,
    );
    let traceparent = req.headers().get("traceparent").and_then(|v| v.to_str().ok());
    crate::telemetry::adopt_parent(&span, traceparent);
    let header = HeaderValue::from_str(correlation_id.as_str()).expect("a parsed correlation id is a valid header");
    req.extensions_mut().insert(RequestContext { correlation_id, request_id });
    let started = Instant::now();
    let mut response = next.run(req).instrument(span.clone()).await;
    span.in_scope(|| {
        tracing::info!(status = response.status().as_u16(), elapsed_ms = started.elapsed().as_millis() as u64, "served")
    });
    response.headers_mut().insert(CORRELATION_HEADER, header);
    response
}

fn bad_header(message: String) -> Response {
    ApiError::BadRequest { field: Some("X-Correlation-ID".into()), message }.into_response()
}
