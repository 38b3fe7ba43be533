//! The outbox relay: publishes what handlers and requests committed to the
//! outbox, oldest first, and forgets each event only after SNS took it.
//! A crash between publish and forget publishes the event again; consumers
//! deduplicate on the event id.
//!
//! An event caused by one that fare's fault hook marked `drop_follow_up` is
//! deleted instead of published ([`crate::faults`]).
//!
//! A row that cannot be published for a reason of its own (it is no
//! envelope; its event type has no topic) is skipped, so the events behind
//! it go on, and after [`MAX_ATTEMPTS`] it is moved aside into
//! `fare_outbox_dead` (counted on `/pending` as `outbox_dead`). A bus that
//! cannot be reached fails every row alike: that is waited out with
//! backoff, and never counts against a row.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use tokio_util::sync::CancellationToken;
use tracing::Instrument;

use super::Publisher;
use crate::envelope::{CorrelationId, Envelope, EventType};
use crate::faults::Faults;
use crate::store::{Db, StoreError, outbox};

/// Runs until `shutdown`, then makes one last attempt to empty the outbox.
pub async fn run(db: Db, publisher: Publisher, shutdown: CancellationToken) {
    run_with_faults(db, publisher, Faults::inherited(), shutdown).await
}

/// How many times a row may fail for a reason of its own before it is
/// moved aside; a corrupt row is moved at once.
pub const MAX_ATTEMPTS: u32 = 5;

/// The failures of rows that failed for a reason of their own, by `seq`.
#[derive(Debug, Default)]
pub struct Failures(HashMap<i64, u32>);

/// [`run`], asking `faults` instead of the hook fare handed this process.
pub async fn run_with_faults(db: Db, publisher: Publisher, faults: Arc<Faults>, shutdown: CancellationToken) {
    let mut backoff = super::RECONNECT.failures();
    let mut failures = Failures::default();
    loop {
        match flush(&db, &publisher, &faults, &mut failures).await {
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
    if let Err(e) = flush(&db, &publisher, &faults, &mut failures).await {
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

/// Rows published at once. One at a time, a burst of orders waited on each
/// publish in turn: `fare bench --burst` (100 orders) found `order.placed`
/// 17.6 s (moto) and 9.7 s (LocalStack) in the store's outbox at the median.
/// Rows of one batch are independent events (a follow-up is staged only
/// after its cause was handled, so never beside it).
pub const IN_FLIGHT: usize = 8;

/// Publishes everything staged so far, except what `faults` drops; skips
/// (and, in time, moves aside) rows that fail for a reason of their own.
/// Returns an error only when the bus or the database failed.
pub async fn flush(db: &Db, publisher: &Publisher, faults: &Faults, failures: &mut Failures) -> Result<(), RelayError> {
    let mut after = 0;
    loop {
        let batch = db.read(move |conn| outbox::pending(conn, after, 50)).await?;
        let Some(last) = batch.last() else { return Ok(()) };
        after = last.seq;
        for rows in batch.chunks(IN_FLIGHT) {
            let relayed =
                futures_util::future::join_all(rows.iter().map(|row| relay(db, publisher, faults, row))).await;
            let mut bus_down = None;
            for (row, relayed) in rows.iter().zip(relayed) {
                let seq = row.seq;
                match relayed? {
                    Relayed::Done => {
                        failures.0.remove(&seq);
                    }
                    Relayed::Refused(e, event_type, span) => {
                        let n = failures.0.entry(seq).or_default();
                        *n += 1;
                        span.in_scope(|| {
                            tracing::warn!(
                                error = crate::error_chain(&e),
                                attempt = *n,
                                "publishing {event_type} failed"
                            )
                        });
                        if *n >= MAX_ATTEMPTS {
                            failures.0.remove(&seq);
                            set_aside(db, seq, &e).instrument(span).await?;
                        }
                    }
                    Relayed::BusDown(e) => {
                        bus_down.get_or_insert(e);
                    }
                }
            }
            if let Some(e) = bus_down {
                return Err(e.into());
            }
        }
    }
}

/// What became of one row.
enum Relayed {
    /// Published and forgotten, dropped by a fault, or moved aside as corrupt.
    Done,
    /// Refused for a reason of its own; still staged.
    Refused(super::PublishError, EventType, tracing::Span),
    /// The bus could not be reached; still staged.
    BusDown(super::PublishError),
}

/// Publishes one row (or drops it, or moves it aside) and forgets it.
async fn relay(db: &Db, publisher: &Publisher, faults: &Faults, row: &outbox::Pending) -> Result<Relayed, RelayError> {
    let seq = row.seq;
    let event = match Envelope::from_json(&row.body) {
        Ok(event) => event,
        Err(source) => {
            set_aside(db, seq, &RelayError::Corrupt { seq, source }).await?;
            return Ok(Relayed::Done);
        }
    };
    let traceparent = row.traceparent.clone().unwrap_or_else(|| crate::telemetry::traceparent(&event.correlation_id));
    // Background work of the chain: the publish belongs to the event
    // that caused this one, so a trace shows a relay that cannot publish.
    let span = tracing::info_span!(
        "work",
        task = "publish",
        event_id = event.causation_id.as_deref().unwrap_or_default(),
        correlation_id = %event.correlation_id,
        published = %event.event_type,
    );
    if faults.drops(event.causation_id.as_deref()) {
        span.in_scope(|| tracing::info!("{} {} deleted, not published (drop_follow_up)", event.event_type, event.id));
        db.read(move |conn| outbox::remove(conn, seq)).await?;
        return Ok(Relayed::Done);
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
    match published {
        Ok(()) => {
            db.read(move |conn| outbox::remove(conn, seq)).await?;
            Ok(Relayed::Done)
        }
        Err(e) if its_own(&e) => Ok(Relayed::Refused(e, event.event_type, span)),
        Err(e) => {
            span.in_scope(|| tracing::warn!(error = crate::error_chain(&e), "publishing {} failed", event.event_type));
            Ok(Relayed::BusDown(e))
        }
    }
}

/// Whether `e` is the row's own doing rather than the bus's: retrying it
/// will not help, and waiting on it must not hold the rest back.
fn its_own(e: &super::PublishError) -> bool {
    matches!(e, super::PublishError::TopicMissing { .. } | super::PublishError::Envelope(_))
}

/// Moves row `seq` aside with `why`, loudly.
async fn set_aside(db: &Db, seq: i64, why: &(dyn std::error::Error + Send + Sync + 'static)) -> Result<(), StoreError> {
    let why = crate::error_chain(why);
    tracing::error!(seq, error = %why, "an outbox event cannot be published; moved aside to fare_outbox_dead");
    db.write(move |tx| outbox::move_aside(tx, seq, &why)).await
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
