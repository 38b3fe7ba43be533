//! The authorisation matrix: every endpoint of every service, called by
//! each kind of caller, against the real platform, with the status each
//! must get. The endpoints are read from the routers' source
//! (`services/<name>/src/routes.rs`, and the kit's own for every service),
//! so an endpoint mounted without a row here, or a row whose endpoint is
//! gone, fails the test. The matrix is printed as a table.
//!
//! A cell is the status, and for an answer that is a list the number of
//! records in it (`200 [0]`): a query for another user's records is
//! answered with none, not refused, so that it does not tell whether they
//! exist.

use std::collections::BTreeSet;
use std::path::Path;

use serde_json::{Value, json};

/// Who calls: the matrix's columns.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Who {
    Nobody,
    /// Bob, signed in; the records are Ada's.
    OtherUser,
    /// A service the callee's manifest does not grant the endpoint.
    ServiceNotGranted,
    /// Whoever the endpoint is for: Ada for her records, anyone for what is public.
    RightCaller,
}

impl Who {
    pub const ALL: [Who; 4] = [Who::Nobody, Who::OtherUser, Who::ServiceNotGranted, Who::RightCaller];

    fn heading(self) -> &'static str {
        match self {
            Who::Nobody => "no credentials",
            Who::OtherUser => "another user",
            Who::ServiceNotGranted => "service not granted",
            Who::RightCaller => "the right caller",
        }
    }
}

/// What the right caller presents.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Right {
    /// Nothing: the endpoint is public.
    Anyone,
    /// Ada's session: the records are hers.
    Owner,
    /// The service identity of a service the manifest grants the endpoint
    /// (signed with the run's key), with Ada's session where it is asked for one.
    Service(&'static str),
    /// The run's operator token (`Authorization: Bearer`).
    Operator,
}

/// What a test platform holds for the calls: two users, Ada's order and
/// where each service answers.
pub struct Fixture {
    pub http: reqwest::Client,
    pub urls: Vec<(String, String)>,
    pub ada: User,
    pub bob: User,
    pub order_id: String,
    pub tracking_number: String,
    pub correlation_id: String,
    /// The run's keys and operator token, as the services' callers hold them.
    pub credentials: fare::runtime::Credentials,
}

pub struct User {
    pub user_id: String,
    pub email: String,
    pub password: String,
    pub token: String,
}

