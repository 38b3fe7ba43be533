//! `order.placed` → one device allocated to the order and `device.allocated`,
//! or `device.allocation_failed` when its model is out of stock. Both
//! events are built here once ([`device_allocated`], [`allocation_failed`]),
//! for the handler that stages them and for contract verification.

use kit::bus::{HandleError, Handler};
use kit::envelope::EnvelopeError;
use kit::store::{Db, StoreError, inbox, outbox};
use kit::{Envelope, EventType};
use serde::{Deserialize, Serialize};

use crate::store::{self, Allocation};

/// Where the order goes; copied into `device.allocated` for fulfillment.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ShippingAddress {
    pub name: String,
    pub line1: String,
    pub city: String,
    pub postal_code: String,
    pub country: String,
}

/// What devices needs of an `order.placed`.
#[derive(Debug, Deserialize)]
struct OrderPlaced {
    order_id: String,
    user_id: String,
    model: String,
    shipping_address: ShippingAddress,
}

#[derive(Debug, Serialize)]
pub struct DeviceAllocated<'a> {
    pub order_id: &'a str,
    pub user_id: &'a str,
    pub model: &'a str,
    pub device_id: &'a str,
    pub serial: &'a str,
    pub shipping_address: &'a ShippingAddress,
}

#[derive(Debug, Serialize)]
pub struct AllocationFailed<'a> {
    pub order_id: &'a str,
    pub user_id: &'a str,
    pub model: &'a str,
    pub reason: &'a str,
}

/// `device.allocated`, caused by the `order.placed` `cause`.
pub fn device_allocated(cause: &Envelope, data: &DeviceAllocated<'_>) -> Result<Envelope, EnvelopeError> {
    cause.follow(crate::NAME, event_type("device.allocated"), data)
}

/// `device.allocation_failed`, caused by the `order.placed` `cause`.
pub fn allocation_failed(cause: &Envelope, data: &AllocationFailed<'_>) -> Result<Envelope, EnvelopeError> {
    cause.follow(crate::NAME, event_type("device.allocation_failed"), data)
}

pub struct OrderPlacedHandler {
    pub db: Db,
}

impl Handler for OrderPlacedHandler {
    async fn handle(&self, event: Envelope) -> Result<(), HandleError> {
        if event.event_type.as_str() != "order.placed" {
            return Err(HandleError::reject(format!("devices does not handle {}", event.event_type)));
        }
        let order: OrderPlaced = event.data_as()?;
        if order.order_id.is_empty() {
            return Err(HandleError::reject(format!("{} {} has an empty order_id", event.event_type, event.id)));
        }
        self.db
            .write(move |tx| {
                if !inbox::claim(tx, event.id)? {
                    tracing::info!("duplicate delivery; already handled");
                    return Ok(());
                }
                let outcome = store::allocate(tx, &order.order_id, &order.model).map_err(StoreError::from)?;
                let next = match &outcome {
                    Allocation::AlreadyDecided => {
                        tracing::warn!(order_id = %order.order_id, "order already allocated or failed; nothing new");
                        return Ok(());
                    }
                    Allocation::Allocated { device_id, serial } => {
                        tracing::info!(order_id = %order.order_id, serial, "device allocated");
                        let data = DeviceAllocated {
                            order_id: &order.order_id,
                            user_id: &order.user_id,
                            model: &order.model,
                            device_id,
                            serial,
                            shipping_address: &order.shipping_address,
                        };
                        device_allocated(&event, &data)?
                    }
                    Allocation::OutOfStock => {
                        tracing::warn!(order_id = %order.order_id, model = %order.model, "out of stock");
                        let data = AllocationFailed {
                            order_id: &order.order_id,
                            user_id: &order.user_id,
                            model: &order.model,
                            reason: "out_of_stock",
                        };
                        allocation_failed(&event, &data)?
                    }
                };
                outbox::stage(tx, &next)?;
                Ok::<_, HandleError>(())
            })
            .await
    }
}

fn event_type(name: &'static str) -> EventType {
    EventType::parse(name).expect("a catalog event type")
}
