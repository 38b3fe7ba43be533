//! The whole platform as `fare up` runs it: real processes, a real moto,
//! the fakes. A service that crashes at start fails the start with its last
//! log lines and leaves nothing running; then one order goes from sign-up
//! to delivered, everything stops, and nothing is left running.
//!
//! One test, in sequence: the "nothing left running" checks count this
//! process's children, which a test running beside it would disturb.

use std::path::PathBuf;
use std::time::Duration;

use fare::fakes::CarrierOptions;
use fare::runtime::{Platform, QuietOptions, UpOptions, alive, wait_quiet};
use kit::bus::Namespace;
use serde_json::{Value, json};

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..").canonicalize().unwrap()
}

#[tokio::test]
async fn an_order_travels_from_sign_up_to_delivered_and_nothing_is_left_running() {
    let ns = Namespace::parse(&format!("it{}", std::process::id())).unwrap();
    let options =
        UpOptions { carrier: CarrierOptions { polls_until_delivered: 1 }, ..UpOptions::new(&root(), ns.clone()) };
    // A service whose configuration is broken exits at start: fare says who
    // and why, and stops what it had started.
    let broken = std::collections::BTreeMap::from([("STORE_CATALOG".to_owned(), "phone-basic=free".to_owned())]);
    let err = Platform::up_with_env(&options, &broken, &mut |line| eprintln!("fare: {line}")).await.err().unwrap();
    let text = err.to_string();
    assert!(text.starts_with("store exited during start-up") && text.contains("STORE_CATALOG"), "{text}");
    assert_eq!(children(), Vec::<u32>::new(), "a failed start leaves nothing running");

    let options = UpOptions { build: false, ..options };
    let platform = Platform::up(&options, &mut |line| eprintln!("fare: {line}")).await.unwrap();
    let url = |name: &str| platform.state.services.iter().find(|s| s.name == name).unwrap().url.clone();
    let http = reqwest::Client::new();

    let signed_up = http
        .post(format!("{}/users", url("users")))
        .json(&json!({"email": "ada@example.com", "password": "correct horse", "name": "Ada"}))
        .send()
        .await
        .unwrap();
    assert_eq!(signed_up.status(), 201);
    let session: Value = http
        .post(format!("{}/sessions", url("users")))
        .json(&json!({"email": "ada@example.com", "password": "correct horse"}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let token = session["token"].as_str().unwrap().to_owned();
    let address = json!({"name": "Ada", "line1": "1 Road", "city": "Town", "postal_code": "1000", "country": "NL"});
    let placed = http
        .post(format!("{}/orders", url("store")))
        .bearer_auth(&token)
        .header("x-correlation-id", "it-order-1")
        .json(&json!({"model": "phone-basic", "shipping_address": address}))
        .send()
        .await
        .unwrap();
    assert_eq!(placed.status(), 201);
    assert_eq!(placed.headers()["x-correlation-id"], "it-order-1");
    let order: Value = placed.json().await.unwrap();
    let order_id = order["order_id"].as_str().unwrap().to_owned();

    let bus = fare::connect(&platform.state.endpoint, &ns).await.unwrap();
    let services: Vec<(String, String)> =
        platform.state.services.iter().map(|s| (s.name.clone(), s.url.clone())).collect();
    wait_quiet(&bus, &services, &QuietOptions::default()).await.unwrap();

    let seen = json_of(http.get(format!("{}/orders/{order_id}", url("store"))).bearer_auth(&token)).await;
    assert_eq!(seen["status"], "delivered", "{seen:#}");
    let timeline: Vec<&str> =
        seen["timeline"].as_array().unwrap().iter().map(|e| e["event_type"].as_str().unwrap()).collect();
    assert_eq!(timeline, ["order.placed", "device.allocated", "shipment.requested", "package.delivered"]);
    let invoices = json_of(http.get(format!("{}/invoices?order_id={order_id}", url("invoice")))).await;
    assert_eq!(invoices.as_array().unwrap().len(), 1);
    let chain = json_of(http.get(format!("{}/events?correlation_id=it-order-1", url("collector")))).await;
    let mut types: Vec<&str> = chain.as_array().unwrap().iter().map(|e| e["type"].as_str().unwrap()).collect();
    types.sort();
    assert_eq!(
        types,
        [
            "device.allocated",
            "invoice.issued",
            "mail.sent",
            "mail.sent",
            "order.placed",
            "package.delivered",
            "shipment.requested"
        ],
        "the whole chain carries the caller's correlation id"
    );

    // The recorder saw the same chain, and finds nothing broken in it.
    let expected: Vec<kit::EventType> = ["order.placed", "device.allocated", "shipment.requested", "package.delivered"]
        .iter()
        .map(|e| kit::EventType::parse(e).unwrap())
        .collect();
    let (topology, _) = fare::load_topology(&root().join("services")).unwrap();
    let recorder = platform.recorder().unwrap();
    recorder.caught_up(Duration::from_secs(10)).await;
    let trace = recorder.trace("it-order-1");
    let env = fare::diagnosis::Environment::default();
    let hops =
        fare::diagnosis::diagnose(&trace, fare::diagnosis::Expected::Events(&expected), &topology, &ns, &env, "main");
    assert_eq!(hops, [], "{}", trace.render_text());
    let tree = trace.render_text();
    assert!(tree.contains("fulfillment: handled") && tree.contains("call fulfillment-center POST"), "{tree}");

    let mut pids: Vec<u32> = platform.state.services.iter().map(|s| s.pid).collect();
    pids.extend(platform.state.emulator_pid);
    platform.stop();
    let left: Vec<u32> = pids.into_iter().filter(|pid| alive(*pid) && !zombie(*pid)).collect();
    assert!(left.is_empty(), "still running after stop: {left:?}");
    assert_eq!(children(), Vec::<u32>::new());
    let _ = std::fs::remove_dir_all(fare::runtime::state_dir(&root(), ns.as_str()));
}

/// A stopped child not yet reaped by its parent still answers kill(0).
fn zombie(pid: u32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat")).is_ok_and(|s| s.split_whitespace().nth(2) == Some("Z"))
}

/// This process's live children (services, emulators), zombies aside.
fn children() -> Vec<u32> {
    let me = std::process::id().to_string();
    let mut found = Vec::new();
    for entry in std::fs::read_dir("/proc").unwrap().flatten() {
        let Ok(pid) = entry.file_name().to_string_lossy().parse::<u32>() else { continue };
        let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else { continue };
        // Fields after the command (which may hold spaces) start after ')'.
        let rest: Vec<&str> = stat.rsplit_once(')').map(|(_, r)| r.split_whitespace().collect()).unwrap_or_default();
        if rest.first() != Some(&"Z") && rest.get(1) == Some(&me.as_str()) {
            found.push(pid);
        }
    }
    found
}

/// Sends `request` and reads its JSON answer.
async fn json_of(request: reqwest::RequestBuilder) -> Value {
    request.send().await.unwrap().json().await.unwrap()
}
