//! The devices service against a real moto, through HTTP and its queue.

mod contracts;

use std::collections::HashSet;

use kit::testing::{Build, OPERATOR_TOKEN, TestApp, TestSpec};
use kit::{Config, CorrelationId, Envelope, EventType};
use serde_json::{Value, json};

const SPEC: TestSpec = TestSpec {
    service: "devices",
    listens: &["order.placed"],
    publishes: &["device.allocated", "device.allocation_failed"],
    max_receive_count: 3,
};

/// The service with `stock` seeded.
async fn spawn_app(stock: &str) -> TestApp<impl Build> {
    let config = Config::defaults(devices::NAME, devices::DEFAULTS).with("DEVICES_STOCK", stock);
    TestApp::spawn(SPEC, config, devices::build).await
}

fn address() -> Value {
    json!({"name": "A", "line1": "1 Road", "city": "Town", "postal_code": "1000", "country": "NL"})
}

fn order_placed(order_id: &str, model: &str) -> Envelope {
    let data = json!({
        "order_id": order_id, "user_id": "u-1", "model": model,
        "price_cents": 19900, "currency": "EUR", "shipping_address": address()
    });
    Envelope::new("store", EventType::parse("order.placed").unwrap(), CorrelationId::generate(), None, &data).unwrap()
}

/// `(available, allocated)` of `model`.
async fn stock_of(app: &TestApp<impl Build>, model: &str) -> (u64, u64) {
    let resp = app.get("/inventory").bearer_auth(OPERATOR_TOKEN).send().await.unwrap();
    assert_eq!(resp.status(), 200);
    let list: Vec<Value> = resp.json().await.unwrap();
    let row = list.iter().find(|r| r["model"] == model).unwrap_or_else(|| panic!("no {model} in {list:?}"));
    (row["available"].as_u64().unwrap(), row["allocated"].as_u64().unwrap())
}

async fn add_device(app: &TestApp<impl Build>, body: Value) -> (u16, Value) {
    let resp = app.post("/devices").bearer_auth(OPERATOR_TOKEN).json(&body).send().await.unwrap();
    (resp.status().as_u16(), resp.json().await.unwrap())
}

/// Adding stock and reading the whole inventory are for operators: no
/// credential, or a user's session, is refused before anything is done.
#[tokio::test]
async fn stock_is_for_operators_only() {
    let app = spawn_app("phone-basic=1").await;
    let body = json!({"serial": "phone-basic-9999", "model": "phone-basic"});
    for (what, bearer) in [("no credential", None), ("a user's session", Some("ab".repeat(32)))] {
        let mut add = app.post("/devices").json(&body);
        let mut look = app.get("/inventory");
        if let Some(bearer) = &bearer {
            (add, look) = (add.bearer_auth(bearer), look.bearer_auth(bearer));
        }
        let resp = add.send().await.unwrap();
        assert_eq!(resp.status(), 401, "{what}");
        let refusal: Value = resp.json().await.unwrap();
        assert!(refusal["error"].as_str().unwrap().starts_with("POST /devices is for operators"), "{refusal}");
        assert_eq!(look.send().await.unwrap().status(), 401, "{what}");
    }
    assert_eq!(stock_of(&app, "phone-basic").await, (1, 0), "nothing was added");
}

#[tokio::test]
async fn an_order_gets_a_device_in_its_chain() {
    let app = spawn_app("phone-basic=3,phone-pro=2").await;
    let order = order_placed("o-1", "phone-pro");
    app.bus.deliver(&order).await;
    let allocated = app.bus.published("device.allocated").await;
    assert_eq!(allocated.correlation_id, order.correlation_id);
    assert_eq!(allocated.causation_id, Some(order.id.to_string()));
    assert_eq!(allocated.producer, "devices");
    assert_eq!(allocated.data["order_id"], "o-1");
    assert_eq!(allocated.data["user_id"], "u-1");
    assert_eq!(allocated.data["model"], "phone-pro");
    assert_eq!(allocated.data["serial"], "phone-pro-0001");
    assert!(allocated.data["device_id"].as_str().is_some_and(|id| !id.is_empty()));
    assert_eq!(allocated.data["shipping_address"], address());
    assert_eq!(stock_of(&app, "phone-pro").await, (1, 1));
    assert_eq!(stock_of(&app, "phone-basic").await, (3, 0));
}

#[tokio::test]
async fn an_order_for_a_model_out_of_stock_fails_in_its_chain() {
    let app = spawn_app("phone-basic=1,phone-pro=0").await;
    for (order, model) in [("o-1", "phone-pro"), ("o-2", "phone-mini")] {
        let placed = order_placed(order, model);
        app.bus.deliver(&placed).await;
        let failed = app.bus.published("device.allocation_failed").await;
        assert_eq!(failed.correlation_id, placed.correlation_id);
        assert_eq!(failed.causation_id, Some(placed.id.to_string()));
        assert_eq!(failed.data, json!({"order_id": order, "user_id": "u-1", "model": model, "reason": "out_of_stock"}));
    }
    assert_eq!(stock_of(&app, "phone-basic").await, (1, 0));
}

