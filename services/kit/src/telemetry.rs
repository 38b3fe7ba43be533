//! Logs and traces. Every service logs through `tracing`; the correlation id
//! sits on the request or message span, so every line inside it carries it.
//! Spans go to an OTLP/HTTP collector only when `OTEL_EXPORTER_OTLP_ENDPOINT`
//! is set, and W3C `traceparent` values carry the trace across HTTP calls and
//! SNS/SQS hops either way.
//!
//! Both go through [`crate::redact`] on their way out: a log line is masked
//! as a whole before it reaches stderr, and a span's name, attributes and
//! events before they reach the exporter, so no handler has to remember.

use std::collections::HashMap;
use std::io::Write;
use std::time::Duration;

use opentelemetry::propagation::TextMapPropagator;
use opentelemetry::trace::{TraceContextExt, TracerProvider as _};
use opentelemetry::{KeyValue, Value};
use opentelemetry_sdk::error::OTelSdkResult;
use opentelemetry_sdk::propagation::TraceContextPropagator;
use opentelemetry_sdk::trace::{SdkTracerProvider, SpanData, SpanExporter};
use tracing_opentelemetry::OpenTelemetrySpanExt;
use tracing_subscriber::EnvFilter;
use tracing_subscriber::fmt::MakeWriter;
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;

use crate::envelope::CorrelationId;

#[derive(Debug, thiserror::Error)]
pub enum TelemetryError {
    #[error("building the OTLP exporter for {endpoint}: {message}")]
    Exporter { endpoint: String, message: String },
}

/// Flushes pending spans when dropped: keep it alive for the life of `main`.
#[must_use = "spans are flushed when the guard drops"]
pub struct TelemetryGuard {
    provider: Option<SdkTracerProvider>,
}

impl Drop for TelemetryGuard {
    fn drop(&mut self) {
        if let Some(provider) = self.provider.take() {
            let _ = provider.shutdown();
        }
    }
}

/// Installs the global subscriber: human-readable logs on stderr filtered by
/// `RUST_LOG` (default `info`), plus OTLP export when configured. A second
/// call (tests) keeps the first subscriber.
pub fn init(service: &str) -> Result<TelemetryGuard, TelemetryError> {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    let ansi = std::io::IsTerminal::is_terminal(&std::io::stderr());
    let fmt = tracing_subscriber::fmt::layer().with_writer(RedactedStderr).with_target(false).with_ansi(ansi);
    let endpoint = std::env::var("OTEL_EXPORTER_OTLP_ENDPOINT").ok().filter(|e| !e.is_empty());
    let Some(endpoint) = endpoint else {
        let _ = tracing_subscriber::registry().with(filter).with(fmt).try_init();
        return Ok(TelemetryGuard { provider: None });
    };
    let exporter = opentelemetry_otlp::SpanExporter::builder()
        .with_http()
        .build()
        .map_err(|e| TelemetryError::Exporter { endpoint: endpoint.clone(), message: e.to_string() })?;
    let resource = opentelemetry_sdk::Resource::builder().with_service_name(service.to_owned()).build();
    let provider = SdkTracerProvider::builder().with_batch_exporter(Redacted(exporter)).with_resource(resource).build();
    let tracer = provider.tracer(service.to_owned());
    let otel = tracing_opentelemetry::layer().with_tracer(tracer);
    let _ = tracing_subscriber::registry().with(filter).with(fmt).with(otel).try_init();
    Ok(TelemetryGuard { provider: Some(provider) })
}

/// Stderr, each log line masked by [`crate::redact::text`] first. The fmt
/// layer formats one event into one writer and drops it: the line is whole
/// when it is masked.
#[derive(Debug, Clone, Copy)]
pub struct RedactedStderr;

impl<'a> MakeWriter<'a> for RedactedStderr {
    type Writer = RedactedLine;
    fn make_writer(&'a self) -> RedactedLine {
        RedactedLine(Vec::with_capacity(256))
    }
}

/// One log line on its way to stderr.
pub struct RedactedLine(Vec<u8>);

