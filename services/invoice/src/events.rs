//! `order.placed` → one invoice and `invoice.issued`.

use kit::bus::{HandleError, Handler};
use kit::store::{Db, StoreError, inbox, outbox};
use kit::{Envelope, EventType};
use serde::Deserialize;

use crate::store::{self, Invoice};

/// What invoice needs of an `order.placed`.
#[derive(Debug, Deserialize)]
struct OrderPlaced {
    order_id: String,
    user_id: String,
    price_cents: i64,
    currency: String,
}

pub struct OrderPlacedHandler {
    pub db: Db,
}

impl Handler for OrderPlacedHandler {
    async fn handle(&self, event: Envelope) -> Result<(), HandleError> {
        if event.event_type.as_str() != "order.placed" {
            return Err(HandleError::reject(format!("invoice does not handle {}", event.event_type)));
        }
        let order: OrderPlaced = event.data_as()?;
        self.db
            .write(move |tx| {
                if !inbox::claim(tx, event.id)? {
                    tracing::info!("duplicate delivery; already handled");
                    return Ok(());
                }
                let invoice = Invoice {
                    id: uuid::Uuid::new_v4().to_string(),
                    order_id: order.order_id,
                    user_id: order.user_id,
                    amount_cents: order.price_cents,
                    currency: order.currency,
                    issued_at: event.occurred_at.to_string(),
                };
                // A second order.placed for one order (a retried publish
                // with a new id) must not bill twice: the order id is unique.
                if !store::insert(tx, &invoice).map_err(StoreError::from)? {
                    tracing::warn!(order_id = %invoice.order_id, "order already invoiced");
                    return Ok(());
                }
                let issued = event.follow(crate::NAME, EventType::parse("invoice.issued").expect("valid"), &invoice)?;
                outbox::stage(tx, &issued)?;
                tracing::info!(invoice_id = %invoice.id, order_id = %invoice.order_id, "invoice issued");
                Ok::<_, HandleError>(())
            })
            .await
    }
}
