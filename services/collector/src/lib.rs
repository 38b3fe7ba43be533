//! collector: hears every event on the platform, counts them by type and
//! producer for Prometheus (`GET /metrics`) and remembers each chain
//! (`GET /events?correlation_id=`). Publishes nothing.
//!
//! # Layout
//! - `events`: the handler that records and counts each event once.
//! - `metrics`: the Prometheus text format.
//! - `routes`: the HTTP API.
//! - `store`: the events and counts tables.
//! - `states`: collector's provider states for contract verification (mounted by [`build_with`] only).

pub mod events;
mod metrics;
mod routes;
pub mod states;
mod store;

use kit::bus::Bus;
use kit::store::{Db, Migration};
use kit::{Application, ApplicationBuilder, Config, KitError, Settings, Switches};

pub const NAME: &str = "collector";

/// The manifest `fare` reads, embedded: the grants and operator endpoints
/// this service enforces are the ones the topology check reads.
pub const MANIFEST: &str = include_str!("../service.toml");

/// No settings beyond the kit's.
pub const DEFAULTS: &[(&str, &str)] = &[];

pub const MIGRATIONS: &[Migration] =
    &[Migration { version: 1, name: "init", sql: include_str!("../migrations/0001_init.sql") }];

/// Builds the service from its configuration; binds but does not run it.
/// No outbox relay: the collector publishes nothing.
pub async fn build(config: &Config) -> Result<Application, KitError> {
    build_with(config, Switches::default()).await
}

/// [`build`], with `switches` on.
pub async fn build_with(config: &Config, switches: Switches) -> Result<Application, KitError> {
    let settings = Settings::from_config(config)?;
    let db = Db::open(&settings.database_path, MIGRATIONS)?;
    let bus = Bus::connect(config).await?;
    ApplicationBuilder::new(NAME, db.clone())
        .access(kit::http::Access::load(config, MANIFEST)?)
        .router(routes::router(db.clone()))
        .provider_states(switches, states::STATES, states::MESSAGES)
        .consume(&bus, settings.consumer(&bus, NAME), events::EventHandler { db })
        .bind(&settings.host, settings.port)
        .await
}
