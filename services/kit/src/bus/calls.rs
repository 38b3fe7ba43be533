//! Counting the SNS and SQS calls this process makes, by action: `fare
//! bench` reads how often fare itself asks the emulator while the platform
//! is idle. Every client [`super::Bus`] builds carries the counter.

use std::collections::BTreeMap;
use std::sync::Mutex;

use aws_sdk_sqs::config::interceptors::BeforeTransmitInterceptorContextRef;
use aws_sdk_sqs::config::{ConfigBag, Intercept, RuntimeComponents};
use aws_sdk_sqs::error::BoxError;

/// Calls sent so far by this process, by action (`ReceiveMessage`, `Publish`).
static SENT: Mutex<BTreeMap<String, u64>> = Mutex::new(BTreeMap::new());

/// Every SNS and SQS call this process has sent so far, by action.
pub fn calls_sent() -> BTreeMap<String, u64> {
    SENT.lock().unwrap_or_else(|p| p.into_inner()).clone()
}

/// The interceptor that counts each request as it is sent (retries included).
#[derive(Debug)]
pub(crate) struct Counting;

impl Intercept for Counting {
    fn name(&self) -> &'static str {
        "fare-call-counter"
    }

    fn read_before_transmit(
        &self,
        context: &BeforeTransmitInterceptorContextRef<'_>,
        _: &RuntimeComponents,
        _: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        let request = context.request();
        let action = action(request.headers().get("x-amz-target"), request.body().bytes());
        *SENT.lock().unwrap_or_else(|p| p.into_inner()).entry(action).or_default() += 1;
        Ok(())
    }
}

/// The action of a request: SQS (JSON) names it in `X-Amz-Target`
/// (`AmazonSQS.ReceiveMessage`), SNS (query) in its form body (`Action=Publish`).
fn action(target: Option<&str>, body: Option<&[u8]>) -> String {
    if let Some(target) = target {
        return target.rsplit('.').next().unwrap_or(target).to_owned();
    }
    let body = body.map(String::from_utf8_lossy).unwrap_or_default();
    let action = body.split('&').find_map(|pair| pair.strip_prefix("Action="));
    action.unwrap_or("unknown").to_owned()
}

#[cfg(test)]
mod tests {
    use super::action;

    #[test]
    fn the_action_comes_from_the_target_header_or_the_form_body() {
        assert_eq!(action(Some("AmazonSQS.ReceiveMessage"), None), "ReceiveMessage");
        assert_eq!(action(None, Some(b"Action=Publish&Version=2010-03-31")), "Publish");
        assert_eq!(action(None, Some(b"Version=2010-03-31")), "unknown");
    }
}
