//! The requests that entered the platform from outside (a user, a
//! scenario, curl): the kit marks their `request` spans `edge` and keeps on
//! them, masked, the JSON sent and answered, whether a session was shown,
//! and whose it was. `fare trace --as-scenario` writes steps from them.

use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::SpanRecord;
use super::saved::SavedRecord;

/// One request from outside and its answer, as its span tells it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Exchange {
    pub correlation_id: String,
    /// The service that served it.
    pub service: String,
    pub method: String,
    pub path: String,
    /// Its query string, masked, if it had one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub query: Option<String>,
    pub status: Option<u16>,
    /// It carried `Authorization: Bearer …` (the credential is never kept).
    pub signed_in: bool,
    /// The user its session belonged to, when the service checked it.
    pub user_id: Option<String>,
    /// The JSON it sent, masked.
    pub request: Option<Value>,
    /// The JSON it was answered, masked.
    pub response: Option<Value>,
    pub start_unix_nanos: u64,
}

impl Exchange {
    /// The exchange `span` records, if it is an edge request's.
    pub fn of(span: &SpanRecord) -> Option<Exchange> {
        if span.name != "request" || span.attr("edge") != Some("true") {
            return None;
        }
        let json = |key: &str| span.attr(key).and_then(|text| serde_json::from_str(text).ok());
        Some(Exchange {
            correlation_id: span.attr("correlation_id")?.to_owned(),
            service: span.service.clone(),
            method: span.attr("method").unwrap_or("GET").to_owned(),
            path: span.attr("path").unwrap_or("/").to_owned(),
            query: span.attr("query").map(str::to_owned),
            status: span.logged("status").and_then(|v| v.parse().ok()),
            signed_in: span.attr("auth") == Some("bearer"),
            user_id: span.attr("user_id").map(str::to_owned),
            request: json("request_body"),
            response: json("response_body"),
            start_unix_nanos: span.start_unix_nanos,
        })
    }

    /// Whether it belongs to the chain `correlation_id` or one under it
    /// (`<id>.<label>`).
    pub fn in_family(&self, correlation_id: &str) -> bool {
        in_family(&self.correlation_id, correlation_id)
    }
}

/// Whether `id` is `base` or a chain under it (`<base>.<label>`).
pub fn in_family(id: &str, base: &str) -> bool {
    id == base || id.strip_prefix(base).is_some_and(|rest| rest.starts_with('.'))
}

impl SavedRecord {
    /// Every request from outside, in the order they began.
    pub fn exchanges(&self) -> Vec<Exchange> {
        let mut all: Vec<Exchange> = self.spans.iter().filter_map(Exchange::of).collect();
        all.sort_by_key(|e| e.start_unix_nanos);
        all
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;

    #[test]
    fn only_an_edge_requests_span_is_an_exchange() {
        let attributes: BTreeMap<String, String> = [
            ("edge", "true"),
            ("correlation_id", "c-1.signup"),
            ("method", "POST"),
            ("path", "/users"),
            ("request_body", r#"{"email":"<email>","password":"<redacted>"}"#),
            ("response_body", r#"{"user_id":"u-1"}"#),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect();
        let mut span = SpanRecord {
            service: "users".into(),
            name: "request".into(),
            trace_id: String::new(),
            span_id: String::new(),
            parent_span_id: String::new(),
            start_unix_nanos: 1,
            end_unix_nanos: 2,
            attributes,
            events: vec![("served".into(), [("status".to_owned(), "201".to_owned())].into())],
        };
        let e = Exchange::of(&span).unwrap();
        assert_eq!(
            (e.status, e.signed_in, e.response.as_ref().unwrap()["user_id"].as_str()),
            (Some(201), false, Some("u-1"))
        );
        assert!(e.in_family("c-1") && !e.in_family("c-") && !e.in_family("c-1.signup.x"));
        span.attributes.remove("edge");
        assert_eq!(Exchange::of(&span), None, "a call between services is no edge request");
    }
}
