//! Naming the broken hop: given a chain's trace and the events it should
//! have reached, the first expected event that never came, the service that
//! should have published it, the event it should have reacted to, and why it
//! did not.

use std::collections::BTreeSet;
use std::fmt;

use kit::EventType;

use super::tree::{Outcome, Trace};
use crate::topology::Topology;

/// What the diagnosis knows beyond the trace: which services are down.
#[derive(Debug, Clone, Default)]
pub struct Environment {
    pub down: BTreeSet<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reason {
    DeadLettered { queue: String, attempts: u32, reason: Option<String> },
    Failing { attempts: u32, error: Option<String> },
    HandledWithoutFollowUp { calls: Vec<String> },
    ServiceDown,
    NotReceived,
    NoPublisher,
    NotPublished,
}

/// The broken hop.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Diagnosis {
    /// The expected event that never came.
    pub missing: String,
    /// The service that should have published it (if any does).
    pub service: Option<String>,
    /// The event that service should have reacted to, as seen in the chain.
    pub after: Option<String>,
    pub reason: Reason,
}

impl fmt::Display for Diagnosis {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let Some(service) = &self.service else {
            return write!(f, "broken hop: {} never happened: no service publishes it", self.missing);
        };
        let after = self.after.as_deref().unwrap_or("the start of the chain");
        write!(f, "broken hop: {after} -> {service}, which should publish {}: ", self.missing)?;
        match &self.reason {
            Reason::DeadLettered { queue, attempts, reason } => {
                write!(f, "{service} gave up on {after}")?;
                if *attempts > 1 {
                    write!(f, " after {attempts} attempts")?;
                }
                write!(f, "; the message is in {queue}")?;
                if let Some(reason) = reason {
                    write!(f, " ({reason})")?;
                }
                Ok(())
            }
            Reason::Failing { attempts, error } => {
                write!(f, "{service} failed {attempts} times handling {after} and will retry")?;
                match error {
                    Some(e) => write!(f, "; last error: {e}"),
                    None => Ok(()),
                }
            }
            Reason::HandledWithoutFollowUp { calls } if calls.is_empty() => {
                write!(
                    f,
                    "{service} handled {after} but has not published {} (still waiting on something?)",
                    self.missing
                )
            }
            Reason::HandledWithoutFollowUp { calls } => {
                write!(
                    f,
                    "{service} handled {after} but has not published {}; its calls: {}",
                    self.missing,
                    calls.join(", ")
                )
            }
            Reason::ServiceDown => write!(f, "{service} is down"),
            Reason::NotReceived => write!(f, "{service} never received {after} (no attempt recorded)"),
            Reason::NoPublisher => write!(f, "nothing publishes {}", self.missing),
            Reason::NotPublished => write!(f, "{service} never published it"),
        }
    }
}

