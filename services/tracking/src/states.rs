//! tracking's provider states for contract verification (see
//! [`kit::states`]): the parcels a consumer's pact takes for granted.

use kit::states::{ProviderState, StateError, Values};
use rusqlite::Transaction;

/// Every state tracking knows; documented in `services/CATALOG.md`.
pub const STATES: &[ProviderState] = &[ProviderState {
    template: "parcel T of order O of user U is S",
    params: &["tracking_number", "order_id", "user_id", "status"],
    apply: parcel,
}];

const STATUSES: &str = "in_transit, delivered or lost";

fn parcel(tx: &Transaction<'_>, values: &Values) -> Result<(), StateError> {
    let (number, order_id, status) = (values.get("tracking_number"), values.get("order_id"), values.get("status"));
    let (delivered_at, lost_reason) = match status {
        "in_transit" => (None, None),
        "delivered" => (Some("2030-01-02T09:30:00Z"), None),
        "lost" => (None, Some("refused")),
        other => {
            return Err(StateError::Invalid { param: "status", value: other.to_owned(), expected: STATUSES.into() });
        }
    };
    tx.execute("DELETE FROM shipments WHERE tracking_number = ?1", [number])?;
    tx.execute(
        "INSERT INTO shipments (tracking_number, shipment_id, order_id, user_id, carrier, correlation_id,
                                requested_event_id, status, delivered_at, lost_reason, lost_at)
         VALUES (?1, ?2, ?3, ?7, 'fedex', 'contract-verification', ?2, ?4, ?5, ?6,
                 CASE WHEN ?6 IS NULL THEN NULL ELSE strftime('%Y-%m-%dT%H:%M:%fZ', 'now') END)",
        rusqlite::params![
            number,
            format!("ship-{number}"),
            order_id,
            status,
            delivered_at,
            lost_reason,
            values.get("user_id")
        ],
    )?;
    Ok(())
}
