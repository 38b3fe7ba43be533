//! The store service against a real moto, through HTTP and its queue, with
//! wiremock playing users.

mod contracts;

use kit::testing::{Build, TestApp, TestSpec};
use kit::testing::{EXPIRED, FORGED};
use kit::{Config, CorrelationId, Envelope, EventType};
use reqwest::Response;
use serde_json::{Value, json};
use wiremock::MockServer;

const SPEC: TestSpec = TestSpec {
    service: "store",
    listens: &[
        "device.allocated",
        "device.allocation_failed",
        "shipment.requested",
        "package.delivered",
        "shipment.lost",
    ],
    publishes: &["order.placed"],
    max_receive_count: 3,
};

const ADA: &str = "adatoken";
const BOB: &str = "bobtoken";

/// store, and the users it asks: two live sessions, a forged and an
/// expired one.
async fn spawn_app() -> (TestApp<impl Build>, MockServer) {
    let users = kit::testing::users_vouching(&[(ADA, "u-ada"), (BOB, "u-bob")]).await;
    let app = spawn_app_asking(&users.uri()).await;
    (app, users)
}

async fn spawn_app_asking(users_url: &str) -> TestApp<impl Build + use<>> {
    let config = Config::defaults(store::NAME, store::DEFAULTS).with("USERS_URL", users_url);
    TestApp::spawn(SPEC, config, store::build).await
}

fn address() -> Value {
    json!({"name": "Ada Lovelace", "line1": "1 Analytical Road", "city": "London", "postal_code": "N1 1AA", "country": "GB"})
}

fn order_body(model: &str, address: Value) -> Value {
    json!({"model": model, "shipping_address": address})
}

fn basic_order() -> Value {
    order_body("phone-basic", address())
}

/// The `error` of a JSON answer.
fn error(answer: &Value) -> &str {
    answer["error"].as_str().unwrap_or_default()
}

/// Status and body of `POST /orders` as `token`'s user.
async fn place(app: &TestApp<impl Build>, token: &str, body: &Value) -> (u16, Value) {
    let request = app.post("/orders").bearer_auth(token).json(body);
    answer(request.send().await.unwrap()).await
}

async fn answer(resp: Response) -> (u16, Value) {
    (resp.status().as_u16(), resp.json().await.unwrap())
}

/// Places a phone-basic order for `token`'s user; its id.
async fn place_order(app: &TestApp<impl Build>, token: &str) -> String {
    let (status, body) = place(app, token, &basic_order()).await;
    assert_eq!(status, 201, "{body}");
    body["order_id"].as_str().unwrap().to_owned()
}

/// Status and body of `GET path` as `token`'s user.
async fn get(app: &TestApp<impl Build>, token: &str, path: &str) -> (u16, Value) {
    answer(app.get(path).bearer_auth(token).send().await.unwrap()).await
}

async fn order(app: &TestApp<impl Build>, order_id: &str) -> Value {
    let (status, body) = get(app, ADA, &format!("/orders/{order_id}")).await;
    assert_eq!(status, 200, "{body}");
    body
}

fn event(event_type: &str, data: Value) -> Envelope {
    let event_type = EventType::parse(event_type).unwrap();
    Envelope::new("test", event_type, CorrelationId::generate(), None, &data).unwrap()
}

/// A status event for `order_id`, with the data its producer sends.
fn status(event_type: &str, order_id: &str) -> Envelope {
    let mut data = match event_type {
        "device.allocated" => json!({"device_id": "d-1", "serial": "SN1", "address": address()}),
        "device.allocation_failed" => json!({"model": "phone-basic", "reason": "out_of_stock"}),
        "shipment.requested" => json!({"shipment_id": "s-1", "tracking_number": "TRK1"}),
        "shipment.lost" => json!({
            "shipment_id": "s-1", "tracking_number": "TRK1", "reason": "refused", "last_status": 404, "polls": 5
        }),
        _ => json!({"tracking_number": "TRK1", "delivered_at": "2030-01-01T00:00:00Z"}),
    };
    data["order_id"] = json!(order_id);
    data["user_id"] = json!("u-ada");
    event(event_type, data)
}

