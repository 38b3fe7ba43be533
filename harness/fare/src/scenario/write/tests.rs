//! Scenarios written from records built by hand as the recorder builds
//! them: the edge requests' spans as the kit leaves them (bodies masked on
//! the way in), events from the tap, the fakes' log, the faults.

use std::collections::BTreeMap;
use std::path::Path;

use kit::faults::FaultAction;
use kit::{CorrelationId, Envelope, EventType};
use serde_json::{Value, json};

use super::*;
use crate::fakes::{Logged, Matcher, Reply, Rule};
use crate::scenario::model::{ChainExpectation, Fault, Step};
use crate::trace::{Asked, FaultKind, InjectedFault, ProgrammedRule, Published, SpanRecord};

const CID: &str = "e2e-broken-1a2b";
const EMAIL: &str = "ada.broken.1a2b@example.com";
const PASSWORD: &str = "correct horse battery";
const TOKEN: &str = "c453b9a8e0f14b2d9c7e5a3f1b0d8c6e4a2f0e9d7c5b3a1f9e8d7c6b5a4f3e2d";
const USER: &str = "5b0c2a4e-1111-4a0e-9a1c-2b9f1d3c4e5f";
const ORDER: &str = "0f6c3d1e-7a42-4a0e-9a1c-2b9f1d3c4e5f";

fn topology() -> Topology {
    crate::load_topology(&Path::new(env!("CARGO_MANIFEST_DIR")).join("../../services")).unwrap().0
}

/// An edge request's span, its bodies masked as the kit masks them.
fn edge(
    at: u64,
    cid: &str,
    service: &str,
    call: &str,
    sent: Option<Value>,
    answer: (u16, Option<Value>),
) -> SpanRecord {
    let (method, target) = call.split_once(' ').unwrap();
    let (path, query) = target.split_once('?').map_or((target, None), |(p, q)| (p, Some(q)));
    let mut attributes: BTreeMap<String, String> =
        [("edge", "true"), ("correlation_id", cid), ("method", method), ("path", path)]
            .into_iter()
            .map(|(k, v)| (k.to_owned(), v.to_owned()))
            .collect();
    if let Some(query) = query {
        attributes.insert("query".into(), query.into());
    }
    let mut keep = |key: &str, body: Option<Value>| {
        if let Some(mut body) = body {
            kit::redact::json(&mut body);
            attributes.insert(key.to_owned(), body.to_string());
        }
    };
    keep("request_body", sent);
    keep("response_body", answer.1);
    SpanRecord {
        service: service.into(),
        name: "request".into(),
        trace_id: String::new(),
        span_id: format!("s{at}"),
        parent_span_id: String::new(),
        start_unix_nanos: at,
        end_unix_nanos: at + 1,
        attributes,
        events: vec![("served".into(), [("status".to_owned(), answer.0.to_string())].into())],
    }
}

/// Signed in as [`USER`].
fn signed_in(mut span: SpanRecord) -> SpanRecord {
    span.attributes.insert("auth".into(), "bearer".into());
    span.attributes.insert("user_id".into(), USER.into());
    span
}

fn event(t: &str) -> EventType {
    EventType::parse(t).unwrap()
}

fn published(e: &Envelope) -> Published {
    Published { event: e.clone(), attributes: BTreeMap::new() }
}

