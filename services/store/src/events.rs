//! The events that move an order along: each sets its status (forward
//! only) and joins its timeline, once per event id.

use kit::Envelope;
use kit::bus::{HandleError, Handler};
use kit::store::{Db, StoreError, inbox};
use serde::Deserialize;
use time::format_description::well_known::Rfc3339;

use crate::domain::Status;
use crate::orders::{self, Details, TimelineEntry};

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
                if next != Status::Failed {
                    // A stale failure notice: the timeline keeps it, the order does not.
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
