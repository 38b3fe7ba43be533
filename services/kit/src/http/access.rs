//! Who may call what, as a service's manifest (`service.toml`) says, and
//! the one check that holds every request to it:
//!
//! - `[[grants]]` name a calling service and the endpoints it may call
//!   (`service = "store"`, `endpoints = ["GET /sessions/current"]`). An
//!   endpoint granted to anyone answers only a caller proving a service
//!   identity ([`super::identity`]): 401 without one, or with a bad or
//!   expired one; 403, naming the caller, to a proven caller the manifest
//!   does not grant that endpoint.
//! - `operator = ["POST /devices", …]` lists what only an operator may
//!   call: `Authorization: Bearer <operator token>`, whose SHA-256 the
//!   service holds (`FARE_OPERATOR_SHA256`), never the token. Bearer, the
//!   standard credential header, because every tool sends it (curl,
//!   Prometheus's `credentials_file`) and the kit's redaction masks it.
//! - Every other endpoint is the service's own business (a user's session,
//!   or nothing).
//!
//! The service embeds the very file `fare` reads (`include_str!`), so the
//! grants a service enforces are the grants the topology check reads.

use std::fmt;
use std::str::FromStr;
use std::sync::Arc;

use axum::extract::{Request, State};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use sha2::{Digest, Sha256};

use super::ApiError;
use super::identity::{HEADER, KeyError, Verifier};
use crate::config::Config;

/// The SHA-256 (hex) of the operator token.
pub const OPERATOR_VAR: &str = "FARE_OPERATOR_SHA256";

const METHODS: &[&str] = &["GET", "POST", "PUT", "PATCH", "DELETE"];

/// `GET /users/{user_id}/contact`: a method and a path whose `{…}`
/// segments match any one segment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Endpoint {
    method: String,
    path: String,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0:?} is not an endpoint; expected `METHOD /path` with METHOD one of GET, POST, PUT, PATCH, DELETE")]
pub struct BadEndpoint(String);

impl FromStr for Endpoint {
    type Err = BadEndpoint;

    fn from_str(s: &str) -> Result<Endpoint, BadEndpoint> {
        let bad = || BadEndpoint(s.to_owned());
        let (method, path) = s.trim().split_once(' ').ok_or_else(bad)?;
        let path = path.trim();
        let path_ok = path.starts_with('/') && !path.contains(['?', '#', ' ']);
        if !METHODS.contains(&method) || !path_ok {
            return Err(bad());
        }
        Ok(Endpoint { method: method.to_owned(), path: path.to_owned() })
    }
}

impl<'de> Deserialize<'de> for Endpoint {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Endpoint, D::Error> {
        let text = String::deserialize(d)?;
        text.parse().map_err(serde::de::Error::custom)
    }
}

impl fmt::Display for Endpoint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}", self.method, self.path)
    }
}

impl Endpoint {
    pub fn method(&self) -> &str {
        &self.method
    }

    pub fn path(&self) -> &str {
        &self.path
    }

    /// Whether a request `method path` (a concrete path, no query) is this endpoint.
    pub fn matches(&self, method: &str, path: &str) -> bool {
        let method = if method.eq_ignore_ascii_case("HEAD") { "GET" } else { method };
        if !self.method.eq_ignore_ascii_case(method) {
            return false;
        }
        let path = path.split(['?', '#']).next().unwrap_or_default();
        let (want, got): (Vec<&str>, Vec<&str>) = (self.path.split('/').collect(), path.split('/').collect());
        want.len() == got.len()
            && want.iter().zip(&got).all(|(w, g)| (w.starts_with('{') && w.ends_with('}') && !g.is_empty()) || w == g)
    }
}

/// Endpoints of this service that `service` may call.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Grant {
    pub service: String,
    pub endpoints: Vec<Endpoint>,
}

/// What a manifest says of access: its grants and its operator endpoints.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
pub struct AccessRules {
    #[serde(default)]
    pub grants: Vec<Grant>,
    #[serde(default)]
    pub operator: Vec<Endpoint>,
}

#[derive(Debug, thiserror::Error)]
pub enum AccessError {
    #[error("the embedded service.toml: {0}")]
    Manifest(String),
    #[error(transparent)]
    Key(#[from] KeyError),
}

impl AccessRules {
    /// The access part of a manifest's text; the rest is `fare`'s to check.
    pub fn from_manifest(text: &str) -> Result<AccessRules, AccessError> {
        toml::from_str(text).map_err(|e: toml::de::Error| AccessError::Manifest(e.message().to_owned()))
    }

    /// The grant `method path` falls under for `caller`, if any.
    pub fn granted(&self, caller: &str, method: &str, path: &str) -> bool {
        self.grants.iter().any(|g| g.service == caller && g.endpoints.iter().any(|e| e.matches(method, path)))
    }

