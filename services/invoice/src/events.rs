//! `order.placed` → one invoice and `invoice.issued`, built here once
//! ([`invoice_for`], [`invoice_issued`]) for the handler and for contract
//! verification.

use kit::bus::{HandleError, Handler};
use kit::envelope::EnvelopeError;
use kit::store::{Db, StoreError, inbox, outbox};
use kit::{Envelope, EventType};
use serde::Deserialize;
use time::format_description::well_known::Rfc3339;

use crate::store;
pub use crate::store::Invoice;

/// The invoice numbered `id` for the order the `order.placed` `cause`
/// announces, issued when the order was placed.
pub fn invoice_for(cause: &Envelope, id: String) -> Result<Invoice, HandleError> {
    let order: OrderPlaced = cause.data_as()?;
    Ok(Invoice {
        id,
        order_id: order.order_id,
        user_id: order.user_id,
        amount_cents: order.price_cents,
        currency: order.currency,
        // RFC 3339, as every timestamp on the platform (`occurred_at`).
        issued_at: cause.occurred_at.format(&Rfc3339).map_err(HandleError::reject)?,
    })
}

/// `invoice.issued` for `invoice`, caused by the `order.placed` `cause`.
pub fn invoice_issued(cause: &Envelope, invoice: &Invoice) -> Result<Envelope, EnvelopeError> {
    cause.follow(crate::NAME, EventType::parse("invoice.issued").expect("a catalog event type"), invoice)
}

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
        let invoice = invoice_for(&event, uuid::Uuid::new_v4().to_string())?;
        self.db
            .write(move |tx| {
                if !inbox::claim(tx, event.id)? {
                    tracing::info!("duplicate delivery; already handled");
                    return Ok(());
                }
                // A second order.placed for one order (a retried publish
                // with a new id) must not bill twice: the order id is unique.
                if !store::insert(tx, &invoice).map_err(StoreError::from)? {
                    tracing::warn!(order_id = %invoice.order_id, "order already invoiced");
                    return Ok(());
                }
                let issued = invoice_issued(&event, &invoice)?;
                outbox::stage(tx, &issued)?;
                tracing::info!(invoice_id = %invoice.id, order_id = %invoice.order_id, "invoice issued");
                Ok::<_, HandleError>(())
            })
            .await
    }
}
