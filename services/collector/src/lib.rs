//! collector: hears every event on the platform, counts them by type and
//! producer for Prometheus (`GET /metrics`) and remembers each chain
//! (`GET /events?correlation_id=`). Publishes nothing.
//!
//! # Layout
//! - `events`: the handler that records and counts each event once.
//! - `metrics`: the Prometheus text format.
//! - `routes`: the HTTP API.
//! - `store`: the events and counts tables.

pub mod events;
mod metrics;
mod routes;
mod store;

use kit::bus::Bus;
use kit::store::{Db, Migration};
use kit::{Application, ApplicationBuilder, Config, KitError, Settings};

pub const NAME: &str = "collector";

/// No settings beyond the kit's.
pub const DEFAULTS: &[(&str, &str)] = &[];

pub const MIGRATIONS: &[Migration] =
    &[Migration { version: 1, name: "init", sql: include_str!("../migrations/0001_init.sql") }];

/// Builds the service from its configuration; binds but does not run it.
/// No outbox relay: the collector publishes nothing.
pub async fn build(config: &Config) -> Result<Application, KitError> {
    let settings = Settings::from_config(config)?;
    let db = Db::open(&settings.database_path, MIGRATIONS)?;
    let bus = Bus::connect(config).await?;
    ApplicationBuilder::new(NAME, db.clone())
        .router(routes::router(db.clone()))
        .consume(&bus, settings.consumer(&bus, NAME), events::EventHandler { db })
        .bind(&settings.host, settings.port)
        .await
}
