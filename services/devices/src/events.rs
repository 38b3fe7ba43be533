//! `order.placed` → one device allocated to the order and `device.allocated`,
//! or `device.allocation_failed` when its model is out of stock.

use kit::bus::{HandleError, Handler};
use kit::store::{Db, StoreError, inbox, outbox};
use kit::{Envelope, EventType};
use serde::{Deserialize, Serialize};

use crate::store::{self, Allocation};

/// Where the order goes; copied into `device.allocated` for fulfillment.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct ShippingAddress {
    name: String,
    line1: String,
    city: String,
    postal_code: String,
    country: String,
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
struct DeviceAllocated<'a> {
    order_id: &'a str,
    user_id: &'a str,
    model: &'a str,
    device_id: &'a str,
    serial: &'a str,
    shipping_address: &'a ShippingAddress,
}

#[derive(Debug, Serialize)]
struct AllocationFailed<'a> {
    order_id: &'a str,
    user_id: &'a str,
    model: &'a str,
    reason: &'static str,
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
                        event.follow(crate::NAME, event_type("device.allocated"), &data)?
                    }
                    Allocation::OutOfStock => {
                        tracing::warn!(order_id = %order.order_id, model = %order.model, "out of stock");
                        let data = AllocationFailed {
                            order_id: &order.order_id,
                            user_id: &order.user_id,
                            model: &order.model,
                            reason: "out_of_stock",
                        };
                        event.follow(crate::NAME, event_type("device.allocation_failed"), &data)?
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
