//! Carrying out a plan.

use futures_util::future::join_all;
use kit::bus::{Bus, Namespace, QueueAttributes};

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
            let arn = bus.create_topic(name, Some((NAMESPACE_TAG, ns.as_str()))).await?;
            return Ok(Effect::Topic(name.clone(), arn));
        }
        Change::CreateQueue { name, spec } => {
            let attributes = queue_attributes(bus, ns, current, spec).await?;
            let url = bus.create_queue(name, &attributes, &[(NAMESPACE_TAG, ns.as_str())]).await?;
            return Ok(Effect::Queue(name.clone(), url));
        }
        Change::UpdateQueue { name, spec, .. } => {
            let attributes = queue_attributes(bus, ns, current, spec).await?;
            bus.set_queue_attributes(url(current, name), &attributes).await?;
        }
        Change::Subscribe { sub } => {
            let topic_arn = current.topics.get(&sub.topic).cloned().unwrap_or_default();
            let endpoint = queue_arn(bus, current, &sub.queue).await?;
            bus.subscribe(&topic_arn, &endpoint, sub.filter.as_deref()).await?;
        }
        Change::UpdateFilter { sub } => {
            bus.set_filter_policy(&sub_arn(current, sub), sub.filter.as_deref().unwrap_or_default()).await?
        }
        Change::Unsubscribe { sub } => bus.unsubscribe(&sub_arn(current, sub)).await?,
        Change::DeleteQueue { name } => bus.delete_queue(url(current, name)).await?,
        Change::DeleteTopic { name } => bus.delete_topic(current.topics.get(name).map_or("", String::as_str)).await?,
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
    Ok(bus.queue_arn(url(current, queue)).await?)
}

/// The attributes of a queue: visibility, redrive to its dead-letter queue,
/// and a policy that lets the namespace's topics deliver to it.
async fn queue_attributes(
    bus: &Bus,
    ns: &Namespace,
    current: &Current,
    spec: &QueueSpec,
) -> Result<QueueAttributes, ProvisionError> {
    let mut attributes = QueueAttributes::new();
    attributes.insert("VisibilityTimeout".into(), spec.visibility_timeout_seconds.to_string());
    if let (Some(dlq), Some(max)) = (&spec.dead_letter, spec.max_receive_count) {
        let target = queue_arn(bus, current, dlq).await?;
        let policy = serde_json::json!({ "deadLetterTargetArn": target, "maxReceiveCount": max });
        attributes.insert("RedrivePolicy".into(), policy.to_string());
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
        attributes.insert("Policy".into(), delivery.to_string());
    }
    Ok(attributes)
}
