//! The HTTP providers the pacts are replayed against, started for real in
//! this process: any service of the platform (its own `build_with`, with a
//! temporary database, a moto emulator provisioned from the manifests, and
//! its provider-state switch on) together with the services it asks (so
//! store vouches for sessions through the real users), and the third-party
//! fakes that `fare up` and the scenarios run. Dropping [`Providers`] stops
//! them all, moto included.
//!
//! [`Providers::start`] is the one way to get a provider to verify against,
//! whatever the pacts come from (files, a broker).

use std::collections::{BTreeMap, BTreeSet};
use std::future::Future;
use std::pin::Pin;
use std::time::{Duration, Instant};

use kit::probe::{Look, wait_until};
use kit::{Application, Config, KitError, Switches};
use tokio_util::sync::CancellationToken;

use super::VerifyError;
use super::standin::{Forward, StateTarget};
use crate::fakes::{self, CarrierOptions};
use crate::manifest::Manifest;

type Built<'a> = Pin<Box<dyn Future<Output = Result<Application, KitError>> + Send + 'a>>;

/// A service fare can start as a provider, in its own process.
struct Service {
    name: &'static str,
    defaults: &'static [(&'static str, &'static str)],
    build: for<'a> fn(&'a Config, Switches) -> Built<'a>,
}

/// Every service of the platform: each serves HTTP, so each is a provider.
const SERVICES: &[Service] = &[
    Service { name: users::NAME, defaults: users::DEFAULTS, build: |c, s| Box::pin(users::build_with(c, s)) },
    Service { name: store::NAME, defaults: store::DEFAULTS, build: |c, s| Box::pin(store::build_with(c, s)) },
    Service { name: devices::NAME, defaults: devices::DEFAULTS, build: |c, s| Box::pin(devices::build_with(c, s)) },
    Service {
        name: fulfillment::NAME,
        defaults: fulfillment::DEFAULTS,
        build: |c, s| Box::pin(fulfillment::build_with(c, s)),
    },
    Service { name: tracking::NAME, defaults: tracking::DEFAULTS, build: |c, s| Box::pin(tracking::build_with(c, s)) },
    Service { name: invoice::NAME, defaults: invoice::DEFAULTS, build: |c, s| Box::pin(invoice::build_with(c, s)) },
    Service { name: mailer::NAME, defaults: mailer::DEFAULTS, build: |c, s| Box::pin(mailer::build_with(c, s)) },
    Service {
        name: collector::NAME,
        defaults: collector::DEFAULTS,
        build: |c, s| Box::pin(collector::build_with(c, s)),
    },
];

/// The third parties, played by fare's fakes.
const FAKES: &[&str] = &["fulfillment-center", "carrier", "mail-provider"];

/// Every HTTP provider fare can start, by the name pacts give them: the
/// services above, those whose manifests declare a provider-state URL
/// (started from their `[run]`, whatever their language) and the fakes.
pub fn known(manifests: &[Manifest]) -> Vec<String> {
    let by_run = manifests.iter().filter(|m| super::processes::startable(m)).map(|m| m.name.clone());
    let mut known: Vec<String> = SERVICES.iter().map(|s| s.name.to_owned()).chain(by_run).collect();
    known.sort();
    known.dedup();
    known.extend(FAKES.iter().map(|f| (*f).to_owned()));
    known
}

/// Whether fare starts `name` in this process (a kit service it is built with).
fn in_process(name: &str) -> bool {
    SERVICES.iter().any(|s| s.name == name)
}

/// Whether fare can start `name` as a provider at all.
fn startable(name: &str, manifests: &[Manifest]) -> bool {
    in_process(name) || manifests.iter().any(|m| m.name == name && super::processes::startable(m))
}

/// Running providers: base URL and how to set states, by provider name.
pub struct Providers {
    pub urls: BTreeMap<String, String>,
    pub states: BTreeMap<String, StateTarget>,
    /// The run's keys and operator token, as `fare up` draws them: each
    /// pact is replayed as its consumer, with an identity signed for it.
    pub credentials: crate::runtime::Credentials,
    stop: CancellationToken,
    /// Providers started from their manifests' `[run]`, stopped when dropped (before moto).
    processes: Vec<crate::runtime::ServiceProcess>,
    _moto: Option<fare_emulator::Emulator>,
    _db_dir: Option<tempfile::TempDir>,
}

