//! What the platform shows now, beyond the record: which services answer,
//! what is still pending, whether the wait for quiet ended stuck, which
//! subscriptions exist with which filter, the steps that failed, and when
//! the run began.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use kit::bus::Bus;
use serde::Serialize;

use super::Evidence;
use crate::runtime::Pending;
use crate::topology::Topology;

#[derive(Debug, Clone, Default, Serialize)]
pub struct Environment {
    /// Services that do not answer `/health`.
    pub down: BTreeSet<String>,
    /// What was still pending when the diagnosis looked.
    pub pending: Vec<Pending>,
    /// The wait for quiet ended because pending work stopped progressing.
    pub stuck: bool,
    /// (event type, service) → the subscription's filter policy, as
    /// provisioned; `None` when they could not be read.
    pub subscriptions: Option<BTreeMap<(String, String), Option<String>>>,
    /// Steps of the scenario that failed, per chain label.
    pub failed_steps: Vec<(String, Evidence)>,
    /// When the scenario began (Unix nanoseconds): the times of the faults
    /// the diagnosis names are told from it.
    pub began_unix_nanos: Option<u64>,
}

impl Environment {
    /// Looks at the platform: `/health` of each service, what is pending,
    /// and the namespace's subscriptions.
    pub async fn observe(bus: &Bus, topology: &Topology, services: &[(String, String)]) -> Environment {
        let http = reqwest::Client::builder().timeout(Duration::from_secs(2)).build().unwrap_or_default();
        let health = futures_util::future::join_all(services.iter().map(|(name, url)| {
            let http = &http;
            async move {
                let ok = http.get(format!("{url}/health")).send().await;
                (name.clone(), ok.is_ok_and(|r| r.status().is_success()))
            }
        }));
        let current = crate::provision::read_current(bus, &bus.namespace).await.ok();
        let queues = current.as_ref().map(crate::runtime::queues_of).unwrap_or_default();
        let (health, pending) = tokio::join!(health, crate::runtime::probe(bus, &http, &queues, services));
        let down = health.into_iter().filter(|(_, ok)| !ok).map(|(name, _)| name).collect();
        let subscriptions = current.map(|c| subscriptions(bus, topology, c));
        Environment { down, pending, subscriptions, ..Environment::default() }
    }

    /// What is pending at `service`: its queue and what it has in hand.
    pub fn pending_at(&self, service: &str, queue: &str) -> Vec<&Pending> {
        self.pending.iter().filter(|p| p.concerns(service, queue)).collect()
    }
}

fn subscriptions(
    bus: &Bus,
    topology: &Topology,
    current: crate::provision::Current,
) -> BTreeMap<(String, String), Option<String>> {
    let ns = &bus.namespace;
    let events: BTreeMap<String, String> =
        topology.events().into_iter().map(|e| (ns.topic(&e), e.to_string())).collect();
    let queues: BTreeMap<String, String> = topology.services().map(|m| (ns.queue(&m.name), m.name.clone())).collect();
    current
        .subscriptions
        .into_iter()
        .filter_map(|s| Some(((events.get(&s.topic)?.clone(), queues.get(&s.queue)?.clone()), s.filter)))
        .collect()
}
