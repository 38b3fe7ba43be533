//! Carrying out a plan.

use std::collections::HashMap;

use aws_sdk_sqs::types::QueueAttributeName;
use futures_util::future::join_all;
use kit::bus::{Bus, Namespace};

use super::{Change, Current, NAMESPACE_TAG, ProvisionError, QueueSpec, SubscriptionSpec};

/// Applies `changes` (from `plan`), calling `progress` after each. Changes
/// of one phase (all topics, then dead-letter queues, then the queues that
/// name them, then subscriptions, then removals) go out together: they do
/// not depend on each other, and one at a time is most of `fare up`'s wait.
pub async fn apply(
    bus: &Bus,
    ns: &Namespace,
    mut current: Current,
    changes: &[Change],
    progress: &mut dyn FnMut(&Change),
) -> Result<(), ProvisionError> {
    let mut rest = changes;
    while let Some(first) = rest.first() {
        let n = rest.iter().take_while(|c| phase(c) == phase(first)).count();
        let (batch, tail) = rest.split_at(n);
        let results = join_all(batch.iter().map(|change| perform(bus, ns, &current, change))).await;
        for (change, result) in batch.iter().zip(results) {
            match result? {
                Effect::Topic(name, arn) => {
                    current.topics.insert(name, arn);
                }
                Effect::Queue(name, url) => {
                    current.queue_urls.insert(name, url);
                }
                Effect::None => {}
            }
            progress(change);
        }
        rest = tail;
    }
    Ok(())
}

/// What a change adds to what later phases need to know.
enum Effect {
    Topic(String, String),
    Queue(String, String),
    None,
}

/// The order of phases; `plan` lists changes in this order.
fn phase(change: &Change) -> u8 {
    match change {
        Change::CreateTopic { .. } => 0,
        Change::CreateQueue { spec, .. } | Change::UpdateQueue { spec, .. } if spec.dead_letter.is_none() => 1,
        Change::CreateQueue { .. } | Change::UpdateQueue { .. } => 2,
        Change::Subscribe { .. } | Change::UpdateFilter { .. } => 3,
        Change::Unsubscribe { .. } => 4,
        Change::DeleteQueue { .. } => 5,
        Change::DeleteTopic { .. } => 6,
    }
}

async fn perform(bus: &Bus, ns: &Namespace, current: &Current, change: &Change) -> Result<Effect, ProvisionError> {
    match change {
        Change::CreateTopic { name } => {
            let tag = aws_sdk_sns::types::Tag::builder()
                .key(NAMESPACE_TAG)
                .value(ns.as_str())
                .build()
                .expect("key and value set");
            let out = bus
                .sns
                .create_topic()
                .name(name)
                .tags(tag)
                .send()
                .await
                .map_err(|e| ProvisionError::aws("CreateTopic", name)(&e))?;
            return Ok(Effect::Topic(name.clone(), out.topic_arn.unwrap_or_default()));
        }
        Change::CreateQueue { name, spec } => {
            let attributes = queue_attributes(bus, ns, current, spec).await?;
            let out = bus
                .sqs
                .create_queue()
                .queue_name(name)
                .set_attributes(Some(attributes))
                .tags(NAMESPACE_TAG, ns.as_str())
                .send()
                .await
                .map_err(|e| ProvisionError::aws("CreateQueue", name)(&e))?;
            return Ok(Effect::Queue(name.clone(), out.queue_url.unwrap_or_default()));
        }
        Change::UpdateQueue { name, spec, .. } => {
            let attributes = queue_attributes(bus, ns, current, spec).await?;
            bus.sqs
                .set_queue_attributes()
                .queue_url(url(current, name))
                .set_attributes(Some(attributes))
                .send()
                .await
                .map_err(|e| ProvisionError::aws("SetQueueAttributes", name)(&e))?;
        }
        Change::Subscribe { sub } => subscribe(bus, current, sub).await?,
        Change::UpdateFilter { sub } => {
            let arn = sub_arn(current, sub);
            bus.sns
                .set_subscription_attributes()
                .subscription_arn(arn)
                .attribute_name("FilterPolicy")
                .attribute_value(sub.filter.clone().unwrap_or_default())
                .send()
                .await
                .map_err(|e| ProvisionError::aws("SetSubscriptionAttributes", &sub.topic)(&e))?;
        }
        Change::Unsubscribe { sub } => {
            bus.sns
                .unsubscribe()
                .subscription_arn(sub_arn(current, sub))
                .send()
                .await
                .map_err(|e| ProvisionError::aws("Unsubscribe", &sub.topic)(&e))?;
        }
        Change::DeleteQueue { name } => {
            bus.sqs
                .delete_queue()
                .queue_url(url(current, name))
                .send()
                .await
                .map_err(|e| ProvisionError::aws("DeleteQueue", name)(&e))?;
        }
        Change::DeleteTopic { name } => {
            let arn = current.topics.get(name).cloned().unwrap_or_default();
            bus.sns
                .delete_topic()
                .topic_arn(arn)
                .send()
                .await
                .map_err(|e| ProvisionError::aws("DeleteTopic", name)(&e))?;
        }
    }
    Ok(Effect::None)
}

