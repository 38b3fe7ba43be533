//! users: signs people up, logs them in and vouches for their sessions.
//! Publishes `user.registered`; listens to nothing. Other services ask it
//! `GET /sessions/current` with the caller's bearer token (store, on every
//! order request) and
//! `GET /users/{user_id}/contact` (mailer).
//!
//! # Layout
//! - `domain`: the validated request values (email, password, name).
//! - `password`: argon2 hashing and verification, off the async threads and a few at a time.
//! - `limit`: login rate limits per account and per client.
//! - `error`: what can go wrong, and the HTTP answer for each.
//! - `events`: `user.registered`, as sign-up stages it and contract verification checks it.
//! - `routes`: the HTTP API.
//! - `states`: users' provider states for contract verification (mounted by [`build_with`] only).
//! - `store`: the users and sessions tables.

mod domain;
mod error;
pub mod events;
mod limit;
mod password;
mod routes;
pub mod states;
mod store;

use std::time::Duration;

use kit::bus::Bus;
use kit::store::{Db, Migration};
use kit::{Application, ApplicationBuilder, Config, KitError, Settings};

pub const NAME: &str = "users";

/// The manifest `fare` reads, embedded: the grants and operator endpoints
/// this service enforces are the ones the topology check reads.
pub const MANIFEST: &str = include_str!("../service.toml");

pub const DEFAULTS: &[(&str, &str)] = &[
    ("SESSION_TTL_SECONDS", "3600"),
    ("SESSION_PURGE_SECONDS", "600"),
    ("LOGIN_FAILURES_PER_ACCOUNT", "5"),
    ("LOGINS_PER_CLIENT", "300"),
    ("LOGIN_WINDOW_SECONDS", "60"),
];

pub use kit::Switches;

const MIGRATIONS: &[Migration] = &[
    Migration { version: 1, name: "init", sql: include_str!("../migrations/0001_init.sql") },
    Migration { version: 2, name: "hashed tokens", sql: include_str!("../migrations/0002_hashed_tokens.sql") },
];

/// Builds the service from its configuration; binds but does not run it.
pub async fn build(config: &Config) -> Result<Application, KitError> {
    build_with(config, Switches::default()).await
}

/// [`build`], with `switches` on.
pub async fn build_with(config: &Config, switches: Switches) -> Result<Application, KitError> {
    let settings = Settings::from_config(config)?;
    let ttl: u32 = config.parse("SESSION_TTL_SECONDS", "a whole number of seconds, 0 to 4294967295")?;
    let purge_every: u64 = config.parse("SESSION_PURGE_SECONDS", "a whole number of seconds, at least 1")?;
    let limits = limit::Limits {
        failures_per_account: config.parse("LOGIN_FAILURES_PER_ACCOUNT", "a whole number of failed logins")?,
        attempts_per_client: config.parse("LOGINS_PER_CLIENT", "a whole number of login attempts")?,
        window: Duration::from_secs(config.parse("LOGIN_WINDOW_SECONDS", "a whole number of seconds")?),
    };
    let hashing = config.parse_opt("ARGON2_CONCURRENCY", "a whole number of hashes at once, at least 1")?;
    let db = Db::open(&settings.database_path, MIGRATIONS)?;
    let bus = Bus::connect(config).await?;
    let state = routes::AppState {
        db: db.clone(),
        session_ttl: Duration::from_secs(ttl.into()),
        hasher: password::Hasher::new(hashing.unwrap_or_else(password::Hasher::default_limit)),
        limiter: std::sync::Arc::new(limit::Limiter::new(limits)),
    };
    let router = routes::router(state);
    let purge = (db.clone(), Duration::from_secs(purge_every.max(1)));
    ApplicationBuilder::new(NAME, db)
        .access(kit::http::Access::load(config, MANIFEST)?)
        .router(router)
        .provider_states(switches, states::STATES, states::MESSAGES)
        .relay(&bus)
        .task("session purge", move |stop| Box::pin(routes::purge_sessions(purge.0, purge.1, stop)))
        .bind(&settings.host, settings.port)
        .await
}
