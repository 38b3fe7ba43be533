//! What the platform's consumer tests share to write its Pact files.
//!
//! A consumer test builds one pact per (consumer, provider) pair with
//! [`Pact`], drives its real client against Pact's mock server or hands
//! Pact's messages to its real handler, and then [`Pact::publish`]es the
//! file the Pact library wrote into `contracts/pacts/`, the committed
//! contracts that `fare contracts check` and `fare contracts verify` read.
//!
//! The library writes into a fresh staging directory and the finished file
//! replaces the committed one: Pact merges into an existing file, which would
//! keep an interaction the consumer no longer has; staging makes a second
//! run write the same bytes and a removed interaction vanish from the diff.
//!
//! # Layout
//! - [`Pact`]: one pact being written, its staging directory, its messages.
//! - [`hear`], [`deliver`]: a message pact written by handing each message to a consumer's real handler.
//! - [`runtime`], [`temp_db`], [`staged`]: what those tests run on.
//! - [`envelope`], [`event_data`]: the matchers for the platform's event envelope and each event's data (CATALOG.md).
//! - the regexes ids, timestamps and codes are matched by.
//! - `sessions`: the session check users answers every service that serves a user's data.

pub mod sessions;

use std::path::{Path, PathBuf};

use pact_consumer::prelude::*;

/// Where the committed pacts live.
pub const PACTS_DIR: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/pacts");

/// An event id: consumers parse it as a UUID to deduplicate.
pub const UUID: &str = "^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$";
/// Any other id on the platform (user, order, device, shipment): what reaches a URL or a log safely.
pub const ID: &str = "^[A-Za-z0-9._:-]{1,128}$";
/// An RFC 3339 timestamp, as `time` writes it.
pub const TIMESTAMP: &str = r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$";
/// A carrier's tracking number (tracking's `TrackingNumber`).
pub const TRACKING_NUMBER: &str = "^[A-Za-z0-9_-]{1,64}$";
/// An ISO 4217 currency.
pub const CURRENCY: &str = "^[A-Z]{3}$";
/// An email address, roughly: what mailer's `Email` accepts.
pub const EMAIL: &str = r"^[^@\s]+@[^@\s]+\.[^@\s]+$";

/// The example ids every pact uses, so that one provider state serves them all.
pub const USER_ID: &str = "u-1";
pub const ORDER_ID: &str = "o-1";

#[derive(Debug, thiserror::Error)]
pub enum ContractError {
    #[error("creating a staging directory for the pact {consumer}-{provider}: {source}")]
    Staging { consumer: String, provider: String, source: std::io::Error },
    #[error("the Pact library wrote no {path}: was every mock server dropped and every message taken?")]
    NotWritten { path: PathBuf },
    #[error("copying {from} to {to}: {source}")]
    Copy { from: PathBuf, to: PathBuf, source: std::io::Error },
    #[error("message `{description}` of {pact} has no body")]
    NoBody { pact: String, description: String },
    #[error("message `{description}` is not an event envelope: {source}")]
    Envelope { description: String, source: kit::envelope::EnvelopeError },
    #[error("the handler refused message `{description}`: {message}")]
    Refused { description: String, message: String },
}

/// One message Pact hands a consumer: what its handler must accept.
#[derive(Debug, Clone)]
pub struct Message {
    pub description: String,
    /// The message contents, the JSON text a consumer receives from its queue.
    pub body: String,
}

/// One pact being written: V4 builders whose files go to a staging
/// directory. HTTP and message interactions have a builder each, since Pact's
/// mock server refuses a pact holding messages; both write the same file,
/// the second merging into the first.
pub struct Pact {
    builder: PactBuilder,
    events: PactBuilder,
    staging: tempfile::TempDir,
    consumer: String,
    provider: String,
}

impl Pact {
    pub fn new(consumer: &str, provider: &str) -> Result<Pact, ContractError> {
        let staging = tempfile::tempdir().map_err(|source| ContractError::Staging {
            consumer: consumer.to_owned(),
            provider: provider.to_owned(),
            source,
        })?;
        let mut builder = PactBuilder::new_v4(consumer, provider);
        builder.with_output_dir(staging.path());
        let mut events = PactBuilder::new_v4(consumer, provider);
        events.with_output_dir(staging.path());
        Ok(Pact { builder, events, staging, consumer: consumer.to_owned(), provider: provider.to_owned() })
    }