impl Write for RedactedLine {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl Drop for RedactedLine {
    fn drop(&mut self) {
        let line = String::from_utf8_lossy(&self.0);
        let _ = std::io::stderr().lock().write_all(crate::redact::text(&line).as_bytes());
    }
}

/// A span exporter that masks what it is handed before passing it on.
#[derive(Debug)]
pub struct Redacted<E>(pub E);

impl<E: SpanExporter> SpanExporter for Redacted<E> {
    fn export(&self, mut batch: Vec<SpanData>) -> impl Future<Output = OTelSdkResult> + Send {
        batch.iter_mut().for_each(redact_span);
        self.0.export(batch)
    }
    fn shutdown_with_timeout(&self, timeout: Duration) -> OTelSdkResult {
        self.0.shutdown_with_timeout(timeout)
    }
    fn force_flush(&self) -> OTelSdkResult {
        self.0.force_flush()
    }
    fn set_resource(&mut self, resource: &opentelemetry_sdk::Resource) {
        self.0.set_resource(resource);
    }
}

/// Masks a span's name, attributes, and its events' names and attributes.
pub fn redact_span(span: &mut SpanData) {
    if let std::borrow::Cow::Owned(name) = crate::redact::text(&span.name) {
        span.name = name.into();
    }
    redact_attributes(&mut span.attributes);
    for event in span.events.events.iter_mut() {
        if let std::borrow::Cow::Owned(name) = crate::redact::text(&event.name) {
            event.name = name.into();
        }
        redact_attributes(&mut event.attributes);
    }
}

fn redact_attributes(attributes: &mut [KeyValue]) {
    for kv in attributes {
        if crate::redact::is_secret_key(kv.key.as_str()) {
            kv.value = Value::from(crate::redact::MASK);
        } else if let Value::String(s) = &kv.value
            && let std::borrow::Cow::Owned(masked) = crate::redact::text(s.as_str())
        {
            kv.value = Value::from(masked);
        }
    }
}

/// The `traceparent` to send with work done now for `correlation`: the
/// current span's when spans are exported, else one whose trace id is
/// derived from the correlation id, so the hops of a chain still share one.
pub fn traceparent(correlation: &CorrelationId) -> String {
    let cx = tracing::Span::current().context();
    let span = cx.span();
    let sc = span.span_context();
    if sc.is_valid() {
        return format!("00-{}-{}-{:02x}", sc.trace_id(), sc.span_id(), sc.trace_flags().to_u8());
    }
    format!("00-{}-{:016x}-01", trace_id_of(correlation), rand::random::<u64>() | 1)
}

/// Makes `span` a child of the remote span named by `traceparent`, when
/// spans are exported; a malformed value is ignored.
pub fn adopt_parent(span: &tracing::Span, traceparent: Option<&str>) {
    let Some(value) = traceparent else { return };
    let carrier = HashMap::from([("traceparent".to_owned(), value.to_owned())]);
    let cx = TraceContextPropagator::new().extract(&carrier);
    if cx.span().span_context().is_valid() {
        let _ = span.set_parent(cx);
    }
}

/// 32 hex digits from a correlation id: its own digits when it is a UUID.
fn trace_id_of(correlation: &CorrelationId) -> String {
    if let Ok(uuid) = uuid::Uuid::parse_str(correlation.as_str()) {
        return uuid.simple().to_string();
    }
    // FNV-1a, 128-bit: stable across runs and builds, unlike std's hasher.
    let mut hash: u128 = 0x6c62272e07bb014262b821756295c58d;
    for byte in correlation.as_str().bytes() {
        hash ^= byte as u128;
        hash = hash.wrapping_mul(0x0000000001000000000000000000013B);
    }
    format!("{hash:032x}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exported_spans_are_masked() {
        let token = "c453b9a8e0f14b2d9c7e5a3f1b0d8c6e4a2f0e9d7c5b3a1f9e8d7c6b5a4f3e2d";
        let mut span = SpanData {
            span_context: opentelemetry::trace::SpanContext::empty_context(),
            parent_span_id: opentelemetry::trace::SpanId::INVALID,
            parent_span_is_remote: false,
            span_kind: opentelemetry::trace::SpanKind::Internal,
            name: "request".into(),
            start_time: std::time::SystemTime::UNIX_EPOCH,
            end_time: std::time::SystemTime::UNIX_EPOCH,
            attributes: vec![
                KeyValue::new("url", format!("http://users/sessions/{token}")),
                KeyValue::new("authorization", "Bearer x"),
                KeyValue::new("status", 200),
            ],
            dropped_attributes_count: 0,
            events: Default::default(),
            links: Default::default(),
            status: opentelemetry::trace::Status::Unset,
            instrumentation_scope: Default::default(),
        };
        span.events.events.push(opentelemetry::trace::Event::new(
            "mail to ada@example.com failed",
            std::time::SystemTime::UNIX_EPOCH,
            vec![KeyValue::new("error", "{\"password\":\"hunter22\"}")],
            0,
        ));
        redact_span(&mut span);
        let shown = format!("{span:?}");
        for secret in [token, "Bearer x", "ada@example.com", "hunter22"] {
            assert!(!shown.contains(secret), "{secret} in {shown}");
        }
        assert!(shown.contains("I64(200)"), "{shown}");
    }

    #[test]
    fn traceparent_without_export_shares_the_chain_trace_id() {
        let id = CorrelationId::parse("0f6c3d1e-7a42-4a0e-9a1c-2b9f1d3c4e5f").unwrap();
        let tp = traceparent(&id);
        assert!(tp.starts_with("00-0f6c3d1e7a424a0e9a1c2b9f1d3c4e5f-"), "{tp}");
        assert_eq!(tp.len(), 55);
        let other = CorrelationId::parse("scenario-7").unwrap();
        let a = traceparent(&other);
        let b = traceparent(&other);
        assert_eq!(a[..35], b[..35], "one chain, one trace id");
        assert_ne!(a[36..52], b[36..52], "each hop its own span id");
    }
}
