//! Topics, queues and subscriptions themselves: creating, listing, tagging
//! and removing them. The provisioner, the probe suite, the harness's taps
//! and the tests call these; nothing outside the kit holds an SDK client.

use std::collections::BTreeMap;

use aws_sdk_sqs::types::QueueAttributeName;

use super::Bus;
use super::aws::{AwsError, name_of};

/// One subscription of a topic.
#[derive(Debug, Clone)]
pub struct Subscription {
    pub arn: String,
    /// What it delivers to: a queue's ARN, for the platform's.
    pub endpoint: String,
}

/// Queue attributes by their AWS names (`VisibilityTimeout`, `RedrivePolicy`, ...).
pub type QueueAttributes = BTreeMap<String, String>;

impl Bus {
    /// Creates the topic `name` (or finds it: SNS answers the same ARN),
    /// tagged with `tag` if given; answers its ARN.
    pub async fn create_topic(&self, name: &str, tag: Option<(&str, &str)>) -> Result<String, AwsError> {
        let mut request = self.sns.create_topic().name(name);
        if let Some((key, value)) = tag {
            let tag = aws_sdk_sns::types::Tag::builder()
                .key(key)
                .value(value)
                .build()
                .map_err(AwsError::of("CreateTopic", name))?;
            request = request.tags(tag);
        }
        let out = request.send().await.map_err(AwsError::of("CreateTopic", name))?;
        out.topic_arn.ok_or_else(|| AwsError::missing("CreateTopic", name, "TopicArn"))
    }

    /// The ARNs of every topic of the account.
    pub async fn topics(&self) -> Result<Vec<String>, AwsError> {
        let mut arns = Vec::new();
        let mut pages = self.sns.list_topics().into_paginator().send();
        while let Some(page) = pages.next().await {
            let page = page.map_err(AwsError::of("ListTopics", ""))?;
            arns.extend(page.topics.unwrap_or_default().into_iter().filter_map(|t| t.topic_arn));
        }
        Ok(arns)
    }

    /// The ARN of the topic `name`, if it exists.
    pub async fn topic_arn(&self, name: &str) -> Result<Option<String>, AwsError> {
        Ok(self.topics().await?.into_iter().find(|arn| name_of(arn) == name))
    }

    pub async fn topic_tags(&self, arn: &str) -> Result<BTreeMap<String, String>, AwsError> {
        let out = self
            .sns
            .list_tags_for_resource()
            .resource_arn(arn)
            .send()
            .await
            .map_err(AwsError::of("ListTagsForResource", name_of(arn)))?;
        Ok(out.tags.unwrap_or_default().into_iter().map(|t| (t.key, t.value)).collect())
    }

    pub async fn delete_topic(&self, arn: &str) -> Result<(), AwsError> {
        self.sns.delete_topic().topic_arn(arn).send().await.map_err(AwsError::of("DeleteTopic", name_of(arn)))?;
        Ok(())
    }

    /// Creates the queue `name` with `attributes` and `tags`; answers its URL.
    pub async fn create_queue(
        &self,
        name: &str,
        attributes: &QueueAttributes,
        tags: &[(&str, &str)],
    ) -> Result<String, AwsError> {
        let mut request = self.sqs.create_queue().queue_name(name);
        for (key, value) in attributes {
            request = request.attributes(QueueAttributeName::from(key.as_str()), value);
        }
        for (key, value) in tags {
            request = request.tags(*key, *value);
        }
        let out = request.send().await.map_err(AwsError::of("CreateQueue", name))?;
        out.queue_url.ok_or_else(|| AwsError::missing("CreateQueue", name, "QueueUrl"))
    }

    /// The URLs of the queues whose names start with `prefix` (up to 1,000).
    pub async fn queues(&self, prefix: &str) -> Result<Vec<String>, AwsError> {
        let out = self
            .sqs
            .list_queues()
            .queue_name_prefix(prefix)
            .max_results(1000)
            .send()
            .await
            .map_err(AwsError::of("ListQueues", prefix))?;
        Ok(out.queue_urls.unwrap_or_default())
    }

    pub async fn queue_tags(&self, url: &str) -> Result<BTreeMap<String, String>, AwsError> {
        let out = self
            .sqs
            .list_queue_tags()
            .queue_url(url)
            .send()
            .await
            .map_err(AwsError::of("ListQueueTags", name_of(url)))?;
        Ok(out.tags.unwrap_or_default().into_iter().collect())
    }

