//! The SQS consumer loop: long polling, bounded concurrency, delete only
//! after the handler succeeded, retry by visibility timeout with backoff,
//! and the queue's redrive policy as the only way a message leaves unhandled.
//!
//! A message that failed for now is never deleted: its visibility timeout is
//! set to the retry delay, SQS redelivers it, and after `maxReceiveCount`
//! receives SQS moves it to the dead-letter queue. A message that can never
//! be handled (malformed, rejected by the handler) is moved to the
//! dead-letter queue at once, with the reason in a `fare_rejection`
//! attribute, so a refusal is not repeated `maxReceiveCount` times against a
//! third party.
//!
//! While a handler runs, the consumer extends the message's visibility
//! every third of the queue's visibility timeout (a heartbeat): a slow
//! success is neither handed to a second handler at the same time nor
//! counted towards `maxReceiveCount`.
//!
//! Before each handler call the consumer asks the fault hook
//! ([`crate::faults`]), which only fare can turn on, whether to inject a
//! fault into this delivery.

use std::future::Future;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use aws_sdk_sqs::types::{Message, MessageAttributeValue, MessageSystemAttributeName, QueueAttributeName};
use tokio::sync::Semaphore;
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;
use tracing::{Instrument, field};

use super::Bus;
use crate::backoff::Backoff;
use crate::envelope::Envelope;
use crate::faults::{Faults, Injected};

pub type BoxError = Box<dyn std::error::Error + Send + Sync + 'static>;

/// Why a handler did not finish an event.
#[derive(Debug, thiserror::Error)]
pub enum HandleError {
    /// Worth another try later (a dependency is down, the database is busy).
    #[error("{0}")]
    Retry(#[source] BoxError),
    /// Never going to work (the data does not fit the schema, an unknown
    /// event type): straight on to the dead-letter queue.
    #[error("{0}")]
    Reject(#[source] BoxError),
}

impl HandleError {
    pub fn retry(e: impl Into<BoxError>) -> HandleError {
        HandleError::Retry(e.into())
    }

    pub fn reject(e: impl Into<BoxError>) -> HandleError {
        HandleError::Reject(e.into())
    }
}

impl From<crate::store::StoreError> for HandleError {
    fn from(e: crate::store::StoreError) -> Self {
        HandleError::retry(e)
    }
}

impl From<crate::envelope::EnvelopeError> for HandleError {
    fn from(e: crate::envelope::EnvelopeError) -> Self {
        HandleError::reject(e)
    }
}

/// What a service does with the events on its queue.
pub trait Handler: Send + Sync + 'static {
    fn handle(&self, event: Envelope) -> impl Future<Output = Result<(), HandleError>> + Send;
}

#[derive(Debug, Clone)]
pub struct ConsumerOptions {
    /// The queue's name (not URL); resolved at start and retried until found.
    pub queue: String,
    /// Messages handled at once.
    pub max_in_flight: usize,
    /// Long-poll wait. Shutdown waits for the current poll, so keep it short.
    pub wait_seconds: i32,
    /// The first retry's delay; each further attempt doubles it.
    pub retry_base_seconds: i32,
    pub retry_max_seconds: i32,
}

impl ConsumerOptions {
    pub fn new(queue: impl Into<String>) -> ConsumerOptions {
        ConsumerOptions {
            queue: queue.into(),
            max_in_flight: 8,
            wait_seconds: 2,
            retry_base_seconds: 1,
            retry_max_seconds: 30,
        }
    }

    /// The visibility timeout after failed attempt number `attempt`, in seconds.
    fn retry_delay(&self, attempt: u32) -> i32 {
        let seconds = |s: i32| Duration::from_secs(u64::try_from(s).unwrap_or(0));
        let backoff = Backoff::new(seconds(self.retry_base_seconds), seconds(self.retry_max_seconds));
        i32::try_from(backoff.delay(attempt).as_secs()).unwrap_or(i32::MAX)
    }
}

/// What readiness reports about the consumer.
#[derive(Debug, Default)]
pub struct ConsumerHealth {
    receiving: AtomicBool,
    handling: AtomicU64,
    last_error: Mutex<Option<String>>,
}

impl ConsumerHealth {
    /// `Ok` once the last receive succeeded; else the last error.
    // Text, not a typed error: it is what readiness shows as its `queue`
    // check, kept from the last failed receive.
    pub fn status(&self) -> Result<(), String> {
        if self.receiving.load(Ordering::Relaxed) {
            return Ok(());
        }
        let last = self.last_error.lock().unwrap_or_else(|p| p.into_inner()).clone();
        Err(last.unwrap_or_else(|| "not receiving yet".into()))
    }

    /// Messages received and not yet finished.
    pub fn handling(&self) -> u64 {
        self.handling.load(Ordering::Relaxed)
    }

