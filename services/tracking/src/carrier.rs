//! The carrier's tracking API: `GET /tracking/{tracking_number}` →
//! `{tracking_number, status, delivered_at}`, and what its answer may say:
//! where the parcel is, that the carrier is unavailable (ask again), or that
//! it refuses the tracking number (a 4xx), which the poller counts.

use axum::http::{Method, StatusCode};
use kit::CorrelationId;
use kit::http::{CallError, ServiceClient};
use serde::Deserialize;
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use crate::domain::TrackingNumber;

/// Where the carrier says a parcel is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Tracking {
    InTransit,
    /// `at` is the carrier's RFC 3339 timestamp, as it gave it.
    Delivered {
        at: String,
    },
}

/// A well-formed answer: where the parcel is, and the status it came with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Tracked {
    pub status: StatusCode,
    pub tracking: Tracking,
}

#[derive(Debug, thiserror::Error)]
pub enum CarrierError {
    /// Down, slow or failing (unreachable, 5xx): worth asking again next round.
    #[error(transparent)]
    Unavailable(#[from] CallError),
    /// The carrier asked to be asked later (408, 429): not about the
    /// shipment, so not a refusal.
    #[error("the carrier answered {status} about {tracking_number}: ask again later")]
    Busy { tracking_number: TrackingNumber, status: StatusCode },
    /// A 4xx: the carrier will not tell about this tracking number (unknown
    /// to it, or a request it rejects). Asked again, but counted: a shipment
    /// refused often enough in a row is given up.
    #[error("the carrier refused {tracking_number} with {status}: {body}")]
    Refused { tracking_number: TrackingNumber, status: StatusCode, body: String },
    /// An answer that does not fit the carrier's API. Not the shipment's
    /// fault either, so it is asked about again next round.
    #[error("the carrier's answer about {tracking_number} does not fit: {reason}")]
    Unfit { tracking_number: TrackingNumber, status: StatusCode, reason: String },
}

impl CarrierError {
    /// The HTTP status the carrier answered with, if it answered at all.
    pub fn status(&self) -> Option<StatusCode> {
        match self {
            CarrierError::Unavailable(CallError::ServerError { status, .. }) => Some(*status),
            CarrierError::Unavailable(_) => None,
            CarrierError::Busy { status, .. }
            | CarrierError::Refused { status, .. }
            | CarrierError::Unfit { status, .. } => Some(*status),
        }
    }
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "snake_case")]
enum Status {
    InTransit,
    Delivered,
}

#[derive(Debug, Deserialize)]
struct Answer {
    tracking_number: String,
    status: Status,
    delivered_at: Option<String>,
}

#[derive(Debug, Clone)]
pub struct Carrier {
    client: ServiceClient,
}

impl Carrier {
    pub fn new(client: ServiceClient) -> Carrier {
        Carrier { client }
    }

    pub async fn track(&self, number: &TrackingNumber, correlation: &CorrelationId) -> Result<Tracked, CarrierError> {
        let path = format!("/tracking/{number}");
        let resp = self.client.call::<()>(Method::GET, &path, correlation, None, &[]).await?;
        let status = resp.status();
        let tracking_number = number.clone();
        let unfit = |reason: String| CarrierError::Unfit { tracking_number: number.clone(), status, reason };
        if matches!(status, StatusCode::REQUEST_TIMEOUT | StatusCode::TOO_MANY_REQUESTS) {
            return Err(CarrierError::Busy { tracking_number, status });
        }
        if status.is_client_error() {
            return Err(CarrierError::Refused { tracking_number, status, body: kit::http::excerpt(resp).await });
        }
        if !status.is_success() {
            let body: String = kit::http::excerpt(resp).await;
            return Err(unfit(format!("status {status}: {body}")));
        }
        let (_, answer): (_, Answer) = self.client.parse(Method::GET, &path, resp).await.map_err(|e| match e {
            CallError::BadBody { message, .. } => unfit(message),
            other => CarrierError::Unavailable(other),
        })?;
        if answer.tracking_number != number.as_str() {
            return Err(unfit(format!("it is about {:?}", answer.tracking_number)));
        }
        let tracking = match (answer.status, answer.delivered_at) {
            (Status::InTransit, _) => Tracking::InTransit,
            (Status::Delivered, Some(at)) => match OffsetDateTime::parse(&at, &Rfc3339) {
                Ok(_) => Tracking::Delivered { at },
                Err(e) => return Err(unfit(format!("delivered_at {at:?} is not an RFC 3339 time: {e}"))),
            },
            (Status::Delivered, None) => return Err(unfit("delivered without delivered_at".into())),
        };
        Ok(Tracked { status, tracking })
    }
}
