//! Deduplication of handled events, inside the handler's own transaction.

use rusqlite::Transaction;
use uuid::Uuid;

use super::StoreError;

/// Records `event_id` as handled. Returns `false` if it already was: the
/// caller then skips its effect, and the transaction commits nothing new.
pub fn claim(tx: &Transaction<'_>, event_id: Uuid) -> Result<bool, StoreError> {
    let inserted = tx.execute("INSERT OR IGNORE INTO fare_inbox (event_id) VALUES (?1)", [event_id.to_string()])?;
    Ok(inserted == 1)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::Db;

    #[tokio::test]
    async fn second_claim_of_an_event_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let db = Db::open(&dir.path().join("svc.sqlite"), &[]).unwrap();
        let id = Uuid::new_v4();
        assert!(db.write(move |tx| claim(tx, id)).await.unwrap());
        assert!(!db.write(move |tx| claim(tx, id)).await.unwrap());
        assert!(db.write(|tx| claim(tx, Uuid::new_v4())).await.unwrap());
    }
}
