//! fulfillment's provider states for contract verification (see
//! [`kit::states`]): the shipments a consumer's pact takes for granted.

use kit::Envelope;
use kit::messages::{self, ProviderMessage, SampleError};
use kit::states::{ProviderState, StateError, Values};
use rusqlite::Transaction;

/// Every state fulfillment knows; documented in `services/CATALOG.md`.
pub const STATES: &[ProviderState] = &[
    ProviderState {
        template: "order O of user U was shipped as shipment S",
        params: &["order_id", "user_id", "shipment_id"],
        apply: shipped,
    },
    ProviderState { template: "no shipment was requested", params: &[], apply: none },
];

fn shipped(tx: &Transaction<'_>, values: &Values) -> Result<(), StateError> {
    let (order_id, shipment_id) = (values.get("order_id"), values.get("shipment_id"));
    tx.execute("DELETE FROM shipments WHERE order_id = ?1 OR shipment_id = ?2", [order_id, shipment_id])?;
    tx.execute(
        "INSERT INTO shipments (shipment_id, order_id, user_id, device_serial, model, tracking_number, carrier)
         VALUES (?1, ?2, ?3, 'phone-basic-0001', 'phone-basic', ?4, 'fedex')",
        [shipment_id, order_id, values.get("user_id"), &format!("TRK-{shipment_id}")],
    )?;
    Ok(())
}

fn none(tx: &Transaction<'_>, _: &Values) -> Result<(), StateError> {
    tx.execute("DELETE FROM shipments", [])?;
    Ok(())
}

/// Every event fulfillment publishes, as its builder makes it ([`kit::messages`]).
pub const MESSAGES: &[ProviderMessage] = &[ProviderMessage { event: "shipment.requested", sample: shipment_requested }];

fn shipment_requested() -> Result<Envelope, SampleError> {
    let allocated = messages::cause("devices", "device.allocated", serde_json::json!({"order_id": "o-1"}))?;
    let data = crate::events::ShipmentRequested {
        order_id: "o-1",
        user_id: "u-1",
        shipment_id: "s-1",
        tracking_number: "TRK-0001",
        carrier: "fedex",
    };
    Ok(crate::events::shipment_requested(&allocated, &data)?)
}

// Every state is in services/CATALOG.md and every sample builds.
kit::provider_checks!(crate::NAME, STATES, MESSAGES, "../../CATALOG.md");
