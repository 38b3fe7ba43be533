//! The platform as scenarios see it: where each service and fake answers,
//! the bus of its namespace, its topology; and the settings `fare e2e`
//! starts its own platform with.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::sync::Mutex;

use kit::bus::{Bus, BusError, Namespace};

use super::error::ScenarioError;
use crate::runtime::{NotQuiet, Pending, Platform, PlatformState, QuietOptions, Settled, Settling, wait_quiet_on};
use crate::topology::Topology;
use crate::trace::{InjectedFault, ProgrammedRule, Trace};

#[derive(Debug, thiserror::Error)]
pub enum TargetError {
    #[error(transparent)]
    Bus(#[from] BusError),
    #[error("the platform in namespace `{0}` runs no trace recorder, which scenarios read")]
    NoRecorder(String),
}

/// Reading the record, or adding to it, failed.
#[derive(Debug, thiserror::Error)]
#[error("{what} (the recorder at {url}): {source}")]
pub struct RecordError {
    /// `reading the trace of <id>`, `recording the fault on <service>`.
    pub what: String,
    pub url: String,
    #[source]
    pub source: reqwest::Error,
}

/// Everything a scenario run needs to reach the platform; cheap to clone
/// and shared by scenarios running side by side.
#[derive(Debug, Clone)]
pub struct Target {
    pub bus: Bus,
    pub topology: Topology,
    /// Service name → base URL.
    pub services: BTreeMap<String, String>,
    /// Fake name → base URL.
    pub fakes: BTreeMap<String, String>,
    pub http: reqwest::Client,
    pub quiet: QuietOptions,
    /// The trace recorder of the run: the one record scenarios read.
    pub recorder: String,
    /// The run's operator token, for the operator endpoints fare reads
    /// (devices' `/inventory`, collector's `/events`).
    pub operator: Option<String>,
    /// When the last successful quiet wait began: see [`Target::wait_quiet`].
    quiet_gate: Arc<Mutex<Option<Instant>>>,
    /// The namespace's queues, listed on first use.
    queues: Arc<std::sync::OnceLock<Vec<(String, String)>>>,
}

impl Target {
    /// The platform `state` describes, in namespace `ns` (the state's own):
    /// one that runs already, `fare e2e --attach`.
    /// `operator` is its operator token (`runtime::read_operator_token`).
    pub async fn new(
        state: &PlatformState,
        ns: &Namespace,
        topology: Topology,
        operator: Option<String>,
    ) -> Result<Target, TargetError> {
        let bus = crate::connect(&state.endpoint, ns).await?;
        Ok(Target { operator, ..Target::build(state, bus, topology)? })
    }

    /// The platform this fare started, through its own bus and topology.
    pub fn of(platform: &Platform) -> Result<Target, TargetError> {
        let target = Target::build(&platform.state, platform.bus().clone(), platform.topology().clone())?;
        Ok(Target { operator: Some(platform.credentials().operator_token().to_owned()), ..target })
    }

    fn build(state: &PlatformState, bus: Bus, topology: Topology) -> Result<Target, TargetError> {
        let recorder =
            state.recorder_url.clone().ok_or_else(|| TargetError::NoRecorder(state.namespace.to_string()))?;
        let services = state.services.iter().map(|s| (s.name.clone(), s.url.clone())).collect();
        let target = Target::elsewhere(bus, topology, services, recorder);
        Ok(Target { fakes: state.fakes.iter().map(|f| (f.name.clone(), f.url.clone())).collect(), ..target })
    }

    /// A platform whose services answer at `services` (name → base URL)
    /// and whose record a recorder of this fare's keeps at `recorder`, with
    /// no fakes and no operator token: an environment fare did not start
    /// (`fare e2e --target`) sets those it has.
    pub fn elsewhere(bus: Bus, topology: Topology, services: BTreeMap<String, String>, recorder: String) -> Target {
        let http = reqwest::Client::builder().timeout(Duration::from_secs(30)).build().unwrap_or_default();
        Target {
            bus,
            topology,
            services,
            fakes: BTreeMap::new(),
            http,
            quiet: QuietOptions { timeout: Duration::from_secs(120), ..QuietOptions::default() },
            quiet_gate: Arc::default(),
            queues: Arc::default(),
            recorder,
            operator: None,
        }
    }

    /// The chain of `correlation_id` as recorded. `fresh` waits until the
    /// recorder has taken every event already published and swept the
    /// dead-letter queues once more; polling callers pass `false`.
    pub async fn trace(&self, correlation_id: &str, fresh: bool) -> Result<Trace, RecordError> {
        let url = format!("{}/traces/{correlation_id}", self.recorder);
        let what = format!("reading the trace of {correlation_id}");
        let error = |source| RecordError { what: what.clone(), url: url.clone(), source };
        let resp = self.http.get(&url).query(&[("fresh", fresh)]).send().await.map_err(error)?;
        resp.error_for_status().map_err(error)?.json().await.map_err(error)
    }

    /// Records a fault injected into the platform (again, under the same
    /// id, when it ends), for the diagnosis to name.
    pub async fn record_fault(&self, fault: &InjectedFault) -> Result<(), RecordError> {
        self.record("faults", fault, format!("recording the fault on {}", fault.target)).await
    }

    /// Records a rule given to a fake, which the fake forgets when the
    /// scenario ends: a scenario written from the record answers the same.
    pub async fn record_rule(&self, rule: &ProgrammedRule) -> Result<(), RecordError> {
        self.record("rules", rule, format!("recording the rule given to {}", rule.fake)).await
    }

