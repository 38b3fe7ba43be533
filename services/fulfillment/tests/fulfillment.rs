//! The fulfillment service against a real moto, with wiremock playing the
//! fulfillment center and the users it asks whose session a request holds.

mod contracts;

use std::time::Duration;

use kit::testing::{Build, FORGED, OTHER, OWNER, TestApp, TestSpec};
use kit::{Config, CorrelationId, Envelope, EventType};
use serde_json::{Value, json};
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

const SPEC: TestSpec = TestSpec {
    service: "fulfillment",
    listens: &["device.allocated"],
    publishes: &["shipment.requested"],
    max_receive_count: 3,
};

/// The service asking `center`, with quick timeouts and two attempts per
/// delivery, and the users it asks (kept alive with it); every order is u-1's.
async fn spawn_app(center: &MockServer) -> (TestApp<impl Build>, MockServer) {
    let users = kit::testing::users().await;
    let config = Config::defaults(fulfillment::NAME, fulfillment::DEFAULTS)
        .with("USERS_URL", users.uri())
        .with("FULFILLMENT_CENTER_URL", center.uri())
        .with("FULFILLMENT_CENTER_TIMEOUT_MS", "300")
        .with("FULFILLMENT_CENTER_ATTEMPTS", "3")
        .with("FULFILLMENT_CENTER_BACKOFF_MS", "10");
    (TestApp::spawn(SPEC, config, fulfillment::build).await, users)
}

fn address() -> Value {
    json!({"name": "A", "line1": "1 Road", "city": "Town", "postal_code": "1000", "country": "NL"})
}

fn device_allocated(order_id: &str) -> Envelope {
    let data = json!({
        "order_id": order_id, "user_id": "u-1", "model": "phone-basic",
        "device_id": "d-1", "serial": format!("SN-{order_id}"), "shipping_address": address()
    });
    Envelope::new("devices", EventType::parse("device.allocated").unwrap(), CorrelationId::generate(), None, &data)
        .unwrap()
}

fn accepted(shipment_id: &str) -> ResponseTemplate {
    ResponseTemplate::new(201).set_body_json(json!({
        "shipment_id": shipment_id, "tracking_number": format!("TRK-{shipment_id}"), "carrier": "PostNL"
    }))
}

/// Answers every fulfillment order with `response`; `times` limits it and
/// `priority` orders it against the others (lower first).
async fn answer(center: &MockServer, response: ResponseTemplate, times: Option<u64>, priority: u8) {
    let mock =
        Mock::given(method("POST")).and(path("/fulfillment-orders")).respond_with(response).with_priority(priority);
    let mock = match times {
        Some(n) => mock.up_to_n_times(n),
        None => mock,
    };
    mock.mount(center).await;
}

/// The Idempotency-Key of every request the center received.
async fn keys(center: &MockServer) -> Vec<String> {
    let requests = center.received_requests().await.unwrap_or_default();
    requests
        .iter()
        .map(|r| r.headers.get("idempotency-key").and_then(|v| v.to_str().ok()).unwrap_or_default().to_owned())
        .collect()
}

/// The order's shipments as its owner sees them.
async fn shipments(app: &TestApp<impl Build>, order: &str) -> Vec<Value> {
    let (status, body) = shipments_as(app, order, Some(OWNER)).await;
    assert_eq!(status, 200, "{body}");
    body.as_array().unwrap().clone()
}

/// Status and body of the order's shipments as `token`'s user (or nobody).
async fn shipments_as(app: &TestApp<impl Build>, order: &str, token: Option<&str>) -> (u16, Value) {
    kit::testing::answer_as(app.get(&format!("/shipments?order_id={order}")), token).await
}

