//! Events committed with the state change that caused them, waiting to be
//! published. The relay (`bus::relay`) drains this table.

use rusqlite::{Connection, Transaction};

use super::StoreError;
use crate::envelope::Envelope;

/// Stages `event` for publication, in the caller's transaction. The
/// traceparent is taken from the current span, so the trace survives the
/// hop even though the publish happens later.
pub fn stage(tx: &Transaction<'_>, event: &Envelope) -> Result<(), StoreError> {
    let body = event.to_json()?;
    let traceparent = crate::telemetry::traceparent(&event.correlation_id);
    tx.execute(
        "INSERT INTO fare_outbox (event_id, event_type, correlation_id, traceparent, body) VALUES (?1, ?2, ?3, ?4, ?5)",
        rusqlite::params![
            event.id.to_string(),
            event.event_type.as_str(),
            event.correlation_id.as_str(),
            traceparent,
            body
        ],
    )?;
    Ok(())
}

/// A staged event.
#[derive(Debug, Clone)]
pub struct Pending {
    pub seq: i64,
    pub traceparent: Option<String>,
    pub body: String,
}

/// The oldest `limit` staged events.
pub fn pending(conn: &Connection, limit: usize) -> Result<Vec<Pending>, StoreError> {
    let mut stmt = conn.prepare_cached("SELECT seq, traceparent, body FROM fare_outbox ORDER BY seq LIMIT ?1")?;
    let rows =
        stmt.query_map([limit as i64], |r| Ok(Pending { seq: r.get(0)?, traceparent: r.get(1)?, body: r.get(2)? }))?;
    Ok(rows.collect::<Result<_, _>>()?)
}

/// Forgets a staged event once it is published.
pub fn remove(conn: &Connection, seq: i64) -> Result<(), StoreError> {
    conn.execute("DELETE FROM fare_outbox WHERE seq = ?1", [seq])?;
    Ok(())
}
