//! The third parties of the platform, played by fakes: a fulfillment
//! center, a carrier and a mail provider. They answer the way the services'
//! wrappers expect (see services/CATALOG.md), keep what they were sent, and
//! can be told to fail: `POST /__fare/behaviour` `{"fail_next": 2}` answers
//! the next two requests with 503, `{"fail_always": true}` every one, and
//! `{"delay_ms": 500}` slows every answer down. Scenarios program finer
//! answers per request and per chain with `POST /__fare/rules`, and read what
//! each fake was asked with `GET /__fare/requests` (see `rules`).

mod carrier;
mod client;
mod fulfillment;
mod mail;
mod rules;

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::extract::{Request, State};
use axum::http::StatusCode;
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::{Json, Router};
use serde::{Deserialize, Serialize};
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken as Shutdown;

pub use carrier::CarrierOptions;
pub use client::{FakeClient, FakeError};
pub use rules::{Logged, Matcher, Reply, Rule};

/// How a fake misbehaves, set by scenarios.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Behaviour {
    pub fail_next: u32,
    pub fail_always: bool,
    pub delay_ms: u64,
}

#[derive(Clone, Default)]
struct Control {
    behaviour: Arc<Mutex<Behaviour>>,
}

/// A fake listening on loopback; dropped with the runtime that serves it.
#[derive(Debug, Clone)]
pub struct RunningFake {
    pub name: &'static str,
    /// The environment variable the wrapping service reads.
    pub env: &'static str,
    pub url: String,
}

/// Starts the three fakes on free loopback ports.
pub async fn start_all(carrier: CarrierOptions, shutdown: Shutdown) -> std::io::Result<Vec<RunningFake>> {
    start_all_on(std::net::Ipv4Addr::LOCALHOST.into(), carrier, shutdown).await
}

/// [`start_all`], listening on `ip` (in container mode, the gateway of the
/// run's network, so that the services' containers reach the fakes).
pub async fn start_all_on(
    ip: std::net::IpAddr,
    carrier: CarrierOptions,
    shutdown: Shutdown,
) -> std::io::Result<Vec<RunningFake>> {
    Ok(vec![
        serve(ip, "fulfillment-center", "FULFILLMENT_CENTER_URL", fulfillment::router(), shutdown.clone()).await?,
        serve(ip, "carrier", "CARRIER_URL", carrier::router(carrier), shutdown.clone()).await?,
        serve(ip, "mail-provider", "MAIL_PROVIDER_URL", mail::router(), shutdown).await?,
    ])
}

async fn serve(
    ip: std::net::IpAddr,
    name: &'static str,
    env: &'static str,
    router: Router,
    shutdown: Shutdown,
) -> std::io::Result<RunningFake> {
    let control = Control::default();
    let rules = rules::Rules::default();
    // Rules sit outside the global behaviour: a rule's `as_usual` reply goes
    // through it like any request, and the log sees every final status.
    let router = router
        .layer(middleware::from_fn_with_state(control.clone(), misbehave))
        .layer(middleware::from_fn_with_state(rules.clone(), rules::programmed))
        .merge(Router::new().route("/__fare/behaviour", post(set_behaviour).get(get_behaviour)).with_state(control))
        .merge(rules::routes(rules));
    let listener = TcpListener::bind(SocketAddr::from((ip, 0))).await?;
    let url = format!("http://{}", listener.local_addr()?);
    tokio::spawn(async move {
        let _ = axum::serve(listener, router).with_graceful_shutdown(shutdown.cancelled_owned()).await;
    });
    Ok(RunningFake { name, env, url })
}

async fn misbehave(State(control): State<Control>, req: Request, next: Next) -> Response {
    let (fail, delay) = {
        let mut b = control.behaviour.lock().unwrap_or_else(|p| p.into_inner());
        let fail = b.fail_always || b.fail_next > 0;
        b.fail_next = b.fail_next.saturating_sub(1);
        (fail, b.delay_ms)
    };
    if delay > 0 {
        tokio::time::sleep(Duration::from_millis(delay)).await;
    }
    if fail {
        return (
            StatusCode::SERVICE_UNAVAILABLE,
            Json(serde_json::json!({"error": "unavailable (fare fake told to fail)"})),
        )
            .into_response();
    }
    next.run(req).await
}

async fn set_behaviour(State(control): State<Control>, Json(b): Json<Behaviour>) -> Json<Behaviour> {
    *control.behaviour.lock().unwrap_or_else(|p| p.into_inner()) = b.clone();
    Json(b)
}

async fn get_behaviour(State(control): State<Control>) -> Json<Behaviour> {
    Json(control.behaviour.lock().unwrap_or_else(|p| p.into_inner()).clone())
}