/// The first event of `expected` missing from `trace`, and why; `None` when
/// every expected event happened.
pub fn diagnose(trace: &Trace, topology: &Topology, expected: &[EventType], env: &Environment) -> Option<Diagnosis> {
    let seen: BTreeSet<&str> = trace.events.iter().map(|e| e.event_type.as_str()).collect();
    let missing = expected.iter().find(|e| !seen.contains(e.as_str()))?;
    let publishers = topology.publishers(missing);
    let Some(&service) = publishers.first() else {
        return Some(Diagnosis {
            missing: missing.to_string(),
            service: None,
            after: None,
            reason: Reason::NoPublisher,
        });
    };
    let diagnosis = |after: Option<String>, reason| Diagnosis {
        missing: missing.to_string(),
        service: Some(service.to_owned()),
        after,
        reason,
    };
    // The events seen that the publisher listens to: the hop that broke.
    let listens: Vec<String> =
        topology.service(service).map(|m| m.listens.iter().map(|l| l.event.to_string()).collect()).unwrap_or_default();
    let Some(cause) = trace.events.iter().rev().find(|e| listens.contains(&e.event_type)) else {
        // It reacts to nothing seen: a request should have made it publish.
        let reason = if env.down.contains(service) { Reason::ServiceDown } else { Reason::NotPublished };
        return Some(diagnosis(None, reason));
    };
    let after = Some(cause.event_type.clone());
    let receipt = cause.receipts.iter().find(|r| r.service == service);
    let reason = match receipt.map(|r| (&r.outcome, r)) {
        Some((Outcome::DeadLettered { queue, reason }, r)) => Reason::DeadLettered {
            queue: queue.clone(),
            attempts: r.attempts,
            reason: reason.clone().or_else(|| r.last_error.clone()),
        },
        Some((Outcome::Retrying, r)) => Reason::Failing { attempts: r.attempts, error: r.last_error.clone() },
        Some((Outcome::Handled, r)) => Reason::HandledWithoutFollowUp { calls: r.calls.clone() },
        None if env.down.contains(service) => Reason::ServiceDown,
        None => Reason::NotReceived,
    };
    Some(diagnosis(after, reason))
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use kit::{CorrelationId, Envelope};

    use super::*;
    use crate::manifest::Manifest;
    use crate::trace::record::{DeadLetter, Store};
    use crate::trace::{SpanRecord, Trace};

    fn topology() -> Topology {
        let m = |name: &str, body: &str| {
            let text = format!("name = \"{name}\"\ndescription = \"d\"\n{body}");
            Manifest::parse(Path::new(&format!("services/{name}/service.toml")), &text).unwrap()
        };
        Topology::build(vec![
            m("store", "publishes = [\"order.placed\"]\n"),
            m("devices", "publishes = [\"device.allocated\"]\n[queue]\n[[listens]]\nevent = \"order.placed\"\n"),
            m("fulfillment", "publishes = [\"shipment.requested\"]\nterminal = [\"shipment.requested\"]\n[queue]\n[[listens]]\nevent = \"device.allocated\"\n"),
        ])
        .unwrap()
        .0
    }

    fn chain() -> (Envelope, Envelope) {
        let placed = Envelope::new(
            "store",
            EventType::parse("order.placed").unwrap(),
            CorrelationId::parse("c-1").unwrap(),
            None,
            &1,
        )
        .unwrap();
        let allocated = placed.follow("devices", EventType::parse("device.allocated").unwrap(), &1).unwrap();
        (placed, allocated)
    }

    fn handle_span(service: &str, event: &Envelope, span_id: &str, failure: Option<&str>) -> SpanRecord {
        let events = failure
            .map(|e| vec![("attempt 1 failed; retrying in 1s".to_owned(), [("error".to_owned(), e.to_owned())].into())])
            .unwrap_or_default();
        SpanRecord {
            service: service.into(),
            name: "handle".into(),
            span_id: span_id.into(),
            parent_span_id: String::new(),
            start_unix_nanos: 1,
            end_unix_nanos: 2,
            attributes: [("event_id".to_owned(), event.id.to_string())].into(),
            events,
        }
    }

    fn expected() -> Vec<EventType> {
        ["order.placed", "device.allocated", "shipment.requested"]
            .iter()
            .map(|e| EventType::parse(e).unwrap())
            .collect()
    }

    fn diagnosis_of(store: &Store, env: &Environment) -> Option<String> {
        diagnose(&Trace::build("c-1", store), &topology(), &expected(), env).map(|d| d.to_string())
    }

    #[test]
    fn a_complete_chain_has_no_diagnosis() {
        let (placed, allocated) = chain();
        let shipped = allocated.follow("fulfillment", EventType::parse("shipment.requested").unwrap(), &1).unwrap();
        let store = Store { events: vec![placed, allocated, shipped], ..Store::default() };
        assert_eq!(diagnosis_of(&store, &Environment::default()), None);
    }

    #[test]
    fn a_dead_letter_names_the_service_the_queue_and_the_reason() {
        let (placed, allocated) = chain();
        let dead = DeadLetter {
            queue: "fare-fulfillment-dlq".into(),
            message_id: "m-1".into(),
            event: Some(allocated.clone()),
            reason: Some("the fulfillment center refused the order".into()),
            receive_count: 1,
        };
        let store = Store { events: vec![placed, allocated], dead: vec![dead], ..Store::default() };
        assert_eq!(
            diagnosis_of(&store, &Environment::default()).unwrap(),
            "broken hop: device.allocated -> fulfillment, which should publish shipment.requested: fulfillment gave up \
             on device.allocated; the message is in fare-fulfillment-dlq (the fulfillment center refused the order)"
        );
    }

    #[test]
    fn failing_attempts_are_counted_with_the_last_error() {
        let (placed, allocated) = chain();
        let spans = vec![
            handle_span("fulfillment", &allocated, "a1", Some("center answered 503")),
            handle_span("fulfillment", &allocated, "a2", Some("center answered 503 again")),
        ];
        let store = Store { events: vec![placed, allocated], spans, ..Store::default() };
        let text = diagnosis_of(&store, &Environment::default()).unwrap();
        assert!(text.ends_with("fulfillment failed 2 times handling device.allocated and will retry; last error: center answered 503 again"), "{text}");
        let tree = Trace::build("c-1", &store).render_text();
        assert!(tree.contains("fulfillment: FAILING after 2 attempts, will be redelivered"), "{tree}");
    }

    #[test]
    fn a_silent_hop_is_blamed_on_a_down_service_or_on_delivery() {
        let (placed, allocated) = chain();
        let store = Store { events: vec![placed, allocated], ..Store::default() };
        let down = Environment { down: ["fulfillment".to_owned()].into() };
        assert!(diagnosis_of(&store, &down).unwrap().ends_with("fulfillment is down"));
        assert!(
            diagnosis_of(&store, &Environment::default())
                .unwrap()
                .ends_with("fulfillment never received device.allocated (no attempt recorded)")
        );
    }

    #[test]
    fn the_first_missing_event_is_the_one_diagnosed() {
        let (placed, _) = chain();
        let store = Store { events: vec![placed], ..Store::default() };
        let text = diagnosis_of(&store, &Environment::default()).unwrap();
        assert!(
            text.starts_with("broken hop: order.placed -> devices, which should publish device.allocated"),
            "{text}"
        );
    }
}
