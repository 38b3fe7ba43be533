//! store's provider states for contract verification (see [`kit::states`]):
//! orders a consumer's pact takes for granted, written straight into the
//! orders and timeline tables as the events of their statuses would have
//! left them. Who holds which session token is users' to say: store asks
//! users, and `fare contracts verify` starts the real users beside it.

use kit::Envelope;
use kit::messages::{self, ProviderMessage, SampleError};
use kit::states::{ProviderState, StateError, Values};
use rusqlite::Transaction;
use time::format_description::well_known::Rfc3339;

use crate::domain::Status;
use crate::orders::{self, Details, NewOrder, TimelineEntry};

/// Every state store knows; documented in `services/CATALOG.md`.
pub const STATES: &[ProviderState] = &[
    ProviderState {
        template: "user U has order O in status S",
        params: &["user_id", "order_id", "status"],
        apply: order_in_status,
    },
    ProviderState { template: "no order O exists", params: &["order_id"], apply: no_order },
    ProviderState { template: "user U has no orders", params: &["user_id"], apply: no_orders },
];

const STATUSES: &str = "placed, allocated, shipped, lost, delivered or failed";

/// The events that took an order to `status`, in the order they came.
fn history(status: Status) -> &'static [&'static str] {
    const PLACED: &str = "order.placed";
    match status {
        Status::Placed => &[PLACED],
        Status::Allocated => &[PLACED, "device.allocated"],
        Status::Shipped => &[PLACED, "device.allocated", "shipment.requested"],
        Status::Lost => &[PLACED, "device.allocated", "shipment.requested", "shipment.lost"],
        Status::Delivered => &[PLACED, "device.allocated", "shipment.requested", "package.delivered"],
        Status::Failed => &[PLACED, "device.allocation_failed"],
    }
}

fn order_in_status(tx: &Transaction<'_>, values: &Values) -> Result<(), StateError> {
    let status = Status::parse(values.get("status")).map_err(|bad| StateError::Invalid {
        param: "status",
        value: bad.0,
        expected: STATUSES.into(),
    })?;
    let order_id = values.get("order_id");
    forget(tx, "id", order_id)?;
    let now = time::OffsetDateTime::now_utc().format(&Rfc3339).unwrap_or_default();
    let address = serde_json::json!({
        "name": "Ada Lovelace", "line1": "1 Analytical Road", "city": "London", "postal_code": "N1 1AA", "country": "GB"
    });
    let order = NewOrder {
        id: order_id.to_owned(),
        user_id: values.get("user_id").to_owned(),
        model: "phone-basic".into(),
        price_cents: 19900,
        currency: "EUR".into(),
        shipping_address: address.to_string(),
        placed_at: now.clone(),
    };
    orders::insert(tx, &order, status.as_str())?;
    let events = history(status);
    for event_type in events {
        let entry = TimelineEntry {
            event_type: (*event_type).to_owned(),
            event_id: format!("{order_id}:{event_type}"),
            occurred_at: now.clone(),
        };
        orders::append(tx, order_id, &entry)?;
    }
    let details = Details {
        reason: match status {
            Status::Failed => Some("out_of_stock".into()),
            Status::Lost => Some("refused".into()),
            _ => None,
        },
        tracking_number: events.contains(&"shipment.requested").then(|| format!("TRK-{order_id}")),
    };
    orders::update(tx, order_id, status.as_str(), &details)?;
    Ok(())
}

fn no_order(tx: &Transaction<'_>, values: &Values) -> Result<(), StateError> {
    forget(tx, "id", values.get("order_id"))
}

fn no_orders(tx: &Transaction<'_>, values: &Values) -> Result<(), StateError> {
    forget(tx, "user_id", values.get("user_id"))
}

/// Removes the orders whose `column` is `value`, timelines included.
fn forget(tx: &Transaction<'_>, column: &'static str, value: &str) -> Result<(), StateError> {
    tx.execute(
        &format!("DELETE FROM order_timeline WHERE order_id IN (SELECT id FROM orders WHERE {column} = ?1)"),
        [value],
    )?;
    tx.execute(&format!("DELETE FROM orders WHERE {column} = ?1"), [value])?;
    Ok(())
}

/// Every event store publishes, as its builder makes it ([`kit::messages`]).
pub const MESSAGES: &[ProviderMessage] = &[ProviderMessage { event: "order.placed", sample: order_placed }];

fn order_placed() -> Result<Envelope, SampleError> {
    use crate::events::{OrderPlaced, ShippingAddress, Text};
    let address = ShippingAddress {
        name: Text::parse("Ada Lovelace")?,
        line1: Text::parse("1 Analytical Road")?,
        city: Text::parse("London")?,
        postal_code: Text::parse("N1 1AA")?,
        country: Text::parse("GB")?,
    };
    let currency: crate::Currency = "EUR".parse()?;
    let data = OrderPlaced {
        order_id: "o-1",
        user_id: "u-1",
        model: "phone-basic",
        price_cents: 19900,
        currency: &currency,
        shipping_address: &address,
    };
    Ok(crate::events::order_placed(&data, messages::correlation(), Some("request-1".into()))?)
}

// Every state is in services/CATALOG.md and every sample builds.
kit::provider_checks!(crate::NAME, STATES, MESSAGES, "../../CATALOG.md");
