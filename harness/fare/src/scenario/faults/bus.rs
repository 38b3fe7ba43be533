//! Faults on the bus: an event of the chain published again, as it was,
//! through a tap subscribed before it is; a message no handler can read put
//! on a service's queue; a subscription's filter policy changed so that it
//! lets every chain through but the scenario's, until it is restored.

use std::time::Instant;

use kit::EventType;
use kit::bus::TapQueue;

use super::{DEADLINE, FaultError};
use crate::scenario::target::Target;
use crate::trace::{Asked, FaultKind, InjectedFault};

/// A queue subscribed to one topic, for this chain only, so the runner sees
/// the chain's events as the services do.
pub struct Tap(TapQueue);

impl Tap {
    /// Subscribes a fresh queue to `event`'s topic, filtered on the chain.
    pub async fn open(target: &Target, event: &EventType, correlation_id: &str) -> Result<Tap, FaultError> {
        let name = format!("e2e-tap-{}", uuid::Uuid::new_v4().simple());
        let topics = [target.bus.namespace.topic(event)];
        Ok(Tap(TapQueue::create(&target.bus, &name, &topics, Some(&only(correlation_id))).await?))
    }

    /// Waits for the chain's event on the tap and publishes it `times` more
    /// times, exactly as it was (same id, same attributes).
    pub async fn duplicate(
        &self,
        target: &Target,
        event: &EventType,
        times: u32,
        correlation_id: &str,
    ) -> Result<String, FaultError> {
        let started = Instant::now();
        loop {
            if let Some(m) = self.0.receive(1).await?.into_iter().next() {
                let envelope = kit::Envelope::from_json(&m.body)
                    .map_err(|source| FaultError::Tapped { event: event.clone(), source })?;
                let traceparent = m.attributes.get("traceparent").cloned().unwrap_or_default();
                let publisher = target.bus.publisher(&envelope.producer);
                for _ in 0..times {
                    publisher
                        .publish_body(event, &envelope.correlation_id, &traceparent, &m.body, &envelope.id.to_string())
                        .await
                        .map_err(|source| FaultError::Publish { event: event.clone(), source })?;
                }
                let what = format!("had its {event} published {times} more time(s), with the same id");
                let asked = Asked { times: Some(times), ..Asked::default() };
                let fault = InjectedFault::now(FaultKind::Duplicate, &envelope.producer, what).asked(asked);
                target.record_fault(&fault.on(event).in_chain(correlation_id).blow()).await?;
                return Ok(format!("{event} {} published {times} more time(s)", envelope.id));
            }
            if started.elapsed() > DEADLINE {
                return Err(FaultError::NeverSeen {
                    event: event.clone(),
                    correlation_id: String::new(),
                    waited: started.elapsed(),
                });
            }
        }
    }

    pub async fn close(self) {
        self.0.remove().await
    }
}

async fn topic_arn(target: &Target, topic: &str) -> Result<String, FaultError> {
    target.bus.topic_arn(topic).await?.ok_or_else(|| FaultError::NoTopic { topic: topic.to_owned() })
}

/// Puts `body` on `service`'s queue, tagged with the chain's correlation id
/// so its dead letter is traced back to the scenario.
pub async fn poison(target: &Target, service: &str, body: &str, correlation_id: &str) -> Result<String, FaultError> {
    let queue = target.bus.namespace.queue(service);
    let url = target.bus.queue_url(&queue).await?;
    target.bus.send(&url, body, &[("correlation_id", correlation_id)]).await?;
    let asked = Asked { body: Some(kit::redact::text(body).into_owned()), ..Asked::default() };
    let fault = InjectedFault::now(FaultKind::Poison, service, "had a message no handler can read put on its queue")
        .asked(asked);
    target.record_fault(&fault.in_chain(correlation_id).blow()).await?;
    Ok(format!("poison put on {queue}"))
}

/// A subscription whose filter policy a `filter_out` fault replaced.
#[derive(Debug)]
pub struct Filtered {
    subscription_arn: String,
    /// The policy the manifest gives it; `None` when it has none.
    original: Option<String>,
    what: String,
    fault: InjectedFault,
}

impl std::fmt::Display for Filtered {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.what)
    }
}

impl Filtered {
    /// Puts the manifest's filter policy back (or none).
    pub async fn restore(self, target: &Target) -> Result<(), FaultError> {
        set_filter(target, &self.subscription_arn, self.original.as_deref().unwrap_or("{}")).await?;
        Ok(target.record_fault(&self.fault.ended()).await?)
    }
}

/// Gives `service`'s subscription to `event` a filter policy that lets
/// every chain through but `correlation_id`: a mistaken filter, for one chain.
pub async fn filter_out(
    target: &Target,
    service: &str,
    event: &EventType,
    correlation_id: &str,
) -> Result<Filtered, FaultError> {
    let bus = &target.bus;
    let queue = bus.namespace.queue(service);
    let queue_url = bus.queue_url(&queue).await?;
    let queue_arn = bus.queue_arn(&queue_url).await?;
    let topic = bus.namespace.topic(event);
    let topic_arn = topic_arn(target, &topic).await?;
    let subscription_arn = bus
        .subscriptions(&topic_arn)
        .await?
        .into_iter()
        .find(|s| s.endpoint == queue_arn)
        .map(|s| s.arn)
        .ok_or_else(|| FaultError::NotSubscribed { queue: queue.clone(), topic: topic.clone() })?;
    let original = target
        .topology
        .service(service)
        .and_then(|m| m.listens.iter().find(|l| l.event == *event))
        .and_then(|l| l.filter.as_ref())
        .and_then(|f| serde_json::to_string(f).ok());
    set_filter(target, &subscription_arn, &all_but(correlation_id)).await?;
    let what = format!("{service}'s subscription to {event} filters chain {correlation_id} out");
    let done = format!("had its subscription to {event} filter the chain out");
    let fault = InjectedFault::now(FaultKind::FilterOut, service, done).on(event).in_chain(correlation_id);
    target.record_fault(&fault).await?;
    Ok(Filtered { subscription_arn, original, what, fault })
}

async fn set_filter(target: &Target, subscription_arn: &str, policy: &str) -> Result<(), FaultError> {
    Ok(target.bus.set_filter_policy(subscription_arn, policy).await?)
}

/// A filter policy that lets through the chain `correlation_id` alone.
fn only(correlation_id: &str) -> String {
    serde_json::json!({ "correlation_id": [correlation_id] }).to_string()
}

/// A filter policy that lets through every chain but `correlation_id`.
fn all_but(correlation_id: &str) -> String {
    serde_json::json!({ "correlation_id": [{ "anything-but": [correlation_id] }] }).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_tap_lets_its_chain_through_and_a_filter_fault_every_other() {
        assert_eq!(only("e2e-a-1"), r#"{"correlation_id":["e2e-a-1"]}"#);
        assert_eq!(all_but("e2e-a-1"), r#"{"correlation_id":[{"anything-but":["e2e-a-1"]}]}"#);
    }
}
