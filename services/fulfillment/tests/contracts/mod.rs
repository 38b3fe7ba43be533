//! fulfillment's pacts: the `device.allocated` it listens to, handed to its
//! real `DeviceAllocatedHandler`, whose real `FulfillmentCenter` client asks
//! Pact's mock of the fulfillment center: one test writes both pacts, so
//! the center's pact holds exactly the request the handler makes. With
//! users, the session check of a request for a shipment (the kit's client).

use ::contracts::{ID, Pact, UUID, event_data};
use fulfillment::center::FulfillmentCenter;
use fulfillment::events::DeviceAllocatedHandler;
use kit::Config;
use pact_consumer::prelude::*;

#[test]
fn fulfillment_hears_of_allocations_and_asks_the_center_to_ship() {
    ::contracts::do_not_track();
    let mut center = Pact::new("fulfillment", "fulfillment-center").unwrap();
    center.builder().interaction("a request to ship a device", "", |mut i| {
        i.request
            .post()
            .path("/fulfillment-orders")
            // The center reads the body as JSON only when told so.
            .header("Content-Type", "application/json")
            .header("Idempotency-Key", term!(UUID, "3f2a6c1e-8a5b-4c1d-9e7f-0a1b2c3d4e5f"))
            .json_body(json_pattern!({
                "reference": term!(ID, "o-1"),
                "device_serial": like!("phone-basic-0001"),
                "model": like!("phone-basic"),
                "ship_to": like!({
                    "name": "Ada Lovelace",
                    "line1": "1 Analytical Road",
                    "city": "London",
                    "postal_code": "N1 1AA",
                    "country": "GB"
                })
            }));
        i.response.status(201).json_body(json_pattern!({
            "shipment_id": term!(ID, "s-1"),
            "tracking_number": term!(::contracts::TRACKING_NUMBER, "TRK-0001"),
            "carrier": like!("fedex")
        }));
        i
    });
    let server = center.builder().start_mock_server(None, None);
    let config = Config::defaults(fulfillment::NAME, fulfillment::DEFAULTS)
        .with("FULFILLMENT_CENTER_URL", server.url().as_str())
        .with("FULFILLMENT_CENTER_ATTEMPTS", "1");
    let client = FulfillmentCenter::from_config(&config).unwrap();

    let mut devices = Pact::new("fulfillment", "devices").unwrap();
    devices.event("device.allocated", event_data("device.allocated"));
    let messages = devices.messages().unwrap();
    ::contracts::runtime().block_on(async {
        for message in &messages {
            let (_dir, db) = ::contracts::temp_db(fulfillment::MIGRATIONS);
            let handler = DeviceAllocatedHandler { db: db.clone(), center: client.clone() };
            ::contracts::deliver(&handler, message).await.unwrap();
            assert_eq!(::contracts::staged(&db).await, 1, "{} requested no shipment", message.description);
        }
    });
    drop(server);
    center.publish().unwrap();
    devices.publish().unwrap();
}

#[test]
fn fulfillment_asks_users_whose_session_a_token_is() {
    ::contracts::sessions::asks_users_for_sessions("fulfillment").unwrap();
}