/// The order chain of `expects-delivered-but-fulfillment-fails`, with the
/// sign-up and the login in chains named by `signup` and `login`.
fn record(signup: &str, login: &str) -> SavedRecord {
    let address = json!({"name": "Ada", "line1": "1 Road", "city": "Town", "postal_code": "1000", "country": "NL"});
    let spans = vec![
        edge(
            1,
            signup,
            "users",
            "POST /users",
            Some(json!({"email": EMAIL, "password": PASSWORD, "name": "Ada"})),
            (201, Some(json!({"user_id": USER, "email": EMAIL, "name": "Ada"}))),
        ),
        edge(
            2,
            login,
            "users",
            "POST /sessions",
            Some(json!({"email": EMAIL, "password": PASSWORD})),
            (201, Some(json!({"token": TOKEN, "user_id": USER, "expires_at": "2030-01-01T00:00:00Z"}))),
        ),
        signed_in(edge(
            3,
            CID,
            "store",
            "POST /orders",
            Some(json!({"model": "phone-basic", "shipping_address": address})),
            (201, Some(json!({"order_id": ORDER, "status": "placed"}))),
        )),
        signed_in(edge(
            4,
            CID,
            "store",
            &format!("GET /orders/{ORDER}"),
            None,
            (200, Some(json!({"order_id": ORDER}))),
        )),
        signed_in(edge(
            5,
            CID,
            "invoice",
            &format!("GET /invoices?order_id={ORDER}&limit=5"),
            None,
            (200, Some(json!([]))),
        )),
    ];
    let cid = CorrelationId::parse(CID).unwrap();
    let placed = Envelope::new("store", event("order.placed"), cid, None, &1).unwrap();
    let allocated = placed.follow("devices", event("device.allocated"), &1).unwrap();
    let invoiced = placed.follow("invoice", event("invoice.issued"), &1).unwrap();
    let registered = Envelope::new("users", event("user.registered"), CorrelationId::parse(signup).unwrap(), None, &1);
    let logged = |status: u16| Logged {
        at_ms: 0,
        method: "POST".into(),
        path: "/fulfillment-orders".into(),
        correlation_id: Some(CID.into()),
        status,
        programmed: true,
    };
    let body = json!({"error": "the warehouse is on fire"});
    let reply = Reply { status: Some(503), body: Some(body), ..Reply::default() };
    let matcher =
        Matcher { method: Some("POST".into()), path: Some("/fulfillment-orders".into()), ..Matcher::default() };
    let rule = Rule { matcher, respond: vec![reply], scope: Some(CID.into()) };
    let mut dropped = InjectedFault::now(FaultKind::Handler, "fulfillment", "had its handler drop")
        .on(&event("device.allocated"))
        .in_chain(CID)
        .asked(Asked { action: Some(FaultAction::DropFollowUp), ..Asked::default() });
    dropped.from_unix_nanos = 0;
    SavedRecord {
        events: [registered.unwrap(), placed, allocated, invoiced].iter().map(published).collect(),
        spans,
        faults: vec![dropped],
        rules: vec![ProgrammedRule { fake: "fulfillment-center".into(), rule }],
        fakes: [("fulfillment-center".to_owned(), vec![logged(503); 5])].into(),
        ..SavedRecord::default()
    }
}

fn written(record: &SavedRecord, expect: ExpectFrom) -> (Written, crate::scenario::Scenario) {
    let options = WriteOptions { expect, command: None };
    let written = write(record, CID, &topology(), &options).unwrap_or_else(|e| panic!("{e}"));
    let scenario = crate::scenario::parse(Path::new("w.yaml"), &written.yaml).unwrap();
    (written, scenario)
}

