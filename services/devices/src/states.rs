//! devices' provider states for contract verification (see [`kit::states`]):
//! the stock a consumer's pact takes for granted.

use kit::states::{ProviderState, StateError, Values};
use rusqlite::Transaction;

/// Every state devices knows; documented in `services/CATALOG.md`.
pub const STATES: &[ProviderState] = &[
    ProviderState { template: "model M has N devices in stock", params: &["model", "count"], apply: in_stock },
    ProviderState {
        template: "order O was allocated a device of model M",
        params: &["order_id", "model"],
        apply: allocated,
    },
];

/// Exactly `count` devices of `model` are available, with serials of their own.
fn in_stock(tx: &Transaction<'_>, values: &Values) -> Result<(), StateError> {
    let model = values.get("model");
    let count: u32 = values.parse("count", "a whole number of devices")?;
    tx.execute("DELETE FROM devices WHERE model = ?1 AND order_id IS NULL", [model])?;
    for n in 1..=count {
        let id = format!("{model}-state-{n:04}");
        tx.execute(
            "INSERT INTO devices (id, model, serial) VALUES (?1, ?2, ?1) ON CONFLICT (id) DO NOTHING",
            [&id, model],
        )?;
    }
    Ok(())
}

fn allocated(tx: &Transaction<'_>, values: &Values) -> Result<(), StateError> {
    let (order_id, model) = (values.get("order_id"), values.get("model"));
    let id = format!("{model}-for-{order_id}");
    tx.execute("DELETE FROM devices WHERE order_id = ?1", [order_id])?;
    tx.execute(
        "INSERT INTO devices (id, model, serial, order_id, allocated_at)
         VALUES (?1, ?2, ?1, ?3, strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))",
        [&id, model, order_id],
    )?;
    Ok(())
}