    /// The builder of HTTP interactions, to add them and start the mock server.
    pub fn builder(&mut self) -> &mut PactBuilder {
        &mut self.builder
    }

    /// Adds "a <event_type> event": the provider's envelope around `data`,
    /// with the `event_type` attribute that subscriptions filter on.
    pub fn event(&mut self, event_type: &str, data: JsonPattern) -> &mut Self {
        let body = envelope(event_type, &self.provider, data);
        self.events.message_interaction(format!("a {event_type} event"), |mut i| {
            i.metadata("contentType", "application/json");
            i.metadata("event_type", event_type);
            i.json_body(body);
            i
        });
        self
    }

    /// The messages built so far, with their example values; taking them
    /// writes the pact's message interactions.
    pub fn messages(&self) -> Result<Vec<Message>, ContractError> {
        self.events
            .messages()
            .map(|m| {
                let description = m.description.clone();
                match m.contents.contents.value_as_string() {
                    Some(body) => Ok(Message { description, body }),
                    None => Err(ContractError::NoBody { pact: self.file_name(), description }),
                }
            })
            .collect()
    }

    fn file_name(&self) -> String {
        format!("{}-{}.json", self.consumer, self.provider)
    }

    /// Replaces the committed pact with the one just written; its path.
    /// Call it after every mock server of this pact was dropped.
    pub fn publish(self) -> Result<PathBuf, ContractError> {
        let from = self.staging.path().join(self.file_name());
        if !from.is_file() {
            return Err(ContractError::NotWritten { path: from });
        }
        let to = Path::new(PACTS_DIR).join(self.file_name());
        std::fs::create_dir_all(PACTS_DIR)
            .and_then(|()| std::fs::copy(&from, &to))
            .map_err(|source| ContractError::Copy { from: from.clone(), to: to.clone(), source })?;
        Ok(to)
    }
}

/// Hands `message` to a consumer's real queue handler, as its consumer
/// loop would: parsed as an envelope, then handled.
pub async fn deliver<H: kit::bus::Handler>(handler: &H, message: &Message) -> Result<(), ContractError> {
    let description = message.description.clone();
    let event = kit::Envelope::from_json(&message.body)
        .map_err(|source| ContractError::Envelope { description: description.clone(), source })?;
    handler.handle(event).await.map_err(|e| ContractError::Refused { description, message: kit::error_chain(&e) })
}

/// Writes `consumer`'s pact with `provider` for `events` (their catalog
/// data), handing each message to `accept`, which gives it to the
/// consumer's real handler and checks the effect; its path.
pub fn hear<F>(consumer: &str, provider: &str, events: &[&str], mut accept: F) -> Result<PathBuf, ContractError>
where
    F: AsyncFnMut(&Message),
{
    do_not_track();
    let mut pact = Pact::new(consumer, provider)?;
    for event_type in events {
        pact.event(event_type, event_data(event_type));
    }
    let messages = pact.messages()?;
    runtime().block_on(async {
        for message in &messages {
            accept(message).await;
        }
    });
    pact.publish()
}

/// A runtime for a plain `#[test]`: Pact's synchronous mock server makes
/// its own, so a contract test cannot run inside `#[tokio::test]`.
pub fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread().enable_all().build().expect("a Tokio runtime")
}

/// A service's database in a fresh directory (kept alive by the `TempDir`).
pub fn temp_db(migrations: &[kit::store::Migration]) -> (tempfile::TempDir, kit::store::Db) {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let db = kit::store::Db::open(&dir.path().join("service.sqlite"), migrations).expect("opening a fresh database");
    (dir, db)
}

/// How many events a handler staged for publishing.
pub async fn staged(db: &kit::store::Db) -> u64 {
    db.read(|c| c.query_row("SELECT count(*) FROM fare_outbox", [], |r| r.get(0)).map_err(kit::store::StoreError::from))
        .await
        .expect("counting the outbox")
}

/// Pact's mock server phones home unless told not to; set before any
/// builder starts.
pub fn do_not_track() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        if std::env::var_os("PACT_DO_NOT_TRACK").is_none() {
            // SAFETY: called first thing by every contract test, before this
            // process starts any thread that reads the environment; `just
            // verify` sets the variable anyway, which skips this.
            unsafe { std::env::set_var("PACT_DO_NOT_TRACK", "true") };
        }
    });
}

