//! Publishing events to their SNS topics, with the message attributes that
//! subscriptions filter on and traces follow.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use aws_sdk_sns::types::MessageAttributeValue;

use super::{AwsError, Bus};
use crate::envelope::{CorrelationId, Envelope, EventType};

#[derive(Debug, thiserror::Error)]
pub enum PublishError {
    #[error("no topic {topic} for {event_type}; has the namespace been provisioned (`fare apply`)?")]
    TopicMissing { event_type: EventType, topic: String },
    #[error("publishing {event_type} {event_id} to {topic}")]
    Publish {
        event_type: EventType,
        event_id: String,
        topic: String,
        #[source]
        source: AwsError,
    },
    #[error("looking up the topic of {event_type}")]
    List {
        event_type: EventType,
        #[source]
        source: AwsError,
    },
    #[error(transparent)]
    Envelope(#[from] crate::envelope::EnvelopeError),
}

/// Publishes to the topics of one namespace. Topic ARNs are looked up by
/// name once and cached.
#[derive(Clone, Debug)]
pub struct Publisher {
    bus: Bus,
    producer: String,
    topics: Arc<Mutex<HashMap<String, String>>>,
}

impl Publisher {
    pub(crate) fn new(bus: Bus, producer: &str) -> Publisher {
        Publisher { bus, producer: producer.to_owned(), topics: Arc::default() }
    }

    pub fn producer(&self) -> &str {
        &self.producer
    }

    /// Publishes `event` now, with a traceparent from the current span.
    pub async fn publish(&self, event: &Envelope) -> Result<String, PublishError> {
        let traceparent = crate::telemetry::traceparent(&event.correlation_id);
        self.publish_body(
            &event.event_type,
            &event.correlation_id,
            &traceparent,
            &event.to_json()?,
            &event.id.to_string(),
        )
        .await
    }

    /// Publishes an already serialised envelope (the outbox relay's path).
    pub async fn publish_body(
        &self,
        event_type: &EventType,
        correlation_id: &CorrelationId,
        traceparent: &str,
        body: &str,
        event_id: &str,
    ) -> Result<String, PublishError> {
        let topic = self.bus.namespace.topic(event_type);
        let arn = self.topic_arn(event_type, &topic).await?;
        let attr = |v: &str| MessageAttributeValue::builder().data_type("String").string_value(v).build();
        let out = self
            .bus
            .sns
            .publish()
            .topic_arn(&arn)
            .message(body)
            .message_attributes("event_type", attr(event_type.as_str()).expect("data type and value are set"))
            .message_attributes("correlation_id", attr(correlation_id.as_str()).expect("data type and value are set"))
            .message_attributes("traceparent", attr(traceparent).expect("data type and value are set"))
            .send()
            .await
            .map_err(AwsError::of("Publish", &topic))
            .map_err(|source| PublishError::Publish {
                event_type: event_type.clone(),
                event_id: event_id.to_owned(),
                topic: topic.clone(),
                source,
            })?;
        tracing::info!(event_type = %event_type, event_id, topic, "published");
        Ok(out.message_id.unwrap_or_default())
    }

    async fn topic_arn(&self, event_type: &EventType, topic: &str) -> Result<String, PublishError> {
        if let Some(arn) = self.topics.lock().unwrap_or_else(|p| p.into_inner()).get(topic) {
            return Ok(arn.clone());
        }
        let found = self.bus.topic_arn(topic).await;
        let found = found.map_err(|source| PublishError::List { event_type: event_type.clone(), source })?;
        if let Some(arn) = found {
            self.topics.lock().unwrap_or_else(|p| p.into_inner()).insert(topic.to_owned(), arn.clone());
            return Ok(arn);
        }
        Err(PublishError::TopicMissing { event_type: event_type.clone(), topic: topic.to_owned() })
    }
}
