//! Sample messages for contract verification, one mechanism for every
//! service: `POST /_pact/messages` `{"description", "providerStates"}`, the
//! request of Pact's `message` transport (what `pact_verifier`, the
//! official `pact verifier --transports message:PORT/_pact/messages` and
//! `fare contracts verify` send). It answers with the event the service's
//! own builder makes from sample inputs, as the relay would publish it, and
//! the SNS message attributes [`crate::bus::Publisher`] sets, as base64 JSON
//! in the `Pact-Message-Metadata` header.
//!
//! A description names its event as the consumers' tests write it, `a
//! <event type> event`, or is the event type itself. Mounted beside the
//! provider states, under the same switch.

use axum::extract::State as Extract;
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::{Json, Router};
use base64::Engine;
use serde::Deserialize;
use serde_json::{Map, Value};

use crate::envelope::Envelope;
use crate::http::ApiError;

/// Why a sample could not be made.
pub type SampleError = Box<dyn std::error::Error + Send + Sync>;

/// One event a service publishes, made by its own builder from sample inputs.
#[derive(Clone, Copy)]
pub struct ProviderMessage {
    /// The event type, `order.placed`.
    pub event: &'static str,
    pub sample: fn() -> Result<Envelope, SampleError>,
}

/// The chain every sample belongs to, as if born at the edge.
pub fn correlation() -> crate::CorrelationId {
    crate::CorrelationId::parse("contract-verification").expect("a valid correlation id")
}

/// An upstream service's event, as a sample cause of a follow-up: only the
/// fields the follow-up's builder reads need be in `data`.
pub fn cause(producer: &str, event_type: &str, data: Value) -> Result<Envelope, SampleError> {
    let event_type = crate::EventType::parse(event_type)?;
    Ok(Envelope::new(producer, event_type, correlation(), Some("request-1".into()), &data)?)
}

/// The event type a message description names: `a order.placed event` or `order.placed`.
pub fn event_named(description: &str) -> &str {
    description.strip_prefix("a ").and_then(|d| d.strip_suffix(" event")).unwrap_or(description)
}

/// The attributes every published event carries, with the content type:
/// what a message pact's metadata is matched against.
pub fn metadata(event: &Envelope) -> Map<String, Value> {
    let mut metadata = Map::new();
    metadata.insert("contentType".into(), "application/json".into());
    metadata.insert("event_type".into(), event.event_type.as_str().into());
    metadata.insert("correlation_id".into(), event.correlation_id.as_str().into());
    metadata.insert("traceparent".into(), crate::telemetry::traceparent(&event.correlation_id).into());
    metadata
}

/// What is wrong with `service`'s samples: one that fails to build, or
/// whose producer or type is not what it is listed as. A service's own test
/// holds this empty.
pub fn faulty_samples(service: &str, messages: &[ProviderMessage]) -> Vec<String> {
    messages
        .iter()
        .filter_map(|m| match (m.sample)() {
            Err(e) => Some(format!("{service}'s sample of {} failed: {e}", m.event)),
            Ok(event) if event.producer != service || event.event_type.as_str() != m.event => Some(format!(
                "{service}'s sample of {} is a {} by {}",
                m.event,
                event.event_type.as_str(),
                event.producer
            )),
            Ok(_) => None,
        })
        .collect()
}

#[derive(Clone)]
struct Samples {
    service: String,
    messages: &'static [ProviderMessage],
}

#[derive(Deserialize)]
struct MessageRequest {
    description: String,
}

/// `POST /_pact/messages` over `messages`. Only for a service whose
/// [`crate::Switches::provider_states`] is on.
pub(crate) fn router(service: &str, messages: &'static [ProviderMessage]) -> Router {
    let samples = Samples { service: service.to_owned(), messages };
    Router::new().route("/_pact/messages", post(sample)).with_state(samples)
}

async fn sample(
    Extract(samples): Extract<Samples>,
    crate::http::Json(req): crate::http::Json<MessageRequest>,
) -> Result<Response, ApiError> {
    let wanted = event_named(&req.description);
    let Some(message) = samples.messages.iter().find(|m| m.event == wanted) else {
        let known: Vec<String> = samples.messages.iter().map(|m| format!("`a {} event`", m.event)).collect();
        let events: Vec<&str> = samples.messages.iter().map(|m| m.event).collect();
        let hint = crate::suggest::did_you_mean(wanted, events.iter().copied());
        let known = if known.is_empty() { "none".to_owned() } else { known.join(", ") };
        let message = format!("{} publishes no `{wanted}`{hint}; its messages are {known}", samples.service);
        return Err(ApiError::invalid("description", message));
    };
    let event = (message.sample)().map_err(|e| {
        ApiError::internal(format!("{}'s builder of {} failed on its sample: {e}", samples.service, message.event))
    })?;
    let body: Value =
        serde_json::from_str(&event.to_json().map_err(ApiError::internal)?).map_err(ApiError::internal)?;
    let encoded = base64::engine::general_purpose::STANDARD.encode(Value::Object(metadata(&event)).to_string());
    let mut response = Json(body).into_response();
    response.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static("application/json"));
    if let Ok(value) = HeaderValue::from_str(&encoded) {
        response.headers_mut().insert("pact-message-metadata", value);
    }
    Ok(response)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_description_names_its_event_either_way() {
        assert_eq!(event_named("a order.placed event"), "order.placed");
        assert_eq!(event_named("order.placed"), "order.placed");
        assert_eq!(event_named("an order"), "an order");
    }
}
