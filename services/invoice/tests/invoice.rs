//! The invoice service against a real moto, through HTTP and its queue.

mod contracts;

use kit::testing::{TestApp, TestSpec};
use kit::{Config, CorrelationId, Envelope, EventType};
use serde_json::{Value, json};

const SPEC: TestSpec =
    TestSpec { service: "invoice", listens: &["order.placed"], publishes: &["invoice.issued"], max_receive_count: 3 };

async fn spawn_app() -> TestApp<impl AsyncFn(&Config) -> Result<kit::Application, kit::KitError>> {
    TestApp::spawn(SPEC, Config::defaults(invoice::NAME, invoice::DEFAULTS), invoice::build).await
}

fn order_placed(order_id: &str) -> Envelope {
    let data = json!({
        "order_id": order_id, "user_id": "u-1", "model": "phone-basic",
        "price_cents": 19900, "currency": "EUR",
        "shipping_address": {"name": "A", "line1": "1 Road", "city": "Town", "postal_code": "1000", "country": "NL"}
    });
    Envelope::new("store", EventType::parse("order.placed").unwrap(), CorrelationId::generate(), None, &data).unwrap()
}

async fn invoices(
    app: &TestApp<impl AsyncFn(&Config) -> Result<kit::Application, kit::KitError>>,
    order: &str,
) -> Vec<Value> {
    let resp = app.get(&format!("/invoices?order_id={order}")).send().await.unwrap();
    assert_eq!(resp.status(), 200);
    resp.json().await.unwrap()
}

#[tokio::test]
async fn an_order_gets_one_invoice_in_its_chain() {
    let app = spawn_app().await;
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
    let app = spawn_app().await;
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
    let app = spawn_app().await;
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
    let mut app = spawn_app().await;
    app.bus.deliver(&order_placed("o-5")).await;
    app.bus.published("invoice.issued").await;
    app.restart().await;
    assert_eq!(invoices(&app, "o-5").await.len(), 1);
}

#[tokio::test]
async fn a_missing_order_id_is_named() {
    let app = spawn_app().await;
    let resp = app.get("/invoices").send().await.unwrap();
    assert_eq!(resp.status(), 400);
    let body: Value = resp.json().await.unwrap();
    assert_eq!(body["field"], "order_id");
    let health = app.get("/health").send().await.unwrap();
    assert_eq!(health.status(), 200);
    assert!(health.headers().contains_key("x-correlation-id"));
}
