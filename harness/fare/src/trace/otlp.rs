//! OTLP/HTTP (protobuf) spans, decoded into the few fields a trace needs.

use std::collections::BTreeMap;

use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::common::v1::{AnyValue, KeyValue, any_value};
use prost::Message;

/// One finished span from a service.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct SpanRecord {
    pub service: String,
    pub name: String,
    /// The W3C trace the span belongs to: one per chain started by a request.
    pub trace_id: String,
    pub span_id: String,
    pub parent_span_id: String,
    pub start_unix_nanos: u64,
    pub end_unix_nanos: u64,
    pub attributes: BTreeMap<String, String>,
    /// Log lines emitted inside the span: (message, fields).
    pub events: Vec<(String, BTreeMap<String, String>)>,
}

impl SpanRecord {
    pub fn attr(&self, key: &str) -> Option<&str> {
        self.attributes.get(key).map(String::as_str)
    }

    /// A field of a log line emitted inside the span (the last one that has it).
    pub fn logged(&self, key: &str) -> Option<&str> {
        self.events.iter().rev().find_map(|(_, fields)| fields.get(key)).map(String::as_str)
    }

    /// Masks every attribute and log field ([`kit::redact`]).
    pub fn redact(&mut self) {
        let mask = |fields: &mut BTreeMap<String, String>| {
            for (key, value) in fields.iter_mut() {
                if kit::redact::is_secret_key(key) {
                    *value = kit::redact::MASK.to_owned();
                } else if let std::borrow::Cow::Owned(masked) = kit::redact::text(value) {
                    *value = masked;
                }
            }
        };
        mask(&mut self.attributes);
        for (message, fields) in &mut self.events {
            *message = kit::redact::text(message).into_owned();
            mask(fields);
        }
    }

    pub fn millis(&self) -> u64 {
        self.end_unix_nanos.saturating_sub(self.start_unix_nanos) / 1_000_000
    }
}

/// Decodes an export request body.
pub fn decode(body: &[u8]) -> Result<Vec<SpanRecord>, prost::DecodeError> {
    let request = ExportTraceServiceRequest::decode(body)?;
    let mut spans = Vec::new();
    for resource_spans in request.resource_spans {
        let resource = resource_spans.resource.map(|r| attributes(&r.attributes)).unwrap_or_default();
        let service = resource.get("service.name").cloned().unwrap_or_else(|| "unknown".into());
        for scope in resource_spans.scope_spans {
            for span in scope.spans {
                spans.push(SpanRecord {
                    service: service.clone(),
                    name: span.name,
                    trace_id: hex(&span.trace_id),
                    span_id: hex(&span.span_id),
                    parent_span_id: hex(&span.parent_span_id),
                    start_unix_nanos: span.start_time_unix_nano,
                    end_unix_nanos: span.end_time_unix_nano,
                    attributes: attributes(&span.attributes),
                    events: span.events.into_iter().map(|e| (e.name, attributes(&e.attributes))).collect(),
                });
            }
        }
    }
    Ok(spans)
}

fn attributes(kvs: &[KeyValue]) -> BTreeMap<String, String> {
    kvs.iter().map(|kv| (kv.key.clone(), kv.value.as_ref().map(text).unwrap_or_default())).collect()
}

fn text(value: &AnyValue) -> String {
    match &value.value {
        Some(any_value::Value::StringValue(s)) => s.clone(),
        Some(any_value::Value::IntValue(i)) => i.to_string(),
        Some(any_value::Value::BoolValue(b)) => b.to_string(),
        Some(any_value::Value::DoubleValue(d)) => d.to_string(),
        Some(other) => format!("{other:?}"),
        None => String::new(),
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}
