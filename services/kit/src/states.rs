//! Provider states for contract verification, one mechanism for every
//! service: `POST /_pact/state` `{"state", "params", "action"}`, the
//! state-change call of `pact_verifier` (and of the official `pact
//! verifier`), answered from the states the service registers.
//!
//! A state is a template whose one-letter capital words are its parameters
//! (`user U has order O in status S`, parameters `user_id`, `order_id`,
//! `status`) and a function that writes the rows it describes, in one
//! transaction of the service's own database. A state's values come from
//! its name, or from the pact's `params` by parameter name, which win: a
//! pact may say `user U has order O in status S` with
//! `{"user_id": "u-1", …}`. An unknown state is refused with every state
//! the service knows, and the closest one to it.
//!
//! The route is mounted only when [`Switches::provider_states`] is on:
//! `fare contracts verify` hands `FARE_PROVIDER_STATES=on` to the providers
//! it starts, for one run, and only a debug build honours it
//! ([`Switches::from_env`]). The service then says so loudly in its log.

use std::collections::BTreeMap;
use std::str::FromStr;

use axum::extract::State as Extract;
use axum::routing::post;
use axum::{Json, Router};
use rusqlite::Transaction;
use serde::Deserialize;
use serde_json::Value;

use crate::http::ApiError;
use crate::store::{Db, StoreError};

/// What a process is switched into for one run by whoever started it.
#[derive(Debug, Clone, Copy, Default)]
pub struct Switches {
    /// Mounts `POST /_pact/state`, which writes the service's data as the
    /// caller likes, and `POST /_pact/messages` (see [`crate::messages`]).
    /// `fare contracts verify` hands `FARE_PROVIDER_STATES=on` to the
    /// providers it starts, for that one run.
    pub provider_states: bool,
}

/// The variable that switches provider states on, for one run.
pub const PROVIDER_STATES_VAR: &str = "FARE_PROVIDER_STATES";

impl Switches {
    /// The switches a binary's environment sets: `FARE_PROVIDER_STATES=on`,
    /// honoured by a debug build only. A release build, the one deployed,
    /// ignores it and says so: no environment a deployment is given can
    /// mount a route that writes the service's data.
    pub fn from_env() -> Switches {
        let asked = std::env::var(PROVIDER_STATES_VAR).is_ok_and(|v| v == "on");
        if asked && !cfg!(debug_assertions) {
            tracing::warn!("{PROVIDER_STATES_VAR}=on is ignored: a release build never mounts provider states");
        }
        Switches { provider_states: asked && cfg!(debug_assertions) }
    }
}

