//! The resources the manifests imply.

use std::collections::{BTreeMap, BTreeSet};

use kit::bus::Namespace;

use crate::topology::Topology;

/// A queue as fare wants it. Dead-letter queues have no dead letter of their
/// own and no receive limit.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QueueSpec {
    pub visibility_timeout_seconds: u32,
    pub max_receive_count: Option<u32>,
    /// The name of this queue's dead-letter queue.
    pub dead_letter: Option<String>,
}

impl QueueSpec {
    /// What differs between this spec and a queue as it is, in words.
    pub fn differences(&self, have: &QueueSpec) -> Vec<String> {
        let mut what = Vec::new();
        if self.visibility_timeout_seconds != have.visibility_timeout_seconds {
            what.push(format!(
                "visibility {}s -> {}s",
                have.visibility_timeout_seconds, self.visibility_timeout_seconds
            ));
        }
        if self.max_receive_count != have.max_receive_count || self.dead_letter != have.dead_letter {
            let show = |s: &QueueSpec| match (&s.dead_letter, s.max_receive_count) {
                (Some(d), Some(n)) => format!("{d} after {n}"),
                _ => "none".to_owned(),
            };
            what.push(format!("dead letters {} -> {}", show(have), show(self)));
        }
        what
    }
}

#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct SubscriptionSpec {
    pub topic: String,
    pub queue: String,
    /// The filter policy as canonical JSON (sorted keys).
    pub filter: Option<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Desired {
    pub topics: BTreeSet<String>,
    pub queues: BTreeMap<String, QueueSpec>,
    pub subscriptions: BTreeSet<SubscriptionSpec>,
}

/// One topic per event type, one queue and dead-letter queue per listening
/// service, one raw subscription per (event, listener).
pub fn desired(topology: &Topology, ns: &Namespace) -> Desired {
    let mut d = Desired { topics: topology.events().iter().map(|e| ns.topic(e)).collect(), ..Desired::default() };
    for m in topology.services() {
        let Some(q) = m.queue else { continue };
        let dlq = ns.dead_letter_queue(&m.name);
        d.queues.insert(
            dlq.clone(),
            QueueSpec { visibility_timeout_seconds: 30, max_receive_count: None, dead_letter: None },
        );
        d.queues.insert(
            ns.queue(&m.name),
            QueueSpec {
                visibility_timeout_seconds: q.visibility_timeout_seconds,
                max_receive_count: Some(q.max_receive_count),
                dead_letter: Some(dlq),
            },
        );
        for l in &m.listens {
            d.subscriptions.insert(SubscriptionSpec {
                topic: ns.topic(&l.event),
                queue: ns.queue(&m.name),
                filter: l.filter.as_ref().map(|f| serde_json::to_string(f).expect("a map of JSON values serialises")),
            });
        }
    }
    d
}
