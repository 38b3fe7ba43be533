//! The orders table and each order's timeline.

use rusqlite::{Connection, OptionalExtension, Transaction};
use serde::Serialize;

use crate::error::OrderError;

/// A new order, as stored.
pub struct NewOrder {
    pub id: String,
    pub user_id: String,
    pub model: String,
    pub price_cents: i64,
    pub currency: String,
    /// The address as JSON.
    pub shipping_address: String,
    pub placed_at: String,
}

/// An order as its owner sees it.
#[derive(Debug, Serialize)]
pub struct OrderView {
    pub order_id: String,
    pub user_id: String,
    pub model: String,
    pub price_cents: i64,
    pub currency: String,
    pub status: String,
    /// Why allocation failed (`failed`), or why tracking gave the parcel up
    /// (`lost`), when it did.
    pub reason: Option<String>,
    pub tracking_number: Option<String>,
    pub shipping_address: serde_json::Value,
    pub placed_at: String,
    pub timeline: Vec<TimelineEntry>,
}

#[derive(Debug, Serialize)]
pub struct TimelineEntry {
    pub event_type: String,
    pub event_id: String,
    pub occurred_at: String,
}

/// What an event changes besides the status; `None` keeps what is stored.
#[derive(Debug, Default)]
pub struct Details {
    pub reason: Option<String>,
    pub tracking_number: Option<String>,
}

pub fn insert(tx: &Transaction<'_>, order: &NewOrder, status: &str) -> rusqlite::Result<()> {
    tx.execute(
        "INSERT INTO orders (id, user_id, model, price_cents, currency, status, shipping_address, placed_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
        rusqlite::params![
            order.id,
            order.user_id,
            order.model,
            order.price_cents,
            order.currency,
            status,
            order.shipping_address,
            order.placed_at
        ],
    )?;
    Ok(())
}

/// Appends an event to an order's timeline; `false` if it is already there.
pub fn append(tx: &Transaction<'_>, order_id: &str, entry: &TimelineEntry) -> rusqlite::Result<bool> {
    let n = tx.execute(
        "INSERT OR IGNORE INTO order_timeline (event_id, order_id, event_type, occurred_at) VALUES (?1, ?2, ?3, ?4)",
        rusqlite::params![entry.event_id, order_id, entry.event_type, entry.occurred_at],
    )?;
    Ok(n == 1)
}

pub fn status(conn: &Connection, order_id: &str) -> rusqlite::Result<Option<String>> {
    conn.query_row("SELECT status FROM orders WHERE id = ?1", [order_id], |r| r.get(0)).optional()
}

pub fn update(tx: &Transaction<'_>, order_id: &str, status: &str, details: &Details) -> rusqlite::Result<()> {
    tx.execute(
        "UPDATE orders SET status = ?2, reason = COALESCE(?3, reason), tracking_number = COALESCE(?4, tracking_number)
         WHERE id = ?1",
        rusqlite::params![order_id, status, details.reason, details.tracking_number],
    )?;
    Ok(())
}

/// `user_id`'s orders, oldest first; only `order_id` if given.
pub fn of_user(conn: &Connection, user_id: &str, order_id: Option<&str>) -> Result<Vec<OrderView>, OrderError> {
    let mut stmt = conn.prepare_cached(
        "SELECT id, user_id, model, price_cents, currency, status, reason, tracking_number, shipping_address, placed_at
         FROM orders WHERE user_id = ?1 AND (?2 IS NULL OR id = ?2) ORDER BY placed_at, rowid",
    )?;
    let rows = stmt.query_map(rusqlite::params![user_id, order_id], |r| {
        let address: String = r.get(8)?;
        let view = OrderView {
            order_id: r.get(0)?,
            user_id: r.get(1)?,
            model: r.get(2)?,
            price_cents: r.get(3)?,
            currency: r.get(4)?,
            status: r.get(5)?,
            reason: r.get(6)?,
            tracking_number: r.get(7)?,
            shipping_address: serde_json::Value::Null,
            placed_at: r.get(9)?,
            timeline: Vec::new(),
        };
        Ok((view, address))
    })?;
    let mut orders = Vec::new();
    for row in rows {
        let (mut view, address) = row?;
        view.shipping_address = serde_json::from_str(&address)
            .map_err(|e| OrderError::Corrupt { order_id: view.order_id.clone(), message: e.to_string() })?;
        view.timeline = timeline(conn, &view.order_id)?;
        orders.push(view);
    }
    Ok(orders)
}

fn timeline(conn: &Connection, order_id: &str) -> rusqlite::Result<Vec<TimelineEntry>> {
    let mut stmt = conn.prepare_cached(
        "SELECT event_type, event_id, occurred_at FROM order_timeline WHERE order_id = ?1 ORDER BY seq",
    )?;
    let rows = stmt.query_map([order_id], |r| {
        Ok(TimelineEntry { event_type: r.get(0)?, event_id: r.get(1)?, occurred_at: r.get(2)? })
    })?;
    rows.collect()
}