    /// The endpoint granted to some service that `method path` is.
    pub fn service_endpoint(&self, method: &str, path: &str) -> Option<&Endpoint> {
        self.grants.iter().flat_map(|g| &g.endpoints).find(|e| e.matches(method, path))
    }

    pub fn operator_endpoint(&self, method: &str, path: &str) -> Option<&Endpoint> {
        self.operator.iter().find(|e| e.matches(method, path))
    }
}

/// The SHA-256 of an operator token, hex: what a service is handed.
pub fn operator_digest(token: &str) -> String {
    Sha256::digest(token.as_bytes()).iter().map(|b| format!("{b:02x}")).collect()
}

/// One service's access check: its rules, its callers' keys, the operator
/// token's digest.
#[derive(Debug, Clone)]
pub struct Access {
    service: String,
    rules: AccessRules,
    callers: Verifier,
    operator: Option<String>,
}

/// The caller a request proved, for handlers that care (an extension).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CallingService(pub String);

impl Access {
    /// From the service's embedded manifest and its configuration
    /// (`FARE_CALLER_KEYS`, `FARE_OPERATOR_SHA256`).
    pub fn load(config: &Config, manifest: &str) -> Result<Access, AccessError> {
        let rules = AccessRules::from_manifest(manifest)?;
        let operator = config.get(OPERATOR_VAR).map(|d| d.trim().to_ascii_lowercase());
        if operator.as_ref().is_some_and(|d| d.len() != 64 || !d.bytes().all(|b| b.is_ascii_hexdigit())) {
            let why = "expected the SHA-256 of the operator token, 64 hex digits".into();
            return Err(KeyError::Invalid { var: OPERATOR_VAR, why }.into());
        }
        let access =
            Access { service: config.service().to_owned(), rules, callers: Verifier::from_config(config)?, operator };
        access.warn_unreachable();
        Ok(access)
    }

    /// Says at start what will answer nobody for want of a key.
    fn warn_unreachable(&self) {
        if !self.rules.operator.is_empty() && self.operator.is_none() {
            tracing::warn!("{OPERATOR_VAR} is not set: the operator endpoints answer 401 to everyone");
        }
        for g in &self.rules.grants {
            if !self.callers.callers().any(|c| c == g.service) {
                tracing::warn!(caller = g.service, "no key for a granted caller: its calls will be refused");
            }
        }
    }

    pub fn rules(&self) -> &AccessRules {
        &self.rules
    }

    /// The check of one request: `Ok(Some(caller))` for a proven service,
    /// `Ok(None)` for an endpoint that needs no service or operator.
    pub fn check(&self, method: &str, path: &str, headers: &axum::http::HeaderMap) -> Result<Option<String>, ApiError> {
        if let Some(endpoint) = self.rules.operator_endpoint(method, path) {
            let presented = super::bearer(headers).map(operator_digest);
            return match (&self.operator, presented) {
                (Some(want), Some(got)) if *want == got => Ok(None),
                (None, _) => Err(ApiError::Unauthorized(format!(
                    "{endpoint} is for operators, and {} holds no operator credential ({OPERATOR_VAR} is not set)",
                    self.service
                ))),
                _ => Err(ApiError::Unauthorized(format!(
                    "{endpoint} is for operators: send `Authorization: Bearer <operator token>` \
                     (`fare up` writes it to .fare/<namespace>/operator-token)"
                ))),
            };
        }
        let Some(endpoint) = self.rules.service_endpoint(method, path) else { return Ok(None) };
        let token = headers.get(HEADER).and_then(|v| v.to_str().ok()).filter(|t| !t.trim().is_empty());
        let token = token.ok_or_else(|| ApiError::Unauthorized(super::identity::Refusal::Missing.to_string()))?;
        let caller = self.callers.verify(token).map_err(|r| ApiError::Unauthorized(r.to_string()))?;
        if !self.rules.granted(&caller, method, path) {
            return Err(ApiError::Forbidden(format!(
                "{caller} may not call {endpoint}: {}'s manifest does not grant it to {caller}",
                self.service
            )));
        }
        Ok(Some(caller))
    }
}

/// Middleware: [`Access::check`] before the handler.
pub async fn enforce(State(access): State<Arc<Access>>, mut req: Request, next: Next) -> Response {
    let method = req.method().as_str().to_owned();
    match access.check(&method, req.uri().path(), req.headers()) {
        Ok(caller) => {
            if let Some(caller) = caller {
                tracing::debug!(caller, "service identity proven");
                req.extensions_mut().insert(CallingService(caller));
            }
            next.run(req).await
        }
        Err(refusal) => {
            tracing::info!(status = refusal.status().as_u16(), reason = %refusal, "refused");
            refusal.into_response()
        }
    }
}

#[cfg(test)]
mod tests {
    use axum::http::{HeaderMap, HeaderValue};