    fn ok(&self) {
        self.receiving.store(true, Ordering::Relaxed);
    }

    fn failed(&self, error: String) {
        self.receiving.store(false, Ordering::Relaxed);
        *self.last_error.lock().unwrap_or_else(|p| p.into_inner()) = Some(error);
    }
}

/// One message in hand, counted in [`ConsumerHealth::handling`] until
/// dropped, which happens even if its task panics: a count that never came
/// down would keep the platform from ever looking quiet.
struct Handling(Arc<ConsumerHealth>);

impl Handling {
    fn start(health: Arc<ConsumerHealth>) -> Handling {
        health.handling.fetch_add(1, Ordering::Relaxed);
        Handling(health)
    }
}

impl Drop for Handling {
    fn drop(&mut self) {
        self.0.handling.fetch_sub(1, Ordering::Relaxed);
    }
}

/// A consumer bound to a bus and a queue.
pub struct Consumer<H> {
    bus: Bus,
    options: ConsumerOptions,
    handler: Arc<H>,
    health: Arc<ConsumerHealth>,
    faults: Arc<Faults>,
}

struct Queue {
    name: String,
    url: String,
    max_receive_count: Option<u32>,
    dead_letter_url: Option<String>,
    /// The queue's own visibility timeout, which the heartbeat renews.
    visibility_seconds: i32,
}

/// SQS's default visibility timeout, for a queue that does not say.
const DEFAULT_VISIBILITY_SECONDS: i32 = 30;

impl<H: Handler> Consumer<H> {
    pub fn new(bus: Bus, options: ConsumerOptions, handler: H) -> Consumer<H> {
        Consumer { bus, options, handler: Arc::new(handler), health: Arc::default(), faults: Faults::inherited() }
    }

    /// Consults `faults` instead of the hook fare handed this process (if any).
    pub fn with_faults(mut self, faults: Arc<Faults>) -> Consumer<H> {
        self.faults = faults;
        self
    }

    pub fn health(&self) -> Arc<ConsumerHealth> {
        self.health.clone()
    }

    /// Polls until `shutdown`, then finishes the messages already received.
    pub async fn run(self, shutdown: CancellationToken) {
        let Some(queue) = self.resolve(&shutdown).await else { return };
        let queue = Arc::new(queue);
        let slots = Arc::new(Semaphore::new(self.options.max_in_flight.max(1)));
        let mut tasks = JoinSet::new();
        let mut backoff = super::RECONNECT.failures();
        loop {
            while tasks.try_join_next().is_some() {}
            let first = tokio::select! {
                permit = slots.clone().acquire_owned() => permit.expect("the semaphore is never closed"),
                _ = shutdown.cancelled() => break,
            };
            if shutdown.is_cancelled() {
                break;
            }
            let batch = (1 + slots.available_permits()).min(10) as i32;
            // The poll is awaited, not cancelled, on shutdown: a message SQS
            // handed out is handled now rather than hidden until its
            // visibility timeout runs out.
            let received = self
                .bus
                .sqs
                .receive_message()
                .queue_url(&queue.url)
                .max_number_of_messages(batch)
                .wait_time_seconds(self.options.wait_seconds)
                .message_system_attribute_names(MessageSystemAttributeName::ApproximateReceiveCount)
                .message_attribute_names("All")
                .send()
                .await;
            let messages = match received {
                Ok(out) => {
                    self.health.ok();
                    backoff.reset();
                    out.messages.unwrap_or_default()
                }
                Err(e) => {
                    let error = crate::error_chain(&e);
                    tracing::warn!(queue = %queue.name, error, "receive failed; backing off");
                    self.health.failed(error);
                    drop(first);
                    backoff.sleep(&shutdown).await;
                    continue;
                }
            };
            let mut first = Some(first);
            for message in messages {
                let permit = match first.take() {
                    Some(p) => p,
                    None => slots.clone().acquire_owned().await.expect("the semaphore is never closed"),
                };
                let delivery = Delivery {
                    bus: self.bus.clone(),
                    queue: queue.clone(),
                    options: self.options.clone(),
                    faults: self.faults.clone(),
                };
                let handler = self.handler.clone();
                let handling = Handling::start(self.health.clone());
                tasks.spawn(async move {
                    delivery.process(&*handler, message).await;
                    drop(handling);
                    drop(permit);
                });
            }
        }
        while tasks.join_next().await.is_some() {}
        tracing::info!(queue = %queue.name, "consumer stopped");
    }