impl Drop for Providers {
    fn drop(&mut self) {
        self.stop.cancel();
    }
}

impl Providers {
    /// Starts those of `wanted` fare knows, each with the services it asks
    /// (by `manifests`); the others are left out (the caller reports them).
    /// Under `profile`, a service whose manifest runs otherwise there (and
    /// declares its state URL) is started from that `[run]` instead.
    pub async fn start(
        wanted: &BTreeSet<String>,
        manifests: &[Manifest],
        profile: Option<&str>,
    ) -> Result<Providers, VerifyError> {
        let stop = CancellationToken::new();
        let mut running = Providers {
            urls: BTreeMap::new(),
            states: BTreeMap::new(),
            credentials: crate::runtime::Credentials::generate(),
            stop: stop.clone(),
            processes: Vec::new(),
            _moto: None,
            _db_dir: None,
        };
        let services = with_asked(wanted, manifests);
        let wraps = |name: &str| {
            manifests.iter().any(|m| services.contains(&m.name) && m.wraps.iter().any(|w| w.third_party == name))
        };
        if FAKES.iter().any(|f| wanted.contains(*f) || wraps(f)) {
            running.start_fakes().await?;
        }
        if services.is_empty() {
            return Ok(running);
        }
        // The emulator dies with the thread that started it: a runtime
        // worker, which lives as long as the verification.
        let moto = fare_emulator::start_moto()?;
        let dir =
            tempfile::tempdir().map_err(|source| VerifyError::Io { what: "a temporary directory".into(), source })?;
        let provisioned = provision(moto.endpoint(), manifests).await?;
        let mut left: Vec<&String> = services.iter().collect();
        // Where each running provider sets its states.
        let mut state_urls: BTreeMap<String, String> = BTreeMap::new();
        // Each in turn once every service it asks runs: it needs their URLs.
        while !left.is_empty() {
            let ready = left.iter().position(|s| asks(manifests, s).iter().all(|a| running.urls.contains_key(a)));
            let Some(next) = ready.map(|i| left.remove(i)) else {
                let names: Vec<&str> = left.iter().map(|s| s.as_str()).collect();
                return Err(VerifyError::Cycle { services: names.join(", ") });
            };
            let m = manifests.iter().find(|m| &m.name == next);
            let by_profile = m
                .is_some_and(|m| super::processes::startable(m) && profile.is_some_and(|p| m.profiles.contains_key(p)));
            let in_process = SERVICES.iter().find(|s| s.name == next.as_str()).filter(|_| !by_profile);
            let (url, states) = match in_process {
                Some(service) => {
                    let url =
                        running.start_service(service, manifests, moto.endpoint(), dir.path(), stop.clone()).await?;
                    let states = format!("{url}/_pact/state");
                    (url, states)
                }
                None => {
                    let m = m.expect("with_asked keeps the services of the manifests");
                    let place = super::processes::Place {
                        endpoint: moto.endpoint(),
                        namespace: NAMESPACE,
                        provisioned: &provisioned,
                        dir: dir.path(),
                        urls: &running.urls,
                    };
                    let (process, states) = super::processes::start(m, &place, &running.credentials, profile).await?;
                    let url = process.url.clone();
                    running.processes.push(process);
                    (url, states)
                }
            };
            // A state the provider does not know may be one of a service it
            // asks (store asks users who holds a session token).
            let mut targets = vec![Forward { service: next.clone(), url: states.clone() }];
            for asked in asks(manifests, next) {
                if let Some(url) = state_urls.get(&asked) {
                    targets.push(Forward { service: asked, url: url.clone() });
                }
            }
            running.states.insert(next.clone(), StateTarget::Forward(targets));
            running.urls.insert(next.clone(), url);
            state_urls.insert(next.clone(), states);
        }
        running._moto = Some(moto);
        running._db_dir = Some(dir);
        Ok(running)
    }

