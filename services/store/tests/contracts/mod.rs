//! store's pacts: the session check it asks users for (the token in
//! `Authorization`, never in the path), driven through its real `Users` client, and every event it listens to, handed to its real
//! `StatusHandler` on a fresh database that holds the order.

use ::contracts::{ORDER_ID, Pact, USER_ID};
use kit::CorrelationId;
use kit::http::{ClientOptions, ServiceClient};
use kit::store::StoreError;
use pact_consumer::prelude::*;
use serde_json::json;
use store::auth::{AuthError, Users};
use store::events::StatusHandler;

const VALID: &str = "0a1b2c3d4e5f";
const EXPIRED: &str = "9f8e7d6c5b4a";
const UNKNOWN: &str = "feedfacecafe";

#[test]
fn store_asks_users_whose_session_a_token_is() {
    ::contracts::do_not_track();
    let mut pact = Pact::new("store", "users").unwrap();
    pact.builder()
        .interaction("a session check for a valid token", "", |mut i| {
            i.given_with_params(
                format!("user {USER_ID} has a valid session token {VALID}"),
                &json!({"user_id": USER_ID, "token": VALID}),
            );
            i.request.get().path("/sessions/current").header("Authorization", format!("Bearer {VALID}"));
            i.response.status(200).json_body(json_pattern!({
                "user_id": term!(::contracts::ID, USER_ID),
                "expires_at": term!(::contracts::TIMESTAMP, "2030-01-01T13:00:00Z")
            }));
            i
        })
        .interaction("a session check for an expired token", "", |mut i| {
            i.given_with_params(
                format!("user {USER_ID} has an expired session token {EXPIRED}"),
                &json!({"user_id": USER_ID, "token": EXPIRED}),
            );
            i.request.get().path("/sessions/current").header("Authorization", format!("Bearer {EXPIRED}"));
            i.response.status(401).json_body(json_pattern!({"error": like!("session expired")}));
            i
        })
        .interaction("a session check for an unknown token", "", |mut i| {
            i.given(format!("no session has the token {UNKNOWN}"));
            i.request.get().path("/sessions/current").header("Authorization", format!("Bearer {UNKNOWN}"));
            i.response.status(401).json_body(json_pattern!({"error": like!("unknown session")}));
            i
        });
    let server = pact.builder().start_mock_server(None, None);
    let options = ClientOptions { attempts: 1, ..ClientOptions::default() };
    let users = Users::new(ServiceClient::new("users", server.url().as_str(), options).unwrap());
    let correlation = CorrelationId::generate();
    ::contracts::runtime().block_on(async {
        let caller = users.who(VALID, &correlation).await.unwrap();
        assert_eq!(caller.user_id, USER_ID);
        for token in [EXPIRED, UNKNOWN] {
            let refused = users.who(token, &correlation).await;
            assert!(matches!(refused, Err(AuthError::Refused(_))), "{token}: {refused:?}");
        }
    });
    drop(server);
    pact.publish().unwrap();
}

/// Writes store's pact with `provider` for `events`, handing each message
/// to the real handler of a store that holds the order the event is about.
fn store_hears(provider: &str, events: &[&str]) {
    ::contracts::hear("store", provider, events, async |message| {
        let (_dir, db) = ::contracts::temp_db(store::MIGRATIONS);
        db.write(|tx| {
            tx.execute(
                "INSERT INTO orders (id, user_id, model, price_cents, currency, status, shipping_address, placed_at)
                 VALUES (?1, ?2, 'phone-basic', 19900, 'EUR', 'placed', '{}', '2030-01-01T12:00:00Z')",
                [ORDER_ID, USER_ID],
            )
            .map_err(StoreError::from)
        })
        .await
        .unwrap();
        ::contracts::deliver(&StatusHandler { db: db.clone() }, message).await.unwrap();
        let status: String = db
            .read(|c| c.query_row("SELECT status FROM orders", [], |r| r.get(0)).map_err(StoreError::from))
            .await
            .unwrap();
        assert_ne!(status, "placed", "{} did not move the order", message.description);
    })
    .unwrap();
}

#[test]
fn store_hears_of_allocations_from_devices() {
    store_hears("devices", &["device.allocated", "device.allocation_failed"]);
}

#[test]
fn store_hears_of_shipments_from_fulfillment() {
    store_hears("fulfillment", &["shipment.requested"]);
}

#[test]
fn store_hears_of_deliveries_and_losses_from_tracking() {
    store_hears("tracking", &["package.delivered", "shipment.lost"]);
}