#[tokio::test]
async fn twelve_orders_for_five_devices_allocate_each_device_once() {
    let app = spawn_app("phone-basic=5").await;
    for n in 0..12 {
        app.bus.deliver(&order_placed(&format!("o-{n}"), "phone-basic")).await;
    }
    let mut serials = HashSet::new();
    let mut orders = HashSet::new();
    for _ in 0..5 {
        let allocated = app.bus.published("device.allocated").await;
        serials.insert(allocated.data["serial"].as_str().unwrap().to_owned());
        orders.insert(allocated.data["order_id"].as_str().unwrap().to_owned());
    }
    for _ in 0..7 {
        let failed = app.bus.published("device.allocation_failed").await;
        orders.insert(failed.data["order_id"].as_str().unwrap().to_owned());
    }
    assert_eq!(serials.len(), 5, "{serials:?}");
    assert_eq!(orders.len(), 12, "every order decided once: {orders:?}");
    let extra = app.bus.all_published().await;
    assert!(extra.is_empty(), "{extra:?}");
    assert_eq!(stock_of(&app, "phone-basic").await, (0, 5));
}

#[tokio::test]
async fn duplicates_have_no_second_effect() {
    let app = spawn_app("phone-basic=5").await;
    let order = order_placed("o-1", "phone-basic");
    app.bus.deliver(&order).await;
    app.bus.deliver(&order).await;
    // The same order again under a new event id, as a re-published event would be.
    let mut again = order.clone();
    again.id = uuid::Uuid::new_v4();
    app.bus.deliver(&again).await;
    app.bus.published("device.allocated").await;
    let extra = app.bus.all_published().await;
    assert!(extra.is_empty(), "{extra:?}");
    assert_eq!(stock_of(&app, "phone-basic").await, (4, 1));
}

#[tokio::test]
async fn poison_goes_to_the_dead_letter_queue_and_the_service_keeps_serving() {
    let app = spawn_app("phone-basic=5").await;
    app.bus.send_raw("this is not json").await;
    let mut broken = order_placed("o-1", "phone-basic");
    broken.data = json!({"order_id": "o-1", "model": "phone-basic"});
    app.bus.deliver(&broken).await;
    app.bus.wait_dead_letters(2).await;
    let dead = app.bus.dead_letters().await;
    assert!(dead.iter().any(|b| b == "this is not json"), "{dead:?}");
    app.bus.deliver(&order_placed("o-2", "phone-basic")).await;
    let allocated = app.bus.published("device.allocated").await;
    assert_eq!(allocated.data["order_id"], "o-2");
    assert_eq!(stock_of(&app, "phone-basic").await, (4, 1));
}

#[tokio::test]
async fn devices_are_added_once_and_bad_input_is_named() {
    let app = spawn_app("phone-basic=1").await;
    let (status, device) = add_device(&app, json!({"model": "phone-fold", "serial": "FOLD-1"})).await;
    assert_eq!(status, 201, "{device}");
    assert_eq!((device["model"].as_str(), device["serial"].as_str()), (Some("phone-fold"), Some("FOLD-1")));
    assert_eq!(device["order_id"], Value::Null);
    for taken in ["FOLD-1", "phone-basic-0001"] {
        let (status, body) = add_device(&app, json!({"model": "phone-fold", "serial": taken})).await;
        assert_eq!(status, 409, "{body}");
        assert!(body["error"].as_str().unwrap().contains(taken), "{body}");
    }
    let bad = [
        (json!({"model": "Phone Fold", "serial": "F-2"}), "model"),
        (json!({"serial": "F-2"}), "model"),
        (json!({"model": "phone-fold", "serial": "F 2"}), "serial"),
        (json!({"model": "phone-fold", "serial": 7}), "serial"),
    ];
    for (body, field) in bad {
        let (status, answer) = add_device(&app, body).await;
        assert_eq!(status, 422, "{answer}");
        assert_eq!(answer["field"], field, "{answer}");
    }
    assert_eq!(stock_of(&app, "phone-fold").await, (1, 0));
    let order = order_placed("o-1", "phone-fold");
    app.bus.deliver(&order).await;
    assert_eq!(app.bus.published("device.allocated").await.data["serial"], "FOLD-1");
}

#[tokio::test]
async fn allocations_and_stock_survive_a_restart() {
    let mut app = spawn_app("phone-basic=2").await;
    let first = order_placed("o-1", "phone-basic");
    app.bus.deliver(&first).await;
    let before = app.bus.published("device.allocated").await;
    app.restart().await;
    // Seeding again at start adds nothing and frees nothing.
    assert_eq!(stock_of(&app, "phone-basic").await, (1, 1));
    let mut again = first.clone();
    again.id = uuid::Uuid::new_v4();
    app.bus.deliver(&again).await;
    app.bus.deliver(&order_placed("o-2", "phone-basic")).await;
    let after = app.bus.published("device.allocated").await;
    assert_eq!(after.data["order_id"], "o-2");
    assert_ne!(after.data["serial"], before.data["serial"]);
    let extra = app.bus.all_published().await;
    assert!(extra.is_empty(), "{extra:?}");
    assert_eq!(stock_of(&app, "phone-basic").await, (0, 2));
}
