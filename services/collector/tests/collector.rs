//! The collector against a real moto: events in, metrics and chains out.

mod contracts;

use kit::testing::{Build, OPERATOR_TOKEN, TestApp, TestSpec};
use kit::{Config, CorrelationId, Envelope, EventType};
use serde_json::{Value, json};

const SPEC: TestSpec = TestSpec {
    service: "collector",
    listens: &[
        "user.registered",
        "order.placed",
        "device.allocated",
        "device.allocation_failed",
        "shipment.requested",
        "package.delivered",
        "shipment.lost",
        "invoice.issued",
        "mail.sent",
    ],
    publishes: &[],
    max_receive_count: 3,
};

async fn spawn_app() -> TestApp<impl Build> {
    TestApp::spawn(SPEC, Config::defaults(collector::NAME, collector::DEFAULTS), collector::build).await
}

/// A new chain's first event; the data is not the collector's business.
fn event(event_type: &str, producer: &str) -> Envelope {
    Envelope::new(producer, EventType::parse(event_type).unwrap(), CorrelationId::generate(), None, &json!({"n": 1}))
        .unwrap()
}

/// The samples of `/metrics`, after checking its content type and header lines.
async fn samples(app: &TestApp<impl Build>) -> Vec<String> {
    let resp = app.get("/metrics").bearer_auth(OPERATOR_TOKEN).send().await.unwrap();
    assert_eq!(resp.status(), 200);
    assert_eq!(resp.headers()["content-type"], "text/plain; version=0.0.4");
    let page = resp.text().await.unwrap();
    let mut lines = page.lines();
    assert!(lines.next().is_some_and(|l| l.starts_with("# HELP fare_events_total ")), "{page}");
    assert_eq!(lines.next(), Some("# TYPE fare_events_total counter"), "{page}");
    lines.map(str::to_owned).collect()
}

async fn chain(app: &TestApp<impl Build>, correlation_id: &str) -> (u16, Value) {
    let resp =
        app.get(&format!("/events?correlation_id={correlation_id}")).bearer_auth(OPERATOR_TOKEN).send().await.unwrap();
    (resp.status().as_u16(), resp.json().await.unwrap())
}

#[tokio::test]
async fn events_are_counted_by_type_and_producer() {
    let app = spawn_app().await;
    assert!(samples(&app).await.is_empty());
    let events = [
        ("order.placed", "store"),
        ("order.placed", "store"),
        ("order.placed", "store"),
        ("device.allocated", "devices"),
        ("device.allocated", "devices"),
        ("device.allocation_failed", "devices"),
        ("mail.sent", "mailer"),
        ("user.registered", "users"),
        // An impostor: same type, another producer, counted apart.
        ("order.placed", "test"),
    ];
    for (event_type, producer) in events {
        app.bus.deliver(&event(event_type, producer)).await;
    }
    app.bus.wait_idle().await;
    assert_eq!(
        samples(&app).await,
        [
            r#"fare_events_total{type="device.allocated",producer="devices"} 2"#,
            r#"fare_events_total{type="device.allocation_failed",producer="devices"} 1"#,
            r#"fare_events_total{type="mail.sent",producer="mailer"} 1"#,
            r#"fare_events_total{type="order.placed",producer="store"} 3"#,
            r#"fare_events_total{type="order.placed",producer="test"} 1"#,
            r#"fare_events_total{type="user.registered",producer="users"} 1"#,
        ]
    );
}

