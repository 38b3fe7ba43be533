//! The probe suite: checks, against one SNS/SQS backend, the behaviours the
//! platform relies on. No emulator is perfectly faithful; this says which
//! of ours are, before a scenario fails for the emulator's sake.
//!
//! Each probe works in its own throwaway namespace and removes what it made.

use std::time::{Duration, Instant};

use kit::bus::{AwsError, Bus, Message, Namespace, PublishError, QueueAttributes, Receive};
use kit::envelope::EnvelopeError;
use kit::{CorrelationId, Envelope, EventType};

/// One probe's outcome.
#[derive(Debug, Clone)]
pub struct ProbeResult {
    pub name: &'static str,
    pub passed: bool,
    /// What was seen: the evidence on success, the deviation on failure.
    pub detail: String,
    pub took: Duration,
}

/// A namespace of its own for one run of the probes (`doctor-1a2b3c4d`).
pub fn namespace() -> Namespace {
    Namespace::parse(&format!("doctor-{:08x}", rand_u32())).expect("a valid namespace")
}

/// Runs every probe against the backend at `endpoint` (real AWS if `None`),
/// in a namespace of its own.
pub async fn run(endpoint: &Option<String>) -> Result<Vec<ProbeResult>, kit::bus::BusError> {
    run_in(endpoint, &namespace()).await
}

/// [`run`], in namespace `ns`.
pub async fn run_in(endpoint: &Option<String>, ns: &Namespace) -> Result<Vec<ProbeResult>, kit::bus::BusError> {
    let bus = crate::connect(endpoint, ns).await?;
    let mut results = Vec::new();
    for (name, probe) in PROBES {
        let started = Instant::now();
        let outcome = tokio::time::timeout(Duration::from_secs(30), probe(bus.clone())).await;
        let (passed, detail) = match outcome {
            Ok(Ok(detail)) => (true, detail),
            Ok(Err(error)) => (false, kit::error_chain(&error)),
            Err(_) => (false, "no answer within 30s".to_owned()),
        };
        results.push(ProbeResult { name, passed, detail, took: started.elapsed() });
    }
    cleanup(&bus).await;
    Ok(results)
}

type Probe = fn(Bus) -> std::pin::Pin<Box<dyn std::future::Future<Output = Result<String, ProbeError>> + Send>>;

const PROBES: &[(&str, Probe)] = &[
    ("raw delivery keeps body and attributes", |bus| Box::pin(raw_delivery(bus))),
    ("filter policy drops non-matching events", |bus| Box::pin(filter_policy(bus))),
    ("visibility timeout redelivers", |bus| Box::pin(redelivery(bus))),
    ("dead-letter queue after maxReceiveCount", |bus| Box::pin(dead_letter(bus))),
];

fn rand_u32() -> u32 {
    let nanos =
        std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.subsec_nanos()).unwrap_or(0);
    nanos ^ std::process::id().rotate_left(16)
}

