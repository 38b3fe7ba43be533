//! The third parties a platform's services wrap, played by fakes that fare
//! serves from data: each `[[wraps]]` of a manifest names the file that
//! describes its third party (`fake = "../fakes/carrier.yaml"`, see `spec`),
//! and fare answers as the file says. Every fake keeps what it was sent and
//! can be told to fail: `POST /__fare/behaviour` `{"fail_next": 2}` answers
//! the next two requests with 503, `{"fail_always": true}` every one, and
//! `{"delay_ms": 500}` slows every answer down. Scenarios program finer
//! answers per request and per chain with `POST /__fare/rules`, and read what
//! each fake was asked with `GET /__fare/requests` (see `rules`); contract
//! verification sets its provider states with `POST /__fare/state`.
//!
//! # Layout
//! - `spec`: the file format, read and checked.
//! - `template`: placeholders in a fake's answers, filled from a request.
//! - `stub`: a fake served from its spec.
//! - `rules`: programmed answers and the request log, in front of every fake.
//! - `client`: what scenarios and checks call a running fake with.
//! - this file: the fakes a set of manifests declares, started together.

mod client;
mod rules;
pub mod spec;
mod stub;
mod template;

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::PathBuf;
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

pub use client::{FakeClient, FakeError};
pub use rules::{Logged, Matcher, Reply, Rule};
pub use spec::{FakeSpec, SpecError};

use crate::io::{IoError, io};
use crate::manifest::Manifest;

/// Values of fakes' vars for one run, by `FAKE.VAR` (`carrier.polls_until_delivered`).
pub type FakeVars = BTreeMap<String, String>;

#[derive(Debug, thiserror::Error)]
pub enum FakesError {
    #[error(transparent)]
    Spec(#[from] SpecError),
    #[error("{} names the fake {} for `{third_party}`, but that file describes `{name}`", manifest.display(), file.display())]
    Misnamed { manifest: PathBuf, third_party: String, file: PathBuf, name: String },
    #[error("`{third_party}` is played by {} in one manifest and by {} in another: one file per third party", first.display(), second.display())]
    TwoFiles { third_party: String, first: PathBuf, second: PathBuf },
    #[error("--fake-var {given}: {problem}")]
    Var { given: String, problem: String },
    #[error(transparent)]
    Io(#[from] IoError),
}

/// The fakes `manifests` declare, one per third party, read and checked.
pub fn declared<'a>(manifests: impl IntoIterator<Item = &'a Manifest>) -> Result<Vec<FakeSpec>, FakesError> {
    let mut by_name: BTreeMap<String, FakeSpec> = BTreeMap::new();
    for m in manifests {
        for wrap in &m.wraps {
            let Some(file) = &wrap.fake else { continue };
            let path = m.path.parent().unwrap_or(std::path::Path::new(".")).join(file);
            if let Some(known) = by_name.get(&wrap.third_party) {
                let same = |p: &std::path::Path| p.canonicalize().unwrap_or_else(|_| p.to_owned());
                if same(&known.path) != same(&path) {
                    return Err(FakesError::TwoFiles {
                        third_party: wrap.third_party.clone(),
                        first: known.path.clone(),
                        second: path,
                    });
                }
                continue;
            }
            let spec = FakeSpec::load(&path)?;
            if spec.name != wrap.third_party {
                return Err(FakesError::Misnamed {
                    manifest: m.path.clone(),
                    third_party: wrap.third_party.clone(),
                    file: path,
                    name: spec.name,
                });
            }
            by_name.insert(spec.name.clone(), spec);
        }
    }
    Ok(by_name.into_values().collect())
}

/// The third parties `manifests` wrap that fare can play (each has a fake).
pub fn names<'a>(manifests: impl IntoIterator<Item = &'a Manifest>) -> Vec<String> {
    let mut names: Vec<String> = manifests
        .into_iter()
        .flat_map(|m| m.wraps.iter().filter(|w| w.fake.is_some()).map(|w| w.third_party.clone()))
        .collect();
    names.sort();
    names.dedup();
    names
}

/// A fake listening on loopback; dropped with the runtime that serves it.
#[derive(Debug, Clone)]
pub struct RunningFake {
    pub name: String,
    pub url: String,
}

/// Starts `specs` on free loopback ports.
pub async fn start_all(
    specs: &[FakeSpec],
    vars: &FakeVars,
    shutdown: Shutdown,
) -> Result<Vec<RunningFake>, FakesError> {
    start_all_on(std::net::Ipv4Addr::LOCALHOST.into(), specs, vars, shutdown).await
}

/// [`start_all`], listening on `ip` (in container mode, the gateway of the
/// run's network, so that the services' containers reach the fakes).
pub async fn start_all_on(
    ip: std::net::IpAddr,
    specs: &[FakeSpec],
    vars: &FakeVars,
    shutdown: Shutdown,
) -> Result<Vec<RunningFake>, FakesError> {
    let mut per_fake: BTreeMap<&str, BTreeMap<String, String>> = BTreeMap::new();
    for (given, value) in vars {
        let problem = |p: String| FakesError::Var { given: format!("{given}={value}"), problem: p };
        let Some((fake, var)) = given.split_once('.') else {
            return Err(problem("expected FAKE.VAR=VALUE, as `carrier.polls_until_delivered=0`".into()));
        };
        let Some(spec) = specs.iter().find(|s| s.name == fake) else {
            let known: Vec<&str> = specs.iter().map(|s| s.name.as_str()).collect();
            return Err(problem(format!("no fake `{fake}` (fakes: {})", known.join(", "))));
        };
        per_fake.entry(spec.name.as_str()).or_default().insert(var.to_owned(), value.clone());
    }
    let mut running = Vec::new();
    for spec in specs {
        let overrides = per_fake.get(spec.name.as_str()).cloned().unwrap_or_default();
        let router = stub::router(spec.clone(), &overrides)?;
        let url = serve(ip, router, shutdown.clone()).await.map_err(io("starting the fake", &spec.name))?;
        running.push(RunningFake { name: spec.name.clone(), url });
    }
    Ok(running)
}

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

async fn serve(ip: std::net::IpAddr, router: Router, shutdown: Shutdown) -> std::io::Result<String> {
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
    Ok(url)
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
