//! One test per reason, each from a record built by hand the way the
//! recorder builds it: events from the tap, spans from the services,
//! dead letters and exits.

use std::collections::BTreeMap;
use std::path::Path;

use kit::bus::Namespace;
use kit::{CorrelationId, Envelope, EventType};

use super::*;
use crate::manifest::Manifest;
use crate::runtime::Pending;
use crate::topology::Topology;
use crate::trace::{DeadLetter, EventPath, FaultKind, InjectedFault, Paths, ServiceExit, SpanRecord, Store, Trace};

const CID: &str = "c-1";

fn topology() -> Topology {
    let m = |name: &str, body: &str| {
        let text = format!("name = \"{name}\"\ndescription = \"d\"\n{body}");
        Manifest::parse(Path::new(&format!("services/{name}/service.toml")), &text).unwrap()
    };
    let listen = |e: &str| format!("[queue]\n[[listens]]\nevent = \"{e}\"\n");
    Topology::build(vec![
        m(
            "users",
            "publishes = [\"user.registered\"]\nterminal = [\"user.registered\"]\n\
             [[grants]]\nservice = \"store\"\nendpoints = [\"GET /sessions/current\"]\n",
        ),
        m("store", "publishes = [\"order.placed\"]\n[[asks]]\nservice = \"users\"\nenv = \"USERS_URL\"\n"),
        m("devices", &format!("publishes = [\"device.allocated\"]\n{}", listen("order.placed"))),
        m("invoice", &format!("publishes = [\"invoice.issued\"]\nterminal = [\"invoice.issued\"]\n{}", listen("order.placed"))),
        m(
            "fulfillment",
            &format!(
                "publishes = [\"shipment.requested\"]\n{}[[wraps]]\nthird_party = \"fulfillment-center\"\nenv = \"FC_URL\"\n",
                listen("device.allocated")
            ),
        ),
        m(
            "tracking",
            &format!(
                "publishes = [\"package.delivered\", \"shipment.lost\"]\nterminal = [\"package.delivered\", \"shipment.lost\"]\n{}[[wraps]]\nthird_party = \"carrier\"\nenv = \"CARRIER_URL\"\n",
                listen("shipment.requested")
            ),
        ),
    ])
    .unwrap()
    .0
}

fn ns() -> Namespace {
    Namespace::parse("t").unwrap()
}

fn event(t: &str) -> EventType {
    EventType::parse(t).unwrap()
}

fn placed() -> Envelope {
    Envelope::new("store", event("order.placed"), CorrelationId::parse(CID).unwrap(), None, &1).unwrap()
}

fn follow(cause: &Envelope, by: &str, t: &str) -> Envelope {
    cause.follow(by, event(t), &1).unwrap()
}

/// A span as a service exports it (the merge's tests make records of them too).
pub(crate) fn span(service: &str, name: &str, id: &str, parent: &str, attrs: &[(&str, &str)]) -> SpanRecord {
    SpanRecord {
        service: service.into(),
        name: name.into(),
        trace_id: String::new(),
        span_id: id.into(),
        parent_span_id: parent.into(),
        start_unix_nanos: now(),
        end_unix_nanos: now(),
        attributes: attrs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect(),
        events: Vec::new(),
    }
}

fn now() -> u64 {
    time::OffsetDateTime::now_utc().unix_timestamp_nanos() as u64
}

fn handle(service: &str, e: &Envelope, id: &str, failure: Option<&str>) -> SpanRecord {
    let mut s = span(service, "handle", id, "", &[("event_id", &e.id.to_string())]);
    if let Some(error) = failure {
        s.events.push(("attempt failed; retrying".into(), BTreeMap::from([("error".into(), error.into())])));
    }
    s
}

fn call(service: &str, parent: &str, callee: &str, status: u16) -> SpanRecord {
    let status = status.to_string();
    span(
        service,
        "call",
        "x",
        parent,
        &[("service", callee), ("method", "GET"), ("url", "http://c/t/1"), ("status", &status)],
    )
}

fn work(service: &str, e: &Envelope, id: &str) -> SpanRecord {
    span(service, "work", id, "", &[("event_id", &e.id.to_string()), ("task", "poll carrier")])
}

fn hops(store: &Store, expected: Expected<'_>, env: &Environment) -> Vec<BrokenHop> {
    diagnose(&Trace::build(CID, store), expected, &topology(), &ns(), env, "main")
}