    /// Every attribute of the queue at `url`.
    pub async fn queue_attributes(&self, url: &str) -> Result<QueueAttributes, AwsError> {
        let out = self
            .sqs
            .get_queue_attributes()
            .queue_url(url)
            .attribute_names(QueueAttributeName::All)
            .send()
            .await
            .map_err(AwsError::of("GetQueueAttributes", name_of(url)))?;
        Ok(out.attributes.unwrap_or_default().into_iter().map(|(k, v)| (k.as_str().to_owned(), v)).collect())
    }

    pub async fn set_queue_attributes(&self, url: &str, attributes: &QueueAttributes) -> Result<(), AwsError> {
        let attributes = attributes.iter().map(|(k, v)| (QueueAttributeName::from(k.as_str()), v.clone())).collect();
        self.sqs
            .set_queue_attributes()
            .queue_url(url)
            .set_attributes(Some(attributes))
            .send()
            .await
            .map_err(AwsError::of("SetQueueAttributes", name_of(url)))?;
        Ok(())
    }

    pub async fn delete_queue(&self, url: &str) -> Result<(), AwsError> {
        self.sqs.delete_queue().queue_url(url).send().await.map_err(AwsError::of("DeleteQueue", name_of(url)))?;
        Ok(())
    }

    /// Subscribes the queue `queue_arn` to the topic `topic_arn` with raw
    /// delivery (the body is the envelope, the attributes stay attributes)
    /// and `filter` as its filter policy; answers the subscription's ARN.
    pub async fn subscribe(&self, topic_arn: &str, queue_arn: &str, filter: Option<&str>) -> Result<String, AwsError> {
        let out = self
            .sns
            .subscribe()
            .topic_arn(topic_arn)
            .protocol("sqs")
            .endpoint(queue_arn)
            .return_subscription_arn(true)
            .set_attributes(Some(subscription_attributes(filter)))
            .send()
            .await
            .map_err(AwsError::of("Subscribe", name_of(topic_arn)))?;
        out.subscription_arn.ok_or_else(|| AwsError::missing("Subscribe", name_of(topic_arn), "SubscriptionArn"))
    }

    /// The subscriptions of the topic `topic_arn`.
    pub async fn subscriptions(&self, topic_arn: &str) -> Result<Vec<Subscription>, AwsError> {
        let mut subscriptions = Vec::new();
        let mut pages = self.sns.list_subscriptions_by_topic().topic_arn(topic_arn).into_paginator().send();
        while let Some(page) = pages.next().await {
            let page = page.map_err(AwsError::of("ListSubscriptionsByTopic", name_of(topic_arn)))?;
            for s in page.subscriptions.unwrap_or_default() {
                if let (Some(arn), Some(endpoint)) = (s.subscription_arn, s.endpoint) {
                    subscriptions.push(Subscription { arn, endpoint });
                }
            }
        }
        Ok(subscriptions)
    }

    /// The filter policy of a subscription, if it has one.
    pub async fn filter_policy(&self, subscription_arn: &str) -> Result<Option<String>, AwsError> {
        let out = self
            .sns
            .get_subscription_attributes()
            .subscription_arn(subscription_arn)
            .send()
            .await
            .map_err(AwsError::of("GetSubscriptionAttributes", name_of(subscription_arn)))?;
        Ok(out.attributes.unwrap_or_default().remove("FilterPolicy").filter(|f| !f.is_empty()))
    }

    /// Replaces a subscription's filter policy (`{}` lets everything through).
    pub async fn set_filter_policy(&self, subscription_arn: &str, policy: &str) -> Result<(), AwsError> {
        self.sns
            .set_subscription_attributes()
            .subscription_arn(subscription_arn)
            .attribute_name("FilterPolicy")
            .attribute_value(policy)
            .send()
            .await
            .map_err(AwsError::of("SetSubscriptionAttributes", name_of(subscription_arn)))?;
        Ok(())
    }

    pub async fn unsubscribe(&self, subscription_arn: &str) -> Result<(), AwsError> {
        self.sns
            .unsubscribe()
            .subscription_arn(subscription_arn)
            .send()
            .await
            .map_err(AwsError::of("Unsubscribe", name_of(subscription_arn)))?;
        Ok(())
    }
}

fn subscription_attributes(filter: Option<&str>) -> std::collections::HashMap<String, String> {
    let mut attributes = std::collections::HashMap::from([("RawMessageDelivery".to_owned(), "true".to_owned())]);
    if let Some(filter) = filter {
        attributes.insert("FilterPolicy".to_owned(), filter.to_owned());
    }
    attributes
}
