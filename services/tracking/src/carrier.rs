//! The carrier's tracking API: `GET /tracking/{tracking_number}` →
//! `{tracking_number, status, delivered_at}`, and what its answer may say.

use axum::http::Method;
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

#[derive(Debug, thiserror::Error)]
pub enum CarrierError {
    /// Down, slow or failing: worth asking again next round.
    #[error(transparent)]
    Unavailable(#[from] CallError),
    /// An answer that does not fit the carrier's API. Not the shipment's
    /// fault either, so it is asked about again next round.
    #[error("the carrier's answer about {tracking_number} does not fit: {reason}")]
    Unfit { tracking_number: TrackingNumber, reason: String },
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

    pub async fn track(&self, number: &TrackingNumber, correlation: &CorrelationId) -> Result<Tracking, CarrierError> {
        let path = format!("/tracking/{number}");
        let unfit = |reason: String| CarrierError::Unfit { tracking_number: number.clone(), reason };
        let resp = self.client.call::<()>(Method::GET, &path, correlation, None, &[]).await?;
        let status = resp.status();
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
        match (answer.status, answer.delivered_at) {
            (Status::InTransit, _) => Ok(Tracking::InTransit),
            (Status::Delivered, Some(at)) => match OffsetDateTime::parse(&at, &Rfc3339) {
                Ok(_) => Ok(Tracking::Delivered { at }),
                Err(e) => Err(unfit(format!("delivered_at {at:?} is not an RFC 3339 time: {e}"))),
            },
            (Status::Delivered, None) => Err(unfit("delivered without delivered_at".into())),
        }
    }
}
