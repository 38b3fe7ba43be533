//! The shipments table.

use kit::CorrelationId;
use rusqlite::types::Type;
use rusqlite::{Connection, OptionalExtension, Row, Transaction};
use serde::Serialize;

use crate::domain::{LostReason, TrackingNumber};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    InTransit,
    Delivered,
    /// Given up on: no longer polled (see [`LostReason`]).
    Lost,
}

impl Status {
    fn as_str(self) -> &'static str {
        match self {
            Status::InTransit => "in_transit",
            Status::Delivered => "delivered",
            Status::Lost => "lost",
        }
    }

    fn parse(value: &str) -> Result<Status, UnknownStatus> {
        match value {
            "in_transit" => Ok(Status::InTransit),
            "delivered" => Ok(Status::Delivered),
            "lost" => Ok(Status::Lost),
            other => Err(UnknownStatus(other.to_owned())),
        }
    }
}

#[derive(Debug, thiserror::Error)]
#[error("`{0}` is not a shipment status")]
pub struct UnknownStatus(String);

/// A shipment as the API shows it; the chain ids stay internal.
#[derive(Debug, Clone, Serialize)]
pub struct Shipment {
    pub shipment_id: String,
    pub order_id: String,
    #[serde(skip)]
    pub user_id: String,
    pub tracking_number: TrackingNumber,
    pub status: Status,
    /// Requests made to the carrier for it, answered or not.
    pub polls: i64,
    pub delivered_at: Option<String>,
    /// Why tracking gave up on it, when it did.
    pub lost_reason: Option<LostReason>,
    #[serde(skip)]
    pub correlation_id: CorrelationId,
    /// The `shipment.requested` event: the cause of `package.delivered` and
    /// `shipment.lost`, and the event the poller's work belongs to.
    #[serde(skip)]
    pub requested_event_id: String,
}

/// What a `shipment.requested` records.
#[derive(Debug, Clone)]
pub struct NewShipment {
    pub shipment_id: String,
    pub order_id: String,
    pub user_id: String,
    pub tracking_number: TrackingNumber,
    pub carrier: String,
    pub correlation_id: CorrelationId,
    pub requested_event_id: String,
}

/// Records `shipment` as in transit unless its tracking number or shipment
/// id is already known; `true` if recorded.
pub fn insert(tx: &Transaction<'_>, shipment: &NewShipment) -> rusqlite::Result<bool> {
    let n = tx.execute(
        "INSERT OR IGNORE INTO shipments
         (tracking_number, shipment_id, order_id, user_id, carrier, correlation_id, requested_event_id, status)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
        rusqlite::params![
            shipment.tracking_number.as_str(),
            shipment.shipment_id,
            shipment.order_id,
            shipment.user_id,
            shipment.carrier,
            shipment.correlation_id.as_str(),
            shipment.requested_event_id,
            Status::InTransit.as_str(),
        ],
    )?;
    Ok(n == 1)
}

const COLUMNS: &str = "shipment_id, order_id, user_id, tracking_number, status, polls, delivered_at, correlation_id, \
                       requested_event_id, lost_reason";

fn from_row(r: &Row<'_>) -> rusqlite::Result<Shipment> {
    Ok(Shipment {
        shipment_id: r.get(0)?,
        order_id: r.get(1)?,
        user_id: r.get(2)?,
        tracking_number: parsed(r, 3, TrackingNumber::parse)?,
        status: parsed(r, 4, Status::parse)?,
        polls: r.get(5)?,
        delivered_at: r.get(6)?,
        correlation_id: parsed(r, 7, CorrelationId::parse)?,
        requested_event_id: r.get(8)?,
        lost_reason: match r.get::<_, Option<String>>(9)? {
            Some(_) => Some(parsed(r, 9, LostReason::parse)?),
            None => None,
        },
    })
}

