//! devices' provider states for contract verification (see [`kit::states`]):
//! the stock a consumer's pact takes for granted.

use kit::Envelope;
use kit::messages::{self, ProviderMessage, SampleError};
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

/// Every event devices publishes, as its builders make them ([`kit::messages`]).
pub const MESSAGES: &[ProviderMessage] = &[
    ProviderMessage { event: "device.allocated", sample: device_allocated },
    ProviderMessage { event: "device.allocation_failed", sample: allocation_failed },
];

/// The `order.placed` devices allocates for.
fn order() -> Result<Envelope, SampleError> {
    let address = serde_json::json!({
        "name": "Ada Lovelace", "line1": "1 Analytical Road", "city": "London", "postal_code": "N1 1AA", "country": "GB"
    });
    let data = serde_json::json!({
        "order_id": "o-1", "user_id": "u-1", "model": "phone-basic", "price_cents": 19900, "currency": "EUR",
        "shipping_address": address
    });
    messages::cause("store", "order.placed", data)
}

fn device_allocated() -> Result<Envelope, SampleError> {
    let order = order()?;
    let address: crate::events::ShippingAddress = serde_json::from_value(order.data["shipping_address"].clone())?;
    let data = crate::events::DeviceAllocated {
        order_id: "o-1",
        user_id: "u-1",
        model: "phone-basic",
        device_id: "d-1",
        serial: "phone-basic-0001",
        shipping_address: &address,
    };
    Ok(crate::events::device_allocated(&order, &data)?)
}

fn allocation_failed() -> Result<Envelope, SampleError> {
    let data = crate::events::AllocationFailed {
        order_id: "o-1",
        user_id: "u-1",
        model: "phone-basic",
        reason: "out_of_stock",
    };
    Ok(crate::events::allocation_failed(&order()?, &data)?)
}

// Every state is in services/CATALOG.md and every sample builds.
kit::provider_checks!(crate::NAME, STATES, MESSAGES, "../../CATALOG.md");
