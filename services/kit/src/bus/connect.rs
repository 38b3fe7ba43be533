//! Building SNS and SQS clients from a service's configuration.

use aws_config::{BehaviorVersion, Region};
use aws_sdk_sns::config::Credentials;

use super::aws::{AwsError, name_of};
use super::{Namespace, Publisher};
use crate::config::{Config, ConfigError};

#[derive(Debug, thiserror::Error)]
pub enum BusError {
    #[error(transparent)]
    Config(#[from] ConfigError),
    #[error("queue {queue} not found at {endpoint}")]
    QueueMissing {
        queue: String,
        endpoint: String,
        #[source]
        source: AwsError,
    },
    #[error(transparent)]
    Aws(#[from] AwsError),
}

/// SNS and SQS clients for one namespace. The clients stay inside the kit:
/// everything else speaks to SNS and SQS through `Bus`'s methods.
#[derive(Clone, Debug)]
pub struct Bus {
    pub(crate) sns: aws_sdk_sns::Client,
    pub(crate) sqs: aws_sdk_sqs::Client,
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
            sns: aws_sdk_sns::Client::from_conf(
                aws_sdk_sns::config::Builder::from(&shared).interceptor(super::calls::Counting).build(),
            ),
            sqs: aws_sdk_sqs::Client::from_conf(
                aws_sdk_sqs::config::Builder::from(&shared).interceptor(super::calls::Counting).build(),
            ),
            namespace,
            endpoint: endpoint.unwrap_or_else(|| "AWS".to_owned()),
        })
    }

    /// Where the bus points: the endpoint URL, or `AWS`.
    pub fn endpoint(&self) -> &str {
        &self.endpoint
    }

    pub fn publisher(&self, producer: &str) -> Publisher {
        Publisher::new(self.clone(), producer)
    }

    /// The URL of a queue by name.
    pub async fn queue_url(&self, queue: &str) -> Result<String, BusError> {
        let missing =
            |source| BusError::QueueMissing { queue: queue.to_owned(), endpoint: self.endpoint.clone(), source };
        let out = self.sqs.get_queue_url().queue_name(queue).send().await;
        let out = out.map_err(AwsError::of("GetQueueUrl", queue)).map_err(missing)?;
        out.queue_url.ok_or_else(|| missing(AwsError::missing("GetQueueUrl", queue, "QueueUrl")))
    }

    /// The ARN of the queue at `url`: what subscriptions and redrive
    /// policies name it by.
    pub async fn queue_arn(&self, url: &str) -> Result<String, AwsError> {
        let out = self
            .sqs
            .get_queue_attributes()
            .queue_url(url)
            .attribute_names(aws_sdk_sqs::types::QueueAttributeName::QueueArn)
            .send()
            .await
            .map_err(AwsError::of("GetQueueAttributes", name_of(url)))?;
        out.attributes
            .and_then(|mut a| a.remove(&aws_sdk_sqs::types::QueueAttributeName::QueueArn))
            .ok_or_else(|| AwsError::missing("GetQueueAttributes", name_of(url), "QueueArn"))
    }
}

fn is_loopback(url: &str) -> bool {
    let host = url.split("://").nth(1).unwrap_or(url);
    ["127.", "localhost", "[::1]"].iter().any(|p| host.starts_with(p))
}
