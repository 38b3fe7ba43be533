//! What the dead-letter queues hold for a scenario's chains, read without
//! taking anything away: every message is made visible again at once.
//!
//! Reads are serialised (one lock per process): two scenarios peeking at
//! once would each hide messages from the other.

use kit::bus::Bus;
use serde::Serialize;
use tokio::sync::Mutex;

use crate::topology::Topology;

static PEEKING: Mutex<()> = Mutex::const_new(());

/// One message in a dead-letter queue.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct DeadLetter {
    /// The service whose queue it died on.
    pub service: String,
    pub correlation_id: Option<String>,
    pub event_type: Option<String>,
    pub event_id: Option<String>,
    /// Why the consumer refused it at once (the kit's `fare_rejection`), if it did.
    pub rejection: Option<String>,
}

#[derive(Debug, thiserror::Error)]
#[error("reading the dead-letter queues: {0}")]
pub struct DeadLetterError(String);

/// The dead-letter queue of every listening service: (service, queue URL).
pub async fn queues(bus: &Bus, topology: &Topology) -> Result<Vec<(String, String)>, DeadLetterError> {
    let mut queues = Vec::new();
    for m in topology.services().filter(|m| !m.listens.is_empty()) {
        let url = bus
            .queue_url(&bus.namespace.dead_letter_queue(&m.name))
            .await
            .map_err(|e| DeadLetterError(e.to_string()))?;
        queues.push((m.name.clone(), url));
    }
    Ok(queues)
}

/// The dead letters in `queues` whose correlation id is `prefix` or `prefix.<label>`.
pub async fn peek(bus: &Bus, queues: &[(String, String)], prefix: &str) -> Result<Vec<DeadLetter>, DeadLetterError> {
    let _one_at_a_time = PEEKING.lock().await;
    let mut found = Vec::new();
    for (service, url) in queues {
        for letter in read_all(bus, url, service).await? {
            let ours =
                letter.correlation_id.as_deref().is_some_and(|c| c == prefix || c.starts_with(&format!("{prefix}.")));
            if ours {
                found.push(letter);
            }
        }
    }
    Ok(found)
}

/// Every message of one queue: received (hidden) in batches until none is
/// left, then all made visible again.
async fn read_all(bus: &Bus, url: &str, service: &str) -> Result<Vec<DeadLetter>, DeadLetterError> {
    let mut letters = Vec::new();
    let mut receipts = Vec::new();
    let mut seen = std::collections::BTreeSet::new();
    // Bounded: a dead-letter queue of thousands is not a scenario's business.
    for _ in 0..50 {
        let out = bus
            .sqs
            .receive_message()
            .queue_url(url)
            .max_number_of_messages(10)
            .visibility_timeout(30)
            .wait_time_seconds(0)
            .message_attribute_names("All")
            .send()
            .await
            .map_err(|e| DeadLetterError(format!("{service}: {}", kit::error_chain(&e))))?;
        let messages = out.messages.unwrap_or_default();
        if messages.is_empty() {
            break;
        }
        for m in messages {
            receipts.extend(m.receipt_handle.clone());
            if !seen.insert(m.message_id.clone().unwrap_or_default()) {
                continue;
            }
            letters.push(letter(service, &m));
        }
    }
    for receipt in receipts {
        let _ = bus
            .sqs
            .change_message_visibility()
            .queue_url(url)
            .receipt_handle(receipt)
            .visibility_timeout(0)
            .send()
            .await;
    }
    Ok(letters)
}

fn letter(service: &str, m: &aws_sdk_sqs::types::Message) -> DeadLetter {
    let attrs = m.message_attributes.clone().unwrap_or_default();
    let attr = |k: &str| attrs.get(k).and_then(|v| v.string_value.clone());
    let body: serde_json::Value = m.body.as_deref().and_then(|b| serde_json::from_str(b).ok()).unwrap_or_default();
    let field = |k: &str| body[k].as_str().map(str::to_owned);
    DeadLetter {
        service: service.to_owned(),
        correlation_id: attr("correlation_id").or_else(|| field("correlation_id")),
        event_type: attr("event_type").or_else(|| field("type")),
        event_id: field("id"),
        rejection: attr("fare_rejection"),
    }
}
