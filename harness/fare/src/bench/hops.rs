//! Where a chain's time goes. For each hop of an order's chain (an event on
//! its way to the workload's end event, and the service that handles it), the stages
//! the recorder's events and spans tell apart, as medians over the orders:
//! staged (the envelope made, in the handler's or request's transaction) →
//! relayed (the outbox relay takes it) → published (SNS answered) →
//! received (the listener's handler starts: delivery to the queue and the
//! wait there) → handled (done and deleted), and from received to the
//! follow-up staged.

use std::collections::BTreeMap;

use serde::Serialize;

use super::orders::Chain;
use super::stats::Spread;
use crate::trace::{EventNode, SpanRecord, Trace};
use crate::workload::End;

/// The median of each stage of one hop, in ms.
#[derive(Debug, Clone, Serialize)]
pub struct Hop {
    pub event: String,
    pub producer: String,
    pub listener: String,
    /// Staged → the relay picks it up.
    pub relay_wait_ms: f64,
    /// The relay's SNS publish.
    pub publish_ms: f64,
    /// Published → the listener's handler starts (delivery and queue wait).
    pub queue_ms: f64,
    /// The handler, and the delete.
    pub handle_ms: f64,
    /// Received → the next event of the chain staged (`None` on the last hop).
    pub to_follow_up_ms: Option<f64>,
}

/// Every hop of the chain, and the request that starts it.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Breakdown {
    /// The order's request began → the first event staged.
    pub request_ms: f64,
    pub hops: Vec<Hop>,
}

/// The events of `trace` from its root to the `end` event that ended it.
pub fn path<'t>(trace: &'t Trace, end: &End) -> Vec<&'t EventNode> {
    let Some(end) = trace.events.iter().find(|e| e.event_type == end.event.as_str()) else { return Vec::new() };
    let by_id: BTreeMap<&str, &EventNode> = trace.events.iter().map(|e| (e.id.as_str(), e)).collect();
    let mut path = vec![end];
    while let Some(cause) = path.last().and_then(|e| e.causation_id.as_deref()).and_then(|c| by_id.get(c)) {
        path.push(cause);
    }
    path.reverse();
    path
}

/// The hops of `path` as (event, producer, listener).
/// The last is heard by the `end` service.
pub fn hops_of(path: &[&EventNode], end: &End) -> Vec<(String, String, String)> {
    path.iter()
        .enumerate()
        .map(|(i, e)| {
            let listener = path.get(i + 1).map(|n| n.producer.as_str()).unwrap_or(&end.service);
            (e.event_type.clone(), e.producer.clone(), listener.to_owned())
        })
        .collect()
}

/// The breakdown over `chains`, whose traces are `traces` (same order).
pub fn breakdown(chains: &[Chain], traces: &[Trace], spans: &[SpanRecord], end: &End) -> Breakdown {
    let mut relays: BTreeMap<(&str, &str, &str), &SpanRecord> = BTreeMap::new();
    for s in spans.iter().filter(|s| s.name == "work" && s.attr("task") == Some("publish")) {
        let key = (s.attr("correlation_id").unwrap_or(""), s.service.as_str(), s.attr("published").unwrap_or(""));
        relays.entry(key).or_insert(s);
    }
    let mut request = Vec::new();
    // Hop i → (event, producer, listener) and each stage's samples.
    let mut samples: BTreeMap<usize, ((String, String, String), Stages)> = BTreeMap::new();
    for (chain, trace) in chains.iter().zip(traces) {
        let path = path(trace, end);
        let Some(first) = path.first() else { continue };
        request.push(ms(chain.started, nanos(first)));
        for (i, hop) in hops_of(&path, end).into_iter().enumerate() {
            let event = path[i];
            let relay =
                relays.get(&(chain.correlation_id.as_str(), event.producer.as_str(), event.event_type.as_str()));
            let receipt = event.receipts.iter().find(|r| r.service == hop.2);
            let received = receipt.and_then(|r| r.started_unix_nanos);
            let handled = receipt.and_then(|r| r.ended_unix_nanos);
            let entry = samples.entry(i).or_insert_with(|| (hop.clone(), Default::default()));
            let stages = [
                relay.map(|r| ms(nanos(event), r.start_unix_nanos)),
                relay.map(|r| ms(r.start_unix_nanos, r.end_unix_nanos)),
                relay.zip(received).map(|(r, at)| ms(r.end_unix_nanos, at)),
                received.zip(handled).map(|(a, b)| ms(a, b)),
                received.zip(path.get(i + 1)).map(|(at, next)| ms(at, nanos(next))),
            ];
            for (k, value) in stages.into_iter().enumerate() {
                entry.1[k].extend(value);
            }
        }
    }
    let hops = samples
        .into_values()
        .map(|((event, producer, listener), s)| Hop {
            event,
            producer,
            listener,
            relay_wait_ms: Spread::of(&s[0]).p50,
            publish_ms: Spread::of(&s[1]).p50,
            queue_ms: Spread::of(&s[2]).p50,
            handle_ms: Spread::of(&s[3]).p50,
            to_follow_up_ms: (!s[4].is_empty()).then(|| Spread::of(&s[4]).p50),
        })
        .collect();
    Breakdown { request_ms: Spread::of(&request).p50, hops }
}

/// The samples of a hop's five stages, in [`Hop`]'s order.
type Stages = [Vec<f64>; 5];

fn nanos(e: &EventNode) -> u64 {
    e.occurred_at.unix_timestamp_nanos().max(0) as u64
}

/// From `a` to `b` in ms, negative when `b` came first.
fn ms(a: u64, b: u64) -> f64 {
    (b as f64 - a as f64) / 1e6
}
