//! The fulfillment center, the third party that ships devices: one call,
//! `POST /fulfillment-orders`, and what its answers mean to us.

use std::num::{NonZeroU32, NonZeroU64};
use std::time::Duration;

use kit::bus::HandleError;
use kit::http::{CallError, ClientOptions, ServiceClient};
use kit::{Config, CorrelationId, KitError};
use reqwest::{Method, StatusCode};
use serde::{Deserialize, Serialize};

const PATH: &str = "/fulfillment-orders";

/// Where a device goes, as the order gave it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Address {
    pub name: String,
    pub line1: String,
    pub city: String,
    pub postal_code: String,
    pub country: String,
}

/// The body of `POST /fulfillment-orders`.
#[derive(Debug, Serialize)]
pub struct FulfillmentOrder<'a> {
    /// Our order id, for the center's paperwork.
    pub reference: &'a str,
    pub device_serial: &'a str,
    pub model: &'a str,
    pub ship_to: &'a Address,
}

/// The center's 201: a shipment on its way to a carrier.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct Accepted {
    pub shipment_id: String,
    pub tracking_number: String,
    pub carrier: String,
}

#[derive(Debug, thiserror::Error)]
pub enum CenterError {
    /// Down, slow or failing, after the client's own retries.
    #[error(transparent)]
    Unavailable(CallError),
    /// 408 or 429: the center asks us to come back later.
    #[error("the fulfillment center is busy ({status}): {body}")]
    Busy { status: StatusCode, body: String },
    /// Any other 4xx: this request will never be accepted as it is.
    #[error("the fulfillment center refused the order ({status}): {body}")]
    Refused { status: StatusCode, body: String },
    /// A success whose body we cannot use.
    #[error("the fulfillment center accepted the order but answered {message}")]
    BadAnswer { message: String },
}

impl From<CenterError> for HandleError {
    fn from(e: CenterError) -> HandleError {
        match e {
            CenterError::Unavailable(_) | CenterError::Busy { .. } => HandleError::retry(e),
            CenterError::Refused { .. } | CenterError::BadAnswer { .. } => HandleError::reject(e),
        }
    }
}

#[derive(Debug, Clone)]
pub struct FulfillmentCenter {
    client: ServiceClient,
}

impl FulfillmentCenter {
    /// `FULFILLMENT_CENTER_URL` (required), `FULFILLMENT_CENTER_TIMEOUT_MS`
    /// (5000), `FULFILLMENT_CENTER_ATTEMPTS` (3), `FULFILLMENT_CENTER_BACKOFF_MS` (100).
    pub fn from_config(config: &Config) -> Result<FulfillmentCenter, KitError> {
        let url: reqwest::Url = config.parse("FULFILLMENT_CENTER_URL", "the fulfillment center's base URL")?;
        let ms = |key, default| -> Result<Duration, KitError> {
            let value = config.parse_opt::<NonZeroU64>(key, "a positive number of milliseconds")?;
            Ok(Duration::from_millis(value.map_or(default, NonZeroU64::get)))
        };
        let attempts = config
            .parse_opt::<NonZeroU32>("FULFILLMENT_CENTER_ATTEMPTS", "a positive number of attempts")?
            .map_or(3, NonZeroU32::get);
        let options = ClientOptions {
            timeout: ms("FULFILLMENT_CENTER_TIMEOUT_MS", 5000)?,
            attempts,
            backoff: ms("FULFILLMENT_CENTER_BACKOFF_MS", 100)?,
        };
        let client = ServiceClient::new("fulfillment-center", url.as_str(), options)?;
        Ok(FulfillmentCenter { client })
    }

    /// Asks the center to ship; `idempotency_key` makes a repeated ask the
    /// same ask.
    pub async fn request(
        &self,
        order: &FulfillmentOrder<'_>,
        idempotency_key: &str,
        correlation: &CorrelationId,
    ) -> Result<Accepted, CenterError> {
        let headers = [("Idempotency-Key", idempotency_key)];
        let resp = self
            .client
            .call(Method::POST, PATH, correlation, Some(order), &headers)
            .await
            .map_err(CenterError::Unavailable)?;
        let status = resp.status();
        // 200 too: a center may answer a replayed idempotent request so.
        if status == StatusCode::CREATED || status == StatusCode::OK {
            let (_, accepted) = self
                .client
                .parse::<Accepted>(Method::POST, PATH, resp)
                .await
                .map_err(|e| CenterError::BadAnswer { message: kit::error_chain(&e) })?;
            return check(accepted);
        }
        let body: String = kit::http::excerpt(resp).await;
        if status == StatusCode::REQUEST_TIMEOUT || status == StatusCode::TOO_MANY_REQUESTS {
            return Err(CenterError::Busy { status, body });
        }
        Err(CenterError::Refused { status, body })
    }
}

/// The ids travel on in events and into the carrier's URLs: refuse what
/// would break them there rather than later.
fn check(accepted: Accepted) -> Result<Accepted, CenterError> {
    let id_like =
        |s: &str| (1..=128).contains(&s.len()) && s.chars().all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c));
    let bad = |field: &str, value: &str| CenterError::BadAnswer {
        message: format!("{field} `{value}`, which is not a usable id"),
    };
    if !id_like(&accepted.shipment_id) {
        return Err(bad("shipment_id", &accepted.shipment_id));
    }
    if !id_like(&accepted.tracking_number) {
        return Err(bad("tracking_number", &accepted.tracking_number));
    }
    let carrier = accepted.carrier.trim();
    if carrier.is_empty() || carrier.len() > 64 || carrier.chars().any(char::is_control) {
        return Err(bad("carrier", &accepted.carrier));
    }
    Ok(accepted)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn accepted(shipment_id: &str, tracking_number: &str, carrier: &str) -> Accepted {
        Accepted { shipment_id: shipment_id.into(), tracking_number: tracking_number.into(), carrier: carrier.into() }
    }

    #[test]
    fn answers_with_unusable_ids_are_refused() {
        assert!(check(accepted("s-1", "TRK.0001_a", "Post NL")).is_ok());
        for (s, t, c) in
            [("", "T1", "c"), ("s 1", "T1", "c"), ("s1", "T/1", "c"), ("s1", "T1", " "), ("s1", "T1", "a\nb")]
        {
            assert!(check(accepted(s, t, c)).is_err(), "{s:?} {t:?} {c:?} was accepted");
        }
    }

    #[test]
    fn settings_must_be_positive_and_the_url_set() {
        let base = Config::defaults("fulfillment", &[]);
        let err = FulfillmentCenter::from_config(&base).unwrap_err().to_string();
        assert!(err.starts_with("FULFILLMENT_CENTER_URL is not set"), "{err}");
        let with_url = base.with("FULFILLMENT_CENTER_URL", "http://127.0.0.1:1");
        assert!(FulfillmentCenter::from_config(&with_url).is_ok());
        let err =
            FulfillmentCenter::from_config(&with_url.clone().with("FULFILLMENT_CENTER_ATTEMPTS", "0")).unwrap_err();
        assert!(err.to_string().starts_with("FULFILLMENT_CENTER_ATTEMPTS=\"0\""), "{err}");
        let err = FulfillmentCenter::from_config(&with_url.with("FULFILLMENT_CENTER_TIMEOUT_MS", "soon")).unwrap_err();
        assert!(err.to_string().starts_with("FULFILLMENT_CENTER_TIMEOUT_MS=\"soon\""), "{err}");
    }
}
