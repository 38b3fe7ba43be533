//! Events committed with the state change that caused them, waiting to be
//! published. The relay (`bus::relay`) drains this table, and moves a row it
//! cannot publish aside into `fare_outbox_dead`, so that one bad row never
//! holds back the events behind it.

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

/// The oldest `limit` staged events after `after` (0: from the start).
pub fn pending(conn: &Connection, after: i64, limit: usize) -> Result<Vec<Pending>, StoreError> {
    let mut stmt =
        conn.prepare_cached("SELECT seq, traceparent, body FROM fare_outbox WHERE seq > ?1 ORDER BY seq LIMIT ?2")?;
    let rows = stmt.query_map([after, limit as i64], |r| {
        Ok(Pending { seq: r.get(0)?, traceparent: r.get(1)?, body: r.get(2)? })
    })?;
    Ok(rows.collect::<Result<_, _>>()?)
}

/// Moves the staged event `seq` aside, with why it could not be published:
/// out of the relay's way, kept for a person to look at.
pub fn move_aside(tx: &Transaction<'_>, seq: i64, error: &str) -> Result<(), StoreError> {
    tx.execute(
        "INSERT OR REPLACE INTO fare_outbox_dead (seq, event_id, event_type, correlation_id, body, error)
         SELECT seq, event_id, event_type, correlation_id, body, ?2 FROM fare_outbox WHERE seq = ?1",
        rusqlite::params![seq, error],
    )?;
    tx.execute("DELETE FROM fare_outbox WHERE seq = ?1", [seq])?;
    Ok(())
}

/// How many events were moved aside as unpublishable.
pub fn dead_count(conn: &Connection) -> Result<u64, StoreError> {
    Ok(conn.query_row("SELECT count(*) FROM fare_outbox_dead", [], |r| r.get(0))?)
}

/// Forgets a staged event once it is published.
pub fn remove(conn: &Connection, seq: i64) -> Result<(), StoreError> {
    conn.execute("DELETE FROM fare_outbox WHERE seq = ?1", [seq])?;
    Ok(())
}
