//! `device.allocated` → the fulfillment center asked to ship it, the
//! shipment recorded and `shipment.requested`, built here once
//! ([`shipment_requested`]) for the handler and for contract verification.

use kit::bus::{HandleError, Handler};
use kit::envelope::EnvelopeError;
use kit::store::{Db, StoreError, inbox, outbox};
use kit::{Envelope, EventType};
use serde::{Deserialize, Serialize};

use crate::center::{Address, FulfillmentCenter, FulfillmentOrder};
use crate::store::{self, Inserted, Shipment};

/// What fulfillment needs of a `device.allocated`.
#[derive(Debug, Deserialize)]
struct DeviceAllocated {
    order_id: String,
    user_id: String,
    model: String,
    serial: String,
    shipping_address: Address,
}

#[derive(Debug, Serialize)]
pub struct ShipmentRequested<'a> {
    pub order_id: &'a str,
    pub user_id: &'a str,
    pub shipment_id: &'a str,
    pub tracking_number: &'a str,
    pub carrier: &'a str,
}

/// `shipment.requested`, caused by the `device.allocated` `cause`.
pub fn shipment_requested(cause: &Envelope, data: &ShipmentRequested<'_>) -> Result<Envelope, EnvelopeError> {
    cause.follow(crate::NAME, EventType::parse("shipment.requested").expect("a catalog event type"), data)
}

pub struct DeviceAllocatedHandler {
    pub db: Db,
    pub center: FulfillmentCenter,
}

impl Handler for DeviceAllocatedHandler {
    async fn handle(&self, event: Envelope) -> Result<(), HandleError> {
        if event.event_type.as_str() != "device.allocated" {
            return Err(HandleError::reject(format!("fulfillment does not handle {}", event.event_type)));
        }
        let device: DeviceAllocated = event.data_as()?;
        if device.order_id.is_empty() {
            return Err(HandleError::reject(format!("{} {} has an empty order_id", event.event_type, event.id)));
        }
        // The call cannot sit inside the transaction, so a redelivery is
        // caught here first; the Idempotency-Key covers the race of two
        // deliveries at once, the transaction below the rest.
        let order_id = device.order_id.clone();
        if self.db.read(move |conn| store::has_order(conn, &order_id).map_err(StoreError::from)).await? {
            tracing::info!(order_id = %device.order_id, "order already shipped; nothing to ask");
            return Ok(());
        }
        let order = FulfillmentOrder {
            reference: &device.order_id,
            device_serial: &device.serial,
            model: &device.model,
            ship_to: &device.shipping_address,
        };
        let accepted = self.center.request(&order, &event.id.to_string(), &event.correlation_id).await?;
        let shipment = Shipment {
            shipment_id: accepted.shipment_id,
            order_id: device.order_id,
            user_id: device.user_id,
            device_serial: device.serial,
            model: device.model,
            tracking_number: accepted.tracking_number,
            carrier: accepted.carrier,
        };
        self.db.write(move |tx| record(tx, &event, &shipment)).await
    }
}

fn record(tx: &rusqlite::Transaction<'_>, event: &Envelope, shipment: &Shipment) -> Result<(), HandleError> {
    if !inbox::claim(tx, event.id)? {
        tracing::info!("duplicate delivery; already handled");
        return Ok(());
    }
    match store::insert(tx, shipment).map_err(StoreError::from)? {
        Inserted::New => {}
        Inserted::OrderShipped => {
            tracing::warn!(order_id = %shipment.order_id, "order shipped meanwhile; nothing new");
            return Ok(());
        }
        Inserted::ShipmentIdTaken => {
            return Err(HandleError::reject(format!(
                "the fulfillment center answered shipment {} for order {}, but that shipment belongs to another order",
                shipment.shipment_id, shipment.order_id
            )));
        }
    }
    let data = ShipmentRequested {
        order_id: &shipment.order_id,
        user_id: &shipment.user_id,
        shipment_id: &shipment.shipment_id,
        tracking_number: &shipment.tracking_number,
        carrier: &shipment.carrier,
    };
    let requested = shipment_requested(event, &data)?;
    outbox::stage(tx, &requested)?;
    tracing::info!(order_id = %shipment.order_id, shipment_id = %shipment.shipment_id, "shipment requested");
    Ok(())
}