/// Delivers `event` and waits until store has handled it.
async fn deliver(app: &TestApp<impl Build>, event: &Envelope) {
    app.bus.deliver(event).await;
    app.bus.wait_idle().await;
}

/// One field of each entry of an order's timeline.
fn timeline<'a>(order: &'a Value, field: &str) -> Vec<&'a str> {
    let entries = order["timeline"].as_array().unwrap();
    entries.iter().map(|e| e[field].as_str().unwrap()).collect()
}

#[tokio::test]
async fn an_order_publishes_order_placed_in_the_callers_chain() {
    let (app, users) = spawn_app().await;
    let resp = app
        .post("/orders")
        .bearer_auth(ADA)
        .header("X-Correlation-ID", "order-chain-1")
        .json(&json!({"model": "phone-pro", "shipping_address": address()}))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 201);
    assert_eq!(resp.headers()["x-correlation-id"], "order-chain-1");
    let placed: Value = resp.json().await.unwrap();
    assert_eq!(placed["status"], "placed");

    let event = app.bus.published("order.placed").await;
    assert_eq!(event.correlation_id.as_str(), "order-chain-1");
    assert!(event.causation_id.is_some(), "{event:?}");
    assert_eq!(
        event.data,
        json!({"order_id": placed["order_id"], "user_id": "u-ada", "model": "phone-pro", "price_cents": 99900, "currency": "EUR", "shipping_address": address()})
    );
    // The session check travelled in the same chain.
    let asked = users.received_requests().await.unwrap();
    let chain = |r: &wiremock::Request| r.headers["x-correlation-id"] == "order-chain-1";
    assert!(!asked.is_empty() && asked.iter().all(chain), "{asked:?}");

    let order = order(&app, placed["order_id"].as_str().unwrap()).await;
    assert_eq!(order["status"], "placed");
    assert_eq!(order["user_id"], "u-ada");
    assert_eq!(order["shipping_address"], address());
    assert_eq!(timeline(&order, "event_type"), ["order.placed"]);
    assert_eq!(timeline(&order, "event_id"), [event.id.to_string()]);
}

#[tokio::test]
async fn requests_without_a_live_session_are_refused_and_publish_nothing() {
    let (app, _users) = spawn_app().await;
    let request = app.post("/orders").json(&basic_order());
    let (status, body) = answer(request.send().await.unwrap()).await;
    assert_eq!(status, 401);
    assert!(error(&body).starts_with("missing bearer token"), "{body}");
    for (token, said) in [(FORGED, "unknown session"), (EXPIRED, "session expired"), ("not/a/token", "unknown session")]
    {
        assert_eq!(place(&app, token, &basic_order()).await, (401, json!({"error": said})));
    }
    assert_eq!(get(&app, EXPIRED, "/orders").await.0, 401);
    assert!(app.bus.all_published().await.is_empty());
}

#[tokio::test]
async fn users_unreachable_is_503() {
    // A port that was free a moment ago: nothing listens there.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let closed = listener.local_addr().unwrap();
    drop(listener);
    let app = spawn_app_asking(&format!("http://{closed}")).await;
    let (status, body) = place(&app, ADA, &basic_order()).await;
    assert_eq!(status, 503);
    assert!(error(&body).contains("sessions cannot be checked"), "{body}");
    assert!(app.bus.all_published().await.is_empty());
}