#[tokio::test]
async fn an_allocated_device_is_shipped_in_its_chain() {
    let center = MockServer::start().await;
    answer(&center, accepted("s-1"), None, 5).await;
    let (app, _users) = spawn_app(&center).await;
    let allocated = device_allocated("o-1");
    app.bus.deliver(&allocated).await;
    let requested = app.bus.published("shipment.requested").await;
    assert_eq!(requested.correlation_id, allocated.correlation_id);
    assert_eq!(requested.causation_id, Some(allocated.id.to_string()));
    assert_eq!(
        requested.data,
        json!({"order_id": "o-1", "user_id": "u-1", "shipment_id": "s-1", "tracking_number": "TRK-s-1", "carrier": "PostNL"})
    );
    let received = center.received_requests().await.unwrap();
    assert_eq!(received.len(), 1);
    let body: Value = received[0].body_json().unwrap();
    assert_eq!(
        body,
        json!({"reference": "o-1", "device_serial": "SN-o-1", "model": "phone-basic", "ship_to": address()})
    );
    assert_eq!(keys(&center).await, [allocated.id.to_string()]);
    let list = shipments(&app, "o-1").await;
    assert_eq!(list.len(), 1);
    assert_eq!((list[0]["shipment_id"].as_str(), list[0]["tracking_number"].as_str()), (Some("s-1"), Some("TRK-s-1")));
}

#[tokio::test]
async fn a_center_failing_twice_then_answering_ships_once() {
    let center = MockServer::start().await;
    answer(&center, ResponseTemplate::new(503), Some(2), 1).await;
    answer(&center, accepted("s-1"), None, 2).await;
    let (app, _users) = spawn_app(&center).await;
    let allocated = device_allocated("o-1");
    app.bus.deliver(&allocated).await;
    app.bus.published("shipment.requested").await;
    let extra = app.bus.all_published().await;
    assert!(extra.is_empty(), "{extra:?}");
    let id = allocated.id.to_string();
    assert_eq!(keys(&center).await, [id.clone(), id.clone(), id]);
    assert_eq!(shipments(&app, "o-1").await.len(), 1);
}

#[tokio::test]
async fn a_slow_center_is_timed_out_and_asked_again() {
    let center = MockServer::start().await;
    answer(&center, accepted("s-slow").set_delay(Duration::from_secs(2)), Some(1), 1).await;
    answer(&center, accepted("s-1"), None, 2).await;
    let (app, _users) = spawn_app(&center).await;
    app.bus.deliver(&device_allocated("o-1")).await;
    let requested = app.bus.published("shipment.requested").await;
    assert_eq!(requested.data["shipment_id"], "s-1");
    assert_eq!(keys(&center).await.len(), 2);
}

#[tokio::test]
async fn a_center_down_for_good_dead_letters_the_event_and_later_orders_still_ship() {
    let center = MockServer::start().await;
    answer(&center, ResponseTemplate::new(503), None, 5).await;
    let (app, _users) = spawn_app(&center).await;
    let doomed = device_allocated("o-1");
    app.bus.deliver(&doomed).await;
    app.bus.wait_dead_letters(1).await;
    // Three deliveries (the queue's max_receive_count), three attempts each.
    assert_eq!(keys(&center).await.len(), 9);
    assert!(shipments(&app, "o-1").await.is_empty());
    center.reset().await;
    answer(&center, accepted("s-2"), None, 5).await;
    app.bus.deliver(&device_allocated("o-2")).await;
    let requested = app.bus.published("shipment.requested").await;
    assert_eq!(requested.data["order_id"], "o-2");
    let dead = app.bus.dead_letters().await;
    assert!(dead.iter().any(|b| b.contains(&doomed.id.to_string())), "{dead:?}");
}

