//! The invoice service against a real moto, through HTTP and its queue,
//! with wiremock playing the users it asks whose session a request holds.

mod contracts;

use kit::testing::{Build, FORGED, OTHER, OWNER, TestApp, TestSpec};
use kit::{Config, CorrelationId, Envelope, EventType};
use serde_json::{Value, json};
use wiremock::MockServer;

const SPEC: TestSpec =
    TestSpec { service: "invoice", listens: &["order.placed"], publishes: &["invoice.issued"], max_receive_count: 3 };

/// invoice, and the users it asks (kept alive with it); every order is u-1's.
async fn spawn_app() -> (TestApp<impl Build>, MockServer) {
    let users = kit::testing::users().await;
    let config = Config::defaults(invoice::NAME, invoice::DEFAULTS).with("USERS_URL", users.uri());
    (TestApp::spawn(SPEC, config, invoice::build).await, users)
}

fn order_placed(order_id: &str) -> Envelope {
    let data = json!({
        "order_id": order_id, "user_id": "u-1", "model": "phone-basic",
        "price_cents": 19900, "currency": "EUR",
        "shipping_address": {"name": "A", "line1": "1 Road", "city": "Town", "postal_code": "1000", "country": "NL"}
    });
    Envelope::new("store", EventType::parse("order.placed").unwrap(), CorrelationId::generate(), None, &data).unwrap()
}

/// The order's invoices as its owner sees them.
async fn invoices(app: &TestApp<impl Build>, order: &str) -> Vec<Value> {
    let (status, body) = invoices_as(app, order, Some(OWNER)).await;
    assert_eq!(status, 200, "{body}");
    body.as_array().unwrap().clone()
}

/// Status and body of the order's invoices as `token`'s user (or nobody).
async fn invoices_as(app: &TestApp<impl Build>, order: &str, token: Option<&str>) -> (u16, Value) {
    kit::testing::answer_as(app.get(&format!("/invoices?order_id={order}")), token).await
}

#[tokio::test]
async fn an_order_gets_one_invoice_in_its_chain() {
    let (app, _users) = spawn_app().await;
    let order = order_placed("o-1");
    app.bus.deliver(&order).await;
    let issued = app.bus.published("invoice.issued").await;
    assert_eq!(issued.correlation_id, order.correlation_id);
    assert_eq!(issued.causation_id, Some(order.id.to_string()));
    assert_eq!(issued.data["order_id"], "o-1");
    assert_eq!(issued.data["amount_cents"], 19900);
    let list = invoices(&app, "o-1").await;
    assert_eq!(list.len(), 1);
    assert_eq!(list[0]["id"], issued.data["id"]);
}

#[tokio::test]
async fn duplicates_have_no_second_effect() {
    let (app, _users) = spawn_app().await;
    let order = order_placed("o-2");
    app.bus.deliver(&order).await;
    app.bus.deliver(&order).await;
    // The same order again under a new event id, as a re-published event would be.
    let mut again = order.clone();
    again.id = uuid::Uuid::new_v4();
    app.bus.deliver(&again).await;
    let published = app.all_published().await;
    assert_eq!(published.len(), 1, "{published:?}");
    assert_eq!(invoices(&app, "o-2").await.len(), 1);
}

#[tokio::test]
async fn poison_goes_to_the_dead_letter_queue_and_the_service_keeps_serving() {
    let (app, _users) = spawn_app().await;
    app.bus.send_raw("this is not json").await;
    let mut broken = order_placed("o-3");
    broken.data = json!({"order_id": "o-3"});
    app.bus.deliver(&broken).await;
    app.bus.wait_dead_letters(2).await;
    let dead = app.bus.dead_letters().await;
    assert!(dead.iter().any(|b| b == "this is not json"), "{dead:?}");
    app.bus.deliver(&order_placed("o-4")).await;
    app.bus.published("invoice.issued").await;
    assert_eq!(invoices(&app, "o-4").await.len(), 1);
    assert!(invoices(&app, "o-3").await.is_empty());
}

#[tokio::test]
async fn invoices_survive_a_restart() {
    let (mut app, _users) = spawn_app().await;
    app.bus.deliver(&order_placed("o-5")).await;
    app.bus.published("invoice.issued").await;
    app.restart().await;
    assert_eq!(invoices(&app, "o-5").await.len(), 1);
}

#[tokio::test]
async fn a_missing_order_id_is_named() {
    let (app, _users) = spawn_app().await;
    let resp = app.get("/invoices").bearer_auth(OWNER).send().await.unwrap();
    assert_eq!(resp.status(), 400);
    let body: Value = resp.json().await.unwrap();
    assert_eq!(body["field"], "order_id");
    let health = app.get("/health").send().await.unwrap();
    assert_eq!(health.status(), 200);
    assert!(health.headers().contains_key("x-correlation-id"));
}

#[tokio::test]
async fn only_the_owner_of_the_order_sees_its_invoice() {
    let (app, _users) = spawn_app().await;
    app.bus.deliver(&order_placed("o-6")).await;
    app.bus.published("invoice.issued").await;
    assert_eq!(invoices(&app, "o-6").await[0]["user_id"], "u-1");
    // Another user's order reads as one with no invoice: its existence is not theirs to know.
    assert_eq!(invoices_as(&app, "o-6", Some(OTHER)).await, (200, json!([])));
    let (status, body) = invoices_as(&app, "o-6", None).await;
    assert_eq!(status, 401);
    assert!(body["error"].as_str().unwrap().starts_with("missing bearer token"), "{body}");
    assert_eq!(invoices_as(&app, "o-6", Some(FORGED)).await, (401, json!({"error": "unknown session"})));
}