    use super::super::identity::{ServiceKey, Signer};
    use super::*;

    const MANIFEST: &str = r#"
name = "users"
description = "d"
operator = ["POST /devices"]

[[grants]]
service = "store"
endpoints = ["GET /sessions/current"]

[[grants]]
service = "mailer"
endpoints = ["GET /users/{user_id}/contact"]
"#;

    #[test]
    fn endpoints_parse_and_match_concrete_paths() {
        let e: Endpoint = "GET /users/{user_id}/contact".parse().unwrap();
        assert!(e.matches("GET", "/users/u-1/contact"));
        assert!(e.matches("HEAD", "/users/u-1/contact?x=1"));
        assert!(!e.matches("POST", "/users/u-1/contact"));
        assert!(!e.matches("GET", "/users//contact"));
        assert!(!e.matches("GET", "/users/u-1"));
        assert!(!e.matches("GET", "/users/u-1/contact/more"));
        for bad in ["FETCH /x", "GET x", "GET", "get /x", "GET /x?y=1"] {
            assert!(bad.parse::<Endpoint>().is_err(), "{bad}");
        }
    }

    fn access(with_keys: bool) -> (Access, ServiceKey, ServiceKey) {
        let secret = ServiceKey::random();
        let (store, mailer) = (ServiceKey::derive(&secret, "store"), ServiceKey::derive(&secret, "mailer"));
        let mut config = Config::defaults("users", &[]).with(OPERATOR_VAR, operator_digest("op-token"));
        if with_keys {
            let keys = super::super::identity::caller_keys_value([("store", &store), ("mailer", &mailer)]);
            config = config.with(super::super::identity::CALLER_KEYS_VAR, keys);
        }
        (Access::load(&config, MANIFEST).unwrap(), store, mailer)
    }

    fn headers(pairs: &[(&'static str, String)]) -> HeaderMap {
        pairs.iter().map(|(k, v)| (axum::http::HeaderName::from_static(k), HeaderValue::from_str(v).unwrap())).collect()
    }

    fn status(r: Result<Option<String>, ApiError>) -> u16 {
        r.map(|_| 200).unwrap_or_else(|e| e.status().as_u16())
    }

    #[test]
    fn granted_endpoints_answer_only_the_callers_granted_them() {
        let (access, store, mailer) = access(true);
        let contact = "/users/u-1/contact";
        let as_mailer = headers(&[(HEADER, Signer::new("mailer", mailer).token("users"))]);
        let as_store = headers(&[(HEADER, Signer::new("store", store).token("users"))]);
        assert_eq!(access.check("GET", contact, &as_mailer).unwrap(), Some("mailer".to_owned()));
        let refused = access.check("GET", contact, &as_store).unwrap_err();
        assert_eq!(refused.status().as_u16(), 403);
        assert_eq!(
            refused.to_string(),
            "store may not call GET /users/{user_id}/contact: users's manifest does not grant it to store"
        );
        let missing = access.check("GET", contact, &HeaderMap::new()).unwrap_err();
        assert_eq!((missing.status().as_u16(), missing.to_string().starts_with("no service identity")), (401, true));
        let stranger = headers(&[(HEADER, Signer::new("devices", ServiceKey::random()).token("users"))]);
        assert_eq!(status(access.check("GET", contact, &stranger)), 401);
        // Not granted to anyone, not for operators: the service's own business.
        assert_eq!(access.check("POST", "/sessions", &HeaderMap::new()).unwrap(), None);
    }

    #[test]
    fn without_caller_keys_a_granted_endpoint_answers_nobody() {
        let (access, _, mailer) = access(false);
        let as_mailer = headers(&[(HEADER, Signer::new("mailer", mailer).token("users"))]);
        assert_eq!(status(access.check("GET", "/users/u-1/contact", &as_mailer)), 401);
    }

    #[test]
    fn operator_endpoints_take_the_operator_token_only() {
        let (access, _, _) = access(true);
        let bearer = |t: &str| headers(&[("authorization", format!("Bearer {t}"))]);
        assert_eq!(status(access.check("POST", "/devices", &bearer("op-token"))), 200);
        assert_eq!(status(access.check("POST", "/devices", &bearer("a-users-session"))), 401);
        assert_eq!(status(access.check("POST", "/devices", &HeaderMap::new())), 401);
        let config = Config::defaults("devices", &[]);
        let unset = Access::load(&config, MANIFEST).unwrap();
        assert_eq!(status(unset.check("POST", "/devices", &bearer("op-token"))), 401);
    }
}