fn delivered_chain() -> Paths {
    ["order.placed", "order.placed > device.allocated", "order.placed > device.allocated > shipment.requested"]
        .iter()
        .chain(&[
            "order.placed > device.allocated > shipment.requested > package.delivered",
            "order.placed > invoice.issued",
        ])
        .map(|p| (EventPath::new(p.split(" > ").map(str::to_owned).collect()), 1))
        .collect()
}

/// The chain up to `device.allocated`, invoice done.
fn up_to_allocated() -> (Store, Envelope) {
    let p = placed();
    let allocated = follow(&p, "devices", "device.allocated");
    let invoice = follow(&p, "invoice", "invoice.issued");
    (Store { events: vec![p, allocated.clone(), invoice], ..Store::default() }, allocated)
}

fn only(h: Vec<BrokenHop>) -> BrokenHop {
    assert_eq!(h.len(), 1, "{h:#?}");
    h.into_iter().next().unwrap()
}

fn fulfillment_hop(h: &BrokenHop) {
    assert_eq!(h.hop.after.as_deref(), Some("device.allocated"));
    assert_eq!(h.hop.service.as_deref(), Some("fulfillment"));
    assert_eq!(h.hop.queue.as_deref(), Some("t-fulfillment"));
    assert_eq!(h.hop.expected, "shipment.requested");
}

#[test]
fn a_complete_chain_has_no_broken_hop() {
    let (mut store, allocated) = up_to_allocated();
    let requested = follow(&allocated, "fulfillment", "shipment.requested");
    store.events.push(follow(&requested, "tracking", "package.delivered"));
    store.events.push(requested);
    assert_eq!(hops(&store, Expected::Paths(&delivered_chain()), &Environment::default()), []);
}

#[test]
fn a_dead_letter_names_the_queue_and_whether_it_was_refused_at_once() {
    let (mut store, allocated) = up_to_allocated();
    store.dead.push(DeadLetter {
        service: "fulfillment".into(),
        queue: "t-fulfillment-dlq".into(),
        message_id: "m".into(),
        correlation_id: Some(CID.into()),
        event_type: Some("device.allocated".into()),
        event: Some(allocated.clone()),
        reason: Some("the center refused the order".into()),
        receive_count: 1,
    });
    store.spans.push(handle("fulfillment", &allocated, "h1", Some("refused")));
    let h = only(hops(&store, Expected::Paths(&delivered_chain()), &Environment::default()));
    fulfillment_hop(&h);
    assert_eq!(
        h.reason,
        Reason::DeadLettered {
            queue: "t-fulfillment-dlq".into(),
            attempts: 1,
            rejected: Some("the center refused the order".into())
        }
    );
    assert!(h.evidence.iter().any(|e| matches!(e, Evidence::DeadLetter { .. })), "{h}");
}

/// A hop shows the dead letters of its own event, and a body no handler
/// could read (which names no event), not those of the service's others.
#[test]
fn a_hop_shows_its_own_events_dead_letters_not_the_services_others() {
    let (mut store, allocated) = up_to_allocated();
    let other = follow(&placed(), "devices", "device.allocated");
    let dead = |id: &str, event: Option<&Envelope>| DeadLetter {
        service: "fulfillment".into(),
        queue: "t-fulfillment-dlq".into(),
        message_id: id.into(),
        correlation_id: Some(CID.into()),
        event_type: event.map(|e| e.event_type.to_string()),
        event: event.cloned(),
        reason: None,
        receive_count: 5,
    };
    store.dead.extend([dead("mine", Some(&allocated)), dead("other", Some(&other)), dead("poison", None)]);
    store.spans.push(handle("fulfillment", &allocated, "h1", Some("the center is down")));
    let h = only(hops(&store, Expected::Paths(&delivered_chain()), &Environment::default()));
    fulfillment_hop(&h);
    let shown = h.evidence.iter().filter(|e| matches!(e, Evidence::DeadLetter { .. })).count();
    assert_eq!(shown, 2, "its own and the unreadable one, not the other event's:\n{h}");
}

