//! The one convention by which fare hands a service what it needs, the same
//! for every language (`docs/services.md`): where to listen, where its
//! data lives, the bus and its own queue and topics, the URLs of what it
//! asks, where its spans go. The kit reads these; any other service reads
//! the same variables.

use std::collections::BTreeMap;
use std::path::Path;

use kit::EventType;
use kit::bus::Namespace;

use crate::manifest::Manifest;
use crate::provision::Current;

/// The variable that holds the ARN of `event`'s topic:
/// `points.awarded` → `FARE_TOPIC_ARN_POINTS_AWARDED`.
pub fn topic_var(event: &EventType) -> String {
    let upper: String =
        event.as_str().chars().map(|c| if c.is_ascii_alphanumeric() { c.to_ascii_uppercase() } else { '_' }).collect();
    format!("FARE_TOPIC_ARN_{upper}")
}

/// Where the service's process binds and keeps its data.
pub struct Place<'a> {
    pub host: &'a str,
    pub port: u16,
    /// Its database's file (its folder exists).
    pub database: &'a Path,
}

/// The bus as `m` sees it: its queue's and dead-letter queue's URLs (if it
/// listens) and the ARN of each topic it publishes to, as provisioned in
/// `current`. A queue URL is given on `endpoint`, the endpoint the service
/// reaches the bus at (a container reaches it by another name than fare).
pub fn bus_env(m: &Manifest, ns: &Namespace, current: &Current, endpoint: Option<&str>) -> BTreeMap<String, String> {
    let mut env = BTreeMap::new();
    let on_endpoint = |url: &str| match endpoint {
        Some(endpoint) => rebase(url, endpoint),
        None => url.to_owned(),
    };
    if m.queue.is_some() {
        for (var, queue) in [("FARE_QUEUE_URL", ns.queue(&m.name)), ("FARE_DLQ_URL", ns.dead_letter_queue(&m.name))] {
            if let Some(url) = current.queue_urls.get(&queue) {
                env.insert(var.to_owned(), on_endpoint(url));
            }
        }
    }
    for event in &m.publishes {
        if let Some(arn) = current.topics.get(&ns.topic(event)) {
            env.insert(topic_var(event), arn.clone());
        }
    }
    env
}

/// The settings of the service's process: its name, where it listens and
/// keeps its data, its namespace.
pub fn place_env(m: &Manifest, ns: &Namespace, place: &Place) -> BTreeMap<String, String> {
    let folder = place.database.parent().unwrap_or(Path::new("."));
    BTreeMap::from([
        ("FARE_SERVICE".to_owned(), m.name.clone()),
        ("OTEL_SERVICE_NAME".to_owned(), m.name.clone()),
        ("HOST".to_owned(), place.host.to_owned()),
        ("PORT".to_owned(), place.port.to_string()),
        ("DATABASE_PATH".to_owned(), place.database.display().to_string()),
        ("FARE_DATA_DIR".to_owned(), folder.display().to_string()),
        ("FARE_NAMESPACE".to_owned(), ns.as_str().to_owned()),
    ])
}

/// `url` with its scheme, host and port replaced by `endpoint`'s:
/// `http://localhost:4566/000000000000/fare-store` on `http://emulator:4566`.
fn rebase(url: &str, endpoint: &str) -> String {
    let path = url.split_once("://").and_then(|(_, rest)| rest.find('/').map(|i| &rest[i..])).unwrap_or("");
    format!("{}{path}", endpoint.trim_end_matches('/'))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn topic_variables_and_rebased_queue_urls() {
        assert_eq!(topic_var(&EventType::parse("points.awarded").unwrap()), "FARE_TOPIC_ARN_POINTS_AWARDED");
        assert_eq!(
            topic_var(&EventType::parse("device.allocation_failed").unwrap()),
            "FARE_TOPIC_ARN_DEVICE_ALLOCATION_FAILED"
        );
        assert_eq!(
            rebase("http://localhost:4566/000000000000/fare-store", "http://fare-emulator:4566/"),
            "http://fare-emulator:4566/000000000000/fare-store"
        );
    }

    #[test]
    fn a_listener_gets_its_queues_and_a_publisher_its_topics() {
        let m = Manifest::parse(
            Path::new("s/service.toml"),
            "name = \"loyalty\"\ndescription = \"d\"\npublishes = [\"points.awarded\"]\nterminal = [\"points.awarded\"]\n\
             [queue]\n[[listens]]\nevent = \"invoice.issued\"\n",
        )
        .unwrap();
        let ns = Namespace::parse("run").unwrap();
        let mut current = Current::default();
        current.queue_urls.insert("run-loyalty".into(), "http://127.0.0.1:9/1/run-loyalty".into());
        current.queue_urls.insert("run-loyalty-dlq".into(), "http://127.0.0.1:9/1/run-loyalty-dlq".into());
        current.topics.insert("run-points-awarded".into(), "arn:aws:sns:us-east-1:1:run-points-awarded".into());
        let env = bus_env(&m, &ns, &current, None);
        assert_eq!(env["FARE_QUEUE_URL"], "http://127.0.0.1:9/1/run-loyalty");
        assert_eq!(env["FARE_DLQ_URL"], "http://127.0.0.1:9/1/run-loyalty-dlq");
        assert_eq!(env["FARE_TOPIC_ARN_POINTS_AWARDED"], "arn:aws:sns:us-east-1:1:run-points-awarded");
        let inside = bus_env(&m, &ns, &current, Some("http://emu:4566"));
        assert_eq!(inside["FARE_QUEUE_URL"], "http://emu:4566/1/run-loyalty");
    }
}
