//! The carrier poller: every interval, asks the carrier about each shipment
//! still in transit; a delivery is recorded and `package.delivered` staged
//! in one transaction, so it is announced exactly once.
//!
//! Nothing the carrier does stops the poller: an unreachable carrier or an
//! answer that does not fit is logged and asked again next round.

use std::sync::Arc;
use std::time::Duration;

use kit::Envelope;
use kit::store::{Db, StoreError, outbox};
use tokio::sync::Semaphore;
use tokio::task::JoinSet;
use tokio::time::MissedTickBehavior;
use tokio_util::sync::CancellationToken;
use tracing::Instrument;

use crate::carrier::{Carrier, CarrierError, Tracking};
use crate::events::{PackageDelivered, package_delivered};
use crate::store::{self, Shipment};

/// Carrier requests in flight at once: one slow answer must not hold up
/// the round, and the carrier must not see the whole table at once.
const CONCURRENCY: usize = 8;

#[derive(Debug, thiserror::Error)]
enum PollError {
    #[error(transparent)]
    Carrier(#[from] CarrierError),
    #[error(transparent)]
    Store(#[from] StoreError),
}

#[derive(Clone)]
pub struct Poller {
    db: Db,
    carrier: Carrier,
    interval: Duration,
}

impl Poller {
    pub fn new(db: Db, carrier: Carrier, interval: Duration) -> Poller {
        Poller { db, carrier, interval }
    }

    /// Polls round after round until `stop`. A round in progress is dropped:
    /// its carrier calls only read, and a delivery already committed stays
    /// in the outbox for the relay.
    pub async fn run(self, stop: CancellationToken) {
        let mut ticks = tokio::time::interval(self.interval);
        ticks.set_missed_tick_behavior(MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                _ = stop.cancelled() => break,
                _ = ticks.tick() => {}
            }
            tokio::select! {
                _ = stop.cancelled() => break,
                _ = self.round() => {}
            }
        }
        tracing::info!("carrier poller stopped");
    }

    async fn round(&self) {
        let shipments = match self.db.read(|conn| store::in_transit(conn).map_err(StoreError::from)).await {
            Ok(shipments) => shipments,
            Err(e) => {
                tracing::error!(error = kit::error_chain(&e), "reading the shipments in transit");
                return;
            }
        };
        let slots = Arc::new(Semaphore::new(CONCURRENCY));
        let mut polls = JoinSet::new();
        for shipment in shipments {
            let (poller, slots) = (self.clone(), slots.clone());
            let span = tracing::info_span!(
                "poll",
                tracking_number = %shipment.tracking_number,
                order_id = %shipment.order_id,
                correlation_id = %shipment.correlation_id,
            );
            polls.spawn(
                async move {
                    let Ok(_slot) = slots.acquire_owned().await else {
                        return;
                    };
                    poller.poll(&shipment).await;
                }
                .instrument(span),
            );
        }
        while polls.join_next().await.is_some() {}
    }

    async fn poll(&self, shipment: &Shipment) {
        match self.check(shipment).await {
            Ok(Tracking::InTransit) => tracing::debug!("still in transit"),
            Ok(Tracking::Delivered { at }) => tracing::info!(delivered_at = at, "delivered"),
            Err(PollError::Carrier(e @ CarrierError::Unavailable(_))) => {
                tracing::warn!(error = kit::error_chain(&e), "carrier unavailable; asking again next round")
            }
            Err(e) => tracing::error!(error = kit::error_chain(&e), "polling failed; asking again next round"),
        }
    }

    /// Asks the carrier once and records the answer.
    async fn check(&self, shipment: &Shipment) -> Result<Tracking, PollError> {
        let answer = self.carrier.track(&shipment.tracking_number, &shipment.correlation_id).await;
        let delivered = match &answer {
            Ok(Tracking::Delivered { at }) => Some(delivered_event(shipment, at)?),
            _ => None,
        };
        let number = shipment.tracking_number.clone();
        self.db
            .write(move |tx| {
                store::count_poll(tx, &number)?;
                if let Some((event, at)) = delivered
                    && store::mark_delivered(tx, &number, &at)?
                {
                    outbox::stage(tx, &event)?;
                }
                Ok::<_, StoreError>(())
            })
            .await?;
        Ok(answer?)
    }
}

/// `package.delivered` in the chain of the `shipment.requested` that started
/// tracking, long after that event was handled.
fn delivered_event(shipment: &Shipment, at: &str) -> Result<(Envelope, String), StoreError> {
    let data = PackageDelivered {
        order_id: &shipment.order_id,
        user_id: &shipment.user_id,
        shipment_id: &shipment.shipment_id,
        tracking_number: shipment.tracking_number.as_str(),
        delivered_at: at,
    };
    let event = package_delivered(&data, shipment.correlation_id.clone(), Some(shipment.requested_event_id.clone()))?;
    Ok((event, at.to_owned()))
}
