//! Provisioning: the resources the manifests imply, what the account holds
//! now, the difference as a plan, and applying it.
//!
//! Every resource is named under the namespace (`kit::bus::Namespace`) and
//! tagged `fare:namespace`, so a plan only ever touches its own namespace,
//! even when another namespace's names share a prefix.

mod apply;
mod current;
mod desired;

use std::fmt;

pub use apply::apply;
pub use current::{Current, read_current};
pub use desired::{Desired, QueueSpec, SubscriptionSpec, desired};

/// Reads what `ns` holds, plans the way to `desired`, and applies it;
/// returns the changes made (none when it already matched).
pub async fn converge(
    bus: &kit::bus::Bus,
    ns: &kit::bus::Namespace,
    desired: &Desired,
    progress: &mut dyn FnMut(&Change),
) -> Result<Vec<Change>, ProvisionError> {
    let current = read_current(bus, ns).await?;
    let changes = plan(desired, &current);
    apply(bus, ns, current, &changes, progress).await?;
    Ok(changes)
}

/// The tag that marks a resource as belonging to a namespace.
pub const NAMESPACE_TAG: &str = "fare:namespace";

#[derive(Debug, thiserror::Error)]
pub enum ProvisionError {
    #[error(transparent)]
    Aws(#[from] kit::bus::AwsError),
}

/// One step of a plan.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Change {
    CreateTopic { name: String },
    DeleteTopic { name: String },
    CreateQueue { name: String, spec: QueueSpec },
    UpdateQueue { name: String, spec: QueueSpec, what: Vec<String> },
    DeleteQueue { name: String },
    Subscribe { sub: SubscriptionSpec },
    UpdateFilter { sub: SubscriptionSpec },
    Unsubscribe { sub: SubscriptionSpec },
}

impl fmt::Display for Change {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Change::CreateTopic { name } => write!(f, "+ topic {name}"),
            Change::DeleteTopic { name } => write!(f, "- topic {name}"),
            Change::CreateQueue { name, spec } => match &spec.dead_letter {
                Some(dlq) => write!(
                    f,
                    "+ queue {name} (visibility {}s, dead letters to {dlq} after {} receives)",
                    spec.visibility_timeout_seconds,
                    spec.max_receive_count.unwrap_or_default()
                ),
                None => write!(f, "+ queue {name} (dead-letter queue)"),
            },
            Change::UpdateQueue { name, what, .. } => write!(f, "~ queue {name}: {}", what.join(", ")),
            Change::DeleteQueue { name } => write!(f, "- queue {name}"),
            Change::Subscribe { sub } => write!(f, "+ subscription {} -> {}{}", sub.topic, sub.queue, filter_note(sub)),
            Change::UpdateFilter { sub } => {
                write!(f, "~ subscription {} -> {}{}", sub.topic, sub.queue, filter_note(sub))
            }
            Change::Unsubscribe { sub } => write!(f, "- subscription {} -> {}", sub.topic, sub.queue),
        }
    }
}

fn filter_note(sub: &SubscriptionSpec) -> String {
    sub.filter.as_ref().map(|f| format!(" filter {f}")).unwrap_or_default()
}

/// What it takes to go from `current` to `desired`, in the order `apply`
/// performs it: creations first (topics, dead-letter queues, queues,
/// subscriptions), deletions last.
pub fn plan(desired: &Desired, current: &Current) -> Vec<Change> {
    let mut changes = Vec::new();
    for name in desired.topics.iter().filter(|t| !current.topics.contains_key(*t)) {
        changes.push(Change::CreateTopic { name: name.clone() });
    }
    // Dead-letter queues before the queues whose redrive policy names them.
    let mut queues: Vec<(&String, &QueueSpec)> = desired.queues.iter().collect();
    queues.sort_by_key(|(_, spec)| spec.dead_letter.is_some());
    for (name, spec) in queues {
        match current.queues.get(name) {
            None => changes.push(Change::CreateQueue { name: name.clone(), spec: spec.clone() }),
            Some(have) => {
                let what = spec.differences(have);
                if !what.is_empty() {
                    changes.push(Change::UpdateQueue { name: name.clone(), spec: spec.clone(), what });
                }
            }
        }
    }
    for sub in &desired.subscriptions {
        match current.subscriptions.iter().find(|s| s.topic == sub.topic && s.queue == sub.queue) {
            None => changes.push(Change::Subscribe { sub: sub.clone() }),
            Some(have) if have.filter != sub.filter => changes.push(Change::UpdateFilter { sub: sub.clone() }),
            Some(_) => {}
        }
    }
    for sub in &current.subscriptions {
        if !desired.subscriptions.iter().any(|s| s.topic == sub.topic && s.queue == sub.queue) {
            changes.push(Change::Unsubscribe { sub: sub.clone() });
        }
    }
    for name in current.queues.keys().filter(|q| !desired.queues.contains_key(*q)) {
        changes.push(Change::DeleteQueue { name: name.clone() });
    }
    for name in current.topics.keys().filter(|t| !desired.topics.contains(*t)) {
        changes.push(Change::DeleteTopic { name: name.clone() });
    }
    changes
}
