//! collector's pacts: every event on the platform, from each producer,
//! handed to its real `EventHandler`. collector needs the envelope only, but
//! its pacts carry each event's catalog data so a producer that breaks the
//! catalog is caught once per listener.

use collector::events::EventHandler;

fn collector_hears(provider: &str, events: &[&str]) {
    ::contracts::hear("collector", provider, events, async |message| {
        let (_dir, db) = ::contracts::temp_db(collector::MIGRATIONS);
        ::contracts::deliver(&EventHandler { db }, message).await.unwrap();
    })
    .unwrap();
}

#[test]
fn collector_hears_users() {
    collector_hears("users", &["user.registered"]);
}

#[test]
fn collector_hears_store() {
    collector_hears("store", &["order.placed"]);
}

#[test]
fn collector_hears_devices() {
    collector_hears("devices", &["device.allocated", "device.allocation_failed"]);
}

#[test]
fn collector_hears_fulfillment() {
    collector_hears("fulfillment", &["shipment.requested"]);
}

#[test]
fn collector_hears_tracking() {
    collector_hears("tracking", &["package.delivered", "shipment.lost"]);
}

#[test]
fn collector_hears_invoice() {
    collector_hears("invoice", &["invoice.issued"]);
}

#[test]
fn collector_hears_mailer() {
    collector_hears("mailer", &["mail.sent"]);
}