/// Why a probe did not pass: a call the backend refused, or behaviour
/// other than what the platform relies on.
#[derive(Debug, thiserror::Error)]
pub enum ProbeError {
    #[error(transparent)]
    Aws(#[from] AwsError),
    #[error(transparent)]
    Publish(#[from] PublishError),
    #[error(transparent)]
    Envelope(#[from] EnvelopeError),
    #[error("nothing arrived within {0}s")]
    NothingArrived(i32),
    #[error("the body is not the raw envelope: {body:.120}")]
    NotRaw {
        body: String,
        #[source]
        source: EnvelopeError,
    },
    #[error("a different message arrived")]
    DifferentMessage,
    #[error("attributes lost: {0:?}")]
    AttributesLost(Vec<&'static str>),
    #[error("{0} delivered; expected only the matching one")]
    NotFiltered(usize),
    #[error("{0} messages on first receive")]
    FirstReceive(usize),
    #[error("not redelivered within 5s of a 1s visibility timeout")]
    NotRedelivered,
    #[error("attempt {0}: the message was not there")]
    Missing(u32),
    #[error("still on the queue after 2 receives")]
    StillQueued,
    #[error("not in the dead-letter queue after 2 receives")]
    NotDeadLettered,
}

async fn queue(bus: &Bus, name: &str, attrs: QueueAttributes) -> Result<(String, String), ProbeError> {
    let url = bus.create_queue(&format!("{}-{name}", bus.namespace), &attrs, &[]).await?;
    let arn = bus.queue_arn(&url).await?;
    Ok((url, arn))
}

async fn subscribed_queue(bus: &Bus, event: &EventType, filter: Option<&str>) -> Result<String, ProbeError> {
    let topic = bus.create_topic(&bus.namespace.topic(event), None).await?;
    let (url, arn) = queue(bus, "probe", QueueAttributes::new()).await?;
    bus.subscribe(&topic, &arn, filter).await?;
    Ok(url)
}

async fn receive(bus: &Bus, url: &str, wait: i32, visibility: Option<i32>) -> Result<Vec<Message>, ProbeError> {
    Ok(bus.receive(url, Receive { max: 10, wait_seconds: wait, visibility_seconds: visibility }).await?)
}

fn event(kind: &str) -> Envelope {
    Envelope::new("doctor", EventType::parse(kind).expect("valid"), CorrelationId::generate(), None, &"probe")
        .expect("serialises")
}

async fn raw_delivery(bus: Bus) -> Result<String, ProbeError> {
    let sent = event("probe.raw");
    let url = subscribed_queue(&bus, &sent.event_type, None).await?;
    bus.publisher("doctor").publish(&sent).await?;
    let got = receive(&bus, &url, 5, None).await?;
    let m = got.first().ok_or(ProbeError::NothingArrived(5))?;
    let back = Envelope::from_json(&m.body).map_err(|source| ProbeError::NotRaw { body: m.body.clone(), source })?;
    if back.id != sent.id {
        return Err(ProbeError::DifferentMessage);
    }
    let missing: Vec<&'static str> = ["event_type", "correlation_id", "traceparent"]
        .into_iter()
        .filter(|k| !m.attributes.contains_key(*k))
        .collect();
    if missing.is_empty() { Ok("body raw, 3 attributes kept".into()) } else { Err(ProbeError::AttributesLost(missing)) }
}

async fn filter_policy(bus: Bus) -> Result<String, ProbeError> {
    let wanted = event("probe.wanted");
    let url = subscribed_queue(&bus, &wanted.event_type, Some(r#"{"correlation_id": ["keep"]}"#)).await?;
    let publisher = bus.publisher("doctor");
    let mut keep = wanted.clone();
    keep.correlation_id = CorrelationId::parse("keep").expect("valid");
    publisher.publish(&wanted).await?;
    publisher.publish(&keep).await?;
    let mut ids = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(3);
    while Instant::now() < deadline {
        for m in receive(&bus, &url, 1, None).await? {
            ids.push(Envelope::from_json(&m.body)?.id);
        }
    }
    match ids.as_slice() {
        [id] if *id == keep.id => Ok("1 of 2 delivered, the matching one".into()),
        _ => Err(ProbeError::NotFiltered(ids.len())),
    }
}

async fn redelivery(bus: Bus) -> Result<String, ProbeError> {
    let (url, _) = queue(&bus, "redeliver", QueueAttributes::new()).await?;
    bus.send(&url, "again", &[]).await?;
    let first = receive(&bus, &url, 2, Some(1)).await?;
    if first.len() != 1 {
        return Err(ProbeError::FirstReceive(first.len()));
    }
    let started = Instant::now();
    while started.elapsed() < Duration::from_secs(5) {
        if let Some(m) = receive(&bus, &url, 1, Some(30)).await?.first() {
            let count = m.receive_count;
            return Ok(format!("back after {:.1}s, receive count {count}", started.elapsed().as_secs_f64()));
        }
    }
    Err(ProbeError::NotRedelivered)
}

async fn dead_letter(bus: Bus) -> Result<String, ProbeError> {
    let (dlq_url, dlq_arn) = queue(&bus, "dlq", QueueAttributes::new()).await?;
    let policy = serde_json::json!({"deadLetterTargetArn": dlq_arn, "maxReceiveCount": 2}).to_string();
    let (url, _) = queue(&bus, "main", [("RedrivePolicy".to_owned(), policy)].into()).await?;
    bus.send(&url, "poison", &[]).await?;
    for attempt in 1..=2 {
        if receive(&bus, &url, 2, Some(0)).await?.is_empty() {
            return Err(ProbeError::Missing(attempt));
        }
    }
    let after = receive(&bus, &url, 1, Some(0)).await?;
    if !after.is_empty() {
        return Err(ProbeError::StillQueued);
    }
    let dead = receive(&bus, &dlq_url, 2, None).await?;
    match dead.first().map(|m| m.body.as_str()) {
        Some("poison") => Ok("moved after 2 receives".into()),
        _ => Err(ProbeError::NotDeadLettered),
    }
}

/// Deletes what the probes made (everything in the throwaway namespace).
async fn cleanup(bus: &Bus) {
    let prefix = format!("{}-", bus.namespace);
    for url in bus.queues(&prefix).await.unwrap_or_default() {
        let _ = bus.delete_queue(&url).await;
    }
    for arn in bus.topics().await.unwrap_or_default() {
        if arn.rsplit(':').next().is_some_and(|n| n.starts_with(&prefix)) {
            let _ = bus.delete_topic(&arn).await;
        }
    }
}