#[test]
fn failing_attempts_are_retrying_with_the_last_error_and_the_third_partys_answers() {
    let (mut store, allocated) = up_to_allocated();
    store.spans.push(handle("fulfillment", &allocated, "h1", Some("center answered 503")));
    store.spans.push(call("fulfillment", "h1", "fulfillment-center", 503));
    store.spans.push(handle("fulfillment", &allocated, "h2", Some("center answered 503 again")));
    store.spans.push(call("fulfillment", "h2", "fulfillment-center", 503));
    let h = only(hops(&store, Expected::Paths(&delivered_chain()), &Environment::default()));
    fulfillment_hop(&h);
    assert_eq!(h.reason, Reason::Retrying { attempts: 2, last_error: Some("center answered 503 again".into()) });
    let calls = h.evidence.iter().find_map(|e| match e {
        Evidence::Calls { callee, status, count, .. } => Some((callee.as_str(), *status, *count)),
        _ => None,
    });
    assert_eq!(calls, Some(("fulfillment-center", Some(503), 2)), "{h}");
}

#[test]
fn a_handler_that_succeeds_without_its_follow_up_is_named() {
    let (mut store, allocated) = up_to_allocated();
    store.spans.push(handle("fulfillment", &allocated, "h1", None));
    store.spans.push(call("fulfillment", "h1", "fulfillment-center", 201));
    let h = only(hops(&store, Expected::Paths(&delivered_chain()), &Environment::default()));
    fulfillment_hop(&h);
    assert_eq!(h.reason, Reason::HandledWithoutFollowUp);
    assert_eq!(h.sentence(), "fulfillment handled device.allocated but did not publish shipment.requested");
}

/// tracking handled `shipment.requested`; its poller then keeps asking the carrier.
fn tracking_polls(statuses: &[u16]) -> Store {
    let (mut store, allocated) = up_to_allocated();
    let requested = follow(&allocated, "fulfillment", "shipment.requested");
    store.spans.push(handle("tracking", &requested, "h1", None));
    for (n, status) in statuses.iter().enumerate() {
        let id = format!("w{n}");
        store.spans.push(work("tracking", &requested, &id));
        store.spans.push(call("tracking", &id, "carrier", *status));
    }
    store.events.push(requested);
    store
}

#[test]
fn a_third_party_refusing_background_work_is_named_with_its_answers() {
    let store = tracking_polls(&[200, 404, 404, 404]);
    let h = only(hops(&store, Expected::Paths(&delivered_chain()), &Environment::default()));
    assert_eq!(h.hop.service.as_deref(), Some("tracking"));
    assert_eq!(h.hop.expected, "package.delivered");
    assert_eq!(
        h.reason,
        Reason::ThirdPartyFailing {
            third_party: "carrier".into(),
            statuses: BTreeMap::from([(404, 3)]),
            background: true
        }
    );
    // A third party that failed and then answered is not the break.
    let recovered = tracking_polls(&[404, 404, 200]);
    let h = only(hops(&recovered, Expected::Paths(&delivered_chain()), &Environment::default()));
    assert_eq!(h.reason, Reason::HandledWithoutFollowUp);
}

#[test]
fn work_in_hand_that_does_not_progress_is_stuck() {
    let store = tracking_polls(&[200, 200, 200]);
    let env = Environment {
        pending: vec![Pending::InHand { service: "tracking".into(), handling: 0, outbox: 0, work: 1 }],
        stuck: true,
        ..Environment::default()
    };
    let h = only(hops(&store, Expected::Paths(&delivered_chain()), &env));
    let Reason::Stuck { waiting_on } = &h.reason else { panic!("{h}") };
    assert!(waiting_on.contains("poll carrier (3 runs)") && waiting_on.contains("work 1"), "{waiting_on}");
}

fn subscribed(pairs: &[(&str, &str, Option<&str>)]) -> Option<BTreeMap<(String, String), Option<String>>> {
    Some(pairs.iter().map(|(e, s, f)| ((e.to_string(), s.to_string()), f.map(str::to_owned))).collect())
}