#[tokio::test]
async fn bad_orders_are_refused_naming_the_field() {
    let (app, _users) = spawn_app().await;
    let (status, body) = place(&app, ADA, &order_body("phone-max", address())).await;
    assert_eq!((status, &body["field"]), (422, &json!("model")));
    assert!(error(&body).contains("phone-basic, phone-pro"), "{body}");

    let mut no_city = address();
    no_city.as_object_mut().unwrap().remove("city");
    let mut blank_country = address();
    blank_country["country"] = json!("  ");
    let cases = [
        (order_body("phone-basic", no_city), "shipping_address.city"),
        (order_body("phone-basic", blank_country), "shipping_address.country"),
        (json!({"shipping_address": address()}), "model"),
        (json!({"model": "phone-basic"}), "shipping_address"),
    ];
    for (body, field) in cases {
        let (status, answer) = place(&app, ADA, &body).await;
        assert_eq!((status, answer["field"].as_str()), (422, Some(field)), "{answer}");
    }
    assert!(app.bus.all_published().await.is_empty());
    assert_eq!(get(&app, ADA, "/orders").await.1, json!([]));
}

#[tokio::test]
async fn each_status_event_moves_the_order_and_joins_its_timeline() {
    let (app, _users) = spawn_app().await;
    let id = place_order(&app, ADA).await;
    let steps =
        [("device.allocated", "allocated"), ("shipment.requested", "shipped"), ("package.delivered", "delivered")];
    for (event_type, now) in steps {
        let event = status(event_type, &id);
        deliver(&app, &event).await;
        let order = order(&app, &id).await;
        assert_eq!(order["status"], now, "{order}");
        let last = timeline(&order, "event_id").last().map(|id| id.to_string());
        assert_eq!(last, Some(event.id.to_string()));
    }
    let order = order(&app, &id).await;
    assert_eq!(
        timeline(&order, "event_type"),
        ["order.placed", "device.allocated", "shipment.requested", "package.delivered"]
    );
    assert_eq!(order["tracking_number"], "TRK1");
}

#[tokio::test]
async fn a_failed_allocation_is_final_and_keeps_its_reason() {
    let (app, _users) = spawn_app().await;
    let id = place_order(&app, ADA).await;
    deliver(&app, &status("device.allocation_failed", &id)).await;
    deliver(&app, &status("device.allocated", &id)).await;
    let order = order(&app, &id).await;
    assert_eq!(order["status"], "failed");
    assert_eq!(order["reason"], "out_of_stock");
    assert_eq!(timeline(&order, "event_type"), ["order.placed", "device.allocation_failed", "device.allocated"]);
}

#[tokio::test]
async fn events_out_of_order_never_move_the_status_back() {
    let (app, _users) = spawn_app().await;
    let id = place_order(&app, ADA).await;
    for event in [status("package.delivered", &id), status("shipment.requested", &id), status("device.allocated", &id)]
    {
        deliver(&app, &event).await;
    }
    let order = order(&app, &id).await;
    assert_eq!(order["status"], "delivered");
    assert_eq!(order["tracking_number"], "TRK1");
    assert_eq!(order["timeline"].as_array().unwrap().len(), 4);
}

#[tokio::test]
async fn a_lost_shipment_marks_the_order_lost_with_its_reason_once() {
    let (app, _users) = spawn_app().await;
    let id = place_order(&app, ADA).await;
    for event_type in ["device.allocated", "shipment.requested"] {
        deliver(&app, &status(event_type, &id)).await;
    }
    let lost = status("shipment.lost", &id);
    deliver(&app, &lost).await;
    deliver(&app, &lost).await;
    let order = order(&app, &id).await;
    assert_eq!((&order["status"], &order["reason"]), (&json!("lost"), &json!("refused")), "{order}");
    assert_eq!(order["tracking_number"], "TRK1");
    assert_eq!(
        timeline(&order, "event_type"),
        ["order.placed", "device.allocated", "shipment.requested", "shipment.lost"],
        "once, however often it is delivered"
    );
}

