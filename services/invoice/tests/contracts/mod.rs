//! invoice's pacts: with store, the `order.placed` it listens to, handed to
//! its real `OrderPlacedHandler`, which must issue an invoice; with users,
//! the session check of a request for an invoice (the kit's client).

use invoice::events::OrderPlacedHandler;

#[test]
fn invoice_hears_of_orders_from_store() {
    ::contracts::hear("invoice", "store", &["order.placed"], async |message| {
        let (_dir, db) = ::contracts::temp_db(invoice::MIGRATIONS);
        ::contracts::deliver(&OrderPlacedHandler { db: db.clone() }, message).await.unwrap();
        assert_eq!(::contracts::staged(&db).await, 1, "{} issued no invoice.issued", message.description);
    })
    .unwrap();
}

#[test]
fn invoice_asks_users_whose_session_a_token_is() {
    ::contracts::sessions::asks_users_for_sessions("invoice").unwrap();
}
