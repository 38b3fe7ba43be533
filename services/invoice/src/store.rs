//! The invoices table.

use rusqlite::{Connection, OptionalExtension, Transaction};
use serde::Serialize;

#[derive(Debug, Clone, Serialize)]
pub struct Invoice {
    pub id: String,
    pub order_id: String,
    pub user_id: String,
    pub amount_cents: i64,
    pub currency: String,
    pub issued_at: String,
}

/// Inserts `invoice` unless its order already has one; `true` if inserted.
pub fn insert(tx: &Transaction<'_>, invoice: &Invoice) -> rusqlite::Result<bool> {
    let n = tx.execute(
        "INSERT OR IGNORE INTO invoices (id, order_id, user_id, amount_cents, currency, issued_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
        rusqlite::params![
            invoice.id,
            invoice.order_id,
            invoice.user_id,
            invoice.amount_cents,
            invoice.currency,
            invoice.issued_at
        ],
    )?;
    Ok(n == 1)
}

pub fn by_order(conn: &Connection, order_id: &str) -> rusqlite::Result<Option<Invoice>> {
    conn.query_row(
        "SELECT id, order_id, user_id, amount_cents, currency, issued_at FROM invoices WHERE order_id = ?1",
        [order_id],
        |r| {
            Ok(Invoice {
                id: r.get(0)?,
                order_id: r.get(1)?,
                user_id: r.get(2)?,
                amount_cents: r.get(3)?,
                currency: r.get(4)?,
                issued_at: r.get(5)?,
            })
        },
    )
    .optional()
}
