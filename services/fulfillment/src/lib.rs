//! fulfillment: asks the fulfillment center (a third party) to ship each
//! allocated device. Listens to `device.allocated`, publishes
//! `shipment.requested`, answers `GET /shipments?order_id=` to the order's
//! owner, whose session it asks users to vouch for.
//!
//! # Layout
//! - `center`: the fulfillment center's API and what its answers mean.
//! - `events`: the handler for `device.allocated`.
//! - `routes`: the HTTP API.
//! - `store`: the shipments table.
//! - `states`: fulfillment's provider states for contract verification (mounted by [`build_with`] only).

pub mod center;
pub mod events;
mod routes;
pub mod states;
mod store;

use kit::bus::Bus;
use kit::http::{Sessions, UserRecords};
use kit::store::{Db, Migration};
use kit::{Application, ApplicationBuilder, Config, KitError, Settings, Switches};

use crate::center::FulfillmentCenter;

pub const NAME: &str = "fulfillment";

/// The manifest `fare` reads, embedded: the grants and operator endpoints
/// this service enforces are the ones the topology check reads.
pub const MANIFEST: &str = include_str!("../service.toml");

/// `FULFILLMENT_CENTER_URL` has no default: it must be set. The client's
/// settings default in `center`.
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
    let center = FulfillmentCenter::from_config(config)?;
    let sessions = Sessions::from_config(config)?;
    let db = Db::open(&settings.database_path, MIGRATIONS)?;
    let bus = Bus::connect(config).await?;
    ApplicationBuilder::new(NAME, db.clone())
        .access(kit::http::Access::load(config, MANIFEST)?)
        .router(routes::router(UserRecords { db: db.clone(), sessions }))
        .provider_states(switches, states::STATES, states::MESSAGES)
        .relay(&bus)
        .consume(&bus, settings.consumer(&bus, NAME), events::DeviceAllocatedHandler { db, center })
        .bind(&settings.host, settings.port)
        .await
}
