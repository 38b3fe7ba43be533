//! The carrier poller: every interval, asks the carrier about each shipment
//! still in transit; a delivery is recorded and `package.delivered` staged
//! in one transaction, so it is announced exactly once.
//!
//! Nothing the carrier does stops the poller: an unreachable carrier or an
//! answer that does not fit is logged and asked again next round. But the
//! work is bounded: a shipment the carrier refuses ([`Limits::max_refusals`]
//! 4xx answers in a row) or that stays in transit past
//! [`Limits::deadline`] is given up, marked lost and `shipment.lost` staged,
//! in one transaction too, so the platform goes quiet and says why.
//!
//! Each poll runs in a `work` span that names the event it belongs to (the
//! shipment's `shipment.requested`), so the trace shows the carrier calls
//! made for a chain long after its last message was handled.

use std::num::NonZeroU32;
use std::sync::Arc;
use std::time::Duration;

use kit::Envelope;
use kit::store::{Db, StoreError, outbox};
use tokio::sync::Semaphore;
use tokio::task::JoinSet;
use tokio::time::MissedTickBehavior;
use tokio_util::sync::CancellationToken;
use tracing::Instrument;

use crate::carrier::{Carrier, CarrierError, Tracked, Tracking};
use crate::domain::LostReason;
use crate::events::{PackageDelivered, ShipmentLost, package_delivered, shipment_lost};
use crate::store::{self, Shipment, Standing, Streak};

/// Carrier requests in flight at once: one slow answer must not hold up
/// the round, and the carrier must not see the whole table at once.
const CONCURRENCY: usize = 8;

/// When tracking stops asking about a shipment.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// 4xx answers in a row after which the shipment is given up.
    pub max_refusals: NonZeroU32,
    /// How long a shipment may stay in transit.
    pub deadline: Duration,
}

impl Limits {
    /// Why a shipment standing so should be given up, if it should.
    fn exceeded(&self, standing: &Standing) -> Option<LostReason> {
        if standing.refusals >= i64::from(self.max_refusals.get()) {
            Some(LostReason::Refused)
        } else if standing.age_seconds > self.deadline.as_secs_f64() {
            Some(LostReason::Deadline)
        } else {
            None
        }
    }
}

#[derive(Clone)]
pub struct Poller {
    db: Db,
    carrier: Carrier,
    interval: Duration,
    limits: Limits,
}

/// A shipment given up, as it stood.
struct GaveUp {
    reason: LostReason,
    standing: Standing,
}

impl Poller {
    pub fn new(db: Db, carrier: Carrier, interval: Duration, limits: Limits) -> Poller {
        Poller { db, carrier, interval, limits }
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
            // The recorder files a `work` span under the event `event_id`.
            let span = tracing::info_span!(
                "work",
                task = "poll carrier",
                correlation_id = %shipment.correlation_id,
                event_id = %shipment.requested_event_id,
                tracking_number = %shipment.tracking_number,
                order_id = %shipment.order_id,
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

    /// Asks the carrier once, records the answer, and says what came of it.
    async fn poll(&self, shipment: &Shipment) {
        let answer = self.carrier.track(&shipment.tracking_number, &shipment.correlation_id).await;
        match &answer {
            Ok(Tracked { tracking: Tracking::InTransit, .. }) => tracing::debug!("still in transit"),
            Ok(Tracked { tracking: Tracking::Delivered { at }, .. }) => tracing::info!(delivered_at = at, "delivered"),
            Err(e @ (CarrierError::Unavailable(_) | CarrierError::Busy { .. })) => {
                tracing::warn!(error = kit::error_chain(e), "carrier unavailable; asking again next round")
            }
            Err(e @ CarrierError::Refused { .. }) => {
                tracing::warn!(error = kit::error_chain(e), "carrier refused the shipment; asking again next round")
            }
            Err(e @ CarrierError::Unfit { .. }) => {
                tracing::error!(error = kit::error_chain(e), "polling failed; asking again next round")
            }
        }
        match self.record(shipment, &answer).await {
            Ok(Some(GaveUp { reason, standing })) => tracing::warn!(
                reason = reason.as_str(),
                polls = standing.polls,
                refusals = standing.refusals,
                last_status = standing.last_status,
                in_transit_seconds = standing.age_seconds.round() as u64,
                "giving up on the shipment: marked lost, shipment.lost staged"
            ),
            Ok(None) => {}
            Err(e) => {
                tracing::error!(error = kit::error_chain(&e), "recording the poll failed; asking again next round")
            }
        }
    }

    /// Records one answer: counts the poll, and either delivers the shipment
    /// or, past a limit, gives it up; each with its event, in one transaction.
    async fn record(
        &self,
        shipment: &Shipment,
        answer: &Result<Tracked, CarrierError>,
    ) -> Result<Option<GaveUp>, StoreError> {
        let status = match answer {
            Ok(tracked) => Some(tracked.status),
            Err(e) => e.status(),
        };
        let streak = match answer {
            Err(CarrierError::Refused { .. }) => Streak::Refused,
            _ if status.is_some_and(|s| s.is_success()) => Streak::Reset,
            _ => Streak::Unchanged,
        };
        let delivered = match answer {
            Ok(Tracked { tracking: Tracking::Delivered { at }, .. }) => Some(delivered_event(shipment, at)?),
            _ => None,
        };
        let (shipment, limits) = (shipment.clone(), self.limits);
        self.db
            .write(move |tx| {
                let number = &shipment.tracking_number;
                let Some(standing) = store::count_poll(tx, number, status.map(|s| s.as_u16()), streak)? else {
                    return Ok(None);
                };
                if let Some((event, at)) = delivered {
                    if store::mark_delivered(tx, number, &at)? {
                        outbox::stage(tx, &event)?;
                    }
                    return Ok(None);
                }
                let Some(reason) = limits.exceeded(&standing) else {
                    return Ok(None);
                };
                if !store::mark_lost(tx, number, reason)? {
                    return Ok(None);
                }
                outbox::stage(tx, &lost_event(&shipment, reason, &standing)?)?;
                Ok(Some(GaveUp { reason, standing }))
            })
            .await
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

/// `shipment.lost`, in the same chain and with the same cause.
fn lost_event(shipment: &Shipment, reason: LostReason, standing: &Standing) -> Result<Envelope, StoreError> {
    let data = ShipmentLost {
        order_id: &shipment.order_id,
        user_id: &shipment.user_id,
        shipment_id: &shipment.shipment_id,
        tracking_number: shipment.tracking_number.as_str(),
        reason,
        last_status: standing.last_status,
        polls: standing.polls,
    };
    Ok(shipment_lost(&data, shipment.correlation_id.clone(), Some(shipment.requested_event_id.clone()))?)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn standing(refusals: i64, age_seconds: f64) -> Standing {
        Standing { polls: 9, refusals, last_status: Some(404), age_seconds }
    }

    #[test]
    fn a_shipment_is_given_up_at_the_refusal_limit_or_past_the_deadline() {
        let limits = Limits { max_refusals: NonZeroU32::new(3).unwrap(), deadline: Duration::from_secs(60) };
        assert_eq!(limits.exceeded(&standing(2, 59.0)), None);
        assert_eq!(limits.exceeded(&standing(3, 1.0)), Some(LostReason::Refused));
        assert_eq!(limits.exceeded(&standing(0, 60.5)), Some(LostReason::Deadline));
        assert_eq!(limits.exceeded(&standing(5, 600.0)), Some(LostReason::Refused), "refusals say more");
    }
}