    async fn resolve(&self, shutdown: &CancellationToken) -> Option<Queue> {
        let mut backoff = super::RECONNECT.failures();
        loop {
            match self.queue().await {
                Ok(queue) => {
                    // The queue answered: ready, without waiting for the
                    // first long poll to come back empty.
                    self.health.ok();
                    return Some(queue);
                }
                Err(e) => {
                    let error = crate::error_chain(&e);
                    tracing::warn!(queue = %self.options.queue, error, "queue not available yet");
                    self.health.failed(error);
                }
            }
            if !backoff.sleep(shutdown).await {
                return None;
            }
        }
    }

    async fn queue(&self) -> Result<Queue, super::BusError> {
        let url = self.bus.queue_url(&self.options.queue).await?;
        let attrs = self
            .bus
            .sqs
            .get_queue_attributes()
            .queue_url(&url)
            .attribute_names(QueueAttributeName::RedrivePolicy)
            .attribute_names(QueueAttributeName::VisibilityTimeout)
            .send()
            .await
            .map_err(super::AwsError::of("GetQueueAttributes", &self.options.queue))?;
        let attrs = attrs.attributes.unwrap_or_default();
        let visibility_seconds = attrs
            .get(&QueueAttributeName::VisibilityTimeout)
            .and_then(|v| v.parse().ok())
            .unwrap_or(DEFAULT_VISIBILITY_SECONDS);
        let policy = attrs
            .get(&QueueAttributeName::RedrivePolicy)
            .cloned()
            .and_then(|policy| serde_json::from_str::<serde_json::Value>(&policy).ok())
            .unwrap_or_default();
        let max_receive_count = policy["maxReceiveCount"]
            .as_u64()
            .or_else(|| policy["maxReceiveCount"].as_str().and_then(|s| s.parse().ok()))
            .map(|n| n as u32);
        let dead_letter_url = match policy["deadLetterTargetArn"].as_str().and_then(|arn| arn.rsplit(':').next()) {
            Some(name) => Some(self.bus.queue_url(name).await?),
            None => {
                tracing::warn!(queue = %self.options.queue, "queue has no redrive policy: a failing message will be retried forever");
                None
            }
        };
        Ok(Queue { name: self.options.queue.clone(), url, max_receive_count, dead_letter_url, visibility_seconds })
    }
}

/// One received message on its way through the handler.
struct Delivery {
    bus: Bus,
    queue: Arc<Queue>,
    options: ConsumerOptions,
    faults: Arc<Faults>,
}

impl Delivery {
    async fn process<H: Handler>(&self, handler: &H, message: Message) {
        let message_id = message.message_id.clone().unwrap_or_default();
        let attempt: u32 = message
            .attributes
            .as_ref()
            .and_then(|a| a.get(&MessageSystemAttributeName::ApproximateReceiveCount))
            .and_then(|n| n.parse().ok())
            .unwrap_or(1);
        let traceparent =
            message.message_attributes.as_ref().and_then(|a| a.get("traceparent")).and_then(|v| v.string_value.clone());
        let span = tracing::info_span!(
            "handle",
            queue = %self.queue.name,
            message_id,
            attempt,
            event_type = field::Empty,
            event_id = field::Empty,
            correlation_id = field::Empty,
        );
        crate::telemetry::adopt_parent(&span, traceparent.as_deref());
        let body = message.body.as_deref().unwrap_or_default();
        let receipt = message.receipt_handle.clone().unwrap_or_default();
        let outcome = match Envelope::from_json(body) {
            Ok(event) => {
                span.record("event_type", event.event_type.as_str());
                span.record("event_id", event.id.to_string());
                span.record("correlation_id", event.correlation_id.as_str());
                let injected = self.faults.decide(&event, attempt);
                let handled = handle(handler, event, injected).instrument(span.clone());
                self.with_heartbeat(&receipt, handled).instrument(span.clone()).await
            }
            Err(e) => Err(HandleError::reject(e)),
        };
        // The outcome is settled inside the span too, as a future: a guard
        // from `span.enter()` held across an await would leave the span
        // entered on whichever thread the task last ran on.
        self.settle(outcome, attempt, &message, &receipt).instrument(span).await
    }

    /// Runs `work`, keeping the message invisible to other receivers for as
    /// long as it runs.
    async fn with_heartbeat<T>(&self, receipt: &str, work: impl Future<Output = T>) -> T {
        let timeout = self.queue.visibility_seconds.max(1);
        let every = Duration::from_millis(timeout as u64 * 1000 / 3);
        let mut work = std::pin::pin!(work);
        loop {
            tokio::select! {
                done = &mut work => return done,
                _ = tokio::time::sleep(every) => {
                    tracing::debug!("still handling: visibility extended by {timeout}s");
                    self.set_visibility(receipt, timeout).await;
                }
            }
        }
    }

