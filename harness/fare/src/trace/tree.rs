//! The causal tree of one correlation id: each event, who received it and
//! how that went (attempts, errors, calls out, background work, dead
//! letters), and the events each receiver published in turn, linked by
//! `causation_id`. Rendering it is `render.rs`'s business.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use super::otlp::SpanRecord;
use super::store::{DeadLetter, InjectedFault, ServiceExit, Store};

#[derive(Debug, Clone, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Trace {
    pub correlation_id: String,
    pub events: Vec<EventNode>,
    /// Indices into `events` of the events no recorded event caused.
    pub roots: Vec<usize>,
    /// HTTP requests of this chain that services served.
    pub requests: Vec<Request>,
    /// Every dead letter of this chain, whether or not the tap saw its event.
    pub dead_letters: Vec<DeadLetter>,
    /// Service processes that ended after this chain began.
    pub exits: Vec<ServiceExit>,
    /// Faults fare injected that could touch this chain: those scoped to
    /// it, and those that hit every chain and lasted until it began (all
    /// of them, for a chain of which nothing was recorded).
    #[serde(default)]
    pub faults: Vec<InjectedFault>,
}

#[derive(Debug, Clone, Serialize, Deserialize, schemars::JsonSchema)]
pub struct EventNode {
    pub id: String,
    pub event_type: String,
    pub producer: String,
    pub causation_id: Option<String>,
    #[serde(with = "time::serde::rfc3339")]
    #[schemars(with = "String")]
    pub occurred_at: OffsetDateTime,
    pub receipts: Vec<Receipt>,
    /// Indices into `Trace::events`.
    pub children: Vec<usize>,
}

/// One service's handling of one event.
#[derive(Debug, Clone, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Receipt {
    pub service: String,
    /// Handling attempts seen in spans (0 when only the outcome is known).
    pub attempts: u32,
    pub outcome: Outcome,
    pub last_error: Option<String>,
    /// Calls made while handling.
    pub calls: Vec<Call>,
    /// Work the service did for this event outside its handler (a poller's
    /// rounds, say), with the calls it made.
    pub work: Vec<Work>,
    /// When the first attempt began and the last one ended (Unix nanoseconds).
    pub started_unix_nanos: Option<u64>,
    pub ended_unix_nanos: Option<u64>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(tag = "state", rename_all = "snake_case")]
pub enum Outcome {
    Handled,
    /// The last attempt failed and the queue will redeliver it.
    Retrying,
    DeadLettered {
        queue: String,
        reason: Option<String>,
    },
}

/// One HTTP call a service made.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Call {
    /// Whom it called: a service or a third party, by the caller's name for it.
    pub callee: String,
    pub method: String,
    pub url: String,
    /// `None` when no answer came.
    pub status: Option<u16>,
    pub start_unix_nanos: u64,
    pub end_unix_nanos: u64,
}

impl Call {
    pub fn failed(&self) -> bool {
        self.status.is_none_or(|s| s >= 400)
    }
}

/// Runs of one background task for one event.
#[derive(Debug, Clone, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Work {
    pub task: String,
    pub runs: u32,
    pub calls: Vec<Call>,
    /// The last error or warning logged by a run, if any.
    pub last_error: Option<String>,
    pub first_unix_nanos: u64,
    pub last_unix_nanos: u64,
}

/// One HTTP request a service served in this chain.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Request {
    pub service: String,
    pub method: String,
    pub path: String,
    pub status: Option<u16>,
    pub start_unix_nanos: u64,
    pub end_unix_nanos: u64,
}

