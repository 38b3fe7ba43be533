//! What the account (or emulator) holds now for one namespace.

use std::collections::BTreeMap;

use aws_sdk_sqs::types::QueueAttributeName;
use kit::bus::{Bus, Namespace};

use super::{NAMESPACE_TAG, ProvisionError, QueueSpec, SubscriptionSpec};

#[derive(Debug, Clone, Default)]
pub struct Current {
    /// Topic name → ARN.
    pub topics: BTreeMap<String, String>,
    pub queues: BTreeMap<String, QueueSpec>,
    pub queue_urls: BTreeMap<String, String>,
    pub subscriptions: Vec<SubscriptionSpec>,
    /// (topic, queue) → subscription ARN.
    pub subscription_arns: BTreeMap<(String, String), String>,
}

/// Reads the resources tagged with `ns`.
pub async fn read_current(bus: &Bus, ns: &Namespace) -> Result<Current, ProvisionError> {
    let mut current = Current::default();
    let prefix = format!("{ns}-");
    let mut pages = bus.sns.list_topics().into_paginator().send();
    while let Some(page) = pages.next().await {
        let page = page.map_err(|e| ProvisionError::aws("ListTopics", "")(&e))?;
        for arn in page.topics.unwrap_or_default().into_iter().filter_map(|t| t.topic_arn) {
            let name = arn.rsplit(':').next().unwrap_or_default().to_owned();
            if !name.starts_with(&prefix) {
                continue;
            }
            let tags = bus
                .sns
                .list_tags_for_resource()
                .resource_arn(&arn)
                .send()
                .await
                .map_err(|e| ProvisionError::aws("ListTagsForResource", &name)(&e))?;
            let ours = tags.tags.unwrap_or_default().iter().any(|t| t.key == NAMESPACE_TAG && t.value == ns.as_str());
            if ours {
                current.topics.insert(name, arn);
            }
        }
    }
    let queues = bus
        .sqs
        .list_queues()
        .queue_name_prefix(&prefix)
        .max_results(1000)
        .send()
        .await
        .map_err(|e| ProvisionError::aws("ListQueues", &prefix)(&e))?;
    let mut arn_to_queue = BTreeMap::new();
    for url in queues.queue_urls.unwrap_or_default() {
        let name = url.rsplit('/').next().unwrap_or_default().to_owned();
        let tags = bus
            .sqs
            .list_queue_tags()
            .queue_url(&url)
            .send()
            .await
            .map_err(|e| ProvisionError::aws("ListQueueTags", &name)(&e))?;
        if tags.tags.unwrap_or_default().get(NAMESPACE_TAG).map(String::as_str) != Some(ns.as_str()) {
            continue;
        }
        let attrs = bus
            .sqs
            .get_queue_attributes()
            .queue_url(&url)
            .attribute_names(QueueAttributeName::All)
            .send()
            .await
            .map_err(|e| ProvisionError::aws("GetQueueAttributes", &name)(&e))?
            .attributes
            .unwrap_or_default();
        let redrive: Option<serde_json::Value> =
            attrs.get(&QueueAttributeName::RedrivePolicy).and_then(|p| serde_json::from_str(p).ok());
        let spec = QueueSpec {
            visibility_timeout_seconds: attrs
                .get(&QueueAttributeName::VisibilityTimeout)
                .and_then(|v| v.parse().ok())
                .unwrap_or(30),
            max_receive_count: redrive.as_ref().and_then(|r| {
                let n = &r["maxReceiveCount"];
                n.as_u64().or_else(|| n.as_str().and_then(|s| s.parse().ok())).map(|n| n as u32)
            }),
            dead_letter: redrive
                .as_ref()
                .and_then(|r| r["deadLetterTargetArn"].as_str())
                .map(|arn| arn.rsplit(':').next().unwrap_or_default().to_owned()),
        };
        if let Some(arn) = attrs.get(&QueueAttributeName::QueueArn) {
            arn_to_queue.insert(arn.clone(), name.clone());
        }
        current.queues.insert(name.clone(), spec);
        current.queue_urls.insert(name, url);
    }
    for (topic, arn) in &current.topics {
        let mut pages = bus.sns.list_subscriptions_by_topic().topic_arn(arn).into_paginator().send();
        while let Some(page) = pages.next().await {
            let page = page.map_err(|e| ProvisionError::aws("ListSubscriptionsByTopic", topic)(&e))?;
            for sub in page.subscriptions.unwrap_or_default() {
                let (Some(sub_arn), Some(endpoint)) = (sub.subscription_arn, sub.endpoint) else { continue };
                let Some(queue) = arn_to_queue.get(&endpoint) else { continue };
                let attrs = bus
                    .sns
                    .get_subscription_attributes()
                    .subscription_arn(&sub_arn)
                    .send()
                    .await
                    .map_err(|e| ProvisionError::aws("GetSubscriptionAttributes", topic)(&e))?
                    .attributes
                    .unwrap_or_default();
                let filter = attrs
                    .get("FilterPolicy")
                    .filter(|f| !f.is_empty())
                    .and_then(|f| serde_json::from_str::<BTreeMap<String, serde_json::Value>>(f).ok())
                    .map(|f| serde_json::to_string(&f).expect("a map of JSON values serialises"));
                current.subscriptions.push(SubscriptionSpec { topic: topic.clone(), queue: queue.clone(), filter });
                current.subscription_arns.insert((topic.clone(), queue.clone()), sub_arn);
            }
        }
    }
    Ok(current)
}