#[test]
fn an_event_no_attempt_was_made_on_is_filtered_unsubscribed_or_not_received() {
    let (store, _) = up_to_allocated();
    let filtered = Environment {
        subscriptions: subscribed(&[(
            "device.allocated",
            "fulfillment",
            Some(r#"{"event_type":["device.reserved"]}"#),
        )]),
        ..Environment::default()
    };
    let h = only(hops(&store, Expected::Paths(&delivered_chain()), &filtered));
    fulfillment_hop(&h);
    assert_eq!(h.reason, Reason::FilteredOut { policy: r#"{"event_type":["device.reserved"]}"#.into() });

    let unsubscribed = Environment { subscriptions: subscribed(&[]), ..Environment::default() };
    assert_eq!(only(hops(&store, Expected::Paths(&delivered_chain()), &unsubscribed)).reason, Reason::NoSubscription);

    let plain = Environment {
        subscriptions: subscribed(&[("device.allocated", "fulfillment", None)]),
        ..Environment::default()
    };
    assert_eq!(only(hops(&store, Expected::Paths(&delivered_chain()), &plain)).reason, Reason::NotReceived);
}

#[test]
fn a_down_service_and_a_crashed_one_are_told_apart() {
    let (mut store, _) = up_to_allocated();
    let down = Environment { down: ["fulfillment".to_owned()].into(), ..Environment::default() };
    assert_eq!(only(hops(&store, Expected::Paths(&delivered_chain()), &down)).reason, Reason::ServiceDown);
    store.exits.push(ServiceExit {
        service: "fulfillment".into(),
        status: "signal 9 (SIGKILL)".into(),
        intended: false,
        log_tail: vec!["handling device.allocated".into()],
        at_unix_nanos: now(),
    });
    let h = only(hops(&store, Expected::Paths(&delivered_chain()), &down));
    assert_eq!(h.reason, Reason::Crashed { status: "signal 9 (SIGKILL)".into() });
    assert!(h.evidence.iter().any(|e| matches!(e, Evidence::Exit { intended: false, .. })), "{h}");
}

#[test]
fn a_chain_that_never_started_shows_the_refused_request() {
    let mut request =
        span("store", "request", "r1", "", &[("method", "POST"), ("path", "/orders"), ("correlation_id", CID)]);
    request.events.push(("served".into(), BTreeMap::from([("status".into(), "401".into())])));
    let store = Store { spans: vec![request], ..Store::default() };
    let h = only(hops(&store, Expected::Paths(&delivered_chain()), &Environment::default()));
    assert_eq!(h.reason, Reason::NeverStarted);
    assert_eq!((h.hop.after.as_deref(), h.hop.service.as_deref()), (None, Some("store")));
    assert_eq!(
        h.evidence,
        [Evidence::Request {
            service: "store".into(),
            method: "POST".into(),
            path: "/orders".into(),
            status: Some(401)
        }]
    );
}

#[test]
fn an_effect_twice_is_duplicated_and_an_event_not_expected_is_unexpected() {
    let (mut store, allocated) = up_to_allocated();
    let requested = follow(&allocated, "fulfillment", "shipment.requested");
    store.events.push(follow(&requested, "tracking", "package.delivered"));
    store.events.push(follow(&store.events[0].clone(), "invoice", "invoice.issued"));
    store.events.push(follow(&requested, "tracking", "shipment.lost"));
    store.events.push(requested);
    let h = hops(&store, Expected::Paths(&delivered_chain()), &Environment::default());
    let kinds: Vec<(&str, &Reason)> = h.iter().map(|h| (h.hop.expected.as_str(), &h.reason)).collect();
    assert_eq!(
        kinds,
        [
            ("invoice.issued", &Reason::Duplicated { expected: 1, seen: 2 }),
            ("shipment.lost", &Reason::Unexpected { seen: 1 })
        ],
        "causal order: the shallower break first"
    );
    assert_eq!(h[1].hop.service.as_deref(), Some("tracking"));
}

#[test]
fn expected_events_are_diagnosed_at_the_first_missing_one() {
    let (store, _) = up_to_allocated();
    let expected = [event("order.placed"), event("shipment.requested"), event("package.delivered")];
    let h = only(hops(&store, Expected::Events(&expected), &Environment::default()));
    fulfillment_hop(&h);
    assert_eq!(h.reason, Reason::NotReceived);
    // An event no service that heard the chain's events publishes.
    let expected = [event("invoice.paid")];
    let h = only(hops(&store, Expected::Events(&expected), &Environment::default()));
    assert_eq!(h.reason, Reason::NeverStarted, "{h}");
}

#[test]
fn several_broken_branches_are_all_listed_shallowest_first() {
    let p = placed();
    let store = Store { events: vec![p], ..Store::default() };
    let h = hops(&store, Expected::Paths(&delivered_chain()), &Environment::default());
    let services: Vec<&str> = h.iter().filter_map(|h| h.hop.service.as_deref()).collect();
    assert_eq!(services, ["devices", "invoice"], "{h:#?}");
    let text = h[0].to_string();
    assert!(text.starts_with("broken hop: order.placed → queue t-devices → devices → device.allocated\n  why: devices never received order.placed"), "{text}");
}

#[test]
fn a_consumer_that_publishes_nothing_is_named_when_it_gives_up() {
    let (mut store, allocated) = up_to_allocated();
    let requested = follow(&allocated, "fulfillment", "shipment.requested");
    store.events.push(follow(&requested, "tracking", "package.delivered"));
    store.events.push(requested);
    // invoice publishes invoice.issued; here the chain is whole, but store
    // (a listener that publishes nothing in answer) dead-lettered an event.
    let placed = store.events[0].clone();
    store.dead.push(DeadLetter {
        service: "invoice".into(),
        queue: "t-invoice-dlq".into(),
        message_id: "m".into(),
        correlation_id: Some(CID.into()),
        event_type: Some("order.placed".into()),
        event: Some(placed),
        reason: None,
        receive_count: 5,
    });
    let h = only(hops(&store, Expected::Paths(&delivered_chain()), &Environment::default()));
    assert_eq!(h.hop.service.as_deref(), Some("invoice"));
    assert_eq!(h.hop.expected, "order.placed handled by invoice");
    assert!(matches!(h.reason, Reason::DeadLettered { .. }), "{h}");
}

#[test]
fn what_a_service_has_in_hand_for_other_chains_does_not_make_this_hop_stuck() {
    let (mut store, allocated) = up_to_allocated();
    store.spans.push(handle("fulfillment", &allocated, "h1", None));
    // The relay's publish work for this event (its follow-up was dropped), no calls.
    store.spans.push(work("fulfillment", &allocated, "w1"));
    let env = Environment {
        pending: vec![
            Pending::InHand { service: "fulfillment".into(), handling: 1, outbox: 0, work: 0 },
            Pending::Queue { queue: "t-fulfillment".into(), waiting: 0, in_flight: 1, delayed: 0 },
        ],
        stuck: true,
        ..Environment::default()
    };
    let h = only(hops(&store, Expected::Paths(&delivered_chain()), &env));
    assert_eq!(h.reason, Reason::HandledWithoutFollowUp, "{h}");
}

const SECOND: u64 = 1_000_000_000;

/// A fault of `kind` on `target`, `from` to `until` seconds after `t0`.
fn injected(kind: FaultKind, target: &str, t0: u64, from: f64, until: Option<f64>) -> InjectedFault {
    let at = |s: f64| (t0 as i128 + (s * SECOND as f64) as i128) as u64;
    InjectedFault {
        until_unix_nanos: until.map(at),
        from_unix_nanos: at(from),
        ..InjectedFault::now(kind, target, "was hit")
    }
}

fn nanos(e: &Envelope) -> u64 {
    e.occurred_at.unix_timestamp_nanos() as u64
}

#[test]
fn a_dependency_cut_off_is_named_as_why_the_chain_never_started() {
    let began = now();
    let mut cut = injected(FaultKind::Disconnect, "users", began, 3.1, Some(23.1));
    cut.what = "was cut off from the network".into();
    let store = Store { faults: vec![cut.clone()], ..Store::default() };
    let env = Environment {
        began_unix_nanos: Some(began),
        failed_steps: vec![(
            "main".into(),
            Evidence::Step { what: "POST users /sessions".into(), detail: "connection closed".into() },
        )],
        ..Environment::default()
    };
    let h = only(hops(&store, Expected::Paths(&delivered_chain()), &env));
    assert_eq!((h.hop.service.as_deref(), &h.reason), (Some("store"), &Reason::NeverStarted));
    assert_eq!(h.faults, [Blame { fault: cut, anchor_unix_nanos: began }], "store asks users: {h}");
    let text = h.to_string();
    assert!(
        text.starts_with(
            "broken hop: request → store → order.placed\n  why: users was cut off from the network (disconnect) from +3.1 s to +23.1 s\n  so: the chain never started: no order.placed was published\n  evidence: step `POST users /sessions` failed: connection closed"
        ),
        "{text}"
    );
    assert!(
        h.why().starts_with("users was cut off from the network (disconnect) from +3.1 s to +23.1 s; so the chain")
    );
}

#[test]
fn every_kind_of_fault_on_the_hops_service_during_the_hop_is_named_the_same_way() {
    let (store, allocated) = up_to_allocated();
    let cause = nanos(&allocated);
    let kinds = [
        FaultKind::Kill,
        FaultKind::Stop,
        FaultKind::Pause,
        FaultKind::Disconnect,
        FaultKind::Handler,
        FaultKind::Poison,
        FaultKind::FilterOut,
    ];
    for kind in kinds {
        let mut fault = injected(kind, "fulfillment", cause, 0.5, Some(2.0));
        if kind == FaultKind::Handler || kind == FaultKind::FilterOut {
            fault.event = Some("device.allocated".into());
        }
        let store = Store { faults: vec![fault.clone()], ..Store { events: store.events.clone(), ..Store::default() } };
        let h = only(hops(&store, Expected::Paths(&delivered_chain()), &Environment::default()));
        fulfillment_hop(&h);
        assert_eq!(h.faults.iter().map(|b| &b.fault).collect::<Vec<_>>(), [&fault], "{kind}: {h}");
        assert!(h.to_string().contains(&format!("\n  why: fulfillment was hit ({kind}) from ")), "{h}");
    }
}

#[test]
fn a_fault_elsewhere_before_or_on_another_event_is_not_blamed_and_the_nearest_comes_first() {
    let (mut store, _) = up_to_allocated();
    // device.allocated came 5 s after the order: a fault in between had ended before it.
    store.events[1].occurred_at += time::Duration::seconds(5);
    let cause = nanos(&store.events[1]);
    let mut other_event = injected(FaultKind::Handler, "fulfillment", cause, 0.0, None);
    other_event.event = Some("order.placed".into());
    let mut other_chain = injected(FaultKind::Handler, "fulfillment", cause, 0.0, None);
    (other_chain.event, other_chain.correlation_id) = (Some("device.allocated".into()), Some("c-2".into()));
    store.faults = vec![
        injected(FaultKind::Kill, "invoice", cause, 0.5, Some(0.5)),
        injected(FaultKind::Pause, "fulfillment", cause, -4.0, Some(-1.0)),
        other_event,
        other_chain,
    ];
    let h = only(hops(&store, Expected::Paths(&delivered_chain()), &Environment::default()));
    assert_eq!(h.faults, [], "{h}");
    assert!(h.to_string().contains("\n  why: fulfillment never received device.allocated"), "{h}");

    let emulator = injected(FaultKind::Pause, "emulator", cause, 0.2, Some(3.2));
    let earlier = injected(FaultKind::Disconnect, "fulfillment", cause, 0.1, Some(1.0));
    let later = injected(FaultKind::Kill, "fulfillment", cause, 1.5, Some(1.5));
    store.faults = vec![emulator.clone(), earlier.clone(), later.clone()];
    let h = only(hops(&store, Expected::Paths(&delivered_chain()), &Environment::default()));
    let named: Vec<&InjectedFault> = h.faults.iter().map(|b| &b.fault).collect();
    assert_eq!(named, [&later, &earlier, &emulator], "the hop's own service first, the latest first: {h}");
    let text = h.to_string();
    assert!(text.contains("\n  and: the emulator was hit (pause) from "), "{text}");
}

#[test]
fn a_chains_record_holds_the_faults_scoped_to_it_or_lasting_into_it() {
    let (mut store, _) = up_to_allocated();
    let began = nanos(&store.events[0]);
    let scoped = |cid: &str| injected(FaultKind::Handler, "fulfillment", began, -1.0, None).in_chain(cid);
    store.faults = vec![
        scoped(CID),
        scoped("c-10"),
        scoped("c"),
        injected(FaultKind::Kill, "devices", began, 1.0, Some(1.0)),
        injected(FaultKind::Stop, "invoice", began, -9.0, Some(-1.0)),
    ];
    let kept = |store: &Store, cid: &str| -> Vec<String> {
        Trace::build(cid, store).faults.iter().map(|f| format!("{} {}", f.kind, f.target)).collect()
    };
    assert_eq!(kept(&store, CID), ["handler fault fulfillment", "kill devices"]);
    // A chain under a scoped one (`<id>.<label>`) is hit by its faults too.
    let mut labelled = follow(&store.events[0].clone(), "store", "order.placed");
    labelled.correlation_id = CorrelationId::parse("c-1.signup").unwrap();
    store.events.push(labelled);
    assert_eq!(kept(&store, "c-1.signup"), ["handler fault fulfillment", "kill devices"]);
}
