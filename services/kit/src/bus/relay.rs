//! The outbox relay: publishes what handlers and requests committed to the
//! outbox, oldest first, and forgets each event only after SNS took it.
//! A crash between publish and forget publishes the event again; consumers
//! deduplicate on the event id.
//!
//! An event caused by one that fare's fault hook marked `drop_follow_up` is
//! deleted instead of published ([`crate::faults`]).

use std::sync::Arc;
use std::time::Duration;

use tokio_util::sync::CancellationToken;
use tracing::Instrument;

use super::Publisher;
use super::consumer::Backoff;
use crate::envelope::{CorrelationId, Envelope, EventType};
use crate::faults::Faults;
use crate::store::{Db, StoreError, outbox};

/// Runs until `shutdown`, then makes one last attempt to empty the outbox.
pub async fn run(db: Db, publisher: Publisher, shutdown: CancellationToken) {
    run_with_faults(db, publisher, Faults::inherited(), shutdown).await
}

/// [`run`], asking `faults` instead of the hook fare handed this process.
pub async fn run_with_faults(db: Db, publisher: Publisher, faults: Arc<Faults>, shutdown: CancellationToken) {
    let mut backoff = Backoff::default();
    loop {
        match flush(&db, &publisher, &faults).await {
            Ok(()) => backoff.reset(),
            Err(e) => {
                tracing::warn!(error = %crate::error_chain(&e), "outbox relay could not publish; will retry");
                if !backoff.sleep(&shutdown).await {
                    break;
                }
                continue;
            }
        }
        tokio::select! {
            _ = db.committed() => {}
            // A safety net: a commit notified while a flush ran is caught
            // by the Notify permit, but a cheap periodic look costs nothing.
            _ = tokio::time::sleep(Duration::from_secs(1)) => {}
            _ = shutdown.cancelled() => break,
        }
    }
    if let Err(e) = flush(&db, &publisher, &faults).await {
        tracing::warn!(error = %crate::error_chain(&e), "outbox not empty at shutdown; it is published after the restart");
    }
}

#[derive(Debug, thiserror::Error)]
pub enum RelayError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Publish(#[from] super::PublishError),
    #[error("outbox row {seq} is not a valid envelope: {source}")]
    Corrupt { seq: i64, source: crate::envelope::EnvelopeError },
}

/// Publishes everything staged so far, except what `faults` drops.
pub async fn flush(db: &Db, publisher: &Publisher, faults: &Faults) -> Result<(), RelayError> {
    loop {
        let batch = db.read(|conn| outbox::pending(conn, 50)).await?;
        if batch.is_empty() {
            return Ok(());
        }
        for row in batch {
            let event =
                Envelope::from_json(&row.body).map_err(|source| RelayError::Corrupt { seq: row.seq, source })?;
            let traceparent =
                row.traceparent.clone().unwrap_or_else(|| crate::telemetry::traceparent(&event.correlation_id));
            // Background work of the chain: the publish belongs to the event
            // that caused this one, so a trace shows a relay that cannot publish.
            let span = tracing::info_span!(
                "work",
                task = "publish",
                event_id = event.causation_id.as_deref().unwrap_or_default(),
                correlation_id = %event.correlation_id,
                published = %event.event_type,
            );
            let seq = row.seq;
            if faults.drops(event.causation_id.as_deref()) {
                span.in_scope(|| {
                    tracing::info!("{} {} deleted, not published (drop_follow_up)", event.event_type, event.id)
                });
                db.read(move |conn| outbox::remove(conn, seq)).await?;
                continue;
            }
            let published = publish_row(
                publisher,
                &event.event_type,
                &event.correlation_id,
                &traceparent,
                &row.body,
                &event.id.to_string(),
            )
            .instrument(span.clone())
            .await;
            if let Err(e) = &published {
                span.in_scope(|| {
                    tracing::warn!(error = crate::error_chain(e), "publishing {} failed", event.event_type)
                });
            }
            published?;
            db.read(move |conn| outbox::remove(conn, seq)).await?;
        }
    }
}

async fn publish_row(
    publisher: &Publisher,
    event_type: &EventType,
    correlation_id: &CorrelationId,
    traceparent: &str,
    body: &str,
    event_id: &str,
) -> Result<(), super::PublishError> {
    publisher.publish_body(event_type, correlation_id, traceparent, body, event_id).await.map(|_| ())
}