    async fn settle(&self, outcome: Result<(), HandleError>, attempt: u32, message: &Message, receipt: &str) {
        let last = self.queue.max_receive_count.is_some_and(|max| attempt >= max);
        match outcome {
            Ok(()) => {
                if let Err(e) =
                    self.bus.sqs.delete_message().queue_url(&self.queue.url).receipt_handle(receipt).send().await
                {
                    // The effect is committed and deduplicated, so the
                    // redelivery this causes is harmless.
                    tracing::warn!(
                        error = crate::error_chain(&e),
                        "handled, but delete failed; it will be redelivered"
                    );
                } else {
                    tracing::debug!("handled");
                }
            }
            Err(HandleError::Retry(e)) => {
                let delay = self.options.retry_delay(attempt);
                if last {
                    tracing::error!(error = %e, "attempt {attempt} failed, the last: the queue moves it to the dead-letter queue");
                } else {
                    tracing::warn!(error = %e, "attempt {attempt} failed; retrying in {delay}s");
                }
                self.set_visibility(receipt, delay).await;
            }
            Err(HandleError::Reject(e)) => {
                let reason = crate::error_chain(e.as_ref());
                if self.dead_letter(message, receipt, &reason).await {
                    tracing::error!(error = reason, "rejected (attempt {attempt}): moved to the dead-letter queue");
                } else {
                    // Without a dead-letter queue to move it to, the redrive
                    // policy takes it after a few quick receives.
                    tracing::error!(error = reason, "rejected (attempt {attempt}): it goes to the dead-letter queue");
                    self.set_visibility(receipt, 0).await;
                }
            }
        }
    }

    /// Moves `message` to the dead-letter queue now; `false` if it could not.
    async fn dead_letter(&self, message: &Message, receipt: &str, reason: &str) -> bool {
        let Some(dlq) = &self.queue.dead_letter_url else { return false };
        let mut attributes = message.message_attributes.clone().unwrap_or_default();
        let reason: String = reason.chars().take(1024).collect();
        if let Ok(value) = MessageAttributeValue::builder().data_type("String").string_value(reason).build() {
            attributes.insert("fare_rejection".to_owned(), value);
        }
        let sent = self
            .bus
            .sqs
            .send_message()
            .queue_url(dlq)
            .message_body(message.body.clone().unwrap_or_default())
            .set_message_attributes(Some(attributes))
            .send()
            .await;
        if let Err(e) = sent {
            tracing::warn!(error = crate::error_chain(&e), "could not move the message to the dead-letter queue");
            return false;
        }
        // If this delete fails the message comes back, is rejected again and
        // lands in the dead-letter queue twice: better than lost.
        if let Err(e) = self.bus.sqs.delete_message().queue_url(&self.queue.url).receipt_handle(receipt).send().await {
            tracing::warn!(
                error = crate::error_chain(&e),
                "moved to the dead-letter queue, but the original was not deleted"
            );
        }
        true
    }

    async fn set_visibility(&self, receipt: &str, seconds: i32) {
        let result = self
            .bus
            .sqs
            .change_message_visibility()
            .queue_url(&self.queue.url)
            .receipt_handle(receipt)
            .visibility_timeout(seconds)
            .send()
            .await;
        if let Err(e) = result {
            tracing::warn!(
                error = crate::error_chain(&e),
                "could not change visibility; the queue's own timeout applies"
            );
        }
    }
}

/// Runs `handler` on `event`, with the fault fare's hook decided, if any.
async fn handle<H: Handler>(handler: &H, event: Envelope, injected: Option<Injected>) -> Result<(), HandleError> {
    let Some(fault) = injected else { return handler.handle(event).await };
    let what = format!("{fault} on {} {}", event.event_type, event.id);
    match fault {
        Injected::Fail { .. } => {
            tracing::warn!("fault injected: {what}");
            Err(HandleError::retry(format!("fault injected by fare: {what}")))
        }
        Injected::Delay(delay) => {
            tracing::warn!("fault injected: {what}");
            tokio::time::sleep(delay).await;
            handler.handle(event).await
        }
        Injected::DropFollowUp => {
            tracing::warn!("fault injected: {what}: the events it causes are not published");
            handler.handle(event).await
        }
        Injected::Crash => {
            let outcome = handler.handle(event).await;
            tracing::warn!(handled = outcome.is_ok(), "fault injected: {what}: exiting before the message is deleted");
            crate::faults::crash()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retry_delay_doubles_up_to_the_cap() {
        let o = ConsumerOptions { retry_base_seconds: 1, retry_max_seconds: 5, ..ConsumerOptions::new("q") };
        let delays: Vec<i32> = (1..=5).map(|n| o.retry_delay(n)).collect();
        assert_eq!(delays, [1, 2, 4, 5, 5]);
        let zero = ConsumerOptions { retry_base_seconds: 0, ..ConsumerOptions::new("q") };
        assert_eq!(zero.retry_delay(3), 0);
    }
}
