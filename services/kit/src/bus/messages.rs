//! Reading and writing a queue's messages from outside a service: the
//! harness's taps and dead-letter peeks, the probe suite, tests. A
//! service's own loop is [`super::Consumer`].

use std::collections::BTreeMap;

use aws_sdk_sqs::types::{
    BatchResultErrorEntry, ChangeMessageVisibilityBatchRequestEntry, DeleteMessageBatchRequestEntry,
    MessageAttributeValue, MessageSystemAttributeName,
};

use super::Bus;
use super::aws::{AwsError, name_of};

/// One message as a queue handed it out.
#[derive(Debug, Clone)]
pub struct Message {
    pub message_id: String,
    pub body: String,
    /// Its string message attributes: `event_type`, `correlation_id`, `traceparent`...
    pub attributes: BTreeMap<String, String>,
    /// How often SQS has handed it out, this time included.
    pub receive_count: u32,
    receipt: String,
}

/// How one receive asks.
#[derive(Debug, Clone, Copy)]
pub struct Receive {
    /// At most this many messages (SQS allows 1 to 10).
    pub max: i32,
    /// Long poll: wait up to this long for a first message.
    pub wait_seconds: i32,
    /// How long the messages stay hidden; `Some(0)` peeks (they stay
    /// visible); `None` keeps the queue's own timeout.
    pub visibility_seconds: Option<i32>,
}

impl Default for Receive {
    fn default() -> Receive {
        Receive { max: 10, wait_seconds: 1, visibility_seconds: None }
    }
}

impl Bus {
    /// Receives from the queue at `url`, with every message attribute and
    /// the receive count.
    pub async fn receive(&self, url: &str, how: Receive) -> Result<Vec<Message>, AwsError> {
        let out = self
            .sqs
            .receive_message()
            .queue_url(url)
            .max_number_of_messages(how.max)
            .wait_time_seconds(how.wait_seconds)
            .set_visibility_timeout(how.visibility_seconds)
            .message_attribute_names("All")
            .message_system_attribute_names(MessageSystemAttributeName::ApproximateReceiveCount)
            .send()
            .await
            .map_err(AwsError::of("ReceiveMessage", name_of(url)))?;
        Ok(out.messages.unwrap_or_default().into_iter().map(message).collect())
    }

    /// Deletes `messages`, received from the queue at `url`.
    pub async fn delete(&self, url: &str, messages: &[Message]) -> Result<(), AwsError> {
        for batch in messages.chunks(10) {
            let entries = batch.iter().enumerate().map(|(i, m)| {
                DeleteMessageBatchRequestEntry::builder().id(i.to_string()).receipt_handle(&m.receipt).build()
            });
            let entries =
                entries.collect::<Result<Vec<_>, _>>().map_err(AwsError::of("DeleteMessageBatch", name_of(url)))?;
            let out = self
                .sqs
                .delete_message_batch()
                .queue_url(url)
                .set_entries(Some(entries))
                .send()
                .await
                .map_err(AwsError::of("DeleteMessageBatch", name_of(url)))?;
            refused("DeleteMessageBatch", url, &out.failed)?;
        }
        Ok(())
    }

    /// Makes `messages`, received from the queue at `url` and hidden since,
    /// visible again at once: a reader that only looked leaves the queue
    /// as others see it.
    pub async fn release(&self, url: &str, messages: &[Message]) -> Result<(), AwsError> {
        for batch in messages.chunks(10) {
            let entries = batch.iter().enumerate().map(|(i, m)| {
                ChangeMessageVisibilityBatchRequestEntry::builder()
                    .id(i.to_string())
                    .receipt_handle(&m.receipt)
                    .visibility_timeout(0)
                    .build()
            });
            let entries = entries
                .collect::<Result<Vec<_>, _>>()
                .map_err(AwsError::of("ChangeMessageVisibilityBatch", name_of(url)))?;
            let out = self
                .sqs
                .change_message_visibility_batch()
                .queue_url(url)
                .set_entries(Some(entries))
                .send()
                .await
                .map_err(AwsError::of("ChangeMessageVisibilityBatch", name_of(url)))?;
            refused("ChangeMessageVisibilityBatch", url, &out.failed)?;
        }
        Ok(())
    }

    /// Puts `body` on the queue at `url` with string message `attributes`;
    /// answers the message id.
    pub async fn send(&self, url: &str, body: &str, attributes: &[(&str, &str)]) -> Result<String, AwsError> {
        let mut request = self.sqs.send_message().queue_url(url).message_body(body);
        for (key, value) in attributes {
            let value = MessageAttributeValue::builder()
                .data_type("String")
                .string_value(*value)
                .build()
                .map_err(AwsError::of("SendMessage", name_of(url)))?;
            request = request.message_attributes(*key, value);
        }
        let out = request.send().await.map_err(AwsError::of("SendMessage", name_of(url)))?;
        Ok(out.message_id.unwrap_or_default())
    }
}

/// The first entry of a batch call `op` on the queue at `url` that SQS
/// refused, as an error; `Ok` when it refused none.
fn refused(op: &'static str, url: &str, failed: &[BatchResultErrorEntry]) -> Result<(), AwsError> {
    match failed.first() {
        Some(f) => Err(AwsError::of(op, name_of(url))(Refused {
            code: f.code.clone(),
            reason: f.message.clone().unwrap_or_default(),
        })),
        None => Ok(()),
    }
}

/// One entry of a batch that SQS refused, in its own words.
#[derive(Debug, thiserror::Error)]
#[error("{code}: {reason}")]
pub struct Refused {
    pub code: String,
    pub reason: String,
}

fn message(m: aws_sdk_sqs::types::Message) -> Message {
    let receive_count = m
        .attributes
        .as_ref()
        .and_then(|a| a.get(&MessageSystemAttributeName::ApproximateReceiveCount))
        .and_then(|n| n.parse().ok())
        .unwrap_or(0);
    let attributes = m
        .message_attributes
        .unwrap_or_default()
        .into_iter()
        .filter_map(|(k, v)| v.string_value.map(|v| (k, v)))
        .collect();
    Message {
        message_id: m.message_id.unwrap_or_default(),
        body: m.body.unwrap_or_default(),
        attributes,
        receive_count,
        receipt: m.receipt_handle.unwrap_or_default(),
    }
}
