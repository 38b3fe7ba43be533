//! `shipment.requested` → a shipment in transit, for the poller to follow;
//! and the two ends the poller stages, `package.delivered` and
//! `shipment.lost`, built here once ([`package_delivered`],
//! [`shipment_lost`]) for it and for contract verification.

use kit::bus::{HandleError, Handler};
use kit::envelope::EnvelopeError;
use kit::store::{Db, StoreError, inbox};
use kit::{CorrelationId, Envelope, EventType};
use serde::{Deserialize, Serialize};

pub use crate::domain::LostReason;
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
    tracking_event("package.delivered", data, correlation_id, causation_id)
}

/// What `shipment.lost` carries.
#[derive(Debug, Serialize)]
pub struct ShipmentLost<'a> {
    pub order_id: &'a str,
    pub user_id: &'a str,
    pub shipment_id: &'a str,
    pub tracking_number: &'a str,
    pub reason: LostReason,
    /// The carrier's last HTTP status; `null` if it never answered.
    pub last_status: Option<u16>,
    /// Requests made to the carrier for the shipment, the last one included.
    pub polls: i64,
}

/// `shipment.lost`: tracking gave up on the shipment. In the chain and
/// caused by the `shipment.requested` that started tracking, as
/// [`package_delivered`] is: a chain ends in one or the other.
pub fn shipment_lost(
    data: &ShipmentLost<'_>,
    correlation_id: CorrelationId,
    causation_id: Option<String>,
) -> Result<Envelope, EnvelopeError> {
    tracking_event("shipment.lost", data, correlation_id, causation_id)
}

fn tracking_event<T: Serialize>(
    event_type: &str,
    data: &T,
    correlation_id: CorrelationId,
    causation_id: Option<String>,
) -> Result<Envelope, EnvelopeError> {
    let event_type = EventType::parse(event_type).expect("a catalog event type");
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