#[test]
fn a_chain_becomes_a_scenario_the_loader_reads_without_a_secret_in_it() {
    let signup = format!("{CID}.signup");
    let (w, s) = written(&record(&signup, CID), ExpectFrom::Seen);
    let yaml = &w.yaml;
    for secret in [EMAIL, PASSWORD, TOKEN, kit::redact::MASK, kit::redact::EMAIL_MASK] {
        assert!(!yaml.contains(secret), "{secret} in\n{yaml}");
    }
    assert!(!yaml.contains(ORDER), "ids are captured, not written:\n{yaml}");
    let calls: Vec<String> = s
        .file
        .steps
        .iter()
        .map(|step| match step {
            Step::Http(h) => format!("{} {} {}", h.http, h.chain, h.auth.as_deref().unwrap_or("-")),
            _ => panic!("{step:?}"),
        })
        .collect();
    assert_eq!(
        calls,
        [
            "POST users /users signup -",
            "POST users /sessions main -",
            "POST store /orders main {{token}}",
            "GET store /orders/{{order_id}} main {{token}}",
            "GET invoice /invoices?order_id={{order_id}}&limit=5 main {{token}}",
        ],
        "{yaml}"
    );
    let Step::Http(login) = &s.file.steps[1] else { unreachable!() };
    assert_eq!(login.body, Some(json!({"email": "{{email}}", "password": "{{password}}"})), "{yaml}");
    assert_eq!(login.capture.get("token").map(String::as_str), Some("token"), "{yaml}");
    assert!(s.file.vars["email"].contains("{{run}}") && s.file.vars["password"].contains("{{run}}"), "{yaml}");
    // The fakes answer as they did, with the body the rule gave.
    let rules = &s.file.fakes["fulfillment-center"];
    assert_eq!(rules[0].respond[0].status, Some(503));
    assert_eq!(rules[0].respond[0].body, Some(json!({"error": "the warehouse is on fire"})));
    assert!(matches!(
        &s.file.faults[..],
        [Fault::Handler { service, action: FaultAction::DropFollowUp, .. }] if service == "fulfillment"
    ));
    // The chain as it was seen.
    let Some(ChainExpectation::Tree(tree)) = &s.file.expect.chain else { panic!("{yaml}") };
    let placed = &tree.0[&event("order.placed")];
    assert_eq!(placed.0.keys().map(EventType::as_str).collect::<Vec<_>>(), ["device.allocated", "invoice.issued"]);
    assert!(s.file.expect.chains.contains_key(&crate::scenario::model::Label::try_from("signup".to_owned()).unwrap()));
}

#[test]
fn with_the_topology_the_chain_expected_is_the_one_that_should_have_been() {
    let signup = format!("{CID}.signup");
    let (w, s) = written(&record(&signup, CID), ExpectFrom::Topology { except: None });
    let Some(ChainExpectation::Derive { root, except }) = &s.file.expect.chain else { panic!("{}", w.yaml) };
    assert_eq!(root.as_str(), "order.placed");
    let except: Vec<&str> = except.iter().map(EventType::as_str).collect();
    assert_eq!(except, ["device.allocation_failed", "shipment.lost"], "{}", w.yaml);
    let given = ExpectFrom::Topology { except: Some(vec![event("shipment.lost")]) };
    let (_, s) = written(&record(&signup, CID), given);
    let Some(ChainExpectation::Derive { except, .. }) = &s.file.expect.chain else { unreachable!() };
    assert_eq!(except.len(), 1);
}

#[test]
fn a_session_made_by_hand_in_other_chains_is_made_first_in_a_setup_chain() {
    let (w, s) = written(&record("curl-signup-7", "curl-login-8"), ExpectFrom::Seen);
    let shown: Vec<(String, String)> = s
        .file
        .steps
        .iter()
        .map(|step| match step {
            Step::Http(h) => (h.http.to_string(), h.chain.to_string()),
            _ => panic!("{step:?}"),
        })
        .collect();
    let chains: Vec<&str> = shown.iter().map(|(_, c)| c.as_str()).collect();
    assert_eq!(chains, ["setup", "setup", "main", "main", "main"], "{}", w.yaml);
    assert!(!w.yaml.contains(TOKEN) && !w.yaml.contains(EMAIL), "{}", w.yaml);
    assert!(s.file.expect.chains.is_empty(), "other chains are not this chain's to expect:\n{}", w.yaml);
}

#[test]
fn a_chain_the_record_does_not_hold_is_refused() {
    let err = write(&record("a", "b"), "no-such-chain", &topology(), &WriteOptions::default()).unwrap_err();
    assert!(matches!(err, WriteError::Unknown(_)), "{err}");
}
