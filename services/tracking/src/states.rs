//! tracking's provider states for contract verification (see
//! [`kit::states`]): the parcels a consumer's pact takes for granted.

use kit::Envelope;
use kit::messages::{self, ProviderMessage, SampleError};
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

/// Every event tracking publishes, as its builders make them ([`kit::messages`]).
pub const MESSAGES: &[ProviderMessage] = &[
    ProviderMessage { event: "package.delivered", sample: package_delivered },
    ProviderMessage { event: "shipment.lost", sample: shipment_lost },
];

/// The `shipment.requested` that started tracking.
fn requested() -> Result<Envelope, SampleError> {
    messages::cause("fulfillment", "shipment.requested", serde_json::json!({"order_id": "o-1"}))
}

fn package_delivered() -> Result<Envelope, SampleError> {
    let requested = requested()?;
    let data = crate::events::PackageDelivered {
        order_id: "o-1",
        user_id: "u-1",
        shipment_id: "s-1",
        tracking_number: "TRK-0001",
        delivered_at: "2030-01-02T09:30:00Z",
    };
    Ok(crate::events::package_delivered(&data, requested.correlation_id.clone(), Some(requested.id.to_string()))?)
}

fn shipment_lost() -> Result<Envelope, SampleError> {
    let requested = requested()?;
    let data = crate::events::ShipmentLost {
        order_id: "o-1",
        user_id: "u-1",
        shipment_id: "s-1",
        tracking_number: "TRK-0001",
        reason: crate::events::LostReason::Refused,
        last_status: Some(404),
        polls: 5,
    };
    Ok(crate::events::shipment_lost(&data, requested.correlation_id.clone(), Some(requested.id.to_string()))?)
}

// Every state is in services/CATALOG.md and every sample builds.
kit::provider_checks!(crate::NAME, STATES, MESSAGES, "../../CATALOG.md");