#[tokio::test]
async fn odd_producers_are_escaped_in_labels() {
    let app = spawn_app().await;
    app.bus.deliver(&event("invoice.issued", "in\"voice\\2\nb")).await;
    app.bus.wait_idle().await;
    assert_eq!(samples(&app).await, [r#"fare_events_total{type="invoice.issued",producer="in\"voice\\2\nb"} 1"#]);
}

#[tokio::test]
async fn a_duplicate_is_counted_once() {
    let app = spawn_app().await;
    let placed = event("order.placed", "store");
    app.bus.deliver(&placed).await;
    app.bus.deliver(&placed).await;
    app.bus.wait_idle().await;
    assert_eq!(samples(&app).await, [r#"fare_events_total{type="order.placed",producer="store"} 1"#]);
    let (_, seen) = chain(&app, placed.correlation_id.as_str()).await;
    assert_eq!(seen.as_array().map(Vec::len), Some(1), "{seen}");
}

#[tokio::test]
async fn poison_goes_to_the_dead_letter_queue_and_the_service_keeps_counting() {
    let app = spawn_app().await;
    app.bus.send_raw("this is not json").await;
    app.bus.send_raw(r#"{"id": "not-a-uuid", "type": "order.placed"}"#).await;
    app.bus.wait_dead_letters(2).await;
    let dead = app.bus.dead_letters().await;
    assert!(dead.iter().any(|b| b == "this is not json"), "{dead:?}");
    app.bus.deliver(&event("package.delivered", "tracking")).await;
    app.bus.wait_idle().await;
    assert_eq!(samples(&app).await, [r#"fare_events_total{type="package.delivered",producer="tracking"} 1"#]);
}

#[tokio::test]
async fn a_chain_is_answered_in_arrival_order() {
    let app = spawn_app().await;
    let placed = event("order.placed", "store");
    let allocated = placed.follow("devices", EventType::parse("device.allocated").unwrap(), &json!({})).unwrap();
    let shipped = allocated.follow("fulfillment", EventType::parse("shipment.requested").unwrap(), &json!({})).unwrap();
    let other = event("order.placed", "store");
    for e in [&placed, &other, &allocated, &shipped] {
        app.bus.deliver(e).await;
        // One at a time: arrival order is what is asserted.
        app.bus.wait_idle().await;
    }
    let (status, seen) = chain(&app, placed.correlation_id.as_str()).await;
    assert_eq!(status, 200);
    let seen = seen.as_array().unwrap();
    let ids: Vec<&str> = seen.iter().map(|e| e["id"].as_str().unwrap()).collect();
    assert_eq!(ids, [placed.id.to_string(), allocated.id.to_string(), shipped.id.to_string()]);
    assert_eq!(seen[0]["type"], "order.placed");
    assert_eq!(seen[0]["producer"], "store");
    assert_eq!(seen[0]["causation_id"], Value::Null);
    assert_eq!(seen[2]["causation_id"], allocated.id.to_string());
    assert!(seen.iter().all(|e| e["correlation_id"] == placed.correlation_id.as_str()));
    let occurred = seen[1]["occurred_at"].as_str().unwrap();
    let parsed = time::OffsetDateTime::parse(occurred, &time::format_description::well_known::Rfc3339).unwrap();
    assert_eq!(parsed, allocated.occurred_at);
    assert_eq!(chain(&app, "never-seen").await, (200, json!([])));
}

/// Every chain's events and the platform's counts span users: only an
/// operator reads them.
#[tokio::test]
async fn chains_and_counts_are_for_operators_only() {
    let app = spawn_app().await;
    for path in ["/events?correlation_id=c-1", "/metrics"] {
        assert_eq!(app.get(path).send().await.unwrap().status(), 401, "{path}");
        assert_eq!(app.get(path).bearer_auth("not-the-token").send().await.unwrap().status(), 401, "{path}");
        assert_eq!(app.get(path).bearer_auth(OPERATOR_TOKEN).send().await.unwrap().status(), 200, "{path}");
    }
}

#[tokio::test]
async fn a_missing_or_bad_correlation_id_is_named() {
    let app = spawn_app().await;
    for query in ["/events", "/events?correlation_id=a%20b"] {
        let resp = app.get(query).bearer_auth(OPERATOR_TOKEN).send().await.unwrap();
        assert_eq!(resp.status(), 400, "{query}");
        let body: Value = resp.json().await.unwrap();
        assert_eq!(body["field"], "correlation_id", "{query}");
    }
}

#[tokio::test]
async fn counts_and_chains_survive_a_restart() {
    let mut app = spawn_app().await;
    let placed = event("order.placed", "store");
    app.bus.deliver(&placed).await;
    app.bus.wait_idle().await;
    app.restart().await;
    app.bus.deliver(&placed).await;
    app.bus.wait_idle().await;
    assert_eq!(samples(&app).await, [r#"fare_events_total{type="order.placed",producer="store"} 1"#]);
    let (_, seen) = chain(&app, placed.correlation_id.as_str()).await;
    assert_eq!(seen[0]["id"], placed.id.to_string());
}
