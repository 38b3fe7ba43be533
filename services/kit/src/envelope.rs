//! The event envelope every message on the platform travels in, and the
//! identifiers it carries. Each identifier is a type that cannot hold a bad
//! value: parsing is the only way in.

use std::fmt;

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;
use uuid::Uuid;

/// An event type such as `order.placed`: two or more lower-case segments of
/// letters, digits and underscores, joined by dots.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(try_from = "String", into = "String")]
pub struct EventType(String);

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("`{value}` is not an event type; expected lower-case dotted words such as `order.placed`")]
pub struct BadEventType {
    pub value: String,
}

impl EventType {
    pub fn parse(value: &str) -> Result<EventType, BadEventType> {
        let segments: Vec<&str> = value.split('.').collect();
        let good_segment = |s: &&str| {
            s.chars().next().is_some_and(|c| c.is_ascii_lowercase())
                && s.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
        };
        if segments.len() >= 2 && segments.iter().all(good_segment) {
            Ok(EventType(value.to_owned()))
        } else {
            Err(BadEventType { value: value.to_owned() })
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for EventType {
    type Error = BadEventType;
    fn try_from(value: String) -> Result<Self, Self::Error> {
        EventType::parse(&value)
    }
}

impl From<EventType> for String {
    fn from(value: EventType) -> String {
        value.0
    }
}

impl fmt::Display for EventType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// The id of one whole chain of work, born at the edge of the platform.
/// Callers may bring their own (`X-Correlation-ID`): 1 to 128 characters of
/// letters, digits, `-`, `_`, `.` and `:`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(try_from = "String", into = "String")]
pub struct CorrelationId(String);

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("`{value}` is not a correlation id; expected 1 to 128 letters, digits, '-', '_', '.' or ':'")]
pub struct BadCorrelationId {
    pub value: String,
}

impl CorrelationId {
    pub fn generate() -> CorrelationId {
        CorrelationId(Uuid::new_v4().to_string())
    }

    pub fn parse(value: &str) -> Result<CorrelationId, BadCorrelationId> {
        let ok = (1..=128).contains(&value.len())
            && value.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.' | ':'));
        if ok { Ok(CorrelationId(value.to_owned())) } else { Err(BadCorrelationId { value: value.to_owned() }) }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for CorrelationId {
    type Error = BadCorrelationId;
    fn try_from(value: String) -> Result<Self, Self::Error> {
        CorrelationId::parse(&value)
    }
}

impl From<CorrelationId> for String {
    fn from(value: CorrelationId) -> String {
        value.0
    }
}

impl fmt::Display for CorrelationId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// One event, as published to SNS and received from SQS.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct Envelope<T = serde_json::Value> {
    /// Unique per event; consumers deduplicate on it.
    pub id: Uuid,
    #[serde(rename = "type")]
    pub event_type: EventType,
    pub version: u32,
    #[serde(with = "time::serde::rfc3339")]
    #[cfg_attr(feature = "schema", schemars(with = "String"))]
    pub occurred_at: OffsetDateTime,
    pub correlation_id: CorrelationId,
    /// The id of the event, or of the HTTP request, that caused this one.
    pub causation_id: Option<String>,
    pub producer: String,
    pub data: T,
}

#[derive(Debug, thiserror::Error)]
pub enum EnvelopeError {
    #[error("the message body is not an event envelope: {}{source}", at(.field))]
    Envelope {
        /// The field that did not fit (`.` when the body as a whole did not).
        field: String,
        #[source]
        source: serde_json::Error,
    },
    #[error("the data of {event_type} {id} does not match its schema: {source}")]
    Data {
        event_type: EventType,
        id: Uuid,
        #[source]
        source: serde_json::Error,
    },
    #[error("serialising an event: {0}")]
    Serialise(#[source] serde_json::Error),
}

/// `at `field`: `, or nothing for the body as a whole.
fn at(field: &str) -> String {
    if field == "." { String::new() } else { format!("at `{field}`: ") }
}

impl Envelope {
    /// A new event at the edge or from a request: `causation` is the request
    /// id, if any.
    pub fn new<T: Serialize>(
        producer: &str,
        event_type: EventType,
        correlation_id: CorrelationId,
        causation_id: Option<String>,
        data: &T,
    ) -> Result<Envelope, EnvelopeError> {
        Ok(Envelope {
            id: Uuid::new_v4(),
            event_type,
            version: 1,
            occurred_at: OffsetDateTime::now_utc(),
            correlation_id,
            causation_id,
            producer: producer.to_owned(),
            data: serde_json::to_value(data).map_err(EnvelopeError::Serialise)?,
        })
    }

    /// An event caused by `self`: same chain, `causation_id` is our id.
    pub fn follow<T: Serialize>(
        &self,
        producer: &str,
        event_type: EventType,
        data: &T,
    ) -> Result<Envelope, EnvelopeError> {
        Envelope::new(producer, event_type, self.correlation_id.clone(), Some(self.id.to_string()), data)
    }

    /// Parses a message body; the error names the field that did not fit.
    pub fn from_json(body: &str) -> Result<Envelope, EnvelopeError> {
        serde_path_to_error::deserialize(&mut serde_json::Deserializer::from_str(body))
            .map_err(|e| EnvelopeError::Envelope { field: e.path().to_string(), source: e.into_inner() })
    }

    pub fn to_json(&self) -> Result<String, EnvelopeError> {
        serde_json::to_string(self).map_err(EnvelopeError::Serialise)
    }

    /// The payload as a typed value; the error names the field that did not fit.
    pub fn data_as<T: DeserializeOwned>(&self) -> Result<T, EnvelopeError> {
        serde_json::from_value(self.data.clone()).map_err(|source| EnvelopeError::Data {
            event_type: self.event_type.clone(),
            id: self.id,
            source,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn event_types_are_dotted_lower_case_words() {
        assert!(EventType::parse("order.placed").is_ok());
        assert!(EventType::parse("device.allocation_failed").is_ok());
        for bad in ["", "order", "Order.placed", "order..placed", "order.placed.", "order-placed", "1x.y"] {
            assert!(EventType::parse(bad).is_err(), "{bad:?} was accepted");
        }
    }

    #[test]
    fn correlation_ids_refuse_empty_long_and_odd_characters() {
        assert!(CorrelationId::parse("scenario-1:order.a_b").is_ok());
        assert!(CorrelationId::parse("").is_err());
        assert!(CorrelationId::parse(&"a".repeat(129)).is_err());
        assert!(CorrelationId::parse("a b").is_err());
        assert!(CorrelationId::parse("a\nb").is_err());
    }

    #[test]
    fn envelope_round_trips_with_the_documented_field_names() {
        let order = Envelope::new(
            "store",
            EventType::parse("order.placed").unwrap(),
            CorrelationId::parse("c-1").unwrap(),
            Some("req-1".into()),
            &serde_json::json!({"order_id": "o-1"}),
        )
        .unwrap();
        let json: serde_json::Value = serde_json::from_str(&order.to_json().unwrap()).unwrap();
        for field in ["id", "type", "version", "occurred_at", "correlation_id", "causation_id", "producer", "data"] {
            assert!(json.get(field).is_some(), "missing {field} in {json}");
        }
        let back = Envelope::from_json(&order.to_json().unwrap()).unwrap();
        assert_eq!(back, order);
        let next = order.follow("devices", EventType::parse("device.allocated").unwrap(), &()).unwrap();
        assert_eq!(next.correlation_id, order.correlation_id);
        assert_eq!(next.causation_id, Some(order.id.to_string()));
    }

    #[test]
    fn data_errors_name_the_event_and_the_field() {
        #[derive(Deserialize, Debug)]
        #[allow(dead_code)]
        struct OrderPlaced {
            order_id: String,
        }
        let event = Envelope::new(
            "store",
            EventType::parse("order.placed").unwrap(),
            CorrelationId::generate(),
            None,
            &serde_json::json!({"order": 1}),
        )
        .unwrap();
        let err = event.data_as::<OrderPlaced>().unwrap_err().to_string();
        assert!(err.contains("order.placed") && err.contains("missing field `order_id`"), "{err}");
        assert!(Envelope::from_json("not json").is_err());
    }
}
