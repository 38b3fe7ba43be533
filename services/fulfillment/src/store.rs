//! The shipments table.

use rusqlite::{Connection, OptionalExtension, Transaction};
use serde::Serialize;

#[derive(Debug, Clone, Serialize)]
pub struct Shipment {
    pub shipment_id: String,
    pub order_id: String,
    pub user_id: String,
    pub device_serial: String,
    pub model: String,
    pub tracking_number: String,
    pub carrier: String,
}

/// What became of an insert.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Inserted {
    New,
    /// The order has its shipment already.
    OrderShipped,
    /// Another order holds this shipment id: the center mixed them up.
    ShipmentIdTaken,
}

pub fn insert(tx: &Transaction<'_>, s: &Shipment) -> rusqlite::Result<Inserted> {
    let n = tx.execute(
        "INSERT OR IGNORE INTO shipments (shipment_id, order_id, user_id, device_serial, model, tracking_number, carrier)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
        rusqlite::params![s.shipment_id, s.order_id, s.user_id, s.device_serial, s.model, s.tracking_number, s.carrier],
    )?;
    if n == 1 {
        return Ok(Inserted::New);
    }
    Ok(if has_order(tx, &s.order_id)? { Inserted::OrderShipped } else { Inserted::ShipmentIdTaken })
}

pub fn has_order(conn: &Connection, order_id: &str) -> rusqlite::Result<bool> {
    Ok(conn.query_row("SELECT 1 FROM shipments WHERE order_id = ?1", [order_id], |_| Ok(())).optional()?.is_some())
}

pub fn by_order(conn: &Connection, order_id: &str) -> rusqlite::Result<Option<Shipment>> {
    conn.query_row(
        "SELECT shipment_id, order_id, user_id, device_serial, model, tracking_number, carrier
         FROM shipments WHERE order_id = ?1",
        [order_id],
        |r| {
            Ok(Shipment {
                shipment_id: r.get(0)?,
                order_id: r.get(1)?,
                user_id: r.get(2)?,
                device_serial: r.get(3)?,
                model: r.get(4)?,
                tracking_number: r.get(5)?,
                carrier: r.get(6)?,
            })
        },
    )
    .optional()
}
