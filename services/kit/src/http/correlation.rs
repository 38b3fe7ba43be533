//! Correlation of HTTP requests: the `X-Correlation-ID` a caller sent (or a
//! new one), a request id, a span carrying both, and the id echoed back.
//!
//! A request from outside the platform (it carries no service identity)
//! also leaves its exchange on the span, masked ([`crate::redact`]): the
//! JSON it sent and was answered, whether it was signed in, and as whom.
//! That is what `fare trace --as-scenario` writes a scenario's steps from.

use std::time::Instant;

use axum::body::{Body, HttpBody};
use axum::extract::{FromRequestParts, Request};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue};
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
pub async fn correlate(req: Request, next: Next) -> Response {
    let correlation_id = match req.headers().get(CORRELATION_HEADER).map(|v| v.to_str()) {
        None => CorrelationId::generate(),
        Some(Ok(value)) => match CorrelationId::parse(value) {
            Ok(id) => id,
            Err(e) => return bad_header(e.to_string()),
        },
        Some(Err(_)) => return bad_header("X-Correlation-ID is not visible ASCII".into()),
    };
    let request_id = Uuid::new_v4().to_string();
    let empty = tracing::field::Empty;
    let span = tracing::info_span!(
        "request",
        method = %req.method(),
        path = %req.uri().path(),
        correlation_id = %correlation_id,
        request_id,
        edge = empty,
        query = empty,
        auth = empty,
        user_id = empty,
        request_body = empty,
        response_body = empty,
    );
    let edge = from_outside(req.headers(), req.uri().path());
    let query = req.uri().query().filter(|_| edge).map(|q| crate::redact::text(q).into_owned());
    let signed_in = edge && super::bearer(req.headers()).is_some();
    let (mut req, request_body) = if edge { keep_request_body(req).await } else { (req, None) };
    let traceparent = req.headers().get("traceparent").and_then(|v| v.to_str().ok());
    crate::telemetry::adopt_parent(&span, traceparent);
    let header = HeaderValue::from_str(correlation_id.as_str()).expect("a parsed correlation id is a valid header");
    req.extensions_mut().insert(RequestContext { correlation_id, request_id });
    let started = Instant::now();
    let mut response = next.run(req).instrument(span.clone()).await;
    span.in_scope(|| {
        tracing::info!(status = response.status().as_u16(), elapsed_ms = started.elapsed().as_millis() as u64, "served")
    });
    // Recorded after the last log line of the request, so no line repeats them.
    if edge {
        let response_body;
        (response, response_body) = keep_response_body(response).await;
        span.record("edge", true);
        if let Some(query) = &query {
            span.record("query", query.as_str());
        }
        if signed_in {
            span.record("auth", "bearer");
        }
        for (field, body) in [("request_body", request_body), ("response_body", response_body)] {
            if let Some(body) = body {
                span.record(field, body.as_str());
            }
        }
    }
    response.headers_mut().insert(CORRELATION_HEADER, header);
    response
}

/// The most of a body an edge request's span keeps.
const KEPT_BODY: u64 = 8 * 1024;

/// Paths fare and container engines poll; never a user's request.
const PROBES: [&str; 3] = ["/health", "/ready", "/pending"];

/// Whether a request came from outside the platform: it carries no
/// service identity (every call between services does), and is no probe.
fn from_outside(headers: &HeaderMap, path: &str) -> bool {
    !headers.contains_key(super::identity::HEADER) && !PROBES.contains(&path)
}

/// Notes, on the request span, that the caller was authenticated as
/// `user_id` (for an edge request, whose session a scenario must make).
pub(crate) fn record_user(user_id: &str) {
    tracing::Span::current().record("user_id", user_id);
}

/// `bytes` as JSON with every secret masked, if it is JSON.
fn masked_json(bytes: &[u8]) -> Option<String> {
    let mut value: serde_json::Value = serde_json::from_slice(bytes).ok()?;
    crate::redact::json(&mut value);
    Some(value.to_string())
}

/// The request, its body read and put back, and that body masked when it
/// is small JSON; a body of unknown or large size is left unread.
async fn keep_request_body(req: Request) -> (Request, Option<String>) {
    let small = req.body().size_hint().upper().is_some_and(|n| n > 0 && n <= KEPT_BODY);
    if !small {
        return (req, None);
    }
    let (parts, body) = req.into_parts();
    read_back(parts, body, Request::from_parts).await
}

/// The body read, put back by `rebuild`, and masked if it is JSON. A body
/// cut short is put back empty: the handler would have failed to read it too.
async fn read_back<P, T>(parts: P, body: Body, rebuild: fn(P, Body) -> T) -> (T, Option<String>) {
    match axum::body::to_bytes(body, KEPT_BODY as usize).await {
        Ok(bytes) => {
            let kept = masked_json(&bytes);
            (rebuild(parts, Body::from(bytes)), kept)
        }
        Err(_) => (rebuild(parts, Body::empty()), None),
    }
}

/// [`keep_request_body`] for an answer: JSON of a known, small size only.
async fn keep_response_body(response: Response) -> (Response, Option<String>) {
    let json = response
        .headers()
        .get(axum::http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|t| t.starts_with("application/json"));
    let size = response.body().size_hint();
    if !json || size.upper() != Some(size.lower()) || size.lower() > KEPT_BODY {
        return (response, None);
    }
    let (parts, body) = response.into_parts();
    read_back(parts, body, Response::from_parts).await
}

fn bad_header(message: String) -> Response {
    ApiError::BadRequest { field: Some("X-Correlation-ID".into()), message }.into_response()
}

#[cfg(test)]
mod tests {
    use axum::Router;
    use axum::routing::post;
    use tower::ServiceExt;

    use super::*;

    #[test]
    fn a_request_with_a_service_identity_or_to_a_probe_is_not_from_outside() {
        let mut headers = HeaderMap::new();
        assert!(from_outside(&headers, "/orders"));
        assert!(!from_outside(&headers, "/health"));
        headers.insert(super::super::identity::HEADER, HeaderValue::from_static("x"));
        assert!(!from_outside(&headers, "/orders"));
    }

    #[test]
    fn a_kept_body_is_json_with_its_secrets_masked() {
        let body = br#"{"email":"ada@example.com","password":"correct horse","name":"Ada"}"#;
        let kept = masked_json(body).unwrap();
        assert_eq!(kept, r#"{"email":"<email>","name":"Ada","password":"<redacted>"}"#);
        assert_eq!(masked_json(b"not json"), None);
    }

    #[tokio::test]
    async fn an_edge_request_and_its_answer_reach_the_other_side_whole() {
        let echo = Router::new()
            .route("/echo", post(|body: String| async move { ([("content-type", "application/json")], body) }))
            .layer(axum::middleware::from_fn(correlate));
        let sent = r#"{"password":"correct horse","n":1}"#;
        let req = axum::http::Request::builder().method("POST").uri("/echo");
        let req = req.header("content-type", "application/json").body(Body::from(sent)).unwrap();
        let answer = echo.oneshot(req).await.unwrap();
        assert!(answer.headers().contains_key(CORRELATION_HEADER));
        let got = axum::body::to_bytes(answer.into_body(), 1 << 16).await.unwrap();
        assert_eq!(got, sent.as_bytes(), "the middleware reads the bodies and puts them back as they were");
    }
}