impl Trace {
    pub(crate) fn build(correlation_id: &str, store: &Store) -> Trace {
        let mut events: Vec<EventNode> = Vec::new();
        let mut index = BTreeMap::new();
        let mut sorted: Vec<_> = store.events.iter().filter(|e| e.correlation_id.as_str() == correlation_id).collect();
        sorted.sort_by_key(|e| e.occurred_at);
        for e in sorted {
            let id = e.id.to_string();
            if index.contains_key(&id) {
                continue; // the same event published twice (a relay retry)
            }
            index.insert(id.clone(), events.len());
            events.push(EventNode {
                id,
                event_type: e.event_type.to_string(),
                producer: e.producer.clone(),
                causation_id: e.causation_id.clone(),
                occurred_at: e.occurred_at,
                receipts: Vec::new(),
                children: Vec::new(),
            });
        }
        let mut roots = Vec::new();
        for i in 0..events.len() {
            match events[i].causation_id.as_ref().and_then(|c| index.get(c)) {
                Some(&parent) => events[parent].children.push(i),
                None => roots.push(i),
            }
        }
        let dead_letters: Vec<DeadLetter> =
            store.dead.iter().filter(|d| d.correlation_id.as_deref() == Some(correlation_id)).cloned().collect();
        for node in &mut events {
            node.receipts = receipts(node, &store.spans, &dead_letters);
        }
        // A producer of a child event evidently handled its cause.
        for i in 0..events.len() {
            let producers: Vec<String> = events[i].children.iter().map(|&c| events[c].producer.clone()).collect();
            for producer in producers {
                if !events[i].receipts.iter().any(|r| r.service == producer) {
                    events[i].receipts.push(Receipt::new(&producer));
                }
            }
            events[i].receipts.sort_by(|a, b| a.service.cmp(&b.service));
        }
        let requests: Vec<Request> = store
            .spans
            .iter()
            .filter(|s| s.name == "request" && s.attr("correlation_id") == Some(correlation_id))
            .map(|s| Request {
                service: s.service.clone(),
                method: s.attr("method").unwrap_or("?").to_owned(),
                path: s.attr("path").unwrap_or("?").to_owned(),
                status: s.logged("status").and_then(|v| v.parse().ok()),
                start_unix_nanos: s.start_unix_nanos,
                end_unix_nanos: s.end_unix_nanos,
            })
            .collect();
        let began = first_moment(&requests, &events);
        let exits = match began {
            Some(began) => store.exits.iter().filter(|x| x.at_unix_nanos >= began).cloned().collect(),
            None => Vec::new(),
        };
        let faults = store
            .faults
            .iter()
            .filter(|f| match &f.correlation_id {
                Some(_) => f.scoped_to(correlation_id),
                None => began.is_none_or(|began| f.lasts_until(began)),
            })
            .cloned()
            .collect();
        Trace { correlation_id: correlation_id.to_owned(), events, roots, requests, dead_letters, exits, faults }
    }

    /// When the chain began: its first request or event (Unix nanoseconds).
    pub fn began_unix_nanos(&self) -> Option<u64> {
        first_moment(&self.requests, &self.events)
    }

    /// The events of one type.
    pub fn of_type<'a>(&'a self, event_type: &'a str) -> impl Iterator<Item = &'a EventNode> + 'a {
        self.events.iter().filter(move |e| e.event_type == event_type)
    }

    /// Dead letters whose event the tap never saw (a poison message, say).
    pub fn stray_dead_letters(&self) -> impl Iterator<Item = &DeadLetter> {
        self.dead_letters.iter().filter(|d| d.event.as_ref().is_none_or(|e| !self.has_event(&e.id.to_string())))
    }

    fn has_event(&self, id: &str) -> bool {
        self.events.iter().any(|e| e.id == id)
    }
}

/// The first request's start or the first event, whichever came first.
fn first_moment(requests: &[Request], events: &[EventNode]) -> Option<u64> {
    requests
        .iter()
        .map(|r| r.start_unix_nanos)
        .chain(events.iter().map(|e| e.occurred_at.unix_timestamp_nanos().max(0) as u64))
        .min()
}

