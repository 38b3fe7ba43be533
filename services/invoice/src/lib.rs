//! invoice: issues exactly one invoice per order. Listens to `order.placed`,
//! publishes `invoice.issued`, answers `GET /invoices?order_id=` to the
//! order's owner, whose session it asks users to vouch for.
//!
//! # Layout
//! - `events`: the handler for `order.placed`.
//! - `routes`: the HTTP API.
//! - `store`: the invoices table.
//! - `states`: invoice's provider states for contract verification (mounted by [`build_with`] only).

pub mod events;
mod routes;
pub mod states;
mod store;

use kit::bus::Bus;
use kit::http::{Sessions, UserRecords};
use kit::store::{Db, Migration};
use kit::{Application, ApplicationBuilder, Config, KitError, Settings, Switches};

pub const NAME: &str = "invoice";

/// The manifest `fare` reads, embedded: the grants and operator endpoints
/// this service enforces are the ones the topology check reads.
pub const MANIFEST: &str = include_str!("../service.toml");

/// No settings beyond the kit's.
pub const DEFAULTS: &[(&str, &str)] = &[];

pub const MIGRATIONS: &[Migration] =
    &[Migration { version: 1, name: "init", sql: include_str!("../migrations/0001_init.sql") }];

/// Builds the service from its configuration; binds but does not run it.
pub async fn build(config: &Config) -> Result<Application, KitError> {
    build_with(config, Switches::default()).await
}

/// [`build`], with `switches` on.
pub async fn build_with(config: &Config, switches: Switches) -> Result<Application, KitError> {
    let settings = Settings::from_config(config)?;
    let sessions = Sessions::from_config(config)?;
    let db = Db::open(&settings.database_path, MIGRATIONS)?;
    let bus = Bus::connect(config).await?;
    ApplicationBuilder::new(NAME, db.clone())
        .access(kit::http::Access::load(config, MANIFEST)?)
        .router(routes::router(UserRecords { db: db.clone(), sessions }))
        .provider_states(switches, states::STATES, states::MESSAGES)
        .relay(&bus)
        .consume(&bus, settings.consumer(&bus, NAME), events::OrderPlacedHandler { db })
        .bind(&settings.host, settings.port)
        .await
}
