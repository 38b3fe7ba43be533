//! What each provider publishes, made by the provider's own builder (the
//! `<service>::events` function its route, handler or poller stages the
//! event with) from sample inputs: the verifier is shown the message the
//! service sends, not a copy of its shape.
//!
//! A follow-up event's cause is itself made by the upstream provider's
//! builder (`invoice.issued` follows store's own `order.placed`), so what a
//! builder derives from its cause (an invoice's `issued_at`, a mail's
//! trigger) is checked too. Only what a service gets from outside (a
//! device's serial, a carrier's timestamp) is a sample value here.

use kit::{CorrelationId, Envelope};

type BoxError = Box<dyn std::error::Error + Send + Sync>;

#[derive(Debug, thiserror::Error)]
pub enum ProduceError {
    #[error("{provider} has no builder for `{event_type}` here (fare produces: {known})")]
    Unknown { provider: String, event_type: String, known: String },
    #[error("{provider}'s builder of {event_type} failed on the sample input: {source}")]
    Build {
        provider: String,
        event_type: String,
        #[source]
        source: BoxError,
    },
}

/// Every (provider, event type) produced here.
pub const PRODUCED: &[(&str, &str)] = &[
    ("users", "user.registered"),
    ("store", "order.placed"),
    ("devices", "device.allocated"),
    ("devices", "device.allocation_failed"),
    ("fulfillment", "shipment.requested"),
    ("tracking", "package.delivered"),
    ("tracking", "shipment.lost"),
    ("invoice", "invoice.issued"),
    ("mailer", "mail.sent"),
];

const USER_ID: &str = "u-1";
const ORDER_ID: &str = "o-1";

/// `provider`'s `event_type`, as its builder makes it.
pub fn produce(provider: &str, event_type: &str) -> Result<Envelope, ProduceError> {
    let built = match (provider, event_type) {
        ("users", "user.registered") => user_registered(),
        ("store", "order.placed") => order_placed(),
        ("devices", "device.allocated") => device_allocated(),
        ("devices", "device.allocation_failed") => allocation_failed(),
        ("fulfillment", "shipment.requested") => shipment_requested(),
        ("tracking", "package.delivered") => package_delivered(),
        ("tracking", "shipment.lost") => shipment_lost(),
        ("invoice", "invoice.issued") => invoice_issued(),
        ("mailer", "mail.sent") => mail_sent(),
        _ => {
            let known: Vec<String> = PRODUCED.iter().map(|(p, e)| format!("{p} {e}")).collect();
            return Err(ProduceError::Unknown {
                provider: provider.to_owned(),
                event_type: event_type.to_owned(),
                known: known.join(", "),
            });
        }
    };
    built.map_err(|source| ProduceError::Build {
        provider: provider.to_owned(),
        event_type: event_type.to_owned(),
        source,
    })
}

/// The chain every sample belongs to, as if born at the edge.
fn correlation() -> Result<CorrelationId, BoxError> {
    Ok(CorrelationId::parse("contract-verification")?)
}

fn user_registered() -> Result<Envelope, BoxError> {
    let contact = users::events::Contact {
        user_id: USER_ID.into(),
        email: "ada@example.com".into(),
        name: "Ada Lovelace".into(),
    };
    Ok(users::events::user_registered(&contact, correlation()?, Some("request-1".into()))?)
}

fn order_placed() -> Result<Envelope, BoxError> {
    use store::events::{Currency, OrderPlaced, ShippingAddress, Text};
    let address = ShippingAddress {
        name: Text::parse("Ada Lovelace")?,
        line1: Text::parse("1 Analytical Road")?,
        city: Text::parse("London")?,
        postal_code: Text::parse("N1 1AA")?,
        country: Text::parse("GB")?,
    };
    let currency: Currency = "EUR".parse()?;
    let data = OrderPlaced {
        order_id: ORDER_ID,
        user_id: USER_ID,
        model: "phone-basic",
        price_cents: 19900,
        currency: &currency,
        shipping_address: &address,
    };
    Ok(store::events::order_placed(&data, correlation()?, Some("request-1".into()))?)
}

/// The address devices copies from the order into `device.allocated`.
fn address_of(order: &Envelope) -> Result<devices::events::ShippingAddress, BoxError> {
    Ok(serde_json::from_value(order.data["shipping_address"].clone())?)
}

fn device_allocated() -> Result<Envelope, BoxError> {
    let order = order_placed()?;
    let address = address_of(&order)?;
    let data = devices::events::DeviceAllocated {
        order_id: ORDER_ID,
        user_id: USER_ID,
        model: "phone-basic",
        device_id: "d-1",
        serial: "phone-basic-0001",
        shipping_address: &address,
    };
    Ok(devices::events::device_allocated(&order, &data)?)
}

fn allocation_failed() -> Result<Envelope, BoxError> {
    let order = order_placed()?;
    let data = devices::events::AllocationFailed {
        order_id: ORDER_ID,
        user_id: USER_ID,
        model: "phone-basic",
        reason: "out_of_stock",
    };
    Ok(devices::events::allocation_failed(&order, &data)?)
}

fn shipment_requested() -> Result<Envelope, BoxError> {
    let allocated = device_allocated()?;
    let data = fulfillment::events::ShipmentRequested {
        order_id: ORDER_ID,
        user_id: USER_ID,
        shipment_id: "s-1",
        tracking_number: "TRK-0001",
        carrier: "fedex",
    };
    Ok(fulfillment::events::shipment_requested(&allocated, &data)?)
}

fn package_delivered() -> Result<Envelope, BoxError> {
    let requested = shipment_requested()?;
    let data = tracking::events::PackageDelivered {
        order_id: ORDER_ID,
        user_id: USER_ID,
        shipment_id: "s-1",
        tracking_number: "TRK-0001",
        delivered_at: "2030-01-02T09:30:00Z",
    };
    Ok(tracking::events::package_delivered(&data, requested.correlation_id.clone(), Some(requested.id.to_string()))?)
}

fn shipment_lost() -> Result<Envelope, BoxError> {
    let requested = shipment_requested()?;
    let data = tracking::events::ShipmentLost {
        order_id: ORDER_ID,
        user_id: USER_ID,
        shipment_id: "s-1",
        tracking_number: "TRK-0001",
        reason: tracking::events::LostReason::Refused,
        last_status: Some(404),
        polls: 5,
    };
    Ok(tracking::events::shipment_lost(&data, requested.correlation_id.clone(), Some(requested.id.to_string()))?)
}

fn invoice_issued() -> Result<Envelope, BoxError> {
    let order = order_placed()?;
    let invoice = invoice::events::invoice_for(&order, "i-1".into())?;
    Ok(invoice::events::invoice_issued(&order, &invoice)?)
}

fn mail_sent() -> Result<Envelope, BoxError> {
    let registered = user_registered()?;
    let trigger_event_id = registered.id.to_string();
    let data = mailer::events::MailSent {
        mail_id: "m-1",
        user_id: USER_ID,
        template: "welcome",
        trigger_event_id: &trigger_event_id,
        trigger_event_type: registered.event_type.as_str(),
        provider_message_id: "msg-1",
    };
    Ok(mailer::events::mail_sent(&registered, &data)?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_listed_event_is_produced_by_its_provider() {
        for (provider, event_type) in PRODUCED {
            let event = produce(provider, event_type).unwrap();
            assert_eq!((event.producer.as_str(), event.event_type.as_str()), (*provider, *event_type));
        }
        let err = produce("store", "order.cancelled").unwrap_err().to_string();
        assert!(err.starts_with("store has no builder for `order.cancelled` here"), "{err}");
    }
}
