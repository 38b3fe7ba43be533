//! Providers started from their manifests, whatever their language: a
//! service whose manifest declares `[contracts] states` (the path of its
//! provider-state change URL, the one every Pact library's provider test
//! knows: `POST {state, params, action}`) is started by its `[run]`, handed
//! the same settings as under `fare up` plus `FARE_PROVIDER_STATES=on` for
//! this one run, and replayed against like any other. Under a profile
//! (`fare --profile python contracts verify`), the profile's `[run]`.

use std::collections::BTreeMap;
use std::path::Path;
use std::time::{Duration, Instant};

use kit::probe::{Look, wait_until};

use kit::bus::Namespace;

use super::VerifyError;
use crate::manifest::Manifest;
use crate::runtime::{Credentials, ServiceProcess, convention};

/// How long a provider started from its `[run]` may take to answer `/health`.
const READY: Duration = Duration::from_secs(60);

/// Whether fare can start `m` as a provider from its manifest.
pub fn startable(m: &Manifest) -> bool {
    m.run.is_some() && m.contracts.states.is_some()
}

/// What the providers share: the emulator and its namespace, as provisioned,
/// a folder for their data and logs, and the URLs of those already running.
pub struct Place<'a> {
    pub endpoint: &'a str,
    pub namespace: &'a str,
    pub provisioned: &'a crate::provision::Current,
    pub dir: &'a Path,
    pub urls: &'a BTreeMap<String, String>,
}

/// A provider started from its `[run]`.
pub struct Started {
    /// Stopped when dropped.
    pub process: ServiceProcess,
    /// Its provider-state change URL.
    pub states: String,
    /// Its message transport's URL, if its manifest declares one.
    pub messages: Option<String>,
}

/// Starts `m` from its `[run]` (or `profile`'s), with provider states on.
pub async fn start(
    m: &Manifest,
    place: &Place<'_>,
    credentials: &Credentials,
    profile: Option<&str>,
) -> Result<Started, VerifyError> {
    let io = |what: String| move |source| VerifyError::Io { what, source };
    let start = crate::runtime::start_of(m, profile)
        .map_err(|source| VerifyError::Start { service: m.name.clone(), source })?;
    let states = m.contracts.states.clone().unwrap_or_default();
    let ns = Namespace::parse(place.namespace).expect("the providers' namespace is a namespace");
    let listener = std::net::TcpListener::bind("127.0.0.1:0").map_err(io("binding a port for a provider".into()))?;
    let port = listener.local_addr().map_err(io("binding a port for a provider".into()))?.port();
    let database = place.dir.join(format!("{}.sqlite", m.name));
    let mut env = convention::place_env(m, &ns, &convention::Place { host: "127.0.0.1", port, database: &database });
    env.extend(convention::bus_env(m, &ns, place.provisioned, Some(place.endpoint)));
    env.insert("AWS_ENDPOINT_URL".into(), place.endpoint.into());
    env.extend(credentials.service_env(m));
    let asked = m.asks.iter().map(|a| (&a.env, &a.service));
    for (var, other) in asked.chain(m.wraps.iter().map(|w| (&w.env, &w.third_party))) {
        if let Some(url) = place.urls.get(other) {
            env.insert(var.clone(), url.clone());
        }
    }
    let start = crate::runtime::Start { provider_states: true, ..start };
    let log = place.dir.join(format!("{}.log", m.name));
    let process = ServiceProcess::spawn(&m.name, &start, &env, listener, log, false)
        .map_err(io(format!("starting {} (`{}`, {})", m.name, start.command, start.declared_at)))?;
    if let Err(e) = wait_healthy(&m.name, &process.url, READY).await {
        tracing::warn!(provider = %m.name, log = %process.log_tail(15), "not healthy");
        return Err(e);
    }
    let states = format!("{}{states}", process.url);
    let messages = m.contracts.messages.as_ref().map(|path| format!("{}{path}", process.url));
    Ok(Started { process, states, messages })
}

/// Waits until `provider` at `url` answers `/health`, for `within` at most.
async fn wait_healthy(provider: &str, url: &str, within: Duration) -> Result<(), VerifyError> {
    let http = reqwest::Client::new();
    let look = || async {
        let healthy = http.get(format!("{url}/health")).send().await.is_ok_and(|r| r.status().is_success());
        Ok(if healthy { Look::Ready(()) } else { Look::Pending(()) })
    };
    wait_until(Instant::now() + within, Duration::from_millis(50), look).await.map_err(|w| {
        w.into_error(|_, ()| VerifyError::NotReady { provider: provider.to_owned(), url: url.to_owned(), within })
    })
}
