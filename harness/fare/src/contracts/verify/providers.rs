//! The providers the pacts are replayed against, started for real: every
//! service whose manifest declares its provider-state URL (`[contracts]
//! states`), from its `[run]` whatever its language, with a temporary
//! database, a moto emulator provisioned from the manifests and
//! `FARE_PROVIDER_STATES=on` for this run, together with the services it
//! asks (so store vouches for sessions through the real users); and the
//! third-party fakes that `fare up` and the scenarios run. Dropping
//! [`Providers`] stops them all, moto included.
//!
//! [`Providers::start`] is the one way to get a provider to verify against,
//! whatever the pacts come from (files, a broker).

use std::collections::{BTreeMap, BTreeSet};

use kit::Config;
use tokio_util::sync::CancellationToken;

use super::VerifyError;
use super::processes::{self, Place};
use super::standin::Forward;
use crate::fakes;
use crate::manifest::Manifest;

/// Every provider fare can start, by the name pacts give them: the
/// services whose manifests declare a provider-state URL and the fakes.
pub fn known(manifests: &[Manifest]) -> Vec<String> {
    let mut known: Vec<String> = manifests.iter().filter(|m| processes::startable(m)).map(|m| m.name.clone()).collect();
    known.sort();
    known.extend(fakes::names(manifests));
    known
}

/// Whether fare can start `name` as a provider at all.
fn startable(name: &str, manifests: &[Manifest]) -> bool {
    manifests.iter().any(|m| m.name == name && processes::startable(m))
}

/// Running providers: base URL and how to set states, by provider name.
pub struct Providers {
    pub urls: BTreeMap<String, String>,
    pub states: BTreeMap<String, Vec<Forward>>,
    /// Each provider's message transport, where its manifest declares one.
    pub messages: BTreeMap<String, String>,
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
            messages: BTreeMap::new(),
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
        let third_parties = fakes::names(manifests);
        if third_parties.iter().any(|f| wanted.contains(f) || wraps(f)) {
            running.start_fakes(manifests).await?;
        }
        if services.is_empty() {
            return Ok(running);
        }
        let mut progress = |line: &str| crate::terminal::progress(line);
        crate::runtime::build_services(
            manifests.iter().filter(|m| services.contains(&m.name)),
            profile,
            &mut progress,
        )?;
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
            let m = manifests.iter().find(|m| &m.name == next).expect("with_asked keeps the services of the manifests");
            let place = Place {
                endpoint: moto.endpoint(),
                namespace: NAMESPACE,
                provisioned: &provisioned,
                dir: dir.path(),
                urls: &running.urls,
            };
            let started = processes::start(m, &place, &running.credentials, profile).await?;
            let (url, states) = (started.process.url.clone(), started.states);
            if let Some(messages) = started.messages {
                running.messages.insert(next.clone(), messages);
            }
            running.processes.push(started.process);
            // A state the provider does not know may be one of a service it
            // asks (store asks users who holds a session token).
            let mut targets = vec![Forward { service: next.clone(), url: states.clone() }];
            for asked in asks(manifests, next) {
                if let Some(url) = state_urls.get(&asked) {
                    targets.push(Forward { service: asked, url: url.clone() });
                }
            }
            running.states.insert(next.clone(), targets);
            running.urls.insert(next.clone(), url);
            state_urls.insert(next.clone(), states);
        }
        running._moto = Some(moto);
        running._db_dir = Some(dir);
        Ok(running)
    }

    /// Where the stand-in sets each provider's states and asks for its messages.
    pub fn targets(&self) -> super::standin::Targets {
        super::standin::Targets { states: self.states.clone(), messages: self.messages.clone() }
    }

    async fn start_fakes(&mut self, manifests: &[Manifest]) -> Result<(), VerifyError> {
        let specs = fakes::declared(manifests)?;
        let started = fakes::start_all(&specs, &fakes::FakeVars::new(), self.stop.clone()).await?;
        for fake in started {
            // A fake sets its states itself, as its file describes them.
            let states = format!("{}/__fare/state", fake.url);
            self.states.insert(fake.name.clone(), vec![Forward { service: fake.name.clone(), url: states }]);
            self.urls.insert(fake.name, fake.url);
        }
        Ok(())
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
