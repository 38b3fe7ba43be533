//! tracking: follows each shipment with the carrier until it is delivered,
//! or gives it up as lost. Listens to `shipment.requested`, publishes
//! `package.delivered` and `shipment.lost`, answers
//! `GET /shipments/{tracking_number}` to the order's owner, whose session
//! it asks users to vouch for.
//!
//! Handling `shipment.requested` only records the shipment; a background
//! poller asks the carrier about every undelivered shipment each round, so
//! no message is held for the days a parcel travels, and a restart resumes
//! from the database. A shipment the carrier keeps refusing
//! (`TRACKING_MAX_REFUSALS` 4xx answers in a row) or still in transit after
//! `TRACKING_DEADLINE_SECONDS` is given up, so no work is held forever.
//!
//! # Layout
//! - `domain`: the tracking number, the one value that reaches a URL.
//! - `events`: the handler for `shipment.requested`.
//! - `carrier`: the carrier's tracking API and what its answers may say.
//! - `poller`: the background task that polls the carrier and announces deliveries.
//! - `routes`: the HTTP API.
//! - `store`: the shipments table.
//! - `states`: tracking's provider states for contract verification (mounted by [`build_with`] only).

pub mod carrier;
pub mod domain;
pub mod events;
mod poller;
mod routes;
pub mod states;
mod store;

use std::num::{NonZeroU32, NonZeroU64};
use std::sync::Arc;
use std::time::Duration;

use kit::app::PendingWork;
use kit::bus::Bus;
use kit::http::{ClientOptions, ServiceClient, Sessions, UserRecords};
use kit::store::{Db, Migration, StoreError};
use kit::{Application, ApplicationBuilder, Config, KitError, Settings, Switches};

pub const NAME: &str = "tracking";

/// The manifest `fare` reads, embedded: the grants and operator endpoints
/// this service enforces are the ones the topology check reads.
pub const MANIFEST: &str = include_str!("../service.toml");

pub const DEFAULTS: &[(&str, &str)] = &[
    ("TRACKING_POLL_INTERVAL_MS", "1000"),
    ("TRACKING_MAX_REFUSALS", "5"),
    // 14 days.
    ("TRACKING_DEADLINE_SECONDS", "1209600"),
];

pub const MIGRATIONS: &[Migration] = &[
    Migration { version: 1, name: "init", sql: include_str!("../migrations/0001_init.sql") },
    Migration { version: 2, name: "lost", sql: include_str!("../migrations/0002_lost.sql") },
];

/// Builds the service from its configuration; binds but does not run it.
pub async fn build(config: &Config) -> Result<Application, KitError> {
    build_with(config, Switches::default()).await
}

/// [`build`], with `switches` on.
pub async fn build_with(config: &Config, switches: Switches) -> Result<Application, KitError> {
    let settings = Settings::from_config(config)?;
    let interval: NonZeroU64 = config.parse("TRACKING_POLL_INTERVAL_MS", "a positive whole number of milliseconds")?;
    let max_refusals: NonZeroU32 = config.parse("TRACKING_MAX_REFUSALS", "a positive whole number of answers")?;
    let deadline: u64 = config.parse("TRACKING_DEADLINE_SECONDS", "a whole number of seconds")?;
    let limits = poller::Limits { max_refusals, deadline: Duration::from_secs(deadline) };
    // One attempt per round: the next round is the retry, and a short round
    // keeps every other shipment's poll on time.
    let options = ClientOptions { attempts: 1, ..ClientOptions::default() };
    let carrier = ServiceClient::new("carrier", config.require("CARRIER_URL", "the carrier's base URL")?, options)?;
    let sessions = Sessions::from_config(config)?;
    let db = Db::open(&settings.database_path, MIGRATIONS)?;
    let bus = Bus::connect(config).await?;
    let poller =
        poller::Poller::new(db.clone(), carrier::Carrier::new(carrier), Duration::from_millis(interval.get()), limits);
    ApplicationBuilder::new(NAME, db.clone())
        .access(kit::http::Access::load(config, MANIFEST)?)
        .router(routes::router(UserRecords { db: db.clone(), sessions }))
        .provider_states(switches, states::STATES, states::MESSAGES)
        .pending_work(in_transit(db.clone()))
        .relay(&bus)
        .consume(&bus, settings.consumer(&bus, NAME), events::ShipmentRequestedHandler { db })
        .task("carrier poller", move |stop| Box::pin(poller.run(stop)))
        .bind(&settings.host, settings.port)
        .await
}

/// A shipment in transit is work the platform has not finished: a run is
/// not over until the carrier delivered it or tracking gave it up.
fn in_transit(db: Db) -> PendingWork {
    Arc::new(move || {
        let db = db.clone();
        Box::pin(async move { db.read(|conn| store::count_in_transit(conn).map_err(StoreError::from)).await })
    })
}
