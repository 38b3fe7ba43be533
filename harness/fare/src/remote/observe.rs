//! How fare sees an environment it did not start: a recorder of its own,
//! whose tap is a queue of this run's in the environment's namespace,
//! subscribed to the platform's topics (those the manifests' event types
//! name, and any other the namespace's tag marks as its own), which reads
//! the dead-letter queues and, where the target file says so, receives the
//! services' OTLP spans. It creates no topic and changes nothing of the
//! platform's; its tap and the tap's subscriptions are removed when the run
//! ends, however it ends.

use std::collections::BTreeSet;
use std::net::SocketAddr;
use std::time::Duration;

use kit::bus::{AwsError, Bus};
use tokio_util::sync::CancellationToken;

use crate::topology::Topology;
use crate::trace::{Recorder, RecorderOptions, SavedRecord, Spans, TapTopics, TraceError};

#[derive(Debug, thiserror::Error)]
pub enum ObserveError {
    #[error("listing the topics of namespace `{namespace}` at {endpoint}")]
    Topics {
        namespace: String,
        endpoint: String,
        #[source]
        source: AwsError,
    },
    #[error(
        "namespace `{namespace}` at {endpoint} has none of the topics the manifests imply ({expected}, …): \
         check the target file's namespace, endpoint and region"
    )]
    NoTopics { namespace: String, endpoint: String, expected: String },
    #[error(transparent)]
    Recorder(#[from] TraceError),
}

/// How long closing may take: removing a tap is a few calls per topic.
const CLOSING: Duration = Duration::from_secs(60);

/// The recorder watching an environment, until [`Observer::close`].
pub struct Observer {
    recorder: Recorder,
    shutdown: CancellationToken,
    bus: Bus,
    /// The tap queue's name.
    pub tap: String,
    /// The topics tapped, by name.
    pub topics: Vec<String>,
    /// Topics the manifests imply that the environment lacks.
    pub missing: Vec<String>,
}

/// What closing left behind.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Closed {
    /// The tap and its subscriptions are gone.
    Removed { tap: String, subscriptions: usize },
    /// The tap could not be removed, or closing took too long.
    Left { tap: String, why: String },
}

impl std::fmt::Display for Closed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Closed::Removed { tap, subscriptions } => {
                write!(f, "removed the tap queue {tap} and its {subscriptions} subscriptions")
            }
            Closed::Left { tap, why } => {
                write!(f, "the tap queue {tap} may be left behind ({why}): delete it and its subscriptions by hand")
            }
        }
    }
}

impl Observer {
    /// Starts watching the environment `bus` reaches: spans on `otlp`, if
    /// given. Fails, having left nothing behind, when the namespace has
    /// none of the topics the manifests imply.
    pub async fn start(bus: &Bus, topology: &Topology, otlp: Option<SocketAddr>) -> Result<Observer, ObserveError> {
        let ns = &bus.namespace;
        let (found, missing) = topics(bus, topology).await?;
        if found.is_empty() {
            let expected: Vec<String> = missing.iter().take(3).cloned().collect();
            return Err(ObserveError::NoTopics {
                namespace: ns.to_string(),
                endpoint: bus.endpoint().to_owned(),
                expected: expected.join(", "),
            });
        }
        // This run's own: several runs (CI jobs) may watch one environment.
        let tap = format!("{ns}-fare-tap-{}", &uuid::Uuid::new_v4().simple().to_string()[..8]);
        let options = RecorderOptions {
            api: (std::net::Ipv4Addr::LOCALHOST, 0).into(),
            spans: otlp.map_or(Spans::None, Spans::At),
            tap: tap.clone(),
            topics: TapTopics::Existing(found.iter().map(|(_, arn)| arn.clone()).collect()),
            forward: None,
        };
        let shutdown = CancellationToken::new();
        let recorder = Recorder::start_with(&options, bus, topology, shutdown.clone()).await?;
        let topics = found.into_iter().map(|(name, _)| name).collect();
        Ok(Observer { recorder, shutdown, bus: bus.clone(), tap, topics, missing })
    }

    /// Where the record is read (`Target::recorder`).
    pub fn record_url(&self) -> &str {
        self.recorder.url()
    }

    /// Where spans are received, if anywhere.
    pub fn spans_url(&self) -> Option<&str> {
        self.recorder.spans_url()
    }

    /// How many spans were received so far.
    pub fn spans(&self) -> usize {
        self.recorder.spans().len()
    }

    /// Everything recorded so far.
    pub fn saved(&self) -> SavedRecord {
        self.recorder.saved()
    }

    /// Stops watching and removes the tap and its subscriptions; says
    /// whether the queue is gone.
    pub async fn close(self) -> Closed {
        self.shutdown.cancel();
        let tap = self.tap.clone();
        let subscriptions = self.topics.len();
        if tokio::time::timeout(CLOSING, self.recorder.tap_removed()).await.is_err() {
            return Closed::Left { tap, why: format!("not removed within {CLOSING:?}") };
        }
        // The removal is best effort and logs its own failures: look.
        match self.bus.queue_url(&tap).await {
            Err(_) => Closed::Removed { tap, subscriptions },
            Ok(_) => Closed::Left { tap, why: "it still exists after its removal".into() },
        }
    }
}

impl Drop for Observer {
    /// An observer dropped without [`Observer::close`] still stops, and
    /// removes its tap while the runtime lasts.
    fn drop(&mut self) {
        self.shutdown.cancel();
    }
}

/// The platform's topics as (name, ARN): those of the manifests' event
/// types, and any other with the namespace's prefix and tag; and the
/// names of the manifests' topics it lacks.
async fn topics(bus: &Bus, topology: &Topology) -> Result<(Vec<(String, String)>, Vec<String>), ObserveError> {
    let ns = &bus.namespace;
    let error =
        |source| ObserveError::Topics { namespace: ns.to_string(), endpoint: bus.endpoint().to_owned(), source };
    let wanted: BTreeSet<String> = topology.events().iter().map(|e| ns.topic(e)).collect();
    let prefix = format!("{ns}-");
    let mut found = Vec::new();
    for arn in bus.topics().await.map_err(error)? {
        let name = arn.rsplit(':').next().unwrap_or_default().to_owned();
        let ours = wanted.contains(&name)
            || (name.starts_with(&prefix)
                && bus.topic_tags(&arn).await.map_err(error)?.get(crate::provision::NAMESPACE_TAG)
                    == Some(&ns.to_string()));
        if ours {
            found.push((name, arn));
        }
    }
    found.sort();
    let missing = wanted.into_iter().filter(|w| !found.iter().any(|(name, _)| name == w)).collect();
    Ok((found, missing))
}
