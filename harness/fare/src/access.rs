//! The access the manifests imply, as rows of an authorisation matrix:
//! for every endpoint a manifest grants to services or keeps for
//! operators, what each kind of caller gets. A test replays the rows
//! against the running platform; the rows come from the same manifests
//! the services embed and enforce, so a grant added is a row added.

use kit::http::Endpoint;

use crate::topology::Topology;

/// Who calls, with what.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Caller {
    /// No service identity, no operator token.
    Nobody,
    /// A valid identity of this service, signed with its key for this run.
    Service(String),
    /// `Authorization: Bearer <the run's operator token>`.
    Operator,
}

/// What the caller gets.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Expect {
    /// Past the access check: the handler answers (200, 404, 422…, never 401 or 403).
    Allowed,
    /// 401: no credential, or one the service cannot verify.
    Unauthorized,
    /// 403: a proven service the manifest does not grant this endpoint.
    Forbidden,
}

/// One row: `caller` calling `endpoint` of `service` gets `expect`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Row {
    pub service: String,
    pub endpoint: Endpoint,
    pub caller: Caller,
    pub expect: Expect,
}

/// Every row the manifests of `topology` imply: for each granted endpoint,
/// nobody (401), each granted caller (allowed), every other service (403
/// if the callee holds its key for another endpoint, else 401) and the
/// operator (401); for each operator endpoint, nobody (401), the operator
/// (allowed) and every service (401).
pub fn rows(topology: &Topology) -> Vec<Row> {
    let services: Vec<&str> = topology.services().map(|m| m.name.as_str()).collect();
    let mut out = Vec::new();
    for m in topology.services() {
        let row = |endpoint: &Endpoint, caller: Caller, expect: Expect| Row {
            service: m.name.clone(),
            endpoint: endpoint.clone(),
            caller,
            expect,
        };
        for endpoint in m.grants.iter().flat_map(|g| &g.endpoints) {
            out.push(row(endpoint, Caller::Nobody, Expect::Unauthorized));
            out.push(row(endpoint, Caller::Operator, Expect::Unauthorized));
            for other in services.iter().filter(|s| **s != m.name) {
                let granted = m.granted_to(other).any(|e| e == endpoint);
                let known = m.grants.iter().any(|g| g.service == *other);
                let expect = match (granted, known) {
                    (true, _) => Expect::Allowed,
                    (false, true) => Expect::Forbidden,
                    (false, false) => Expect::Unauthorized,
                };
                out.push(row(endpoint, Caller::Service((*other).to_owned()), expect));
            }
        }
        for endpoint in &m.operator {
            out.push(row(endpoint, Caller::Nobody, Expect::Unauthorized));
            out.push(row(endpoint, Caller::Operator, Expect::Allowed));
            for other in services.iter().filter(|s| **s != m.name) {
                out.push(row(endpoint, Caller::Service((*other).to_owned()), Expect::Unauthorized));
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_platforms_manifests_give_the_rows_of_service_identity_and_operator_access() {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../services");
        let (topology, _) = crate::load_topology(&dir).unwrap();
        let rows = rows(&topology);
        let find = |service: &str, endpoint: &str, caller: Caller| {
            rows.iter()
                .find(|r| r.service == service && r.endpoint.to_string() == endpoint && r.caller == caller)
                .map(|r| r.expect)
        };
        let service = |s: &str| Caller::Service(s.to_owned());
        let contact = "GET /users/{user_id}/contact";
        assert_eq!(find("users", contact, Caller::Nobody), Some(Expect::Unauthorized));
        assert_eq!(find("users", contact, service("mailer")), Some(Expect::Allowed));
        assert_eq!(find("users", contact, service("store")), Some(Expect::Forbidden));
        assert_eq!(find("users", contact, service("devices")), Some(Expect::Unauthorized));
        assert_eq!(find("users", "GET /sessions/current", service("store")), Some(Expect::Allowed));
        assert_eq!(find("devices", "POST /devices", Caller::Operator), Some(Expect::Allowed));
        assert_eq!(find("devices", "POST /devices", service("store")), Some(Expect::Unauthorized));
        assert_eq!(find("collector", "GET /events", Caller::Nobody), Some(Expect::Unauthorized));
        assert_eq!(find("collector", "GET /metrics", Caller::Operator), Some(Expect::Allowed));
    }
}
