//! store: takes orders and follows each to delivery. Publishes
//! `order.placed`; listens to `device.allocated`, `device.allocation_failed`,
//! `shipment.requested`, `package.delivered` and `shipment.lost`, each of
//! which moves an order's status forward and lands in its timeline. Every
//! order request carries a bearer token that users vouches for (the kit's
//! [`kit::http::Caller`]).
//!
//! # Layout
//! - `catalog`: the models on sale, their prices and currency (from the environment).
//! - `domain`: the validated parts of an order request, and the order status.
//! - `error`: what can go wrong with an order request, and its HTTP answer.
//! - `routes`: the HTTP API.
//! - `events`: `order.placed` (built for the route and for verification) and the handler for the status events.
//! - `orders`: the orders and timeline tables.
//! - `states`: store's provider states for contract verification (mounted by [`build_with`] only).

mod catalog;
mod domain;
mod error;
pub mod events;
mod orders;
mod routes;
pub mod states;

use std::sync::Arc;

use kit::bus::Bus;
use kit::http::Sessions;
use kit::store::{Db, Migration};
use kit::{Application, ApplicationBuilder, Config, KitError, Settings, Switches};

pub use catalog::{Catalog, Currency};

pub const NAME: &str = "store";

/// The manifest `fare` reads, embedded: the grants and operator endpoints
/// this service enforces are the ones the topology check reads.
pub const MANIFEST: &str = include_str!("../service.toml");

pub const DEFAULTS: &[(&str, &str)] =
    &[("STORE_CATALOG", "phone-basic=19900,phone-pro=99900"), ("STORE_CURRENCY", "EUR")];

pub const MIGRATIONS: &[Migration] =
    &[Migration { version: 1, name: "init", sql: include_str!("../migrations/0001_init.sql") }];

/// Builds the service from its configuration; binds but does not run it.
/// Settings are checked before anything is opened, so a bad one fails fast.
pub async fn build(config: &Config) -> Result<Application, KitError> {
    build_with(config, Switches::default()).await
}

/// [`build`], with `switches` on.
pub async fn build_with(config: &Config, switches: Switches) -> Result<Application, KitError> {
    let settings = Settings::from_config(config)?;
    let catalog: Catalog = config.parse("STORE_CATALOG", catalog::CATALOG_FORMAT)?;
    let currency: Currency = config.parse("STORE_CURRENCY", "a three-letter ISO 4217 code such as `EUR`")?;
    let users = Sessions::from_config(config)?;
    let db = Db::open(&settings.database_path, MIGRATIONS)?;
    let bus = Bus::connect(config).await?;
    let state = routes::AppState { db: db.clone(), users, catalog: Arc::new(catalog), currency };
    ApplicationBuilder::new(NAME, db.clone())
        .access(kit::http::Access::load(config, MANIFEST)?)
        .router(routes::router(state))
        .provider_states(switches, states::STATES, states::MESSAGES)
        .relay(&bus)
        .consume(&bus, settings.consumer(&bus, NAME), events::StatusHandler { db })
        .bind(&settings.host, settings.port)
        .await
}
