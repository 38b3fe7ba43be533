//! A tap: a queue of the harness's own, subscribed to topics, that sees
//! what the services publish exactly as a listener does (raw body, message
//! attributes, filter policy). The recorder, the fault injector, the
//! contract capture and the service tests all tap through this one type.
//!
//! A tap carries no namespace tag: provisioning neither counts nor removes
//! it, and waiting for quiet does not wait on it.

use super::aws::AwsError;
use super::messages::{Message, Receive};
use super::{Bus, Depth};

/// A queue subscribed to topics, removed with [`TapQueue::remove`].
#[derive(Debug)]
pub struct TapQueue {
    bus: Bus,
    url: String,
    subscriptions: Vec<String>,
}

impl TapQueue {
    /// Creates the queue `name` and subscribes it to each of `topics`
    /// (created if missing, as a publisher may not have made them yet),
    /// with `filter` as the subscriptions' filter policy when given.
    pub async fn create(bus: &Bus, name: &str, topics: &[String], filter: Option<&str>) -> Result<TapQueue, AwsError> {
        let mut topic_arns = Vec::new();
        for topic in topics {
            topic_arns.push(bus.create_topic(topic, None).await?);
        }
        TapQueue::create_on(bus, name, &topic_arns, filter).await
    }

    /// Creates the queue `name` and subscribes it to topics that exist, by
    /// ARN, creating none: for an environment the harness does not own,
    /// where it may add its tap but nothing else.
    pub async fn create_on(
        bus: &Bus,
        name: &str,
        topic_arns: &[String],
        filter: Option<&str>,
    ) -> Result<TapQueue, AwsError> {
        let url = bus.create_queue(name, &Default::default(), &[]).await?;
        let mut tap = TapQueue { bus: bus.clone(), url, subscriptions: Vec::new() };
        let created = tap.subscribe(topic_arns, filter).await;
        match created {
            Ok(()) => Ok(tap),
            Err(e) => {
                tap.remove().await;
                Err(e)
            }
        }
    }

    async fn subscribe(&mut self, topic_arns: &[String], filter: Option<&str>) -> Result<(), AwsError> {
        let arn = self.bus.queue_arn(&self.url).await?;
        // Real SNS delivers to a queue only if the queue's policy lets the
        // topic send; emulators deliver either way.
        let policy = serde_json::json!({"Statement": [{"Effect": "Allow", "Principal": {"Service": "sns.amazonaws.com"},
            "Action": "sqs:SendMessage", "Resource": arn, "Condition": {"ArnEquals": {"aws:SourceArn": topic_arns}}}]});
        let attributes = [("Policy".to_owned(), policy.to_string())].into();
        self.bus.set_queue_attributes(&self.url, &attributes).await?;
        for topic_arn in topic_arns {
            self.subscriptions.push(self.bus.subscribe(topic_arn, &arn, filter).await?);
        }
        Ok(())
    }

    pub fn url(&self) -> &str {
        &self.url
    }

    /// Up to 10 messages, waiting up to `wait_seconds` for the first. They
    /// stay on the queue, hidden, until [`TapQueue::ack`]ed.
    pub async fn receive(&self, wait_seconds: i32) -> Result<Vec<Message>, AwsError> {
        self.bus.receive(&self.url, Receive { wait_seconds, ..Receive::default() }).await
    }

    /// Deletes `messages`: taken for good.
    pub async fn ack(&self, messages: &[Message]) -> Result<(), AwsError> {
        self.bus.delete(&self.url, messages).await
    }

    /// Every message on the queue, taken, until a one-second poll comes back empty.
    pub async fn drain(&self) -> Result<Vec<Message>, AwsError> {
        let mut all = Vec::new();
        loop {
            let batch = self.receive(1).await?;
            if batch.is_empty() {
                return Ok(all);
            }
            self.ack(&batch).await?;
            all.extend(batch);
        }
    }

    /// What the queue holds now: messages not yet taken.
    pub async fn depth(&self) -> Result<Depth, AwsError> {
        self.bus.depth(&self.url).await
    }

    /// Unsubscribes and deletes the queue. Best effort: a tap left behind
    /// holds nothing anyone reads, so a failure is logged, not returned.
    pub async fn remove(self) {
        for subscription in &self.subscriptions {
            if let Err(e) = self.bus.unsubscribe(subscription).await {
                tracing::warn!(error = %crate::error_chain(&e), "removing a tap's subscription");
            }
        }
        if let Err(e) = self.bus.delete_queue(&self.url).await {
            tracing::warn!(error = %crate::error_chain(&e), "removing a tap queue");
        }
    }
}
