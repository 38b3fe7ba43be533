//! The devices table: seeding, adding, allocating and counting.

use rusqlite::{Connection, OptionalExtension, Transaction};
use serde::Serialize;

use crate::domain::{Model, Serial, Stock};

#[derive(Debug, Clone, Serialize)]
pub struct Device {
    pub id: String,
    pub model: String,
    pub serial: String,
    pub order_id: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ModelCount {
    pub model: String,
    pub available: u32,
    pub allocated: u32,
}

/// What became of one order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Allocation {
    Allocated {
        device_id: String,
        serial: String,
    },
    OutOfStock,
    /// The order was decided before (a re-published order.placed).
    AlreadyDecided,
}

/// Adds the seeded devices that are missing; returns how many were added.
pub fn seed(tx: &Transaction<'_>, stock: &Stock) -> rusqlite::Result<usize> {
    let mut stmt = tx.prepare_cached("INSERT OR IGNORE INTO devices (id, model, serial) VALUES (?1, ?2, ?3)")?;
    let mut added = 0;
    for (model, count) in stock.entries() {
        for n in 1..=*count {
            let serial = Serial::seeded(model, n);
            added += stmt.execute(rusqlite::params![new_id(), model.as_str(), serial.as_str()])?;
        }
    }
    Ok(added)
}

/// Adds one device; `None` if its serial is taken.
pub fn insert(tx: &Transaction<'_>, model: &Model, serial: &Serial) -> rusqlite::Result<Option<Device>> {
    let id = new_id();
    let n = tx.execute(
        "INSERT OR IGNORE INTO devices (id, model, serial) VALUES (?1, ?2, ?3)",
        rusqlite::params![id, model.as_str(), serial.as_str()],
    )?;
    Ok((n == 1).then(|| Device { id, model: model.to_string(), serial: serial.as_str().to_owned(), order_id: None }))
}

/// Gives `order_id` one available device of `model`, unless the order was
/// decided before, or records that there was none.
pub fn allocate(tx: &Transaction<'_>, order_id: &str, model: &str) -> rusqlite::Result<Allocation> {
    let held = tx.query_row("SELECT 1 FROM devices WHERE order_id = ?1", [order_id], |_| Ok(())).optional()?.is_some();
    let failed = tx
        .query_row("SELECT 1 FROM allocation_failures WHERE order_id = ?1", [order_id], |_| Ok(()))
        .optional()?
        .is_some();
    if held || failed {
        return Ok(Allocation::AlreadyDecided);
    }
    let device = tx
        .query_row(
            "UPDATE devices SET order_id = ?1, allocated_at = strftime('%Y-%m-%dT%H:%M:%fZ', 'now')
             WHERE id = (SELECT id FROM devices WHERE model = ?2 AND order_id IS NULL ORDER BY serial LIMIT 1)
             RETURNING id, serial",
            [order_id, model],
            |r| Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?)),
        )
        .optional()?;
    match device {
        Some((device_id, serial)) => Ok(Allocation::Allocated { device_id, serial }),
        None => {
            tx.execute(
                "INSERT INTO allocation_failures (order_id, model, reason) VALUES (?1, ?2, 'out_of_stock')",
                [order_id, model],
            )?;
            Ok(Allocation::OutOfStock)
        }
    }
}

/// Available and allocated devices per model, by model name.
pub fn inventory(conn: &Connection) -> rusqlite::Result<Vec<ModelCount>> {
    let mut stmt = conn.prepare_cached(
        "SELECT model, count(*) - count(order_id), count(order_id) FROM devices GROUP BY model ORDER BY model",
    )?;
    let rows =
        stmt.query_map([], |r| Ok(ModelCount { model: r.get(0)?, available: r.get(1)?, allocated: r.get(2)? }))?;
    rows.collect()
}

fn new_id() -> String {
    uuid::Uuid::new_v4().to_string()
}
