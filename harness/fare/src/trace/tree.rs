//! The causal tree of one correlation id: each event, who received it and
//! how that went (attempts, errors, calls out, dead letters), and the events
//! each receiver published in turn, linked by `causation_id`.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use super::otlp::SpanRecord;
use super::record::{DeadLetter, Store};

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Trace {
    pub correlation_id: String,
    pub events: Vec<EventNode>,
    /// Indices into `events` of the events no recorded event caused.
    pub roots: Vec<usize>,
    /// HTTP requests of this chain that services served: "store POST /orders 201".
    pub requests: Vec<String>,
    /// Dead letters of this chain whose event the tap never saw.
    pub stray_dead_letters: Vec<DeadLetter>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct EventNode {
    pub id: String,
    pub event_type: String,
    pub producer: String,
    pub causation_id: Option<String>,
    #[serde(with = "time::serde::rfc3339")]
    pub occurred_at: OffsetDateTime,
    pub receipts: Vec<Receipt>,
    /// Indices into `Trace::events`.
    pub children: Vec<usize>,
}

/// One service's handling of one event.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Receipt {
    pub service: String,
    /// Handling attempts seen in spans (0 when only the outcome is known).
    pub attempts: u32,
    pub outcome: Outcome,
    pub last_error: Option<String>,
    /// Calls made while handling: "fulfillment-center POST http://…/fulfillment-orders 503".
    pub calls: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
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
        for node in &mut events {
            node.receipts = receipts(node, &store.spans, &store.dead);
        }
        // A producer of a child event evidently handled its cause.
        for i in 0..events.len() {
            let producers: Vec<String> = events[i].children.iter().map(|&c| events[c].producer.clone()).collect();
            for producer in producers {
                if !events[i].receipts.iter().any(|r| r.service == producer) {
                    events[i].receipts.push(Receipt {
                        service: producer,
                        attempts: 0,
                        outcome: Outcome::Handled,
                        last_error: None,
                        calls: Vec::new(),
                    });
                }
            }
            events[i].receipts.sort_by(|a, b| a.service.cmp(&b.service));
        }
        let requests = store
            .spans
            .iter()
            .filter(|s| s.name == "request" && s.attr("correlation_id") == Some(correlation_id))
            .map(|s| format!("{} {} {}", s.service, s.attr("method").unwrap_or("?"), s.attr("path").unwrap_or("?")))
            .collect();
        let stray_dead_letters = store
            .dead
            .iter()
            .filter(|d| d.event.as_ref().is_some_and(|e| e.correlation_id.as_str() == correlation_id))
            .filter(|d| d.event.as_ref().is_some_and(|e| !index.contains_key(&e.id.to_string())))
            .cloned()
            .collect();
        Trace { correlation_id: correlation_id.to_owned(), events, roots, requests, stray_dead_letters }
    }

    /// The events of one type.
    pub fn of_type<'a>(&'a self, event_type: &'a str) -> impl Iterator<Item = &'a EventNode> + 'a {
        self.events.iter().filter(move |e| e.event_type == event_type)
    }

    /// The tree as text, with offsets from the first event.
    pub fn render_text(&self) -> String {
        self.render(true)
    }

    /// The tree without times or ids: stable across runs, for snapshots.
    pub fn normalised(&self) -> String {
        self.render(false)
    }

    /// Only the events, nested by cause, each with its producer: what a
    /// chain did, without anything that varies between runs (ids, times,
    /// ports, how many attempts a retry took). Scenario snapshots hold this.
    pub fn skeleton(&self) -> String {
        let mut out = String::new();
        let mut roots = self.roots.clone();
        roots.sort_by_key(|&i| (self.events[i].event_type.clone(), self.events[i].producer.clone()));
        for (n, &root) in roots.iter().enumerate() {
            self.skeleton_event(&mut out, root, "", n + 1 == roots.len());
        }
        out
    }

    fn skeleton_event(&self, out: &mut String, i: usize, prefix: &str, last: bool) {
        let e = &self.events[i];
        out.push_str(&format!("{prefix}{} {} (by {})\n", if last { "└─" } else { "├─" }, e.event_type, e.producer));
        let inner = format!("{prefix}{}", if last { "   " } else { "│  " });
        let mut children = e.children.clone();
        children.sort_by_key(|&c| (self.events[c].event_type.clone(), self.events[c].producer.clone()));
        for (n, &c) in children.iter().enumerate() {
            self.skeleton_event(out, c, &inner, n + 1 == children.len());
        }
    }

    fn render(&self, with_times: bool) -> String {
        let mut out = format!("chain {}\n", if with_times { self.correlation_id.as_str() } else { "<correlation-id>" });
        for r in &self.requests {
            out.push_str(&format!("  request: {r}\n"));
        }
        let start = self.events.first().map(|e| e.occurred_at);
        let mut roots = self.roots.clone();
        roots.sort_by_key(|&i| (self.events[i].event_type.clone(), self.events[i].occurred_at));
        for (n, &root) in roots.iter().enumerate() {
            self.render_event(&mut out, root, "", n + 1 == roots.len(), start.filter(|_| with_times));
        }
        if self.events.is_empty() {
            out.push_str("  (no events recorded)\n");
        }
        for d in &self.stray_dead_letters {
            let kind = d.event.as_ref().map(|e| e.event_type.to_string()).unwrap_or_default();
            out.push_str(&format!("  dead letter in {}: {kind}{}\n", d.queue, reason_note(&d.reason)));
        }
        out
    }

    fn render_event(&self, out: &mut String, i: usize, prefix: &str, last: bool, start: Option<OffsetDateTime>) {
        let e = &self.events[i];
        let when = start.map(|s| format!("  +{} ms", (e.occurred_at - s).whole_milliseconds())).unwrap_or_default();
        out.push_str(&format!(
            "{prefix}{} {} (by {}){when}\n",
            if last { "└─" } else { "├─" },
            e.event_type,
            e.producer
        ));
        let inner = format!("{prefix}{}", if last { "   " } else { "│  " });
        for (n, r) in e.receipts.iter().enumerate() {
            let last_receipt = n + 1 == e.receipts.len();
            out.push_str(&format!("{inner}{} {}\n", if last_receipt { "└─" } else { "├─" }, receipt_line(r)));
            let deeper = format!("{inner}{}", if last_receipt { "   " } else { "│  " });
            for call in &r.calls {
                out.push_str(&format!("{deeper}· call {call}\n"));
            }
            let mut children: Vec<usize> =
                e.children.iter().copied().filter(|&c| self.events[c].producer == r.service).collect();
            children.sort_by_key(|&c| (self.events[c].event_type.clone(), self.events[c].occurred_at));
            for (m, &c) in children.iter().enumerate() {
                self.render_event(out, c, &deeper, m + 1 == children.len(), start);
            }
        }
    }
}