    async fn start_fakes(&mut self) -> Result<(), VerifyError> {
        let carrier = CarrierOptions::default();
        let started = fakes::start_all(carrier, self.stop.clone())
            .await
            .map_err(|source| VerifyError::Io { what: "starting the third-party fakes".into(), source })?;
        for fake in started {
            self.urls.insert(fake.name.to_owned(), fake.url.clone());
        }
        if let Some(url) = self.urls.get("carrier") {
            let target = StateTarget::Carrier { url: url.clone(), polls: carrier.polls_until_delivered };
            self.states.insert("carrier".into(), target);
        }
        Ok(())
    }

    /// `service`, as its binary would run it, plus the state-change endpoint.
    async fn start_service(
        &self,
        service: &Service,
        manifests: &[Manifest],
        endpoint: &str,
        dir: &std::path::Path,
        stop: CancellationToken,
    ) -> Result<String, VerifyError> {
        let mut config = Config::defaults(service.name, service.defaults)
            .with("HOST", "127.0.0.1")
            .with("PORT", "0")
            .with("DATABASE_PATH", dir.join(format!("{}.sqlite", service.name)).display().to_string())
            .with("AWS_ENDPOINT_URL", endpoint)
            .with("FARE_NAMESPACE", NAMESPACE);
        if let Some(manifest) = manifests.iter().find(|m| m.name == service.name) {
            for (key, value) in self.credentials.service_env(manifest) {
                config = config.with(&key, value);
            }
            let asked = manifest.asks.iter().map(|a| (&a.env, &a.service));
            for (env, other) in asked.chain(manifest.wraps.iter().map(|w| (&w.env, &w.third_party))) {
                if let Some(url) = self.urls.get(other) {
                    config = config.with(env, url);
                }
            }
        }
        let switches = Switches { provider_states: true };
        let app = (service.build)(&config, switches)
            .await
            .map_err(|source| VerifyError::Provider { provider: service.name.into(), source })?;
        let url = format!("http://{}", app.local_addr());
        let name = service.name;
        tokio::spawn(async move {
            if let Err(e) = app.run_until_stopped(stop.cancelled_owned()).await {
                tracing::error!(service = name, error = kit::error_chain(&e), "stopped with an error");
            }
        });
        wait_healthy(service.name, &url, Duration::from_secs(10)).await?;
        Ok(url)
    }
}

/// The namespace of the topics and queues the providers run against.
const NAMESPACE: &str = "contracts";

/// The services of `wanted` fare can start, and every service they ask, transitively.
fn with_asked(wanted: &BTreeSet<String>, manifests: &[Manifest]) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    let mut todo: Vec<String> = wanted.iter().filter(|w| startable(w, manifests)).cloned().collect();
    while let Some(name) = todo.pop() {
        if out.insert(name.clone()) {
            todo.extend(asks(manifests, &name).into_iter().filter(|a| startable(a, manifests)));
        }
    }
    out
}

fn asks(manifests: &[Manifest], service: &str) -> Vec<String> {
    manifests.iter().filter(|m| m.name == service).flat_map(|m| m.asks.iter().map(|a| a.service.clone())).collect()
}

/// The topics and queues of the manifests, so each provider's consumer and
/// relay find theirs as under `fare up`.
async fn provision(endpoint: &str, manifests: &[Manifest]) -> Result<crate::provision::Current, VerifyError> {
    let config = Config::defaults("fare", &[]).with("AWS_ENDPOINT_URL", endpoint).with("FARE_NAMESPACE", NAMESPACE);
    let bus = kit::bus::Bus::connect(&config).await?;
    let (topology, _) = crate::topology::Topology::build(manifests.to_vec())?;
    let desired = crate::provision::desired(&topology, &bus.namespace);
    crate::provision::converge(&bus, &bus.namespace, &desired, &mut |_| {}).await?;
    Ok(crate::provision::read_current(&bus, &bus.namespace).await?)
}

pub(super) async fn wait_healthy(provider: &str, url: &str, within: Duration) -> Result<(), VerifyError> {
    let http = reqwest::Client::new();
    let look = || async {
        let healthy = http.get(format!("{url}/health")).send().await.is_ok_and(|r| r.status().is_success());
        Ok(if healthy { Look::Ready(()) } else { Look::Pending(()) })
    };
    wait_until(Instant::now() + within, Duration::from_millis(50), look).await.map_err(|w| {
        w.into_error(|_, ()| VerifyError::NotReady { provider: provider.to_owned(), url: url.to_owned(), within })
    })
}