/// The envelope of every event (DESIGN.md, "Events"), `producer` publishing it.
pub fn envelope(event_type: &str, producer: &str, data: JsonPattern) -> JsonPattern {
    json_pattern!({
        "id": term!(UUID, "3f2a6c1e-8a5b-4c1d-9e7f-0a1b2c3d4e5f"),
        "type": event_type,
        "version": 1,
        "occurred_at": term!(TIMESTAMP, "2030-01-01T12:00:00.000000001Z"),
        "correlation_id": term!(ID, "c-1"),
        "causation_id": like!("3f2a6c1e-0000-4c1d-9e7f-0a1b2c3d4e5f"),
        "producer": producer,
        "data": data
    })
}

fn address() -> JsonPattern {
    json_pattern!(like!({
        "name": "Ada Lovelace",
        "line1": "1 Analytical Road",
        "city": "London",
        "postal_code": "N1 1AA",
        "country": "GB"
    }))
}

/// The data of `event_type` as the platform's catalog has it; `{}` (any
/// object) for an event the catalog does not list.
pub fn event_data(event_type: &str) -> JsonPattern {
    let id = |example: &str| JsonPattern::from(term!(ID, example));
    match event_type {
        "user.registered" => json_pattern!({
            "user_id": id(USER_ID),
            "email": term!(EMAIL, "ada@example.com"),
            "name": like!("Ada Lovelace")
        }),
        "order.placed" => json_pattern!({
            "order_id": id(ORDER_ID),
            "user_id": id(USER_ID),
            "model": like!("phone-basic"),
            "price_cents": like!(19900),
            "currency": term!(CURRENCY, "EUR"),
            "shipping_address": address()
        }),
        "device.allocated" => json_pattern!({
            "order_id": id(ORDER_ID),
            "user_id": id(USER_ID),
            "model": like!("phone-basic"),
            "device_id": id("d-1"),
            "serial": like!("phone-basic-0001"),
            "shipping_address": address()
        }),
        "device.allocation_failed" => json_pattern!({
            "order_id": id(ORDER_ID),
            "user_id": id(USER_ID),
            "model": like!("phone-basic"),
            "reason": term!("^[a-z_]+$", "out_of_stock")
        }),
        "shipment.requested" => json_pattern!({
            "order_id": id(ORDER_ID),
            "user_id": id(USER_ID),
            "shipment_id": id("s-1"),
            "tracking_number": term!(TRACKING_NUMBER, "TRK-0001"),
            "carrier": like!("fedex")
        }),
        "package.delivered" => json_pattern!({
            "order_id": id(ORDER_ID),
            "user_id": id(USER_ID),
            "shipment_id": id("s-1"),
            "tracking_number": term!(TRACKING_NUMBER, "TRK-0001"),
            "delivered_at": term!(TIMESTAMP, "2030-01-02T09:30:00Z")
        }),
        // `last_status` is left out: null when the carrier never answered,
        // and no consumer reads it.
        "shipment.lost" => json_pattern!({
            "order_id": id(ORDER_ID),
            "user_id": id(USER_ID),
            "shipment_id": id("s-1"),
            "tracking_number": term!(TRACKING_NUMBER, "TRK-0001"),
            "reason": term!("^(refused|deadline)$", "refused"),
            "polls": like!(5)
        }),
        "invoice.issued" => json_pattern!({
            "id": id("i-1"),
            "order_id": id(ORDER_ID),
            "user_id": id(USER_ID),
            "amount_cents": like!(19900),
            "currency": term!(CURRENCY, "EUR"),
            "issued_at": term!(TIMESTAMP, "2030-01-01T12:00:01Z")
        }),
        "mail.sent" => json_pattern!({
            "mail_id": id("m-1"),
            "user_id": id(USER_ID),
            "template": like!("welcome"),
            "trigger_event_id": term!(UUID, "3f2a6c1e-8a5b-4c1d-9e7f-0a1b2c3d4e5f"),
            "trigger_event_type": like!("user.registered"),
            "provider_message_id": id("msg-1")
        }),
        _ => json_pattern!({}),
    }
}
