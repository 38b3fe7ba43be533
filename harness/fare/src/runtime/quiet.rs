//! Quiescence: the platform is quiet when every queue of the namespace
//! (dead-letter queues aside) holds nothing, waiting or in flight, and every
//! service reports nothing in hand (`/pending`), twice in a row. Scenarios
//! wait for this instead of sleeping.

use std::time::{Duration, Instant};

use aws_sdk_sqs::types::QueueAttributeName;
use kit::bus::Bus;

#[derive(Debug, Clone)]
pub struct QuietOptions {
    pub timeout: Duration,
    pub interval: Duration,
}

impl Default for QuietOptions {
    fn default() -> Self {
        QuietOptions { timeout: Duration::from_secs(60), interval: Duration::from_millis(100) }
    }
}

#[derive(Debug, thiserror::Error)]
#[error("not quiet after {waited:?}; still pending:\n{}", .pending.iter().map(|p| format!("  {p}")).collect::<Vec<_>>().join("\n"))]
pub struct NotQuiet {
    pub waited: Duration,
    pub pending: Vec<String>,
}

/// Waits until the platform is quiet; returns how long that took.
pub async fn wait_quiet(
    bus: &Bus,
    services: &[(String, String)],
    options: &QuietOptions,
) -> Result<Duration, NotQuiet> {
    let http = reqwest::Client::builder().timeout(Duration::from_secs(2)).build().expect("a plain client builds");
    let started = Instant::now();
    let mut quiet_rounds = 0;
    loop {
        let pending = pending(bus, &http, services).await;
        if pending.is_empty() {
            quiet_rounds += 1;
            if quiet_rounds == 2 {
                return Ok(started.elapsed());
            }
        } else {
            quiet_rounds = 0;
            if started.elapsed() > options.timeout {
                return Err(NotQuiet { waited: started.elapsed(), pending });
            }
        }
        tokio::time::sleep(options.interval).await;
    }
}

/// Everything not yet done, in words; empty when quiet.
async fn pending(bus: &Bus, http: &reqwest::Client, services: &[(String, String)]) -> Vec<String> {
    let mut pending = Vec::new();
    let ns = bus.namespace.clone();
    match crate::provision::read_current(bus, &ns).await {
        Ok(current) => {
            for (name, url) in current.queue_urls.iter().filter(|(n, _)| !n.ends_with("-dlq")) {
                let attrs = bus
                    .sqs
                    .get_queue_attributes()
                    .queue_url(url)
                    .attribute_names(QueueAttributeName::ApproximateNumberOfMessages)
                    .attribute_names(QueueAttributeName::ApproximateNumberOfMessagesNotVisible)
                    .attribute_names(QueueAttributeName::ApproximateNumberOfMessagesDelayed)
                    .send()
                    .await;
                let Ok(attrs) = attrs else {
                    pending.push(format!("queue {name}: cannot read its depth"));
                    continue;
                };
                let attrs = attrs.attributes.unwrap_or_default();
                let n = |k: QueueAttributeName| attrs.get(&k).and_then(|v| v.parse::<u64>().ok()).unwrap_or(0);
                let (waiting, in_flight, delayed) = (
                    n(QueueAttributeName::ApproximateNumberOfMessages),
                    n(QueueAttributeName::ApproximateNumberOfMessagesNotVisible),
                    n(QueueAttributeName::ApproximateNumberOfMessagesDelayed),
                );
                if waiting + in_flight + delayed > 0 {
                    pending.push(format!("queue {name}: {waiting} waiting, {in_flight} in flight, {delayed} delayed"));
                }
            }
        }
        Err(e) => pending.push(format!("queues: {e}")),
    }
    for (name, url) in services {
        match http.get(format!("{url}/pending")).send().await {
            Ok(r) if r.status().is_success() => {
                let v: serde_json::Value = r.json().await.unwrap_or_default();
                let busy: Vec<String> = ["handling", "outbox", "work"]
                    .iter()
                    .filter(|k| v[**k].as_u64().unwrap_or(1) > 0)
                    .map(|k| format!("{k} {}", v[*k]))
                    .collect();
                if !busy.is_empty() {
                    pending.push(format!("{name}: {}", busy.join(", ")));
                }
            }
            Ok(r) => pending.push(format!("{name}: /pending answered {}", r.status())),
            Err(_) => pending.push(format!("{name}: not answering on {url}")),
        }
    }
    pending
}
