//! The service kit: what every service of the fare reference platform is
//! built on, so that each service's own code is its domain and nothing else.
//!
//! A service is an axum router, a SQLite database it owns, and, if it
//! listens, a handler for the events on its SQS queue. The kit adds the
//! rest: layered configuration, correlation ids on every request, call,
//! event and log line, the event envelope, publishing through a
//! transactional outbox, an SQS consumer that retries by visibility timeout
//! and leaves poison to the dead-letter queue, deduplication of redelivered
//! events, typed API errors, health and readiness, graceful shutdown and
//! OpenTelemetry export.
//!
//! # Layout
//! - `config`: defaults, file and environment layers; typed lookups.
//! - `envelope`: [`Envelope`] and the ids it carries ([`EventType`], [`CorrelationId`]).
//! - `store`: the service's SQLite file, its migrations, the inbox and outbox.
//! - `bus`: SNS/SQS clients, names, the publisher, the consumer loop, the outbox relay.
//! - `backoff`: the one rule for waiting longer after each failure: a first delay doubling to a ceiling.
//! - `http`: `ApiError`, the JSON extractor, correlation middleware, the client for asking others, the session check.
//! - `faults`: the hook through which fare, and only fare, injects handler faults for one run.
//! - `states`: provider states for contract verification, mounted only by [`Switches`] (a debug build's `FARE_PROVIDER_STATES=on`).
//! - `messages`: each event's sample, as the service's builder makes it, for Pact's message transport (same switch).
//! - `probe`: what `/pending` answers, as a type the harness reads too.
//! - `suggest`: "did you mean": the known name closest to a mistyped one.
//! - `redact`: masks tokens, passwords, credentials and email addresses in any text or JSON.
//! - `telemetry`: logs, OTLP spans, `traceparent`.
//! - `values`: an email address and short text, parsed the same way by every service.
//! - `app`: the runtime that starts and stops all of the above together.
//! - `testing` (feature `testing`): a real moto emulator provisioned for one service's tests, users' session check played by wiremock.

pub mod app;
pub mod backoff;
pub mod bus;
pub mod config;
pub mod envelope;
pub mod faults;
pub mod http;
pub mod messages;
pub mod probe;
pub mod redact;
pub mod states;
pub mod store;
pub mod suggest;
pub mod telemetry;
#[cfg(feature = "testing")]
pub mod testing;
pub mod values;

pub use app::{Application, ApplicationBuilder, KitError, Settings, shutdown_signal};
pub use config::Config;
pub use envelope::{CorrelationId, Envelope, EventType};
pub use states::Switches;

/// An error and all its sources, joined by ": ": what a log line needs.
pub fn error_chain(error: &(dyn std::error::Error + 'static)) -> String {
    let mut out = error.to_string();
    let mut source = error.source();
    while let Some(e) = source {
        let text = e.to_string();
        if !out.contains(&text) {
            out.push_str(": ");
            out.push_str(&text);
        }
        source = e.source();
    }
    out
}
