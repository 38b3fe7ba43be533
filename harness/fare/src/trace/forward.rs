//! Forwarding the services' spans to the user's own OTLP collector (Jaeger,
//! an OpenTelemetry Collector, a vendor's endpoint), beside fare's record.
//!
//! The recorder stays the services' only exporter target, so `fare trace`
//! never loses a span to the user's settings; every export it receives is
//! also handed, as the same protobuf body, to a [`Forwarder`]. Handing over
//! is a `try_send` on a bounded queue: a slow or down target fills the queue
//! and further exports are dropped and counted, never waited for.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use axum::body::Bytes;
use tokio::sync::{Notify, mpsc};
use tokio_util::sync::CancellationToken;

/// Exports waiting for the target at most; beyond that they are dropped.
const QUEUE: usize = 256;
/// One export's bound: a target that accepts connections but never answers
/// holds the queue no longer than this per export.
const TIMEOUT: Duration = Duration::from_secs(2);

/// Where to forward: `OTEL_EXPORTER_OTLP_ENDPOINT` and its headers, as the
/// OpenTelemetry exporters read them.
#[derive(Clone, PartialEq, Eq)]
pub struct OtlpTarget {
    /// The full URL exports are POSTed to (`…/v1/traces`).
    pub url: String,
    /// Sent with every export; values may be secrets, so never logged.
    pub headers: Vec<(String, String)>,
}

impl std::fmt::Debug for OtlpTarget {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let names: Vec<&str> = self.headers.iter().map(|(k, _)| k.as_str()).collect();
        f.debug_struct("OtlpTarget").field("url", &self.url).field("header_names", &names).finish()
    }
}

impl OtlpTarget {
    /// The target the environment names, if any:
    /// `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT` (used as is) or
    /// `OTEL_EXPORTER_OTLP_ENDPOINT` (with `/v1/traces` appended), and
    /// `OTEL_EXPORTER_OTLP_HEADERS` / `OTEL_EXPORTER_OTLP_TRACES_HEADERS`.
    pub fn from_env() -> Option<OtlpTarget> {
        let var = |k: &str| std::env::var(k).ok().filter(|v| !v.trim().is_empty());
        OtlpTarget::from_vars(&var)
    }

    fn from_vars(var: &dyn Fn(&str) -> Option<String>) -> Option<OtlpTarget> {
        let url = match var("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT") {
            Some(url) => url,
            None => format!("{}/v1/traces", var("OTEL_EXPORTER_OTLP_ENDPOINT")?.trim_end_matches('/')),
        };
        let mut headers = parse_headers(&var("OTEL_EXPORTER_OTLP_HEADERS").unwrap_or_default());
        headers.extend(parse_headers(&var("OTEL_EXPORTER_OTLP_TRACES_HEADERS").unwrap_or_default()));
        Some(OtlpTarget { url, headers })
    }
}

/// `k1=v1,k2=v2`, values percent-encoded (the OTLP exporter spec's format);
/// a pair without `=` is skipped.
fn parse_headers(text: &str) -> Vec<(String, String)> {
    text.split(',')
        .filter_map(|pair| pair.split_once('='))
        .map(|(k, v)| (k.trim().to_owned(), percent_decode(v.trim())))
        .filter(|(k, v)| !k.is_empty() && !v.is_empty())
        .collect()
}

