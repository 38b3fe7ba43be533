//! The one error of an SNS or SQS call: which call, on what, and the SDK's
//! own error as its source, so the edge that reports it shows the whole chain.

/// A failed SNS or SQS call.
#[derive(Debug, thiserror::Error)]
#[error("{operation} {resource}")]
pub struct AwsError {
    /// The API action, as AWS names it: `CreateQueue`, `Subscribe`.
    pub operation: &'static str,
    /// The queue, topic or subscription it was about.
    pub resource: String,
    #[source]
    pub source: Box<dyn std::error::Error + Send + Sync + 'static>,
}

/// An answer that lacked what the call exists for (a queue URL, an ARN).
#[derive(Debug, thiserror::Error)]
#[error("no {0} in the answer")]
pub struct Missing(pub &'static str);

impl AwsError {
    /// Turns the SDK's error of `operation` on `resource` into an `AwsError`.
    pub(crate) fn of<E>(operation: &'static str, resource: &str) -> impl FnOnce(E) -> AwsError + use<E>
    where
        E: std::error::Error + Send + Sync + 'static,
    {
        let resource = resource.to_owned();
        move |e| AwsError { operation, resource, source: Box::new(e) }
    }

    /// `operation` on `resource` answered without `what`.
    pub(crate) fn missing(operation: &'static str, resource: &str, what: &'static str) -> AwsError {
        AwsError { operation, resource: resource.to_owned(), source: Box::new(Missing(what)) }
    }
}

/// The last part of a queue URL or an ARN: the resource's name, for errors.
pub(crate) fn name_of(url_or_arn: &str) -> &str {
    url_or_arn.rsplit(['/', ':']).next().unwrap_or(url_or_arn)
}