/// A text column read back through the type that let it in.
fn parsed<T, E>(r: &Row<'_>, idx: usize, parse: impl Fn(&str) -> Result<T, E>) -> rusqlite::Result<T>
where
    E: std::error::Error + Send + Sync + 'static,
{
    let text: String = r.get(idx)?;
    parse(&text).map_err(|e| rusqlite::Error::FromSqlConversionFailure(idx, Type::Text, Box::new(e)))
}

pub fn get(conn: &Connection, tracking_number: &TrackingNumber) -> rusqlite::Result<Option<Shipment>> {
    conn.query_row(
        &format!("SELECT {COLUMNS} FROM shipments WHERE tracking_number = ?1"),
        [tracking_number.as_str()],
        from_row,
    )
    .optional()
}

/// Every shipment the carrier has not delivered yet, oldest first.
pub fn in_transit(conn: &Connection) -> rusqlite::Result<Vec<Shipment>> {
    let mut stmt = conn
        .prepare_cached(&format!("SELECT {COLUMNS} FROM shipments WHERE status = 'in_transit' ORDER BY created_at"))?;
    let rows = stmt.query_map([], from_row)?;
    rows.collect()
}

/// How many shipments are still being followed.
pub fn count_in_transit(conn: &Connection) -> rusqlite::Result<u64> {
    conn.query_row("SELECT count(*) FROM shipments WHERE status = 'in_transit'", [], |r| r.get(0))
}

/// What one request to the carrier does to the run of refusals.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Streak {
    /// A 4xx: one more refusal in a row.
    Refused,
    /// A 2xx: the carrier knows the shipment; the run starts over.
    Reset,
    /// No answer, or one that says nothing about the shipment (5xx, 408, 429).
    Unchanged,
}

/// Where a shipment stands after a poll: what the limits are checked against.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Standing {
    pub polls: i64,
    /// Refusals in a row, this poll's included.
    pub refusals: i64,
    /// The carrier's last HTTP status, if it ever answered.
    pub last_status: Option<u16>,
    /// Seconds since the shipment was requested.
    pub age_seconds: f64,
}

/// Counts one request to the carrier, answered with `status` (`None`: not
/// answered, which keeps the last status known); how the shipment stands now.
pub fn count_poll(
    tx: &Transaction<'_>,
    tracking_number: &TrackingNumber,
    status: Option<u16>,
    streak: Streak,
) -> rusqlite::Result<Option<Standing>> {
    let refusals = match streak {
        Streak::Refused => "refusals + 1",
        Streak::Reset => "0",
        Streak::Unchanged => "refusals",
    };
    tx.query_row(
        &format!(
            "UPDATE shipments SET polls = polls + 1, refusals = {refusals}, last_status = COALESCE(?2, last_status)
             WHERE tracking_number = ?1
             RETURNING polls, refusals, last_status, (julianday('now') - julianday(created_at)) * 86400.0"
        ),
        rusqlite::params![tracking_number.as_str(), status],
        |r| Ok(Standing { polls: r.get(0)?, refusals: r.get(1)?, last_status: r.get(2)?, age_seconds: r.get(3)? }),
    )
    .optional()
}

/// Marks the shipment delivered; `false` if it already was, so that a
/// delivery is announced once whatever the rounds do.
pub fn mark_delivered(
    tx: &Transaction<'_>,
    tracking_number: &TrackingNumber,
    delivered_at: &str,
) -> rusqlite::Result<bool> {
    let n = tx.execute(
        "UPDATE shipments SET status = 'delivered', delivered_at = ?2 WHERE tracking_number = ?1 AND status = 'in_transit'",
        [tracking_number.as_str(), delivered_at],
    )?;
    Ok(n == 1)
}

/// Marks the shipment lost for `reason`; `false` if it was no longer in
/// transit (delivered, or already lost), so that it is announced once.
pub fn mark_lost(tx: &Transaction<'_>, tracking_number: &TrackingNumber, reason: LostReason) -> rusqlite::Result<bool> {
    let n = tx.execute(
        "UPDATE shipments SET status = 'lost', lost_reason = ?2, lost_at = strftime('%Y-%m-%dT%H:%M:%fZ', 'now')
         WHERE tracking_number = ?1 AND status = 'in_transit'",
        [tracking_number.as_str(), reason.as_str()],
    )?;
    Ok(n == 1)
}
