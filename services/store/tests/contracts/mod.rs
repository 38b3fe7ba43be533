//! store's pacts: the session check it asks users for (the token in
//! `Authorization`, never in the path), driven through the kit's real
//! session client, and every event it listens to, handed to its real
//! `StatusHandler` on a fresh database that holds the order.

use ::contracts::{ORDER_ID, USER_ID};
use kit::store::StoreError;
use store::events::StatusHandler;

#[test]
fn store_asks_users_whose_session_a_token_is() {
    ::contracts::sessions::asks_users_for_sessions("store").unwrap();
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
