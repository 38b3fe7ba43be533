//! What a replayed request presents beyond what its pact says, as the real
//! consumer's request would: the consumer's service identity, signed for
//! this run (a pact holds none, or a fake example), on a call to an
//! endpoint the provider grants; and the run's operator token on a call to
//! an operator endpoint that sends no `Authorization` of its own.
//!
//! Verifying pact files, the consumer is the pact's. Verifying what a
//! broker selects, one `pact_verifier` run covers every consumer, and the
//! request alone is seen: the identity is then that of the service the
//! provider grants the endpoint (the first, if it grants several).

use std::collections::HashMap;
use std::sync::Arc;

use either::Either;
use hyper::body::Bytes;
use kit::http::{Endpoint, Grant};
use pact_models::bodies::OptionalBody;
use pact_models::v4::http_parts::HttpRequest;
use pact_verifier::callback_executors::RequestFilterExecutor;
use serde_json::Value;

use crate::manifest::Manifest;
use crate::runtime::Credentials;

#[derive(Debug)]
pub struct Present {
    provider: String,
    grants: Vec<Grant>,
    operator: Vec<Endpoint>,
    consumer: Consumer,
    credentials: Credentials,
}

#[derive(Debug)]
enum Consumer {
    /// A service of the platform: its identity on every call.
    Service(String),
    /// A frontend, a partner: no service identity.
    Outsider,
    /// Not known (a broker's pacts): the identity the grant implies.
    Any,
}

impl Present {
    /// For `provider`'s pacts with `consumer` (`None`: any consumer).
    pub fn new(provider: &str, consumer: Option<&str>, manifests: &[Manifest], credentials: &Credentials) -> Present {
        let manifest = manifests.iter().find(|m| m.name == provider);
        let consumer = match consumer {
            Some(c) if manifests.iter().any(|m| m.name == c) => Consumer::Service(c.to_owned()),
            Some(_) => Consumer::Outsider,
            None => Consumer::Any,
        };
        Present {
            provider: provider.to_owned(),
            grants: manifest.map(|m| m.grants.clone()).unwrap_or_default(),
            operator: manifest.map(|m| m.operator.clone()).unwrap_or_default(),
            consumer,
            credentials: credentials.clone(),
        }
    }

    /// Whose identity `method path` is sent with, if anyone's.
    fn caller(&self, method: &str, path: &str) -> Option<&str> {
        match &self.consumer {
            Consumer::Service(name) => return Some(name),
            Consumer::Outsider => return None,
            Consumer::Any => {}
        }
        let granted = |g: &&Grant| g.endpoints.iter().any(|e| e.matches(method, path));
        self.grants.iter().find(granted).map(|g| g.service.as_str())
    }

    /// `request` with what it presents.
    pub fn apply(&self, request: &HttpRequest) -> HttpRequest {
        let mut request = request.clone();
        let (method, path) = (request.method.to_ascii_uppercase(), request.path.clone());
        let headers = request.headers.get_or_insert_with(HashMap::new);
        if let Some(caller) = self.caller(&method, &path) {
            let ttl = kit::http::identity::MAX_TTL;
            let token = self.credentials.signer(caller).token_lasting(&self.provider, ttl);
            headers.retain(|k, _| !k.eq_ignore_ascii_case(kit::http::IDENTITY_HEADER));
            headers.insert(kit::http::IDENTITY_HEADER.to_owned(), vec![token]);
        }
        let has_authorization = headers.keys().any(|k| k.eq_ignore_ascii_case("authorization"));
        if !has_authorization && self.operator.iter().any(|e| e.matches(&method, &path)) {
            let bearer = kit::http::bearer_header(self.credentials.operator_token());
            headers.insert("Authorization".to_owned(), vec![bearer]);
        }
        request
    }
}

impl RequestFilterExecutor for Present {
    fn call(self: Arc<Self>, request: &HttpRequest) -> HttpRequest {
        self.apply(request)
    }

    /// Messages go to fare's own stand-in, which asks for nothing.
    fn call_non_http(
        &self,
        body: &OptionalBody,
        metadata: &HashMap<String, Either<Value, Bytes>>,
    ) -> (OptionalBody, HashMap<String, Either<Value, Bytes>>) {
        (body.clone(), metadata.clone())
    }
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::*;

    fn manifests() -> Vec<Manifest> {
        let parse = |name: &str, body: &str| {
            Manifest::parse(Path::new("s.toml"), &format!("name = \"{name}\"\ndescription = \"d\"\n{body}")).unwrap()
        };
        vec![
            parse(
                "users",
                "operator = [\"GET /admin\"]\n[[grants]]\nservice = \"mailer\"\nendpoints = [\"GET /users/{id}/contact\"]\n",
            ),
            parse("mailer", "[[asks]]\nservice = \"users\"\nenv = \"USERS_URL\"\n"),
        ]
    }

    fn request(path: &str, headers: &[(&str, &str)]) -> HttpRequest {
        let headers = headers.iter().map(|(k, v)| ((*k).to_owned(), vec![(*v).to_owned()])).collect();
        HttpRequest { method: "GET".into(), path: path.into(), headers: Some(headers), ..HttpRequest::default() }
    }

    #[test]
    fn a_pact_is_replayed_with_its_consumers_identity_and_an_operator_call_with_the_operator_token() {
        let credentials = Credentials::generate();
        let present = Present::new("users", Some("mailer"), &manifests(), &credentials);
        let sent = present.apply(&request("/users/u-1/contact", &[("X-Service-Token", "v1.mailer.users.1.fake")]));
        let headers = sent.headers.unwrap();
        let token = &headers[kit::http::IDENTITY_HEADER][0];
        assert!(!headers.contains_key("X-Service-Token"), "the pact's fake example is replaced: {headers:?}");
        let users = kit::http::identity::Verifier::new(
            "users",
            [("mailer".to_owned(), credentials.key("mailer"))].into_iter().collect(),
        );
        assert_eq!(users.verify(token), Ok("mailer".to_owned()));
        let admin = present.apply(&request("/admin", &[])).headers.unwrap();
        assert_eq!(admin["Authorization"], [format!("Bearer {}", credentials.operator_token())]);
        let own = present.apply(&request("/admin", &[("authorization", "Bearer a-session")])).headers.unwrap();
        assert_eq!(own["authorization"], ["Bearer a-session"]);
        assert!(!own.contains_key("Authorization"));
        // An outsider's pact presents no service identity; a broker's, the one the grant implies.
        let outsider = Present::new("users", Some("dashboard"), &manifests(), &credentials);
        let any = Present::new("users", None, &manifests(), &credentials);
        assert_eq!(outsider.caller("GET", "/users/u-1/contact"), None);
        assert_eq!(any.caller("GET", "/users/u-1/contact"), Some("mailer"));
        assert_eq!(any.caller("POST", "/users"), None);
    }
}
