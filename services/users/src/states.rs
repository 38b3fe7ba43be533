//! users' provider states for contract verification (see [`kit::states`]):
//! each state a consumer's pact names ("user u-1 has a valid session token
//! 0a1b2c3d4e5f") puts the rows it describes straight into the database, as
//! sign-up and login hand out random ids and tokens and a pact needs the
//! ones it recorded.

use kit::Envelope;
use kit::messages::{self, ProviderMessage, SampleError};
use kit::states::{ProviderState, StateError, Values};
use rusqlite::Transaction;

use crate::store::{self, Contact, Session};

/// Every state users knows; documented in `services/CATALOG.md`.
pub const STATES: &[ProviderState] = &[
    ProviderState {
        template: "user U has a valid session token T",
        params: &["user_id", "token"],
        apply: |tx, v| session(tx, v.get("user_id"), v.get("token"), now_ms() + 60 * 60 * 1000),
    },
    ProviderState {
        template: "user U has an expired session token T",
        params: &["user_id", "token"],
        apply: |tx, v| session(tx, v.get("user_id"), v.get("token"), now_ms() - 60 * 1000),
    },
    ProviderState {
        template: "no session has the token T",
        params: &["token"],
        apply: |tx, v| Ok(store::forget_session(tx, v.get("token"))?),
    },
    ProviderState { template: "user U exists", params: &["user_id"], apply: user_exists },
    ProviderState {
        template: "no user U exists",
        params: &["user_id"],
        apply: |tx, v| Ok(store::forget_user(tx, v.get("user_id"))?),
    },
];

fn now_ms() -> i64 {
    i64::try_from(time::OffsetDateTime::now_utc().unix_timestamp_nanos() / 1_000_000).unwrap_or(i64::MAX)
}

fn user_exists(tx: &Transaction<'_>, values: &Values) -> Result<(), StateError> {
    ensure_user(tx, values.get("user_id"))
}

fn session(tx: &Transaction<'_>, user_id: &str, token: &str, expires_at_ms: i64) -> Result<(), StateError> {
    ensure_user(tx, user_id)?;
    store::forget_session(tx, token)?;
    store::insert_session(tx, token, &Session { user_id: user_id.to_owned(), expires_at_ms })?;
    Ok(())
}

/// The user `user_id`, with an address of its own, unless it exists. Its
/// password hash matches no password: nobody logs in as a provider state.
fn ensure_user(tx: &Transaction<'_>, user_id: &str) -> Result<(), StateError> {
    if store::contact(tx, user_id)?.is_some() {
        return Ok(());
    }
    let contact =
        Contact { user_id: user_id.to_owned(), email: format!("{user_id}@example.com"), name: "Ada Lovelace".into() };
    let created_at =
        time::OffsetDateTime::now_utc().format(&time::format_description::well_known::Rfc3339).unwrap_or_default();
    if !store::insert_user(tx, &contact, "!", &created_at)? {
        return Err(StateError::Conflict(format!("another user has the address of {user_id}")));
    }
    Ok(())
}

/// Every event users publishes, as its builder makes it ([`kit::messages`]).
pub const MESSAGES: &[ProviderMessage] = &[ProviderMessage { event: "user.registered", sample: user_registered }];

fn user_registered() -> Result<Envelope, SampleError> {
    let contact =
        crate::events::Contact { user_id: "u-1".into(), email: "ada@example.com".into(), name: "Ada Lovelace".into() };
    Ok(crate::events::user_registered(&contact, messages::correlation(), Some("request-1".into()))?)
}

// Every state is in services/CATALOG.md and every sample builds.
kit::provider_checks!(crate::NAME, STATES, MESSAGES, "../../CATALOG.md");
