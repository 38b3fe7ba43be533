//! Building SNS and SQS clients from a service's configuration.

use aws_config::{BehaviorVersion, Region};
use aws_sdk_sns::config::Credentials;

use super::{Namespace, Publisher};
use crate::config::{Config, ConfigError};

#[derive(Debug, thiserror::Error)]
pub enum BusError {
    #[error(transparent)]
    Config(#[from] ConfigError),
    #[error("queue {queue} not found at {endpoint}: {message}")]
    QueueMissing { queue: String, endpoint: String, message: String },
    #[error("{operation} on {resource}: {message}")]
    Aws { operation: &'static str, resource: String, message: String },
}

/// SNS and SQS clients for one namespace.
#[derive(Clone, Debug)]
pub struct Bus {
    pub sns: aws_sdk_sns::Client,
    pub sqs: aws_sdk_sqs::Client,
    pub namespace: Namespace,
    endpoint: String,
}

impl Bus {
    /// Reads `AWS_ENDPOINT_URL`, `AWS_REGION` (default `us-east-1`),
    /// `FARE_NAMESPACE` (default `fare`) and, if set, `AWS_ACCESS_KEY_ID` /
    /// `AWS_SECRET_ACCESS_KEY`. A loopback endpoint with no keys gets dummy
    /// ones, since emulators accept any; anything else uses the SDK's
    /// default credential chain, so the same binary runs on real AWS.
    pub async fn connect(config: &Config) -> Result<Bus, BusError> {
        let namespace = config.parse::<String>("FARE_NAMESPACE", "a namespace such as `fare`").and_then(|ns| {
            Namespace::parse(&ns).map_err(|e| ConfigError::Invalid {
                key: "FARE_NAMESPACE".into(),
                value: e.value,
                source_: crate::config::Source::Override,
                expected: "1 to 40 lower-case letters, digits or '-', starting with a letter",
            })
        })?;
        let region = config.get("AWS_REGION").unwrap_or("us-east-1").to_owned();
        let endpoint = config.get("AWS_ENDPOINT_URL").map(str::to_owned);
        let mut loader = aws_config::defaults(BehaviorVersion::latest()).region(Region::new(region));
        let keys = (config.get("AWS_ACCESS_KEY_ID"), config.get("AWS_SECRET_ACCESS_KEY"));
        if let (Some(id), Some(secret)) = keys {
            loader = loader.credentials_provider(Credentials::new(id, secret, None, None, "fare-config"));
        } else if endpoint.as_deref().is_some_and(is_loopback) {
            loader = loader.credentials_provider(Credentials::new("test", "test", None, None, "fare-emulator"));
        }
        if let Some(endpoint) = &endpoint {
            loader = loader.endpoint_url(endpoint);
        }
        let shared = loader.load().await;
        Ok(Bus {
            sns: aws_sdk_sns::Client::new(&shared),
            sqs: aws_sdk_sqs::Client::new(&shared),
            namespace,
            endpoint: endpoint.unwrap_or_else(|| "AWS".to_owned()),
        })
    }

    /// Where the bus points: the endpoint URL, or `AWS`.
    pub fn endpoint(&self) -> &str {
        &self.endpoint
    }

    pub fn publisher(&self, producer: &str) -> Publisher {
        Publisher::new(self.sns.clone(), self.namespace.clone(), producer)
    }

    /// The URL of a queue by name.
    pub async fn queue_url(&self, queue: &str) -> Result<String, BusError> {
        let out = self.sqs.get_queue_url().queue_name(queue).send().await.map_err(|e| BusError::QueueMissing {
            queue: queue.to_owned(),
            endpoint: self.endpoint.clone(),
            message: crate::error_chain(&e),
        })?;
        out.queue_url.ok_or_else(|| BusError::QueueMissing {
            queue: queue.to_owned(),
            endpoint: self.endpoint.clone(),
            message: "no URL in the answer".into(),
        })
    }
}

impl Bus {
    /// The ARN of the queue at `url`: what subscriptions and redrive
    /// policies name it by.
    pub async fn queue_arn(&self, url: &str) -> Result<String, BusError> {
        let name = url.rsplit('/').next().unwrap_or(url).to_owned();
        let out = self
            .sqs
            .get_queue_attributes()
            .queue_url(url)
            .attribute_names(aws_sdk_sqs::types::QueueAttributeName::QueueArn)
            .send()
            .await
            .map_err(|e| BusError::Aws {
                operation: "GetQueueAttributes",
                resource: name.clone(),
                message: crate::error_chain(&e),
            })?;
        out.attributes.and_then(|mut a| a.remove(&aws_sdk_sqs::types::QueueAttributeName::QueueArn)).ok_or_else(|| {
            BusError::Aws {
                operation: "GetQueueAttributes",
                resource: name,
                message: "no QueueArn in the answer".into(),
            }
        })
    }
}

fn is_loopback(url: &str) -> bool {
    let host = url.split("://").nth(1).unwrap_or(url);
    ["127.", "localhost", "[::1]"].iter().any(|p| host.starts_with(p))
}
