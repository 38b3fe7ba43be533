//! The emulator alone carrying the platform's message pattern: the same
//! publishes (each service's follow-ups, learned from a chain the platform
//! ran), the same fan-out (the topology's subscriptions), and one
//! receive-and-delete per delivered message, polled as the services poll,
//! with nothing done in between. Then each hop's raw publish→receive.
//!
//! It runs on a fresh emulator of its own (or, given `--endpoint`, on that
//! endpoint in a namespace of its own), so what the platform left behind
//! does not weigh on it.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use kit::bus::{Bus, Namespace, Receive};
use kit::{CorrelationId, Envelope, EventType};
use serde::Serialize;
use serde_json::json;
use tokio_util::sync::CancellationToken;

use super::BenchError;
use super::orders::{self, AsyncEnded, AsyncStart, Chain, Mode};
use super::procs::{self, Usage, Watched};
use super::stats::Spread;
use crate::topology::Topology;
use crate::trace::Trace;
use crate::workload::End;

/// What each service publishes when it has handled an event, and the event
/// a chain starts with.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Pattern {
    /// (service, event handled) → the events it published in turn.
    pub follow_ups: BTreeMap<String, Vec<String>>,
    /// (producer, event) of each chain's first event.
    pub root: (String, String),
}

impl Pattern {
    /// The pattern of one chain the platform ran.
    pub fn learn(trace: &Trace) -> Option<Pattern> {
        let by_id: BTreeMap<&str, &str> = trace.events.iter().map(|e| (e.id.as_str(), e.event_type.as_str())).collect();
        let root = trace.roots.first().map(|&i| &trace.events[i])?;
        let mut follow_ups: BTreeMap<String, Vec<String>> = BTreeMap::new();
        for e in &trace.events {
            if let Some(cause) = e.causation_id.as_deref().and_then(|c| by_id.get(c)) {
                follow_ups.entry(key(&e.producer, cause)).or_default().push(e.event_type.clone());
            }
        }
        Some(Pattern { follow_ups, root: (root.producer.clone(), root.event_type.clone()) })
    }

    fn of(&self, service: &str, event: &str) -> &[String] {
        self.follow_ups.get(&key(service, event)).map(Vec::as_slice).unwrap_or_default()
    }
}

fn key(service: &str, event: &str) -> String {
    format!("{service} on {event}")
}

/// What the emulator alone did.
#[derive(Debug, Clone, Serialize)]
pub struct Alone {
    pub backend: String,
    /// Spawn → first good answer of its fresh emulator (`None` on an endpoint given).
    pub emulator_start_ms: Option<f64>,
    pub orders_per_second: f64,
    /// First publish → the end service's receive of the end event.
    pub chain: Spread,
    /// Raw publish→receive of each hop of the chain, one message at a time.
    pub raw_hops: Vec<RawHop>,
    /// The sum of the raw hops' p50s.
    pub raw_sum_p50_ms: f64,
    /// CPU while it carried the pattern.
    pub usage: Vec<Usage>,
}

#[derive(Debug, Clone, Serialize)]
pub struct RawHop {
    pub event: String,
    pub listener: String,
    pub publish_to_receive: Spread,
}

/// Where the emulator-alone run goes.
pub struct AloneOn<'a> {
    pub endpoint: Option<String>,
    pub backend: fare_emulator::Backend,
    pub namespace: Namespace,
    pub topology: &'a Topology,
    /// Where a chain ends: the handling of this event by this service.
    pub end: &'a End,
}

/// Carries `orders` chains of `pattern` per `mode`, then measures each of
/// `hops` (event, listener) raw.
pub async fn run(
    on: AloneOn<'_>,
    pattern: &Pattern,
    hops: &[(String, String)],
    orders: usize,
    mode: Mode,
    progress: &dyn Fn(&str),
) -> Result<Alone, BenchError> {
    let emulator = match &on.endpoint {
        Some(_) => None,
        None => {
            let options = fare_emulator::StartOptions { backend: on.backend, progress: false, ..Default::default() };
            Some(fare_emulator::Emulator::start(&options)?)
        }
    };
    let endpoint = on.endpoint.clone().or_else(|| emulator.as_ref().map(|e| e.endpoint().to_owned()));
    let bus = crate::connect(&endpoint, &on.namespace).await?;
    let desired = crate::provision::desired(on.topology, &on.namespace);
    crate::provision::converge(&bus, &on.namespace, &desired, &mut |_| {}).await?;
    let ends: Ends = Arc::default();
    let shutdown = CancellationToken::new();
    let mut consumers = tokio::task::JoinSet::new();
    for m in on.topology.services().filter(|m| m.queue.is_some()) {
        let url = bus.queue_url(&on.namespace.queue(&m.name)).await?;
        let consumer = Consumer {
            bus: bus.clone(),
            url,
            service: m.name.clone(),
            pattern: pattern.clone(),
            ends: ends.clone(),
            end: on.end.clone(),
        };
        consumers.spawn(consumer.run(shutdown.clone()));
    }
    let mut watched = vec![Watched::alone("fare (alone)", std::process::id())];
    if let Some(e) = &emulator {
        watched.insert(0, Watched::with_descendants(format!("{} (alone)", e.backend().name()), e.pid()));
    }
    let before = procs::sample(&watched);
    let ids: Vec<String> = (0..orders).map(|i| format!("alone-{i}")).collect();
    let starter = Starter { publisher: bus.publisher(&pattern.root.0), event: pattern.root.1.clone() };
    let chains = orders::drive(&ids, mode, starter, Seen(ends), progress).await;
    let usage = procs::usage(&watched, &before);
    shutdown.cancel();
    while consumers.join_next().await.is_some() {}
    let chains = chains?;
    progress(&format!("raw publish→receive of {} hops", hops.len()));
    let mut raw_hops = Vec::new();
    for (event, listener) in hops {
        let samples = raw(&bus, &on.namespace, event, listener, orders.clamp(5, 30)).await?;
        raw_hops.push(RawHop {
            event: event.clone(),
            listener: listener.clone(),
            publish_to_receive: Spread::of(&samples),
        });
    }
    let millis: Vec<f64> = chains.iter().map(Chain::millis).collect();
    Ok(Alone {
        backend: emulator.as_ref().map(|e| e.backend().name().to_owned()).unwrap_or_else(|| bus.endpoint().to_owned()),
        emulator_start_ms: emulator.as_ref().map(|e| e.ready_after().as_secs_f64() * 1000.0),
        orders_per_second: orders::throughput(&chains),
        chain: Spread::of(&millis),
        raw_sum_p50_ms: raw_hops.iter().map(|h| h.publish_to_receive.p50).sum(),
        raw_hops,
        usage,
    })
}

