//! users: signs people up, logs them in and vouches for their sessions.
//! Publishes `user.registered`; listens to nothing. Other services ask it
//! `GET /sessions/{token}` (store, on every order request) and
//! `GET /users/{user_id}/contact` (mailer).
//!
//! # Layout
//! - `domain`: the validated request values (email, password, name).
//! - `password`: argon2 hashing and verification, off the async threads.
//! - `error`: what can go wrong, and the HTTP answer for each.
//! - `events`: `user.registered`, as sign-up stages it and contract verification checks it.
//! - `routes`: the HTTP API.
//! - `states`: `POST /_pact/state`, provider states for contract verification (`FARE_PROVIDER_STATES=1` only).
//! - `store`: the users and sessions tables.

mod domain;
mod error;
pub mod events;
mod password;
mod routes;
mod states;
mod store;

use std::time::Duration;

use kit::bus::Bus;
use kit::store::{Db, Migration};
use kit::{Application, ApplicationBuilder, Config, KitError, Settings};

pub const NAME: &str = "users";

pub const DEFAULTS: &[(&str, &str)] = &[("SESSION_TTL_SECONDS", "3600")];

/// Set to `1` to mount `POST /_pact/state` (contract verification only).
pub const PROVIDER_STATES: &str = "FARE_PROVIDER_STATES";

const MIGRATIONS: &[Migration] =
    &[Migration { version: 1, name: "init", sql: include_str!("../migrations/0001_init.sql") }];

/// Builds the service from its configuration; binds but does not run it.
pub async fn build(config: &Config) -> Result<Application, KitError> {
    let settings = Settings::from_config(config)?;
    let ttl: u32 = config.parse("SESSION_TTL_SECONDS", "a whole number of seconds, 0 to 4294967295")?;
    let db = Db::open(&settings.database_path, MIGRATIONS)?;
    let bus = Bus::connect(config).await?;
    let state = routes::AppState { db: db.clone(), session_ttl: Duration::from_secs(ttl.into()) };
    let mut router = routes::router(state);
    // Only a users started for contract verification lets a caller write
    // users and sessions as it likes.
    if config.get(PROVIDER_STATES) == Some("1") {
        router = router.merge(states::router(db.clone()));
    }
    ApplicationBuilder::new(NAME, db).router(router).relay(&bus).bind(&settings.host, settings.port).await
}
