//! `shipment.requested` → a shipment in transit, for the poller to follow;
//! and `package.delivered`, which the poller stages, built here once
//! ([`package_delivered`]) for it and for contract verification.

use kit::bus::{HandleError, Handler};
use kit::envelope::EnvelopeError;
use kit::store::{Db, StoreError, inbox};
use kit::{CorrelationId, Envelope, EventType};
use serde::{Deserialize, Serialize};

use crate::domain::TrackingNumber;
use crate::store::{self, NewShipment};

/// What `package.delivered` carries.
#[derive(Debug, Serialize)]
pub struct PackageDelivered<'a> {
    pub order_id: &'a str,
    pub user_id: &'a str,
    pub shipment_id: &'a str,
    pub tracking_number: &'a str,
    pub delivered_at: &'a str,
}

/// `package.delivered`, in the chain `correlation_id` of the
/// `shipment.requested` `causation_id` that started tracking, long after
/// that event was handled.
pub fn package_delivered(
    data: &PackageDelivered<'_>,
    correlation_id: CorrelationId,
    causation_id: Option<String>,
) -> Result<Envelope, EnvelopeError> {
    let event_type = EventType::parse("package.delivered").expect("a catalog event type");
    Envelope::new(crate::NAME, event_type, correlation_id, causation_id, data)
}

/// What tracking needs of a `shipment.requested`.
#[derive(Debug, Deserialize)]
struct ShipmentRequested {
    order_id: String,
    user_id: String,
    shipment_id: String,
    tracking_number: TrackingNumber,
    carrier: String,
}

pub struct ShipmentRequestedHandler {
    pub db: Db,
}

impl Handler for ShipmentRequestedHandler {
    async fn handle(&self, event: Envelope) -> Result<(), HandleError> {
        if event.event_type.as_str() != "shipment.requested" {
            return Err(HandleError::reject(format!("tracking does not handle {}", event.event_type)));
        }
        let requested: ShipmentRequested = event.data_as()?;
        let shipment = NewShipment {
            shipment_id: requested.shipment_id,
            order_id: requested.order_id,
            user_id: requested.user_id,
            tracking_number: requested.tracking_number,
            carrier: requested.carrier,
            correlation_id: event.correlation_id.clone(),
            requested_event_id: event.id.to_string(),
        };
        self.db
            .write(move |tx| {
                if !inbox::claim(tx, event.id)? {
                    tracing::info!("duplicate delivery; already handled");
                    return Ok(());
                }
                // The same shipment under a new event id (a re-published
                // request) must not be followed, and announced, twice.
                if store::insert(tx, &shipment).map_err(StoreError::from)? {
                    tracing::info!(tracking_number = %shipment.tracking_number, order_id = %shipment.order_id, "tracking shipment");
                } else {
                    tracing::warn!(tracking_number = %shipment.tracking_number, "shipment already tracked");
                }
                Ok::<_, HandleError>(())
            })
            .await
    }
}
