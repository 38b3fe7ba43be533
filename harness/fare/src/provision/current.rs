//! What the account (or emulator) holds now for one namespace.

use std::collections::BTreeMap;

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
    for arn in bus.topics().await? {
        let name = arn.rsplit(':').next().unwrap_or_default().to_owned();
        if !name.starts_with(&prefix) {
            continue;
        }
        if bus.topic_tags(&arn).await?.get(NAMESPACE_TAG).map(String::as_str) == Some(ns.as_str()) {
            current.topics.insert(name, arn);
        }
    }
    let mut arn_to_queue = BTreeMap::new();
    for url in bus.queues(&prefix).await? {
        let name = url.rsplit('/').next().unwrap_or_default().to_owned();
        if bus.queue_tags(&url).await?.get(NAMESPACE_TAG).map(String::as_str) != Some(ns.as_str()) {
            continue;
        }
        let attrs = bus.queue_attributes(&url).await?;
        let redrive: Option<serde_json::Value> = attrs.get("RedrivePolicy").and_then(|p| serde_json::from_str(p).ok());
        let spec = QueueSpec {
            visibility_timeout_seconds: attrs.get("VisibilityTimeout").and_then(|v| v.parse().ok()).unwrap_or(30),
            max_receive_count: redrive.as_ref().and_then(|r| {
                let n = &r["maxReceiveCount"];
                n.as_u64().or_else(|| n.as_str().and_then(|s| s.parse().ok())).map(|n| n as u32)
            }),
            dead_letter: redrive
                .as_ref()
                .and_then(|r| r["deadLetterTargetArn"].as_str())
                .map(|arn| arn.rsplit(':').next().unwrap_or_default().to_owned()),
        };
        if let Some(arn) = attrs.get("QueueArn") {
            arn_to_queue.insert(arn.clone(), name.clone());
        }
        current.queues.insert(name.clone(), spec);
        current.queue_urls.insert(name, url);
    }
    for (topic, arn) in &current.topics {
        for sub in bus.subscriptions(arn).await? {
            let Some(queue) = arn_to_queue.get(&sub.endpoint) else { continue };
            let filter = bus
                .filter_policy(&sub.arn)
                .await?
                .and_then(|f| serde_json::from_str::<BTreeMap<String, serde_json::Value>>(&f).ok())
                .map(|f| serde_json::to_string(&f).expect("a map of JSON values serialises"));
            current.subscriptions.push(SubscriptionSpec { topic: topic.clone(), queue: queue.clone(), filter });
            current.subscription_arns.insert((topic.clone(), queue.clone()), sub.arn);
        }
    }
    Ok(current)
}
