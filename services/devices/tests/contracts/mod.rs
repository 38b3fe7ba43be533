//! devices' pact with store: the `order.placed` it listens to, handed to
//! its real `OrderPlacedHandler`, which must allocate or refuse, never fail.

use devices::events::OrderPlacedHandler;

#[test]
fn devices_hears_of_orders_from_store() {
    ::contracts::hear("devices", "store", &["order.placed"], async |message| {
        let (_dir, db) = ::contracts::temp_db(devices::MIGRATIONS);
        ::contracts::deliver(&OrderPlacedHandler { db: db.clone() }, message).await.unwrap();
        // Out of stock on an empty inventory: device.allocation_failed.
        assert_eq!(::contracts::staged(&db).await, 1, "{} staged no answer", message.description);
    })
    .unwrap();
}
