//! tracking's pacts: the carrier's tracking API, driven through its real
//! `Carrier` client, and the `shipment.requested` it listens to, handed to
//! its real `ShipmentRequestedHandler`; with users, the session check of a
//! request for a shipment (the kit's client).

use ::contracts::{Pact, TIMESTAMP, TRACKING_NUMBER};
use kit::CorrelationId;
use kit::http::{ClientOptions, ServiceClient};
use kit::store::StoreError;
use pact_consumer::prelude::*;
use tracking::carrier::{Carrier, Tracking};
use tracking::domain::TrackingNumber;
use tracking::events::ShipmentRequestedHandler;

const IN_TRANSIT: &str = "TRK-0001";
const DELIVERED: &str = "TRK-0002";

#[test]
fn tracking_asks_the_carrier_where_a_parcel_is() {
    ::contracts::do_not_track();
    let mut pact = Pact::new("tracking", "carrier").unwrap();
    pact.builder()
        .interaction("tracking a parcel in transit", "", |mut i| {
            i.given(format!("parcel {IN_TRANSIT} is in transit"));
            i.request.get().path(format!("/tracking/{IN_TRANSIT}"));
            i.response.status(200).json_body(json_pattern!({
                "tracking_number": IN_TRANSIT,
                "status": "in_transit"
            }));
            i
        })
        .interaction("tracking a delivered parcel", "", |mut i| {
            i.given(format!("parcel {DELIVERED} was delivered"));
            i.request.get().path(format!("/tracking/{DELIVERED}"));
            i.response.status(200).json_body(json_pattern!({
                "tracking_number": term!(TRACKING_NUMBER, DELIVERED),
                "status": "delivered",
                "delivered_at": term!(TIMESTAMP, "2030-01-02T09:30:00Z")
            }));
            i
        });
    let server = pact.builder().start_mock_server(None, None);
    let options = ClientOptions { attempts: 1, ..ClientOptions::default() };
    let carrier = Carrier::new(ServiceClient::new("carrier", server.url().as_str(), options).unwrap());
    let correlation = CorrelationId::generate();
    ::contracts::runtime().block_on(async {
        let moving = carrier.track(&TrackingNumber::parse(IN_TRANSIT).unwrap(), &correlation).await.unwrap();
        assert_eq!(moving.tracking, Tracking::InTransit);
        let arrived = carrier.track(&TrackingNumber::parse(DELIVERED).unwrap(), &correlation).await.unwrap();
        assert_eq!(arrived.tracking, Tracking::Delivered { at: "2030-01-02T09:30:00Z".into() });
    });
    drop(server);
    pact.publish().unwrap();
}

#[test]
fn tracking_hears_of_shipments_from_fulfillment() {
    ::contracts::hear("tracking", "fulfillment", &["shipment.requested"], async |message| {
        let (_dir, db) = ::contracts::temp_db(tracking::MIGRATIONS);
        ::contracts::deliver(&ShipmentRequestedHandler { db: db.clone() }, message).await.unwrap();
        let followed: u64 = db
            .read(|c| c.query_row("SELECT count(*) FROM shipments", [], |r| r.get(0)).map_err(StoreError::from))
            .await
            .unwrap();
        assert_eq!(followed, 1, "{} started no tracking", message.description);
    })
    .unwrap();
}

#[test]
fn tracking_asks_users_whose_session_a_token_is() {
    ::contracts::sessions::asks_users_for_sessions("tracking").unwrap();
}