/// One endpoint's row: how to call it, and what each caller gets.
struct Row {
    /// `*`: every service (the kit mounts it).
    service: &'static str,
    endpoint: &'static str,
    path: fn(&Fixture) -> String,
    body: Option<fn(&Fixture, Who) -> Value>,
    right: Right,
    /// In the order of [`Who::ALL`]; `pending` is not called.
    expect: [&'static str; 4],
}

const PENDING: &str = "pending";

fn address() -> Value {
    json!({"name": "Ada", "line1": "1 Road", "city": "Town", "postal_code": "1000", "country": "NL"})
}

/// Every row, in the order called: reads first, so that what the writes
/// start (an order's mails) cannot change a count; `DELETE /sessions` last,
/// as it ends the session it is called with.
const ROWS: &[Row] = &[
    Row {
        service: "*",
        endpoint: "GET /health",
        path: |_| "/health".into(),
        body: None,
        right: Right::Anyone,
        expect: ["200", "200", "200", "200"],
    },
    Row {
        service: "*",
        endpoint: "GET /ready",
        path: |_| "/ready".into(),
        body: None,
        right: Right::Anyone,
        expect: ["200", "200", "200", "200"],
    },
    Row {
        service: "*",
        endpoint: "GET /pending",
        path: |_| "/pending".into(),
        body: None,
        right: Right::Anyone,
        expect: ["200", "200", "200", "200"],
    },
    // Mounted only by `fare contracts verify`, never by `fare up`.
    Row {
        service: "*",
        endpoint: "POST /_pact/state",
        path: |_| "/_pact/state".into(),
        body: Some(|_, _| json!({"state": "user u-1 exists", "params": {"user_id": "u-1"}, "action": "setup"})),
        right: Right::Anyone,
        expect: ["404", "404", "404", "404"],
    },
    Row {
        service: "users",
        endpoint: "GET /sessions/current",
        path: |_| "/sessions/current".into(),
        body: None,
        right: Right::Service("store"),
        expect: ["401", "401", "401", "200"],
    },
    Row {
        service: "users",
        endpoint: "GET /users/{user_id}/contact",
        path: |f| format!("/users/{}/contact", f.ada.user_id),
        body: None,
        right: Right::Service("mailer"),
        expect: ["401", "401", "403", "200"],
    },
    Row {
        service: "store",
        endpoint: "GET /orders",
        path: |_| "/orders".into(),
        body: None,
        right: Right::Owner,
        expect: ["401", "200 [0]", "401", "200 [1]"],
    },
    Row {
        service: "store",
        endpoint: "GET /orders/{order_id}",
        path: |f| format!("/orders/{}", f.order_id),
        body: None,
        right: Right::Owner,
        expect: ["401", "404", "401", "200"],
    },
    // A Python service: its session check is fare_kit's, not the kit's.
    Row {
        service: "loyalty",
        endpoint: "GET /points",
        path: |_| "/points".into(),
        body: None,
        right: Right::Owner,
        expect: ["401", "200", "401", "200"],
    },
    Row {
        service: "invoice",
        endpoint: "GET /invoices",
        path: |f| format!("/invoices?order_id={}", f.order_id),
        body: None,
        right: Right::Owner,
        expect: ["401", "200 [0]", "401", "200 [1]"],
    },
    Row {
        service: "fulfillment",
        endpoint: "GET /shipments",
        path: |f| format!("/shipments?order_id={}", f.order_id),
        body: None,
        right: Right::Owner,
        expect: ["401", "200 [0]", "401", "200 [1]"],
    },
    Row {
        service: "tracking",
        endpoint: "GET /shipments/{tracking_number}",
        path: |f| format!("/shipments/{}", f.tracking_number),
        body: None,
        right: Right::Owner,
        expect: ["401", "404", "401", "200"],
    },
    Row {
        service: "mailer",
        endpoint: "GET /mails",
        path: |f| format!("/mails?user_id={}", f.ada.user_id),
        body: None,
        right: Right::Owner,
        expect: ["401", "200 [0]", "401", "200 [3]"],
    },
    Row {
        service: "devices",
        endpoint: "GET /inventory",
        path: |_| "/inventory".into(),
        body: None,
        right: Right::Operator,
        expect: ["401", "401", "401", "200 [2]"],
    },
    Row {
        service: "collector",
        endpoint: "GET /metrics",
        path: |_| "/metrics".into(),
        body: None,
        right: Right::Operator,
        expect: ["401", "401", "401", "200"],
    },
    Row {
        service: "collector",
        endpoint: "GET /events",
        path: |f| format!("/events?correlation_id={}", f.correlation_id),
        body: None,
        right: Right::Operator,
        expect: ["401", "401", "401", "200"],
    },
    Row {
        service: "users",
        endpoint: "POST /users",
        path: |_| "/users".into(),
        body: Some(|f, who| {
            let email = format!("new.{:?}.{}@example.com", who, f.correlation_id).to_lowercase();
            json!({"email": email, "password": "correct horse battery", "name": "New"})
        }),
        right: Right::Anyone,
        expect: ["201", "201", "201", "201"],
    },
    Row {
        service: "users",
        endpoint: "POST /sessions",
        path: |_| "/sessions".into(),
        body: Some(|f, _| json!({"email": f.ada.email, "password": f.ada.password})),
        right: Right::Anyone,
        expect: ["201", "201", "201", "201"],
    },
    Row {
        service: "devices",
        endpoint: "POST /devices",
        path: |_| "/devices".into(),
        body: Some(|f, who| json!({"model": "phone-basic", "serial": format!("AZ-{who:?}-{}", f.correlation_id)})),
        right: Right::Operator,
        expect: ["401", "401", "401", "201"],
    },
    Row {
        service: "store",
        endpoint: "POST /orders",
        path: |_| "/orders".into(),
        body: Some(|_, _| json!({"model": "phone-basic", "shipping_address": address()})),
        right: Right::Owner,
        expect: ["401", "201", "401", "201"],
    },
    Row {
        service: "users",
        endpoint: "DELETE /sessions",
        path: |_| "/sessions".into(),
        body: None,
        right: Right::Owner,
        expect: ["401", "204", "401", "204"],
    },
];

/// Every `METHOD /path` the routers in `text` mount: `.route("/path",
/// get(a).post(b))`.
fn routes_in(text: &str) -> Vec<String> {
    let mut found = Vec::new();
    for (at, _) in text.match_indices(".route(\"") {
        let rest = &text[at + ".route(\"".len()..];
        let Some(end) = rest.find('"') else { continue };
        let path = &rest[..end];
        let mut methods = rest[end + 1..].chars().peekable();
        let (mut depth, mut word) = (0usize, String::new());
        for c in methods.by_ref() {
            match c {
                '(' if depth == 0 => {
                    if ["get", "post", "put", "patch", "delete"].contains(&word.as_str()) {
                        found.push(format!("{} {path}", word.to_uppercase()));
                    }
                    word.clear();
                    depth = 1;
                }
                '(' => depth += 1,
                ')' if depth == 0 => break,
                ')' => depth -= 1,
                c if depth == 0 && c.is_ascii_alphabetic() || c == '_' => word.push(c),
                _ if depth == 0 => word.clear(),
                _ => {}
            }
        }
    }
    found
}

/// `(service, METHOD /path)` of every endpoint the platform mounts: each
/// service's router, and the kit's, which every service mounts (as `*`).
pub fn mounted(services: &Path, names: &[String]) -> BTreeSet<(String, String)> {
    let read = |p: &Path| std::fs::read_to_string(p).unwrap_or_else(|e| panic!("{}: {e}", p.display()));
    let mut all = BTreeSet::new();
    for kit in ["app.rs", "states.rs"] {
        for e in routes_in(&read(&services.join("kit/src").join(kit))) {
            all.insert(("*".to_owned(), e));
        }
    }
    for name in names {
        let rust = services.join(name).join("src/routes.rs");
        let found = if rust.exists() { routes_in(&read(&rust)) } else { python_routes_in(&services.join(name)) };
        for e in found {
            all.insert((name.clone(), e));
        }
    }
    all
}

/// `METHOD /path` of each `("METHOD", "/path", handler)` of a Python
/// service's route table (fare_kit's `Service(routes=…)`), in every `.py` under `dir`.
fn python_routes_in(dir: &Path) -> Vec<String> {
    let mut found = Vec::new();
    let mut todo = vec![dir.to_owned()];
    while let Some(d) = todo.pop() {
        for entry in std::fs::read_dir(&d).unwrap().flatten() {
            let path = entry.path();
            if path.is_dir() && !path.ends_with("tests") {
                todo.push(path);
            } else if path.extension().is_some_and(|e| e == "py") {
                let text = std::fs::read_to_string(&path).unwrap();
                for method in ["GET", "POST", "PUT", "PATCH", "DELETE"] {
                    let open = format!("(\"{method}\", \"/");
                    for (at, _) in text.match_indices(&open) {
                        let rest = &text[at + open.len() - 1..];
                        if let Some(end) = rest.find('"') {
                            found.push(format!("{method} {}", &rest[..end]));
                        }
                    }
                }
            }
        }
    }
    found
}

/// One row as called: its cells in the order of [`Who::ALL`].
pub struct Called {
    pub service: String,
    pub endpoint: String,
    pub cells: Vec<String>,
    pub right: Right,
    /// `(who, expected, got)` for each cell that differs.
    pub wrong: Vec<(Who, String, String)>,
}

impl Fixture {
    fn url(&self, service: &str) -> &str {
        &self.urls.iter().find(|(n, _)| n == service).unwrap_or_else(|| panic!("no service {service}")).1
    }

