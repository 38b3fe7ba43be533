//! Provider states for contract verification: `POST /_pact/state`
//! `{"state", "params", "action"}`, the state-change call of `pact_verifier`.
//! The route exists only when users is built with
//! [`Switches::provider_states`](crate::Switches), which `fare contracts
//! verify` alone sets, in code; no variable, file or flag turns it on, so a
//! deployed users has no way in.
//!
//! Each state a consumer's pact names ("user u-1 has a valid session token
//! 0a1b2c3d4e5f") puts the rows it describes straight into the database:
//! sign-up and login hand out random ids and tokens, and a pact needs the
//! ones it recorded. The state's name carries every value it needs; its
//! `params` repeat them for tools that want them apart.

use axum::extract::State;
use axum::routing::post;
use axum::{Json, Router};
use kit::http::ApiError;
use kit::store::Db;
use rusqlite::Transaction;
use serde::{Deserialize, Serialize};

use crate::error::UsersError;
use crate::store::{self, Contact, Session};

/// The states the consumers' pacts name, with their values.
#[derive(Debug, Clone, PartialEq, Eq)]
enum ProviderState {
    ValidSession { user_id: String, token: String },
    ExpiredSession { user_id: String, token: String },
    NoSession { token: String },
    UserExists { user_id: String },
    NoUser { user_id: String },
}

/// What an unknown state is told it could have been.
const KNOWN: &str = "`user U has a valid session token T`, `user U has an expired session token T`, \
                     `no session has the token T`, `user U exists`, `no user U exists`";

/// The same, one by one, for the closest one to a mistyped state.
const TEMPLATES: [&str; 5] = [
    "user U has a valid session token T",
    "user U has an expired session token T",
    "no session has the token T",
    "user U exists",
    "no user U exists",
];

impl ProviderState {
    fn parse(name: &str) -> Option<ProviderState> {
        let word = |s: &str| (!s.is_empty() && !s.contains(' ')).then(|| s.to_owned());
        if let Some(token) = name.strip_prefix("no session has the token ") {
            return Some(ProviderState::NoSession { token: word(token)? });
        }
        if let Some(user_id) = name.strip_prefix("no user ").and_then(|r| r.strip_suffix(" exists")) {
            return Some(ProviderState::NoUser { user_id: word(user_id)? });
        }
        let rest = name.strip_prefix("user ")?;
        let (user_id, rest) = rest.split_once(' ')?;
        let user_id = word(user_id)?;
        if rest == "exists" {
            return Some(ProviderState::UserExists { user_id });
        }
        if let Some(token) = rest.strip_prefix("has a valid session token ") {
            return Some(ProviderState::ValidSession { user_id, token: word(token)? });
        }
        let token = rest.strip_prefix("has an expired session token ")?;
        Some(ProviderState::ExpiredSession { user_id, token: word(token)? })
    }
}

#[derive(Deserialize)]
struct StateChange {
    state: String,
    /// `setup` (the default) or `teardown`; a fresh database per
    /// verification run makes teardown unnecessary.
    #[serde(default)]
    action: Option<String>,
}

/// The answer: no values for the verifier to inject into the request.
#[derive(Serialize)]
struct Set {}

pub fn router(db: Db) -> Router {
    Router::new().route("/_pact/state", post(change)).with_state(db)
}

async fn change(
    State(db): State<Db>,
    kit::http::Json(req): kit::http::Json<StateChange>,
) -> Result<Json<Set>, ApiError> {
    if req.action.as_deref().is_some_and(|a| a != "setup") {
        return Ok(Json(Set {}));
    }
    let state = ProviderState::parse(&req.state).ok_or_else(|| {
        let hint = kit::suggest::did_you_mean_template(&req.state, &TEMPLATES, |w| w == "U" || w == "T");
        ApiError::invalid("state", format!("users knows no provider state `{}`{hint}; it knows {KNOWN}", req.state))
    })?;
    tracing::info!(state = req.state, "provider state set");
    db.write(move |tx| apply(tx, &state)).await?;
    Ok(Json(Set {}))
}

fn apply(tx: &Transaction<'_>, state: &ProviderState) -> Result<(), UsersError> {
    let now_ms = i64::try_from(time::OffsetDateTime::now_utc().unix_timestamp_nanos() / 1_000_000).unwrap_or(i64::MAX);
    let session = |user_id: &str, token: &str, expires_at_ms: i64| -> Result<(), UsersError> {
        ensure_user(tx, user_id, now_ms)?;
        store::forget_session(tx, token)?;
        store::insert_session(tx, token, &Session { user_id: user_id.to_owned(), expires_at_ms })?;
        Ok(())
    };
    match state {
        ProviderState::ValidSession { user_id, token } => session(user_id, token, now_ms + 60 * 60 * 1000),
        ProviderState::ExpiredSession { user_id, token } => session(user_id, token, now_ms - 60 * 1000),
        ProviderState::NoSession { token } => Ok(store::forget_session(tx, token)?),
        ProviderState::UserExists { user_id } => ensure_user(tx, user_id, now_ms),
        ProviderState::NoUser { user_id } => Ok(store::forget_user(tx, user_id)?),
    }
}

/// The user `user_id`, with an address of its own, unless it exists. Its
/// password hash matches no password: nobody logs in as a provider state.
fn ensure_user(tx: &Transaction<'_>, user_id: &str, now_ms: i64) -> Result<(), UsersError> {
    if store::contact(tx, user_id)?.is_some() {
        return Ok(());
    }
    let contact =
        Contact { user_id: user_id.to_owned(), email: format!("{user_id}@example.com"), name: "Ada Lovelace".into() };
    let created_at = time::OffsetDateTime::from_unix_timestamp_nanos(i128::from(now_ms) * 1_000_000)
        .ok()
        .and_then(|t| t.format(&time::format_description::well_known::Rfc3339).ok())
        .unwrap_or_default();
    if !store::insert_user(tx, &contact, "!", &created_at)? {
        return Err(UsersError::EmailTaken);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_states_of_the_pacts_parse_with_their_values() {
        let parse = ProviderState::parse;
        assert_eq!(
            parse("user u-1 has a valid session token 0a1b"),
            Some(ProviderState::ValidSession { user_id: "u-1".into(), token: "0a1b".into() })
        );
        assert_eq!(
            parse("user u-1 has an expired session token 9f8e"),
            Some(ProviderState::ExpiredSession { user_id: "u-1".into(), token: "9f8e".into() })
        );
        assert_eq!(parse("no session has the token feed"), Some(ProviderState::NoSession { token: "feed".into() }));
        assert_eq!(parse("user u-1 exists"), Some(ProviderState::UserExists { user_id: "u-1".into() }));
        assert_eq!(parse("no user u-404 exists"), Some(ProviderState::NoUser { user_id: "u-404".into() }));
        for unknown in ["", "user u-1", "user u-1 is happy", "no session has the token a b", "a user exists"] {
            assert_eq!(parse(unknown), None, "{unknown:?}");
        }
    }
}