fn percent_decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = bytes.get(i + 1..i + 3).and_then(|h| std::str::from_utf8(h).ok());
        match (bytes[i], hex.and_then(|h| u8::from_str_radix(h, 16).ok())) {
            (b'%', Some(b)) => {
                out.push(b);
                i += 3;
            }
            (b, _) => {
                out.push(b);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// What forwarding did so far.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
pub struct ForwardStats {
    /// Exports the target accepted.
    pub sent: u64,
    /// Exports the target refused or never answered.
    pub failed: u64,
    /// Exports dropped because the queue was full.
    pub dropped: u64,
}

#[derive(Default)]
struct Counters {
    offered: AtomicU64,
    sent: AtomicU64,
    failed: AtomicU64,
    dropped: AtomicU64,
    /// Rings each time an export is done with (sent or failed).
    done: Notify,
}

/// Hands exports to the target in the background.
#[derive(Clone)]
pub struct Forwarder {
    queue: mpsc::Sender<Bytes>,
    counters: Arc<Counters>,
    target: String,
}

impl Forwarder {
    /// Starts the sending task; it ends when `shutdown` fires.
    pub fn start(target: OtlpTarget, shutdown: CancellationToken) -> Forwarder {
        let (queue, exports) = mpsc::channel(QUEUE);
        let counters = Arc::new(Counters::default());
        tokio::spawn(send_all(target.clone(), exports, counters.clone(), shutdown));
        Forwarder { queue, counters, target: target.url }
    }

    /// Queues one export body; never waits. A full queue drops it, with a
    /// warning on the first drop and every 100th after.
    pub fn offer(&self, body: Bytes) {
        self.counters.offered.fetch_add(1, Ordering::Relaxed);
        if self.queue.try_send(body).is_err() {
            let dropped = self.counters.dropped.fetch_add(1, Ordering::Relaxed) + 1;
            if dropped % 100 == 1 {
                eprintln!(
                    "fare: {} is not keeping up: {dropped} span export(s) for it dropped so far \
                     (fare's own record is complete)",
                    self.target
                );
            }
            self.counters.done.notify_waiters();
        }
    }

    pub fn stats(&self) -> ForwardStats {
        ForwardStats {
            sent: self.counters.sent.load(Ordering::Relaxed),
            failed: self.counters.failed.load(Ordering::Relaxed),
            dropped: self.counters.dropped.load(Ordering::Relaxed),
        }
    }

    /// Waits until every export offered so far was sent, failed or dropped.
    pub async fn flush(&self) {
        let offered = self.counters.offered.load(Ordering::Relaxed);
        // Once the sender has stopped, nothing more will be done.
        while !self.queue.is_closed() {
            let done = self.counters.done.notified();
            let s = self.stats();
            if s.sent + s.failed + s.dropped >= offered {
                return;
            }
            done.await;
        }
    }
}

async fn send_all(
    target: OtlpTarget,
    mut exports: mpsc::Receiver<Bytes>,
    counters: Arc<Counters>,
    shutdown: CancellationToken,
) {
    let http = reqwest::Client::builder().timeout(TIMEOUT).build().expect("a plain client builds");
    // Warned once per outage: after a failure, again only after a success.
    let mut warned = false;
    loop {
        let body = tokio::select! {
            body = exports.recv() => match body { Some(b) => b, None => return },
            _ = shutdown.cancelled() => return,
        };
        let mut request = http.post(&target.url).header("content-type", "application/x-protobuf").body(body);
        for (k, v) in &target.headers {
            request = request.header(k, v);
        }
        match request.send().await.and_then(|r| r.error_for_status()) {
            Ok(_) => {
                counters.sent.fetch_add(1, Ordering::Relaxed);
                warned = false;
            }
            Err(e) => {
                let failed = counters.failed.fetch_add(1, Ordering::Relaxed) + 1;
                if !warned {
                    // reqwest's error names the URL, never the headers.
                    eprintln!(
                        "fare: forwarding spans failed ({failed} export(s) so far; fare's own record is complete): {}",
                        kit::error_chain(&e)
                    );
                    warned = true;
                }
            }
        }
        counters.done.notify_waiters();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn target(vars: &[(&str, &str)]) -> Option<OtlpTarget> {
        let vars: std::collections::BTreeMap<String, String> =
            vars.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
        OtlpTarget::from_vars(&|k| vars.get(k).cloned())
    }

    #[test]
    fn the_environment_names_the_target_as_the_exporters_read_it() {
        assert_eq!(target(&[]), None);
        let t = target(&[
            ("OTEL_EXPORTER_OTLP_ENDPOINT", "http://jaeger:4318/"),
            ("OTEL_EXPORTER_OTLP_HEADERS", "api-key=s%3Dcr%2Ct, x-team = fare ,broken"),
        ])
        .unwrap();
        assert_eq!(t.url, "http://jaeger:4318/v1/traces");
        assert_eq!(t.headers, [("api-key".into(), "s=cr,t".into()), ("x-team".into(), "fare".into())]);
        assert!(!format!("{t:?}").contains("s=cr,t"), "headers may be secrets: {t:?}");
        let t = target(&[
            ("OTEL_EXPORTER_OTLP_ENDPOINT", "http://a:4318"),
            ("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "http://b:4318/custom"),
        ])
        .unwrap();
        assert_eq!(t.url, "http://b:4318/custom");
    }
}
