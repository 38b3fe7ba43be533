//! tracking: follows each shipment with the carrier until it is delivered.
//! Listens to `shipment.requested`, publishes `package.delivered`, answers
//! `GET /shipments/{tracking_number}`.
//!
//! Handling `shipment.requested` only records the shipment; a background
//! poller asks the carrier about every undelivered shipment each round, so
//! no message is held for the days a parcel travels, and a restart resumes
//! from the database.
//!
//! # Layout
//! - `domain`: the tracking number, the one value that reaches a URL.
//! - `events`: the handler for `shipment.requested`.
//! - `carrier`: the carrier's tracking API and what its answers may say.
//! - `poller`: the background task that polls the carrier and announces deliveries.
//! - `routes`: the HTTP API.
//! - `store`: the shipments table.

pub mod carrier;
pub mod domain;
pub mod events;
mod poller;
mod routes;
mod store;

use std::num::NonZeroU64;
use std::sync::Arc;
use std::time::Duration;

use kit::app::PendingWork;
use kit::bus::Bus;
use kit::http::{ClientOptions, ServiceClient};
use kit::store::{Db, Migration, StoreError};
use kit::{Application, ApplicationBuilder, Config, KitError, Settings};

pub const NAME: &str = "tracking";

pub const DEFAULTS: &[(&str, &str)] = &[("TRACKING_POLL_INTERVAL_MS", "1000")];

pub const MIGRATIONS: &[Migration] =
    &[Migration { version: 1, name: "init", sql: include_str!("../migrations/0001_init.sql") }];

/// Builds the service from its configuration; binds but does not run it.
pub async fn build(config: &Config) -> Result<Application, KitError> {
    let settings = Settings::from_config(config)?;
    let interval: NonZeroU64 = config.parse("TRACKING_POLL_INTERVAL_MS", "a positive whole number of milliseconds")?;
    // One attempt per round: the next round is the retry, and a short round
    // keeps every other shipment's poll on time.
    let options = ClientOptions { attempts: 1, ..ClientOptions::default() };
    let carrier = ServiceClient::new("carrier", config.require("CARRIER_URL", "the carrier's base URL")?, options)?;
    let db = Db::open(&settings.database_path, MIGRATIONS)?;
    let bus = Bus::connect(config).await?;
    let poller = poller::Poller::new(db.clone(), carrier::Carrier::new(carrier), Duration::from_millis(interval.get()));
    ApplicationBuilder::new(NAME, db.clone())
        .router(routes::router(db.clone()))
        .pending_work(in_transit(db.clone()))
        .relay(&bus)
        .consume(&bus, settings.consumer(&bus, NAME), events::ShipmentRequestedHandler { db })
        .task("carrier poller", move |stop| Box::pin(poller.run(stop)))
        .bind(&settings.host, settings.port)
        .await
}

/// A shipment in transit is work the platform has not finished: a run is
/// not over until the carrier delivered it.
fn in_transit(db: Db) -> PendingWork {
    Arc::new(move || {
        let db = db.clone();
        Box::pin(async move { db.read(|conn| store::count_in_transit(conn).map_err(StoreError::from)).await })
    })
}