fn url<'a>(current: &'a Current, queue: &str) -> &'a str {
    current.queue_urls.get(queue).map(String::as_str).unwrap_or_default()
}

fn sub_arn(current: &Current, sub: &SubscriptionSpec) -> String {
    current.subscription_arns.get(&(sub.topic.clone(), sub.queue.clone())).cloned().unwrap_or_default()
}

async fn queue_arn(bus: &Bus, current: &Current, queue: &str) -> Result<String, ProvisionError> {
    bus.queue_arn(url(current, queue)).await.map_err(|e| ProvisionError::aws("GetQueueAttributes", queue)(&e))
}

/// The attributes of a queue: visibility, redrive to its dead-letter queue,
/// and a policy that lets the namespace's topics deliver to it.
async fn queue_attributes(
    bus: &Bus,
    ns: &Namespace,
    current: &Current,
    spec: &QueueSpec,
) -> Result<HashMap<QueueAttributeName, String>, ProvisionError> {
    let mut attributes = HashMap::new();
    attributes.insert(QueueAttributeName::VisibilityTimeout, spec.visibility_timeout_seconds.to_string());
    if let (Some(dlq), Some(max)) = (&spec.dead_letter, spec.max_receive_count) {
        let target = queue_arn(bus, current, dlq).await?;
        let policy = serde_json::json!({ "deadLetterTargetArn": target, "maxReceiveCount": max });
        attributes.insert(QueueAttributeName::RedrivePolicy, policy.to_string());
        let delivery = serde_json::json!({
            "Version": "2012-10-17",
            "Statement": [{
                "Sid": format!("{ns}-topics-deliver"),
                "Effect": "Allow",
                "Principal": { "Service": "sns.amazonaws.com" },
                "Action": "sqs:SendMessage",
                "Resource": "*",
                "Condition": { "ArnLike": { "aws:SourceArn": format!("arn:aws:sns:*:*:{ns}-*") } }
            }]
        });
        attributes.insert(QueueAttributeName::Policy, delivery.to_string());
    }
    Ok(attributes)
}

async fn subscribe(bus: &Bus, current: &Current, sub: &SubscriptionSpec) -> Result<(), ProvisionError> {
    let topic_arn = current.topics.get(&sub.topic).cloned().unwrap_or_default();
    let endpoint = queue_arn(bus, current, &sub.queue).await?;
    let mut req = bus
        .sns
        .subscribe()
        .topic_arn(topic_arn)
        .protocol("sqs")
        .endpoint(endpoint)
        .attributes("RawMessageDelivery", "true");
    if let Some(filter) = &sub.filter {
        req = req.attributes("FilterPolicy", filter);
    }
    req.send().await.map_err(|e| ProvisionError::aws("Subscribe", &sub.topic)(&e))?;
    Ok(())
}