/// Why a state could not be set.
#[derive(Debug, thiserror::Error)]
pub enum StateError {
    /// A value of the state is not one the service can hold.
    #[error("`{value}` is not a valid {param}: expected {expected}")]
    Invalid { param: &'static str, value: String, expected: String },
    /// The state contradicts what the service already holds.
    #[error("{0}")]
    Conflict(String),
    #[error(transparent)]
    Sql(#[from] rusqlite::Error),
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl From<StateError> for ApiError {
    fn from(e: StateError) -> ApiError {
        match e {
            StateError::Invalid { param, .. } => ApiError::invalid(&format!("params.{param}"), e.to_string()),
            StateError::Conflict(message) => ApiError::Conflict(message),
            other => ApiError::internal(other),
        }
    }
}

/// Writes what a state describes.
pub type Apply = fn(&Transaction<'_>, &Values) -> Result<(), StateError>;

/// One provider state a service knows.
#[derive(Clone, Copy)]
pub struct ProviderState {
    /// `user U has order O in status S`: each one-letter capital word is a parameter.
    pub template: &'static str,
    /// The parameters' names, in the order their letters appear.
    pub params: &'static [&'static str],
    pub apply: Apply,
}

/// A state's values, by parameter name.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Values(BTreeMap<&'static str, String>);

impl Values {
    /// The value of `param`; `""` for a name the state does not have.
    pub fn get(&self, param: &str) -> &str {
        self.0.get(param).map(String::as_str).unwrap_or_default()
    }

    /// The value of `param`, parsed; the error names the parameter and what was expected.
    pub fn parse<T: FromStr>(&self, param: &'static str, expected: &str) -> Result<T, StateError> {
        let value = self.get(param);
        value.parse().map_err(|_| StateError::Invalid { param, value: value.to_owned(), expected: expected.to_owned() })
    }
}

fn placeholder(word: &str) -> bool {
    word.len() == 1 && word.bytes().all(|b| b.is_ascii_uppercase())
}

impl ProviderState {
    /// The values of `name` if it is this state, `params` taking precedence.
    pub fn matches(&self, name: &str, params: &serde_json::Map<String, Value>) -> Option<Values> {
        let words: Vec<&str> = name.split_whitespace().collect();
        let parts: Vec<&str> = self.template.split_whitespace().collect();
        if words.len() != parts.len() {
            return None;
        }
        let mut values = BTreeMap::new();
        let mut letters = self.params.iter();
        for (part, word) in parts.iter().zip(&words) {
            if placeholder(part) {
                values.insert(*letters.next()?, (*word).to_owned());
            } else if part != word {
                return None;
            }
        }
        for param in self.params {
            match params.get(*param) {
                Some(Value::String(s)) => values.insert(param, s.clone()),
                Some(Value::Null) | None => None,
                Some(other) => values.insert(param, other.to_string()),
            };
        }
        Some(Values(values))
    }
}

/// The states of `states` that `catalog` (the platform's `CATALOG.md`,
/// where the consumers' authors look for them) has no row `| service |
/// `template`` for: what a service's own test holds empty.
pub fn undocumented(service: &str, states: &[ProviderState], catalog: &str) -> Vec<String> {
    states
        .iter()
        .map(|s| format!("| {service} | `{}`", s.template))
        .filter(|row| !catalog.contains(row.as_str()))
        .collect()
}

/// A service's own test that its `states` are in the catalog at
/// `catalog` (a path from the calling file, as `include_str!` takes it)
/// and that every one of its `messages` builds as listed:
/// `kit::provider_checks!(crate::NAME, STATES, MESSAGES, "../../CATALOG.md");`.
#[macro_export]
macro_rules! provider_checks {
    ($name:expr, $states:expr, $messages:expr, $catalog:literal) => {
        #[cfg(test)]
        #[test]
        fn provider_states_are_in_the_catalog_and_every_sample_builds() {
            let catalog = include_str!($catalog);
            assert_eq!($crate::states::undocumented($name, $states, catalog), Vec::<String>::new());
            assert_eq!($crate::messages::faulty_samples($name, $messages), Vec::<String>::new());
        }
    };
}

/// The states `service` knows, over its database.
#[derive(Clone)]
struct Registry {
    service: String,
    db: Db,
    states: &'static [ProviderState],
}

impl Registry {
    /// "store knows no provider state `x`; did you mean …?; it knows `a`, `b`".
    fn unknown(&self, name: &str) -> ApiError {
        let templates: Vec<&str> = self.states.iter().map(|s| s.template).collect();
        let hint = crate::suggest::did_you_mean_template(name, &templates, placeholder);
        let known: Vec<String> = templates.iter().map(|t| format!("`{t}`")).collect();
        let message = format!("{} knows no provider state `{name}`{hint}; it knows {}", self.service, known.join(", "));
        ApiError::invalid("state", message)
    }
}

/// `POST /_pact/state` over `states`, for `service`'s database. Only for a
/// service whose [`Switches::provider_states`] is on: see
/// [`ApplicationBuilder::provider_states`](crate::ApplicationBuilder::provider_states).
pub(crate) fn router(service: &str, db: Db, states: &'static [ProviderState]) -> Router {
    let registry = Registry { service: service.to_owned(), db, states };
    Router::new().route("/_pact/state", post(change)).with_state(registry)
}

#[derive(Deserialize)]
struct StateChange {
    state: String,
    #[serde(default)]
    params: serde_json::Map<String, Value>,
    /// `setup` (the default) or `teardown`; a fresh database per
    /// verification run makes teardown unnecessary.
    #[serde(default)]
    action: Option<String>,
}

async fn change(
    Extract(registry): Extract<Registry>,
    crate::http::Json(req): crate::http::Json<StateChange>,
) -> Result<Json<Value>, ApiError> {
    // The verifier asks for the state "" before an interaction that names none.
    if req.state.is_empty() || req.action.as_deref().is_some_and(|a| a != "setup") {
        return Ok(Json(Value::Object(Default::default())));
    }
    let (state, values) = registry
        .states
        .iter()
        .find_map(|s| s.matches(&req.state, &req.params).map(|v| (*s, v)))
        .ok_or_else(|| registry.unknown(&req.state))?;
    tracing::info!(state = req.state, "provider state set");
    registry.db.write(move |tx| (state.apply)(tx, &values)).await.map_err(ApiError::from)?;
    // No values for the verifier to inject into the request.
    Ok(Json(Value::Object(Default::default())))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn noop(_: &Transaction<'_>, _: &Values) -> Result<(), StateError> {
        Ok(())
    }

    const ORDER: ProviderState = ProviderState {
        template: "user U has order O in status S",
        params: &["user_id", "order_id", "status"],
        apply: noop,
    };

    #[test]
    fn a_state_takes_its_values_from_its_name_and_its_params() {
        let none = serde_json::Map::new();
        let values = ORDER.matches("user u-1 has order o-1 in status shipped", &none).unwrap();
        assert_eq!((values.get("user_id"), values.get("order_id"), values.get("status")), ("u-1", "o-1", "shipped"));
        let params = serde_json::json!({"user_id": "u-2", "order_id": 7, "status": "placed"});
        let values = ORDER.matches("user U has order O in status S", params.as_object().unwrap()).unwrap();
        assert_eq!((values.get("user_id"), values.get("order_id"), values.get("status")), ("u-2", "7", "placed"));
        for other in ["user u-1 has order o-1", "user u-1 has orders o-1 in status shipped", ""] {
            assert_eq!(ORDER.matches(other, &none), None, "{other:?}");
        }
        let err = values.parse::<u32>("status", "a whole number").unwrap_err().to_string();
        assert_eq!(err, "`placed` is not a valid status: expected a whole number");
    }
}
