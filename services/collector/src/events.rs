//! Every event → recorded once and counted.

use kit::Envelope;
use kit::bus::{HandleError, Handler};
use kit::store::{Db, StoreError, inbox};
use time::format_description::well_known::Rfc3339;

use crate::store::{self, Seen};

/// Takes any well-formed envelope, whatever its type: an event the catalog
/// does not list yet is exactly what an observer should show.
pub struct EventHandler {
    pub db: Db,
}

impl Handler for EventHandler {
    async fn handle(&self, event: Envelope) -> Result<(), HandleError> {
        let occurred_at = event.occurred_at.format(&Rfc3339).map_err(|e| {
            HandleError::reject(format!("occurred_at of {} {} cannot be written: {e}", event.event_type, event.id))
        })?;
        let seen = Seen {
            id: event.id.to_string(),
            event_type: event.event_type.to_string(),
            producer: event.producer,
            correlation_id: event.correlation_id.to_string(),
            causation_id: event.causation_id,
            occurred_at,
        };
        self.db
            .write(move |tx| {
                if !inbox::claim(tx, event.id)? || !store::record(tx, &seen).map_err(StoreError::from)? {
                    tracing::info!("duplicate delivery; already counted");
                }
                Ok::<_, HandleError>(())
            })
            .await
    }
}
