//! HAL: the links every answer carries, the base URL they start from (the
//! `Host` the client used, so a link works from where it was asked), and
//! the `application/hal+json` answer the Pact clients require.

use axum::extract::FromRequestParts;
use axum::http::StatusCode;
use axum::http::request::Parts;
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

/// `http://HOST` as the client addressed the broker.
#[derive(Debug, Clone)]
pub struct Base(pub String);

impl<S: Send + Sync> FromRequestParts<S> for Base {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        let host = parts.headers.get("host").and_then(|h| h.to_str().ok()).unwrap_or("127.0.0.1");
        Ok(Base(format!("http://{host}")))
    }
}

impl Base {
    /// An absolute URL of `path` segments, each percent-encoded.
    pub fn url(&self, segments: &[&str]) -> String {
        let mut url = self.0.clone();
        for s in segments {
            url.push('/');
            url.push_str(&encode(s));
        }
        url
    }

    /// A link to `segments`.
    pub fn link(&self, segments: &[&str]) -> Value {
        json!({ "href": self.url(segments) })
    }

    /// A link with a name and a title, as the Pact Broker gives them.
    pub fn named(&self, segments: &[&str], name: &str, title: &str) -> Value {
        json!({ "href": self.url(segments), "name": name, "title": title })
    }

    /// A templated link: `template` is appended to the base as it is.
    pub fn template(&self, template: &str) -> Value {
        json!({ "href": format!("{}{template}", self.0), "templated": true })
    }

    pub fn pacticipant(&self, name: &str) -> Value {
        json!({ "href": self.url(&["pacticipants", name]), "name": name, "title": "Pacticipant" })
    }

    pub fn version(&self, pacticipant: &str, number: &str) -> Value {
        json!({ "href": self.url(&["pacticipants", pacticipant, "versions", number]), "name": number,
                "title": "Version" })
    }

    /// A pact version: the document a verifier fetches and verifies.
    pub fn pact_version(&self, provider: &str, consumer: &str, sha: &str) -> String {
        self.url(&["pacts", "provider", provider, "consumer", consumer, "pact-version", sha])
    }
}

/// Percent-encodes a path segment (all but RFC 3986's unreserved characters).
pub fn encode(segment: &str) -> String {
    let mut out = String::with_capacity(segment.len());
    for b in segment.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// A HAL+JSON answer.
pub fn hal(status: StatusCode, body: Value) -> Response {
    (status, [("content-type", "application/hal+json;charset=utf-8")], body.to_string()).into_response()
}

pub fn ok(body: Value) -> Response {
    hal(StatusCode::OK, body)
}
