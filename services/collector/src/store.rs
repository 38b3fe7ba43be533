//! The events seen and their counts.

use rusqlite::{Connection, Transaction};
use serde::Serialize;

/// One event as `/events` shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Seen {
    pub id: String,
    #[serde(rename = "type")]
    pub event_type: String,
    pub producer: String,
    pub correlation_id: String,
    pub causation_id: Option<String>,
    pub occurred_at: String,
}

/// Events of one type from one producer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Count {
    pub event_type: String,
    pub producer: String,
    pub count: u64,
}

/// Records `event` and counts it; `false` if it was seen before.
pub fn record(tx: &Transaction<'_>, event: &Seen) -> rusqlite::Result<bool> {
    let n = tx.execute(
        "INSERT OR IGNORE INTO events (id, type, producer, correlation_id, causation_id, occurred_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
        rusqlite::params![
            event.id,
            event.event_type,
            event.producer,
            event.correlation_id,
            event.causation_id,
            event.occurred_at
        ],
    )?;
    if n == 0 {
        return Ok(false);
    }
    tx.execute(
        "INSERT INTO event_counts (type, producer, count) VALUES (?1, ?2, 1)
         ON CONFLICT (type, producer) DO UPDATE SET count = count + 1",
        [&event.event_type, &event.producer],
    )?;
    Ok(true)
}

/// Every count, by type then producer.
pub fn counts(conn: &Connection) -> rusqlite::Result<Vec<Count>> {
    let mut stmt = conn.prepare_cached("SELECT type, producer, count FROM event_counts ORDER BY type, producer")?;
    let rows = stmt.query_map([], |r| Ok(Count { event_type: r.get(0)?, producer: r.get(1)?, count: r.get(2)? }))?;
    rows.collect()
}

/// The events of one chain, in the order they arrived.
pub fn chain(conn: &Connection, correlation_id: &str) -> rusqlite::Result<Vec<Seen>> {
    let mut stmt = conn.prepare_cached(
        "SELECT id, type, producer, correlation_id, causation_id, occurred_at
         FROM events WHERE correlation_id = ?1 ORDER BY seq",
    )?;
    let rows = stmt.query_map([correlation_id], |r| {
        Ok(Seen {
            id: r.get(0)?,
            event_type: r.get(1)?,
            producer: r.get(2)?,
            correlation_id: r.get(3)?,
            causation_id: r.get(4)?,
            occurred_at: r.get(5)?,
        })
    })?;
    rows.collect()
}
