//! The types of a load workload as written (the reference platform's
//! `scenarios/chaos/load.yaml`): how a user of the platform signs up, how an
//! order is placed and found again, where its chain ends, and the effects
//! each order (or user, or the load as a whole) must leave exactly once.
//! Every request is a scenario request (`scenarios/README.md`), templated
//! with the workload's variables and what earlier requests captured.

use std::collections::BTreeMap;

use kit::EventType;
use serde::Deserialize;
use serde_json::Value;

use crate::scenario::model::Http;

/// Variables every workload request may use, set by fare: `run` (this
/// run's id), `user` (the user's number), `orders` (orders the run places
/// in all), `operator` (the platform's operator token).
pub const BUILT_IN: [&str; 4] = ["run", "user", "orders", "operator"];

/// What `order.place` may use besides: its chain's id, unique per order
/// (and the same when a request that died is sent again).
pub const ORDER_BUILT_IN: &str = "correlation_id";

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WorkloadFile {
    #[serde(default)]
    pub description: Option<String>,
    /// Templated once per user, in name order (`{{user}}` makes each user's own).
    #[serde(default)]
    pub vars: BTreeMap<String, String>,
    /// Settings every platform a load or a bench starts gets, over the
    /// e2e settings; templated (`{{orders}}`).
    #[serde(default)]
    pub env: BTreeMap<String, String>,
    #[serde(default)]
    pub bench: BenchSettings,
    /// A user's steps, in order, once per user in a chain of the user's
    /// own (none: the orders need no account).
    #[serde(default)]
    pub user: Vec<Http>,
    pub order: Order,
    #[serde(default)]
    pub effects: Vec<Effect>,
    /// With `fare bench --login-flood`: the request kept in flight, as a
    /// user of its own (signed up by `user`, not timed).
    #[serde(default)]
    pub flood: Option<Http>,
}

/// What only `fare bench` changes of its platform, over `env`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BenchSettings {
    #[serde(default)]
    pub env: BTreeMap<String, String>,
    /// The fakes' variables (`fake.name: value`).
    #[serde(default)]
    pub fake_vars: BTreeMap<String, String>,
}

/// How an order is placed, found again and seen to its end.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Order {
    /// The request that places one, in the order's own chain; it captures `id`.
    pub place: Http,
    /// The variable `place` captures that names the order, and the field
    /// that names each order `list` answers.
    pub id: String,
    /// The user's orders, a JSON array: a request that died is looked up
    /// here before the order is placed again, and `done` counts progress.
    #[serde(default)]
    pub list: Option<Http>,
    /// Fields a listed order has once its chain has come to its end.
    #[serde(default)]
    pub done: Option<Value>,
    /// The event whose handling ends an order's chain, as the record shows
    /// it: what `fare bench` times an order to.
    #[serde(default)]
    pub end: Option<End>,
}

/// The handling of `event` by `service`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct End {
    pub event: EventType,
    pub service: String,
}

/// Whose effect a row of the ledger counts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, serde::Serialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Per {
    /// Once per order placed.
    Order,
    /// Once per user.
    User,
    /// Read before and after the load: it grows by one per order placed.
    Load,
}

/// One effect the platform must leave exactly once.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Effect {
    pub effect: String,
    pub per: Per,
    /// The request that reads it; its captures serve the effects after it.
    pub read: Http,
    /// Where in the answer to count (a dotted path, `awards`, `data.items`);
    /// the whole answer when unset.
    #[serde(default, rename = "in")]
    pub within: Option<String>,
    #[serde(default)]
    pub count: Count,
}

/// How many of an effect an answer shows.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(try_from = "RawCount")]
pub enum Count {
    /// The elements of the JSON array answered.
    #[default]
    Length,
    /// The elements that have these fields (and, with `mentions`, whose
    /// JSON has that text somewhere).
    Where { fields: Value, mentions: Option<String> },
    /// 1 if the answer has these fields, 0 if not.
    Match(Value),
    /// The sum of this (dotted) field over the elements answered.
    Sum(String),
}

#[derive(Deserialize)]
#[serde(untagged)]
enum RawCount {
    Word(String),
    Rule(CountRule),
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct CountRule {
    #[serde(rename = "where")]
    fields: Option<Value>,
    mentions: Option<String>,
    #[serde(rename = "match")]
    matches: Option<Value>,
    sum: Option<String>,
}

impl TryFrom<RawCount> for Count {
    type Error = String;
    fn try_from(raw: RawCount) -> Result<Self, Self::Error> {
        let expected =
            "expected `length`, `{where: {FIELD: VALUE}, mentions: TEXT}`, `{match: {FIELD: VALUE}}` or `{sum: FIELD}`";
        match raw {
            RawCount::Word(w) if w == "length" => Ok(Count::Length),
            RawCount::Word(w) => Err(format!("`{w}`: {expected}")),
            RawCount::Rule(CountRule { fields, mentions, matches: None, sum: None })
                if fields.is_some() || mentions.is_some() =>
            {
                Ok(Count::Where { fields: fields.unwrap_or(Value::Object(Default::default())), mentions })
            }
            RawCount::Rule(CountRule { fields: None, mentions: None, matches: Some(m), sum: None }) => {
                Ok(Count::Match(m))
            }
            RawCount::Rule(CountRule { fields: None, mentions: None, matches: None, sum: Some(s) }) => {
                Ok(Count::Sum(s))
            }
            RawCount::Rule(_) => Err(format!("one rule only: {expected}")),
        }
    }
}