#[tokio::test]
async fn a_lost_shipment_never_overrides_a_delivery() {
    let (app, _users) = spawn_app().await;
    let id = place_order(&app, ADA).await;
    for event_type in ["device.allocated", "shipment.requested", "package.delivered", "shipment.lost"] {
        deliver(&app, &status(event_type, &id)).await;
    }
    let order = order(&app, &id).await;
    assert_eq!(order["status"], "delivered", "{order}");
    assert_eq!(order["reason"], Value::Null, "a stale loss leaves no reason on a delivered order");
    assert_eq!(timeline(&order, "event_type").last(), Some(&"shipment.lost"));
}

#[tokio::test]
async fn a_duplicate_event_has_no_second_effect() {
    let (app, _users) = spawn_app().await;
    let id = place_order(&app, ADA).await;
    let event = status("device.allocated", &id);
    deliver(&app, &event).await;
    deliver(&app, &event).await;
    let order = order(&app, &id).await;
    assert_eq!(timeline(&order, "event_type"), ["order.placed", "device.allocated"]);
    let published = app.bus.all_published().await;
    assert_eq!(published.len(), 1, "only the order.placed: {published:?}");
}

#[tokio::test]
async fn poison_and_unknown_orders_go_to_the_dead_letter_queue() {
    let (app, _users) = spawn_app().await;
    app.bus.send_raw("this is not json").await;
    app.bus.deliver(&status("device.allocated", "no-such-order")).await;
    app.bus.deliver(&event("shipment.requested", json!({"tracking_number": "TRK1"}))).await;
    app.bus.wait_dead_letters(3).await;
    let dead = app.bus.dead_letters().await;
    assert!(dead.iter().any(|b| b == "this is not json"), "{dead:?}");
    assert!(dead.iter().any(|b| b.contains("no-such-order")), "{dead:?}");

    let id = place_order(&app, ADA).await;
    deliver(&app, &status("device.allocated", &id)).await;
    assert_eq!(order(&app, &id).await["status"], "allocated");
}

#[tokio::test]
async fn another_users_order_is_not_found() {
    let (app, _users) = spawn_app().await;
    let id = place_order(&app, ADA).await;
    let (status, theirs) = get(&app, BOB, &format!("/orders/{id}")).await;
    let (missing_status, missing) = get(&app, BOB, "/orders/no-such-order").await;
    assert_eq!((status, missing_status), (404, 404));
    assert_eq!(theirs["error"], format!("no order {id}"));
    assert_eq!(missing["error"], "no order no-such-order");
    assert_eq!(get(&app, BOB, "/orders").await.1, json!([]));
    let (_, mine) = get(&app, ADA, "/orders").await;
    assert_eq!(mine.as_array().unwrap().len(), 1);
    assert_eq!(mine[0]["order_id"], id);
}

#[tokio::test]
async fn orders_survive_a_restart() {
    let (mut app, _users) = spawn_app().await;
    let id = place_order(&app, ADA).await;
    deliver(&app, &status("device.allocated", &id)).await;
    app.restart().await;
    let order = order(&app, &id).await;
    assert_eq!(order["status"], "allocated");
    assert_eq!(timeline(&order, "event_type"), ["order.placed", "device.allocated"]);
    // The one order.placed was published (before or after the restart), never twice.
    let published = app.bus.all_published().await;
    let placed: Vec<_> = published.iter().filter(|e| e.data["order_id"] == id).collect();
    assert_eq!(placed.len(), 1, "{published:?}");
}

#[tokio::test]
async fn a_bad_catalog_stops_startup_naming_the_key() {
    for (key, value) in [("STORE_CATALOG", "phone-basic=abc"), ("STORE_CURRENCY", "euro")] {
        let config =
            Config::defaults(store::NAME, store::DEFAULTS).with("USERS_URL", "http://127.0.0.1:9").with(key, value);
        let Err(e) = store::build(&config).await else { panic!("{key}={value} was accepted") };
        let message = e.to_string();
        assert!(message.starts_with(&format!("{key}=\"{value}\"")), "{message}");
    }
}
