//! The HTTP providers the pacts are replayed against, started for real in
//! this process: users (its own `build`, with a temporary database, a moto
//! emulator and its provider-state switch on) and the third-party fakes that
//! `fare up` and the scenarios run. Dropping [`HttpProviders`] stops them
//! all, moto included.

use std::collections::{BTreeMap, BTreeSet};
use std::time::{Duration, Instant};

use kit::probe::{Look, wait_until};
use tokio_util::sync::CancellationToken;

use super::VerifyError;
use super::standin::StateTarget;
use crate::fakes::{self, CarrierOptions};

/// The HTTP providers fare can start, by the name pacts give them.
pub const HTTP_PROVIDERS: &[&str] = &["users", "fulfillment-center", "carrier", "mail-provider"];

/// Running providers: base URL and how to set states, by provider name.
pub struct HttpProviders {
    pub urls: BTreeMap<String, String>,
    pub states: BTreeMap<String, StateTarget>,
    stop: CancellationToken,
    _moto: Option<fare_emulator::Emulator>,
    _db_dir: Option<tempfile::TempDir>,
}

impl Drop for HttpProviders {
    fn drop(&mut self) {
        self.stop.cancel();
    }
}

impl HttpProviders {
    /// Starts those of `wanted` fare knows; the others are left out (the
    /// caller reports them).
    pub async fn start(wanted: &BTreeSet<String>) -> Result<HttpProviders, VerifyError> {
        let stop = CancellationToken::new();
        let mut running = HttpProviders {
            urls: BTreeMap::new(),
            states: BTreeMap::new(),
            stop: stop.clone(),
            _moto: None,
            _db_dir: None,
        };
        let carrier = CarrierOptions::default();
        if wanted.iter().any(|p| p != "users" && HTTP_PROVIDERS.contains(&p.as_str())) {
            let started = fakes::start_all(carrier, stop.clone())
                .await
                .map_err(|source| VerifyError::Io { what: "starting the third-party fakes".into(), source })?;
            for fake in started {
                running.urls.insert(fake.name.to_owned(), fake.url.clone());
            }
            if let Some(url) = running.urls.get("carrier") {
                let target = StateTarget::Carrier { url: url.clone(), polls: carrier.polls_until_delivered };
                running.states.insert("carrier".into(), target);
            }
        }
        if wanted.contains("users") {
            let (url, moto, dir) = start_users(stop).await?;
            running.states.insert("users".into(), StateTarget::Forward(format!("{url}/_pact/state")));
            running.urls.insert("users".into(), url);
            running._moto = Some(moto);
            running._db_dir = Some(dir);
        }
        Ok(running)
    }
}

/// users, as its binary would run it, plus the state-change endpoint.
async fn start_users(
    stop: CancellationToken,
) -> Result<(String, fare_emulator::Emulator, tempfile::TempDir), VerifyError> {
    // The emulator dies with the thread that started it: a runtime worker,
    // which lives as long as the verification.
    let moto = fare_emulator::start_moto()?;
    let dir = tempfile::tempdir().map_err(|source| VerifyError::Io { what: "a temporary directory".into(), source })?;
    let config = kit::Config::defaults(users::NAME, users::DEFAULTS)
        .with("HOST", "127.0.0.1")
        .with("PORT", "0")
        .with("DATABASE_PATH", dir.path().join("users.sqlite").display().to_string())
        .with("AWS_ENDPOINT_URL", moto.endpoint())
        .with("FARE_NAMESPACE", "contracts");
    let switches = users::Switches { provider_states: true };
    let app = users::build_with(&config, switches)
        .await
        .map_err(|source| VerifyError::Provider { provider: "users".into(), source })?;
    let url = format!("http://{}", app.local_addr());
    tokio::spawn(async move {
        if let Err(e) = app.run_until_stopped(stop.cancelled_owned()).await {
            tracing::error!(error = kit::error_chain(&e), "users stopped with an error");
        }
    });
    wait_healthy("users", &url, Duration::from_secs(10)).await?;
    Ok((url, moto, dir))
}

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