    async fn record(&self, what_of: &str, body: &impl serde::Serialize, what: String) -> Result<(), RecordError> {
        let url = format!("{}/{what_of}", self.recorder);
        let error = |source| RecordError { what: what.clone(), url: url.clone(), source };
        let resp = self.http.post(&url).json(body).send().await.map_err(error)?;
        resp.error_for_status().map(|_| ()).map_err(error)
    }

    /// Every service as (name, URL).
    pub fn service_list(&self) -> Vec<(String, String)> {
        self.services.iter().map(|(n, u)| (n.clone(), u.clone())).collect()
    }

    /// The namespace's queues, listed on first use (the listing reads every
    /// queue's tags and attributes: about 80 calls, most of a second).
    async fn queue_list(&self) -> Result<Vec<(String, String)>, Pending> {
        if let Some(queues) = self.queues.get() {
            return Ok(queues.clone());
        }
        match crate::runtime::queues(&self.bus).await {
            Ok(listed) => Ok(self.queues.get_or_init(|| listed).clone()),
            Err(e) => Err(Pending::Unreadable { what: "queues".into(), error: kit::error_chain(&e) }),
        }
    }

    /// One look at what is pending, taken into `settling`.
    pub async fn look(&self, settling: &mut Settling) -> Settled {
        match self.queue_list().await {
            Ok(queues) => {
                settling.look(&crate::runtime::probe(&self.bus, &self.http, &queues, &self.service_list()).await)
            }
            Err(unreadable) => settling.look(&[unreadable]),
        }
    }

    /// The base URL of a service or a fake.
    pub fn url(&self, name: &str) -> Option<&str> {
        self.services.get(name).or_else(|| self.fakes.get(name)).map(String::as_str)
    }

    /// Waits until every queue is drained and every service idle.
    ///
    /// Scenarios side by side share the waiting: one wait runs at a time,
    /// and a wait that began after this call was made proves quiet for it
    /// too. Each wait reads every queue's depth ten times a second, which
    /// an emulator would otherwise have to answer once per scenario.
    pub async fn wait_quiet(&self) -> Result<Duration, NotQuiet> {
        let asked = Instant::now();
        let mut last = self.quiet_gate.lock().await;
        if last.is_some_and(|began| began >= asked) {
            return Ok(asked.elapsed());
        }
        let began = Instant::now();
        let queues = self
            .queue_list()
            .await
            .map_err(|unreadable| NotQuiet::Timeout { waited: asked.elapsed(), pending: vec![unreadable] })?;
        wait_quiet_on(&self.bus, &queues, &self.service_list(), &self.quiet).await?;
        *last = Some(began);
        Ok(asked.elapsed())
    }
}

/// The settings of the platform fare's own runs start (`fare e2e`,
/// `fare chaos`, `--via-queue`, `fare bench`), beyond `fare up`'s: failed
/// deliveries come back at once (a failing message reaches its dead-letter
/// queue in seconds, not half a minute), and whatever the platform keeps in
/// `settings.toml` beside its scenarios (`scenarios_dir`), each a variable
/// and its value as text.
pub fn e2e_env(scenarios_dir: &Path) -> Result<BTreeMap<String, String>, ScenarioError> {
    let mut env = BTreeMap::from([("FARE_RETRY_BASE_SECONDS".to_owned(), "0".to_owned())]);
    let path = scenarios_dir.join("settings.toml");
    let text = match std::fs::read_to_string(&path) {
        Ok(text) => text,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(env),
        Err(source) => return Err(ScenarioError::Read { path, source }),
    };
    let invalid = |field: String, at: Option<(usize, usize)>, message: String| ScenarioError::Invalid {
        path: path.clone(),
        line: at.map(|a| a.0),
        column: at.map(|a| a.1),
        field,
        message,
    };
    let table: toml::Table = text.parse().map_err(|e: toml::de::Error| {
        let at = e.span().map(|s| {
            let before = &text[..s.start];
            (before.matches('\n').count() + 1, before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1)
        });
        invalid("the file".into(), at, e.message().to_owned())
    })?;
    for (key, value) in table {
        let value = match value {
            toml::Value::String(s) => s,
            toml::Value::Integer(_) | toml::Value::Float(_) | toml::Value::Boolean(_) => value.to_string(),
            other => {
                let at = super::error::position_of(&text, &key);
                return Err(invalid(key, at, format!("expected a value as text, not a {}", other.type_str())));
            }
        };
        env.insert(key, value);
    }
    Ok(env)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_platforms_settings_come_from_beside_its_scenarios_and_a_bad_one_is_located() {
        let scenarios = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../scenarios");
        let env = e2e_env(&scenarios).unwrap();
        assert_eq!(env["FARE_RETRY_BASE_SECONDS"], "0");
        assert_eq!(env["TRACKING_DEADLINE_SECONDS"], "8");
        let none = tempfile::tempdir().unwrap();
        assert_eq!(e2e_env(none.path()).unwrap().len(), 1, "a platform without settings gets fare's own");
        std::fs::write(none.path().join("settings.toml"), "A = \"1\"\nB = [1, 2]\n").unwrap();
        let e = e2e_env(none.path()).unwrap_err().to_string();
        assert!(e.ends_with("settings.toml:2:1: B: expected a value as text, not a array"), "{e}");
    }
}
