//! `fare plan --json`: what provisioning would change.

use schemars::JsonSchema;
use serde::Serialize;

use crate::provision::Change;

/// The changes the plan would apply to `namespace` at `endpoint`.
#[derive(Debug, Serialize, JsonSchema)]
pub struct PlanDoc {
    pub namespace: String,
    pub endpoint: String,
    pub changes: Vec<ChangeDoc>,
}

/// One change: `op` of a `kind` named `name`; `text` is the line `fare plan` prints.
#[derive(Debug, Serialize, JsonSchema)]
pub struct ChangeDoc {
    pub op: Op,
    pub kind: Kind,
    /// A subscription's is `TOPIC -> QUEUE`.
    pub name: String,
    pub text: String,
}

#[derive(Debug, Clone, Copy, Serialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum Op {
    Create,
    Update,
    Delete,
}

#[derive(Debug, Clone, Copy, Serialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum Kind {
    Topic,
    Queue,
    Subscription,
}

impl PlanDoc {
    pub fn new(namespace: &kit::bus::Namespace, endpoint: &str, changes: &[Change]) -> PlanDoc {
        let changes = changes.iter().map(ChangeDoc::of).collect();
        PlanDoc { namespace: namespace.to_string(), endpoint: endpoint.to_owned(), changes }
    }
}

impl ChangeDoc {
    fn of(c: &Change) -> ChangeDoc {
        let arrow = |sub: &crate::provision::SubscriptionSpec| format!("{} -> {}", sub.topic, sub.queue);
        let (op, kind, name) = match c {
            Change::CreateTopic { name } => (Op::Create, Kind::Topic, name.clone()),
            Change::DeleteTopic { name } => (Op::Delete, Kind::Topic, name.clone()),
            Change::CreateQueue { name, .. } => (Op::Create, Kind::Queue, name.clone()),
            Change::UpdateQueue { name, .. } => (Op::Update, Kind::Queue, name.clone()),
            Change::DeleteQueue { name } => (Op::Delete, Kind::Queue, name.clone()),
            Change::Subscribe { sub } => (Op::Create, Kind::Subscription, arrow(sub)),
            Change::UpdateFilter { sub } => (Op::Update, Kind::Subscription, arrow(sub)),
            Change::Unsubscribe { sub } => (Op::Delete, Kind::Subscription, arrow(sub)),
        };
        ChangeDoc { op, kind, name, text: c.to_string() }
    }
}