#[tokio::test]
async fn refusals_bad_answers_and_poison_go_to_the_dead_letter_queue() {
    let center = MockServer::start().await;
    let (app, _users) = spawn_app(&center).await;
    Mock::given(method("POST"))
        .and(wiremock::matchers::body_partial_json(json!({"reference": "o-refused"})))
        .respond_with(ResponseTemplate::new(422).set_body_json(json!({"error": "unknown country"})))
        .mount(&center)
        .await;
    Mock::given(method("POST"))
        .and(wiremock::matchers::body_partial_json(json!({"reference": "o-garbled"})))
        .respond_with(ResponseTemplate::new(201).set_body_json(json!({"shipment": "?"})))
        .mount(&center)
        .await;
    app.bus.deliver(&device_allocated("o-refused")).await;
    app.bus.deliver(&device_allocated("o-garbled")).await;
    app.bus.send_raw("this is not json").await;
    let mut broken = device_allocated("o-broken");
    broken.data = json!({"order_id": "o-broken"});
    app.bus.deliver(&broken).await;
    app.bus.wait_dead_letters(4).await;
    let broken_calls = center.received_requests().await.unwrap_or_default();
    let refused_calls = broken_calls.iter().filter(|r| String::from_utf8_lossy(&r.body).contains("o-refused")).count();
    assert_eq!(refused_calls, 1, "a refusal is final: asked once, then dead-lettered");
    assert!(broken_calls.iter().all(|r| !String::from_utf8_lossy(&r.body).contains("o-broken")));
    for order in ["o-refused", "o-garbled", "o-broken"] {
        assert!(shipments(&app, order).await.is_empty(), "{order} was shipped");
    }
    answer(&center, accepted("s-ok"), None, 5).await;
    app.bus.deliver(&device_allocated("o-ok")).await;
    assert_eq!(app.bus.published("shipment.requested").await.data["order_id"], "o-ok");
}

#[tokio::test]
async fn duplicates_ask_with_one_key_and_ship_once() {
    let center = MockServer::start().await;
    answer(&center, accepted("s-1"), None, 5).await;
    let (app, _users) = spawn_app(&center).await;
    let allocated = device_allocated("o-1");
    app.bus.deliver(&allocated).await;
    app.bus.deliver(&allocated).await;
    app.bus.published("shipment.requested").await;
    // The same allocation again under a new event id, as a re-published event would be.
    let mut again = allocated.clone();
    again.id = uuid::Uuid::new_v4();
    app.bus.deliver(&again).await;
    let extra = app.bus.all_published().await;
    assert!(extra.is_empty(), "{extra:?}");
    let keys = keys(&center).await;
    assert!(!keys.is_empty() && keys.iter().all(|k| *k == allocated.id.to_string()), "{keys:?}");
    assert_eq!(shipments(&app, "o-1").await.len(), 1);
}

#[tokio::test]
async fn shipments_survive_a_restart() {
    let center = MockServer::start().await;
    answer(&center, accepted("s-1"), None, 5).await;
    let (mut app, _users) = spawn_app(&center).await;
    let allocated = device_allocated("o-1");
    app.bus.deliver(&allocated).await;
    app.bus.published("shipment.requested").await;
    app.restart().await;
    assert_eq!(shipments(&app, "o-1").await[0]["shipment_id"], "s-1");
    app.bus.deliver(&allocated).await;
    let extra = app.bus.all_published().await;
    assert!(extra.is_empty(), "{extra:?}");
    assert_eq!(keys(&center).await.len(), 1, "the redelivery asked the center again");
}

#[tokio::test]
async fn a_missing_order_id_is_named() {
    let center = MockServer::start().await;
    let (app, _users) = spawn_app(&center).await;
    let resp = app.get("/shipments").bearer_auth(OWNER).send().await.unwrap();
    assert_eq!(resp.status(), 400);
    let body: Value = resp.json().await.unwrap();
    assert_eq!(body["field"], "order_id");
    assert!(shipments(&app, "o-none").await.is_empty());
}

#[tokio::test]
async fn only_the_owner_of_the_order_sees_its_shipment() {
    let center = MockServer::start().await;
    answer(&center, accepted("s-9"), None, 5).await;
    let (app, _users) = spawn_app(&center).await;
    app.bus.deliver(&device_allocated("o-9")).await;
    app.bus.published("shipment.requested").await;
    assert_eq!(shipments(&app, "o-9").await[0]["user_id"], "u-1");
    // Another user's order reads as one with no shipment: its existence is not theirs to know.
    assert_eq!(shipments_as(&app, "o-9", Some(OTHER)).await, (200, json!([])));
    let (status, body) = shipments_as(&app, "o-9", None).await;
    assert_eq!(status, 401);
    assert!(body["error"].as_str().unwrap().starts_with("missing bearer token"), "{body}");
    assert_eq!(shipments_as(&app, "o-9", Some(FORGED)).await, (401, json!({"error": "unknown session"})));
}
