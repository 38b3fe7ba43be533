//! store's events: `order.placed`, which it publishes, built here once for
//! the order route that stages it and for contract verification (`fare
//! contracts verify`); and the events that move an order along, each
//! setting its status (forward only) and joining its timeline, once per
//! event id.

use kit::bus::{HandleError, Handler};
use kit::envelope::EnvelopeError;
use kit::store::{Db, StoreError, inbox};
use kit::{CorrelationId, Envelope, EventType};
use serde::{Deserialize, Serialize};
use time::format_description::well_known::Rfc3339;

pub use crate::catalog::Currency;
use crate::domain::Status;
pub use crate::domain::{ShippingAddress, Text};
use crate::orders::{self, Details, TimelineEntry};

/// The data of `order.placed`, as CATALOG.md has it.
#[derive(Debug, Serialize)]
pub struct OrderPlaced<'a> {
    pub order_id: &'a str,
    pub user_id: &'a str,
    pub model: &'a str,
    pub price_cents: i64,
    pub currency: &'a Currency,
    pub shipping_address: &'a ShippingAddress,
}

/// `order.placed`, in the chain `correlation_id`, caused by the request
/// `causation_id`.
pub fn order_placed(
    data: &OrderPlaced<'_>,
    correlation_id: CorrelationId,
    causation_id: Option<String>,
) -> Result<Envelope, EnvelopeError> {
    let event_type = EventType::parse("order.placed").expect("a catalog event type");
    Envelope::new(crate::NAME, event_type, correlation_id, causation_id, data)
}

/// What store needs of any of its events.
#[derive(Deserialize)]
struct OrderRef {
    order_id: String,
}

#[derive(Deserialize)]
struct AllocationFailed {
    reason: String,
}

#[derive(Deserialize)]
struct ShipmentRequested {
    tracking_number: String,
}

#[derive(Deserialize)]
struct ShipmentLost {
    tracking_number: String,
    reason: String,
}

pub struct StatusHandler {
    pub db: Db,
}

/// The status an event announces, and what else it tells.
fn progress(event: &Envelope) -> Result<(Status, Details), HandleError> {
    let details = Details::default();
    Ok(match event.event_type.as_str() {
        "device.allocated" => (Status::Allocated, details),
        "device.allocation_failed" => {
            let failed: AllocationFailed = event.data_as()?;
            (Status::Failed, Details { reason: Some(failed.reason), ..details })
        }
        "shipment.requested" => {
            let shipment: ShipmentRequested = event.data_as()?;
            (Status::Shipped, Details { tracking_number: Some(shipment.tracking_number), ..details })
        }
        "package.delivered" => (Status::Delivered, details),
        "shipment.lost" => {
            let lost: ShipmentLost = event.data_as()?;
            (Status::Lost, Details { reason: Some(lost.reason), tracking_number: Some(lost.tracking_number) })
        }
        other => {
            return Err(HandleError::reject(format!("store does not handle {other}")));
        }
    })
}

impl Handler for StatusHandler {
    async fn handle(&self, event: Envelope) -> Result<(), HandleError> {
        let (announced, mut details) = progress(&event)?;
        let OrderRef { order_id } = event.data_as()?;
        let entry = TimelineEntry {
            event_type: event.event_type.to_string(),
            event_id: event.id.to_string(),
            occurred_at: event.occurred_at.format(&Rfc3339).map_err(HandleError::reject)?,
        };
        self.db
            .write(move |tx| {
                if !inbox::claim(tx, event.id)? {
                    tracing::info!("duplicate delivery; already handled");
                    return Ok(());
                }
                // Orders are stored before order.placed is published, so no
                // event can precede its order: an unknown one never will exist.
                let Some(stored) = orders::status(tx, &order_id).map_err(StoreError::from)? else {
                    return Err(HandleError::reject(format!("no order {order_id}")));
                };
                let current = Status::parse(&stored).map_err(HandleError::reject)?;
                let next = current.then(announced);
                if next != announced {
                    // A stale notice (a failure after allocation, a loss after
                    // delivery): the timeline keeps it, the order does not.
                    details.reason = None;
                }
                orders::update(tx, &order_id, next.as_str(), &details).map_err(StoreError::from)?;
                orders::append(tx, &order_id, &entry).map_err(StoreError::from)?;
                tracing::info!(order_id, from = current.as_str(), to = next.as_str(), "order progressed");
                Ok(())
            })
            .await
    }
}