fn receipt_line(r: &Receipt) -> String {
    let attempts = match r.attempts {
        0 | 1 => String::new(),
        n => format!(" after {n} attempts"),
    };
    let error = r.last_error.as_ref().map(|e| format!("; last error: {e}")).unwrap_or_default();
    match &r.outcome {
        Outcome::Handled => format!("{}: handled{attempts}", r.service),
        Outcome::Retrying => format!("{}: FAILING{attempts}, will be redelivered{error}", r.service),
        Outcome::DeadLettered { queue, reason } => {
            let why = reason_note(reason);
            let why = if why.is_empty() { error } else { why };
            format!("{}: DEAD-LETTERED in {queue}{attempts}{why}", r.service)
        }
    }
}

fn reason_note(reason: &Option<String>) -> String {
    reason.as_ref().map(|r| format!("; reason: {r}")).unwrap_or_default()
}

/// How each service fared with `node`, from its `handle` spans and the
/// dead-letter queues.
fn receipts(node: &EventNode, spans: &[SpanRecord], dead: &[DeadLetter]) -> Vec<Receipt> {
    let mut by_service: BTreeMap<String, Receipt> = BTreeMap::new();
    let mut handles: Vec<&SpanRecord> =
        spans.iter().filter(|s| s.name == "handle" && s.attr("event_id") == Some(node.id.as_str())).collect();
    handles.sort_by_key(|s| s.start_unix_nanos);
    for span in handles {
        let r = by_service.entry(span.service.clone()).or_insert_with(|| Receipt {
            service: span.service.clone(),
            attempts: 0,
            outcome: Outcome::Handled,
            last_error: None,
            calls: Vec::new(),
        });
        r.attempts += 1;
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
        for call in spans.iter().filter(|c| c.name == "call" && c.parent_span_id == span.span_id) {
            r.calls.push(format!(
                "{} {} {} {}",
                call.attr("service").unwrap_or("?"),
                call.attr("method").unwrap_or("?"),
                call.attr("url").unwrap_or("?"),
                call.attr("status").unwrap_or("no answer")
            ));
        }
    }
    for d in dead.iter().filter(|d| d.event.as_ref().is_some_and(|e| e.id.to_string() == node.id)) {
        let service = d.queue.trim_end_matches("-dlq").rsplit_once('-').map(|(_, s)| s.to_owned()).unwrap_or_default();
        let r = by_service.entry(service.clone()).or_insert_with(|| Receipt {
            service,
            attempts: 0,
            outcome: Outcome::Handled,
            last_error: None,
            calls: Vec::new(),
        });
        r.outcome = Outcome::DeadLettered { queue: d.queue.clone(), reason: d.reason.clone() };
    }
    by_service.into_values().collect()
}