/// When each chain ended, by correlation id.
type Ends = Arc<Mutex<BTreeMap<String, u64>>>;

struct Seen(Ends);

impl AsyncEnded for Seen {
    async fn ended(&mut self, ids: &[String]) -> Vec<(String, u64)> {
        let ends = self.0.lock().unwrap_or_else(|p| p.into_inner());
        ids.iter().filter_map(|id| ends.get(id).map(|end| (id.clone(), *end))).collect()
    }
}

/// Publishes a chain's first event, as the platform's first service would.
#[derive(Clone)]
struct Starter {
    publisher: kit::bus::Publisher,
    event: String,
}

impl AsyncStart for Starter {
    async fn start(&self, id: String) -> Result<u64, BenchError> {
        let correlation = CorrelationId::parse(&id).map_err(|e| BenchError::Task(e.to_string()))?;
        let event_type = EventType::parse(&self.event).map_err(|e| BenchError::Task(e.to_string()))?;
        let event = Envelope::new(self.publisher.producer(), event_type, correlation, None, &json!({"bench": id}))
            .map_err(|e| BenchError::Task(e.to_string()))?;
        let started = orders::now_nanos();
        self.publisher.publish(&event).await?;
        Ok(started)
    }
}

/// One service's queue, received and deleted as the service would, its
/// follow-ups published and nothing else done.
struct Consumer {
    bus: Bus,
    url: String,
    service: String,
    pattern: Pattern,
    ends: Ends,
    end: End,
}

impl Consumer {
    async fn run(self, shutdown: CancellationToken) {
        let publisher = self.bus.publisher(&self.service);
        // As the services poll under fare: up to 10 at a time, 1 s long polls.
        let how = Receive { max: 10, wait_seconds: 1, visibility_seconds: None };
        while !shutdown.is_cancelled() {
            let Ok(messages) = self.bus.receive(&self.url, how).await else {
                tokio::time::sleep(Duration::from_millis(100)).await;
                continue;
            };
            let work = messages.iter().map(|m| async {
                if let Ok(event) = Envelope::from_json(&m.body) {
                    for follow_up in self.pattern.of(&self.service, event.event_type.as_str()) {
                        let Ok(event_type) = EventType::parse(follow_up) else { continue };
                        if let Ok(next) = event.follow(&self.service, event_type, &json!({"bench": true})) {
                            let _ = publisher.publish(&next).await;
                        }
                    }
                    if self.service == self.end.service && event.event_type == self.end.event {
                        let mut ends = self.ends.lock().unwrap_or_else(|p| p.into_inner());
                        ends.insert(event.correlation_id.to_string(), orders::now_nanos());
                    }
                }
                let _ = self.bus.delete(&self.url, std::slice::from_ref(m)).await;
            });
            futures_util::future::join_all(work).await;
        }
    }
}

/// `n` times: publish `event` to its topic, receive it from `listener`'s queue.
async fn raw(bus: &Bus, ns: &Namespace, event: &str, listener: &str, n: usize) -> Result<Vec<f64>, BenchError> {
    let event_type = EventType::parse(event).map_err(|e| BenchError::Task(e.to_string()))?;
    let url = bus.queue_url(&ns.queue(listener)).await?;
    let publisher = bus.publisher("bench");
    let mut samples = Vec::new();
    for _ in 0..n {
        let sent = Envelope::new("bench", event_type.clone(), CorrelationId::generate(), None, &json!({"bench": true}))
            .map_err(|e| BenchError::Task(e.to_string()))?;
        let started = Instant::now();
        publisher.publish(&sent).await?;
        let deadline = started + Duration::from_secs(10);
        loop {
            let got = bus.receive(&url, Receive { max: 10, wait_seconds: 1, visibility_seconds: None }).await?;
            let mine = got.iter().any(|m| Envelope::from_json(&m.body).is_ok_and(|e| e.id == sent.id));
            if !got.is_empty() {
                bus.delete(&url, &got).await?;
            }
            if mine {
                samples.push(started.elapsed().as_secs_f64() * 1000.0);
                break;
            }
            if Instant::now() > deadline {
                return Err(BenchError::NotEnded { open: 1, first: format!("raw {event} to {listener}") });
            }
        }
    }
    Ok(samples)
}
