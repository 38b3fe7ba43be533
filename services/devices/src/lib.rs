//! devices: the inventory of devices by model, and the one device each
//! order gets. Listens to `order.placed`, publishes `device.allocated` or
//! `device.allocation_failed`, answers `POST /devices` and `GET /inventory`.
//!
//! # Layout
//! - `domain`: models, serials and the stock to seed (`DEVICES_STOCK`).
//! - `events`: the handler for `order.placed`.
//! - `routes`: the HTTP API.
//! - `store`: the devices table and allocation.
//! - `states`: devices' provider states for contract verification (mounted by [`build_with`] only).

mod domain;
pub mod events;
mod routes;
pub mod states;
mod store;

use kit::bus::Bus;
use kit::store::{Db, Migration, StoreError};
use kit::{Application, ApplicationBuilder, Config, KitError, Settings, Switches};

use crate::domain::Stock;

pub const NAME: &str = "devices";

/// The manifest `fare` reads, embedded: the grants and operator endpoints
/// this service enforces are the ones the topology check reads.
pub const MANIFEST: &str = include_str!("../service.toml");

pub const DEFAULTS: &[(&str, &str)] = &[("DEVICES_STOCK", "phone-basic=50,phone-pro=20")];

pub const MIGRATIONS: &[Migration] =
    &[Migration { version: 1, name: "init", sql: include_str!("../migrations/0001_init.sql") }];

const STOCK_EXPECTED: &str = "comma-separated model=count pairs such as `phone-basic=50,phone-pro=20`";

/// Builds the service from its configuration, seeding the stock; binds but
/// does not run it.
pub async fn build(config: &Config) -> Result<Application, KitError> {
    build_with(config, Switches::default()).await
}

/// [`build`], with `switches` on.
pub async fn build_with(config: &Config, switches: Switches) -> Result<Application, KitError> {
    let settings = Settings::from_config(config)?;
    let stock = stock(config)?;
    let db = Db::open(&settings.database_path, MIGRATIONS)?;
    let added = db.write(move |tx| store::seed(tx, &stock).map_err(StoreError::from)).await?;
    tracing::info!(added, "stock seeded");
    let bus = Bus::connect(config).await?;
    ApplicationBuilder::new(NAME, db.clone())
        .access(kit::http::Access::load(config, MANIFEST)?)
        .router(routes::router(db.clone()))
        .provider_states(switches, states::STATES, states::MESSAGES)
        .relay(&bus)
        .consume(&bus, settings.consumer(&bus, NAME), events::OrderPlacedHandler { db })
        .bind(&settings.host, settings.port)
        .await
}

/// `DEVICES_STOCK`; the kit's error names the key and the value, the log
/// line says which pair is wrong.
fn stock(config: &Config) -> Result<Stock, KitError> {
    config.parse_opt::<Stock>("DEVICES_STOCK", STOCK_EXPECTED).map(Option::unwrap_or_default).map_err(|e| {
        if let Some(Err(detail)) = config.get("DEVICES_STOCK").map(str::parse::<Stock>) {
            tracing::error!(%detail, "DEVICES_STOCK is not valid");
        }
        KitError::from(e)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_bad_stock_names_the_key() {
        let config = Config::defaults(NAME, DEFAULTS).with("DEVICES_STOCK", "phone-basic=lots");
        let err = stock(&config).unwrap_err().to_string();
        assert!(err.starts_with("DEVICES_STOCK=\"phone-basic=lots\""), "{err}");
        let default = stock(&Config::defaults(NAME, DEFAULTS)).unwrap();
        assert_eq!(default.entries().len(), 2);
    }
}
