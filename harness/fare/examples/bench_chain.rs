//! Benchmark: chain latency, from `POST /orders` to `package.delivered`,
//! over many orders with instant fakes (the carrier says delivered at the
//! first poll), beside the emulator's own publish→receive latency measured
//! in the same run.
//!
//! `cargo run -p fare --example bench_chain [ORDERS] [burst]` (default 100,
//! one order at a time: each waits for its delivery before the next is
//! placed, so the figure is latency; `burst` places them all at once, so
//! the figure is mostly queueing).

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use fare::fakes::CarrierOptions;
use fare::runtime::{Platform, QuietOptions, UpOptions, wait_quiet};
use kit::bus::Namespace;
use kit::{CorrelationId, Envelope, EventType};
use serde_json::{Value, json};

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let orders: usize = std::env::args().nth(1).map(|n| n.parse()).transpose()?.unwrap_or(100);
    let burst = std::env::args().nth(2).as_deref() == Some("burst");
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..").canonicalize()?;
    let ns = Namespace::parse("benchchain")?;
    let options =
        UpOptions { carrier: CarrierOptions { polls_until_delivered: 0 }, ..UpOptions::new(&root, ns.clone()) };
    let env = BTreeMap::from([
        ("TRACKING_POLL_INTERVAL_MS".to_owned(), "20".to_owned()),
        ("DEVICES_STOCK".to_owned(), format!("phone-basic={}", orders + 10)),
    ]);
    let platform = Platform::up_with_env(&options, &env, &mut |l| eprintln!("fare: {l}")).await?;
    let url =
        |name: &str| platform.state.services.iter().find(|s| s.name == name).map(|s| s.url.clone()).unwrap_or_default();
    let bus = platform.bus().clone();

    let raw = raw_latency(&bus, orders).await?;

    let http = reqwest::Client::new();
    http.post(format!("{}/users", url("users")))
        .json(&json!({"email": "bench@example.com", "password": "correct horse", "name": "Bench"}))
        .send()
        .await?;
    let session: Value = http
        .post(format!("{}/sessions", url("users")))
        .json(&json!({"email": "bench@example.com", "password": "correct horse"}))
        .send()
        .await?
        .json()
        .await?;
    let token = session["token"].as_str().unwrap_or_default().to_owned();
    let address = json!({"name": "B", "line1": "1 Road", "city": "Town", "postal_code": "1000", "country": "NL"});
    let mut posted = Vec::new();
    for i in 0..orders {
        let id = format!("bench-{i}");
        let started = time::OffsetDateTime::now_utc();
        let resp = http
            .post(format!("{}/orders", url("store")))
            .bearer_auth(&token)
            .header("x-correlation-id", &id)
            .json(&json!({"model": "phone-basic", "shipping_address": address}))
            .send()
            .await?;
        anyhow::ensure!(resp.status() == 201, "order {i}: {}", resp.status());
        if !burst {
            delivered(&platform, &id).await?;
        }
        posted.push((id, started));
    }
    let services: Vec<(String, String)> =
        platform.state.services.iter().map(|s| (s.name.clone(), s.url.clone())).collect();
    wait_quiet(&bus, &services, &QuietOptions { timeout: Duration::from_secs(300), ..QuietOptions::default() }).await?;
    let recorder = platform.recorder().ok_or_else(|| anyhow::anyhow!("no recorder"))?;
    recorder.caught_up(Duration::from_secs(60)).await;
    let mut chain = Vec::new();
    for (id, started) in &posted {
        let trace = recorder.trace(id);
        let delivered = trace
            .of_type("package.delivered")
            .next()
            .ok_or_else(|| anyhow::anyhow!("{id} not delivered:\n{}", trace.render_text()))?;
        chain.push((delivered.occurred_at - *started).as_seconds_f64() * 1000.0);
    }
    platform.stop();
    let mode = if burst { "all placed at once" } else { "one at a time" };
    report(&format!("POST /orders -> package.delivered ({mode})"), &mut chain);
    report("emulator publish -> receive", &mut raw.clone());
    Ok(())
}

/// Waits until the recorder has seen `id`'s package delivered.
async fn delivered(platform: &Platform, id: &str) -> anyhow::Result<()> {
    let recorder = platform.recorder().ok_or_else(|| anyhow::anyhow!("no recorder"))?;
    let deadline = Instant::now() + Duration::from_secs(30);
    while recorder.trace(id).of_type("package.delivered").next().is_none() {
        anyhow::ensure!(Instant::now() < deadline, "{id} not delivered within 30 s");
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    Ok(())
}

/// Publish→receive through a topic and a raw subscription, one at a time.
async fn raw_latency(bus: &kit::bus::Bus, n: usize) -> anyhow::Result<Vec<f64>> {
    let event_type = EventType::parse("bench.ping")?;
    let topic = bus.create_topic(&bus.namespace.topic(&event_type), None).await?;
    let url = bus.create_queue(&format!("{}-bench-ping", bus.namespace), &Default::default(), &[]).await?;
    let arn = bus.queue_arn(&url).await?;
    bus.subscribe(&topic, &arn, None).await?;
    let publisher = bus.publisher("bench");
    let mut samples = Vec::new();
    for _ in 0..n {
        let event = Envelope::new("bench", event_type.clone(), CorrelationId::generate(), None, &1)?;
        let started = Instant::now();
        publisher.publish(&event).await?;
        loop {
            let got = bus.receive(&url, kit::bus::Receive { max: 1, wait_seconds: 5, ..Default::default() }).await?;
            if !got.is_empty() {
                samples.push(started.elapsed().as_secs_f64() * 1000.0);
                bus.delete(&url, &got).await?;
                break;
            }
        }
    }
    Ok(samples)
}

fn report(what: &str, samples: &mut [f64]) {
    samples.sort_by(f64::total_cmp);
    let at = |q: f64| samples[((samples.len() as f64 - 1.0) * q).round() as usize];
    println!("{what}: n={} p50 {:.0} ms, p99 {:.0} ms, max {:.0} ms", samples.len(), at(0.5), at(0.99), at(1.0));
}
