//! collector's provider states for contract verification (see
//! [`kit::states`]): the events a consumer's pact takes for granted.

use kit::messages::ProviderMessage;
use kit::states::{ProviderState, StateError, Values};
use rusqlite::Transaction;

/// Every state collector knows; documented in `services/CATALOG.md`.
pub const STATES: &[ProviderState] = &[ProviderState {
    template: "P published N E events in chain C",
    params: &["producer", "count", "event_type", "correlation_id"],
    apply: published,
}];

fn published(tx: &Transaction<'_>, values: &Values) -> Result<(), StateError> {
    let (producer, event_type, chain) =
        (values.get("producer"), values.get("event_type"), values.get("correlation_id"));
    let count: u32 = values.parse("count", "a whole number of events")?;
    for n in 1..=count {
        tx.execute(
            "INSERT OR IGNORE INTO events (id, type, producer, correlation_id, occurred_at)
             VALUES (?1, ?2, ?3, ?4, strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))",
            [&format!("{chain}:{event_type}:{n}"), event_type, producer, chain],
        )?;
    }
    tx.execute(
        "INSERT INTO event_counts (type, producer, count) VALUES (?1, ?2, ?3)
         ON CONFLICT (type, producer) DO UPDATE SET count = count + excluded.count",
        rusqlite::params![event_type, producer, count],
    )?;
    Ok(())
}

/// collector publishes nothing.
pub const MESSAGES: &[ProviderMessage] = &[];

// Every state is in services/CATALOG.md and every sample builds.
kit::provider_checks!(crate::NAME, STATES, MESSAGES, "../../CATALOG.md");