    fn token(&self, who: Who, right: Right) -> Option<&str> {
        match (who, right) {
            (Who::OtherUser, _) => Some(&self.bob.token),
            (Who::RightCaller, Right::Owner | Right::Service(_)) => Some(&self.ada.token),
            (Who::RightCaller, Right::Operator) => Some(self.credentials.operator_token()),
            _ => None,
        }
    }

    /// The service identity `who` presents to `service`: the granted
    /// service's for the right caller; for a service not granted, one the
    /// callee holds a key for if there is one (403), else any other (401).
    fn identity(&self, who: Who, row: &Row, service: &str) -> Option<String> {
        let caller = match (who, row.right) {
            (Who::RightCaller, Right::Service(granted)) => granted,
            // store holds a grant of users' (sessions), not of the contact: 403.
            // Every service users holds a key for may check sessions: one it
            // holds none for (devices) gets 401.
            (Who::ServiceNotGranted, Right::Service(granted)) => match granted {
                "mailer" => "store",
                _ => "devices",
            },
            (Who::ServiceNotGranted, _) => ["devices", "store"].into_iter().find(|s| *s != service).unwrap_or("store"),
            _ => return None,
        };
        Some(self.credentials.signer(caller).token(service))
    }

    /// The cell of `who` calling `row` on `service`: status, and a list's length.
    async fn call(&self, row: &Row, service: &str, who: Who, counted: bool) -> String {
        let (method, _) = row.endpoint.split_once(' ').unwrap();
        let url = format!("{}{}", self.url(service), (row.path)(self));
        let mut request = self.http.request(method.parse().unwrap(), url);
        if let Some(token) = self.token(who, row.right) {
            request = request.bearer_auth(token);
        }
        if let Some(identity) = self.identity(who, row, service) {
            request = request.header(kit::http::IDENTITY_HEADER, identity);
        }
        if let Some(body) = row.body {
            request = request.json(&body(self, who));
        }
        let answer = request.send().await.unwrap();
        let status = answer.status().as_u16().to_string();
        let body: Value = answer.json().await.unwrap_or(Value::Null);
        match body.as_array() {
            Some(list) if counted => format!("{status} [{}]", list.len()),
            _ => status,
        }
    }
}

/// Calls every row as every caller; rows of `*` on every service, where
/// each must answer the same.
pub async fn call_all(f: &Fixture) -> Vec<Called> {
    let mut called = Vec::new();
    for row in ROWS {
        let services: Vec<String> = match row.service {
            "*" => f.urls.iter().map(|(n, _)| n.clone()).collect(),
            one => vec![one.to_owned()],
        };
        let mut cells = Vec::new();
        let mut wrong = Vec::new();
        for (who, expected) in Who::ALL.into_iter().zip(row.expect) {
            if expected == PENDING {
                cells.push(PENDING.to_owned());
                continue;
            }
            let mut seen = BTreeSet::new();
            for service in &services {
                let got = f.call(row, service, who, expected.contains('[')).await;
                if got != expected {
                    wrong.push((who, expected.to_owned(), format!("{got} from {service}")));
                }
                seen.insert(got);
            }
            cells.push(seen.into_iter().collect::<Vec<_>>().join(" / "));
        }
        called.push(Called {
            service: row.service.into(),
            endpoint: row.endpoint.into(),
            cells,
            right: row.right,
            wrong,
        });
    }
    called
}

/// The endpoints mounted without a row, and the rows whose endpoint is not mounted.
pub fn unlisted(mounted: &BTreeSet<(String, String)>) -> (Vec<String>, Vec<String>) {
    let rows: BTreeSet<(String, String)> = ROWS.iter().map(|r| (r.service.to_owned(), r.endpoint.to_owned())).collect();
    let show = |(s, e): &(String, String)| format!("{s} {e}");
    (mounted.difference(&rows).map(show).collect(), rows.difference(mounted).map(show).collect())
}

/// The matrix as a table: endpoint × caller → what it got.
pub fn table(called: &[Called]) -> String {
    let mut lines = vec![{
        let mut h = vec!["SERVICE".to_owned(), "ENDPOINT".to_owned()];
        h.extend(Who::ALL.iter().map(|w| w.heading().to_owned()));
        h.push("RIGHT CALLER IS".to_owned());
        h
    }];
    for c in called {
        let mut line = vec![c.service.clone(), c.endpoint.clone()];
        line.extend(c.cells.iter().cloned());
        line.push(match c.right {
            Right::Anyone => "anyone".to_owned(),
            Right::Owner => "the owner's session".to_owned(),
            Right::Service(s) => format!("{s}'s identity (+ the owner's session)"),
            Right::Operator => "the operator token".to_owned(),
        });
        lines.push(line);
    }
    let widths: Vec<usize> = (0..lines[0].len()).map(|i| lines.iter().map(|l| l[i].len()).max().unwrap()).collect();
    let mut out = String::new();
    for line in lines {
        let cells: Vec<String> = line.iter().zip(&widths).map(|(c, w)| format!("{c:<w$}")).collect();
        out.push_str(cells.join("  ").trim_end());
        out.push('\n');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn routes_are_read_from_a_routers_source() {
        let text = r#"Router::new().route("/orders", get(list).post(place)).route("/orders/{id}", get(one))
            .route("/sessions", post(log_in).delete(log_out))"#;
        assert_eq!(
            routes_in(text),
            ["GET /orders", "POST /orders", "GET /orders/{id}", "POST /sessions", "DELETE /sessions"]
        );
    }
}