impl Receipt {
    fn new(service: &str) -> Receipt {
        Receipt {
            service: service.to_owned(),
            attempts: 0,
            outcome: Outcome::Handled,
            last_error: None,
            calls: Vec::new(),
            work: Vec::new(),
            started_unix_nanos: None,
            ended_unix_nanos: None,
        }
    }
}

/// How each service fared with `node`: its `handle` spans, its `work`
/// spans for the event, and the dead-letter queues.
fn receipts(node: &EventNode, spans: &[SpanRecord], dead: &[DeadLetter]) -> Vec<Receipt> {
    let mut by_service: BTreeMap<String, Receipt> = BTreeMap::new();
    let mut handles: Vec<&SpanRecord> =
        spans.iter().filter(|s| s.name == "handle" && s.attr("event_id") == Some(node.id.as_str())).collect();
    handles.sort_by_key(|s| s.start_unix_nanos);
    for span in handles {
        let r = by_service.entry(span.service.clone()).or_insert_with(|| Receipt::new(&span.service));
        r.attempts += 1;
        r.started_unix_nanos.get_or_insert(span.start_unix_nanos);
        r.ended_unix_nanos = Some(span.end_unix_nanos);
        let failure =
            span.events.iter().find(|(message, _)| message.contains("failed") || message.starts_with("rejected"));
        match failure {
            Some((_, fields)) => {
                r.outcome = Outcome::Retrying;
                r.last_error = fields.get("error").cloned();
            }
            None => {
                r.outcome = Outcome::Handled;
                r.last_error = None;
            }
        }
        r.calls.extend(calls_under(span, spans));
    }
    let mut work: Vec<&SpanRecord> =
        spans.iter().filter(|s| s.name == "work" && s.attr("event_id") == Some(node.id.as_str())).collect();
    work.sort_by_key(|s| s.start_unix_nanos);
    for span in work {
        let r = by_service.entry(span.service.clone()).or_insert_with(|| Receipt::new(&span.service));
        let task = span.attr("task").unwrap_or("background work").to_owned();
        let error = span.events.iter().rev().find_map(|(_, fields)| fields.get("error").cloned());
        let i = match r.work.iter().position(|w| w.task == task) {
            Some(i) => i,
            None => {
                r.work.push(Work {
                    task,
                    runs: 0,
                    calls: Vec::new(),
                    last_error: None,
                    first_unix_nanos: span.start_unix_nanos,
                    last_unix_nanos: span.end_unix_nanos,
                });
                r.work.len() - 1
            }
        };
        let w = &mut r.work[i];
        w.runs += 1;
        w.last_unix_nanos = span.end_unix_nanos;
        w.calls.extend(calls_under(span, spans));
        if error.is_some() {
            w.last_error = error;
        }
    }
    for d in dead.iter().filter(|d| d.event.as_ref().is_some_and(|e| e.id.to_string() == node.id)) {
        let r = by_service.entry(d.service.clone()).or_insert_with(|| Receipt::new(&d.service));
        r.outcome = Outcome::DeadLettered { queue: d.queue.clone(), reason: d.reason.clone() };
    }
    by_service.into_values().collect()
}

/// The `call` spans that are children of `parent`.
fn calls_under(parent: &SpanRecord, spans: &[SpanRecord]) -> Vec<Call> {
    let mut calls: Vec<Call> = spans
        .iter()
        .filter(|c| c.name == "call" && c.parent_span_id == parent.span_id && c.service == parent.service)
        .map(|c| Call {
            callee: c.attr("service").unwrap_or("?").to_owned(),
            method: c.attr("method").unwrap_or("?").to_owned(),
            url: c.attr("url").unwrap_or("?").to_owned(),
            status: c.attr("status").and_then(|s| s.parse().ok()),
            start_unix_nanos: c.start_unix_nanos,
            end_unix_nanos: c.end_unix_nanos,
        })
        .collect();
    calls.sort_by_key(|c| c.start_unix_nanos);
    calls
}
