//! The consumer loop against a real moto: redelivery, dead-lettering,
//! deduplication and shutdown, with a handler whose effect is a row in a
//! real SQLite file.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use kit::bus::{Consumer, ConsumerOptions, HandleError, Handler};
use kit::store::{Db, Migration, StoreError, inbox};
use kit::testing::{TestBus, TestSpec};
use kit::{CorrelationId, Envelope, EventType};
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;

const EFFECTS: Migration =
    Migration { version: 1, name: "effects", sql: "CREATE TABLE effects (event_id TEXT NOT NULL);" };

/// Fails each event's first `fail_first` attempts (and every attempt at an
/// event whose data is "always fails"), then records it once.
struct Recorder {
    db: Db,
    fail_first: u32,
    attempts: Arc<Mutex<HashMap<uuid::Uuid, u32>>>,
    /// When set, a handler announces it started and waits to be let go.
    gate: Option<(Arc<Notify>, Arc<Notify>)>,
}

impl Handler for Recorder {
    async fn handle(&self, event: Envelope) -> Result<(), HandleError> {
        let attempt = {
            let mut attempts = self.attempts.lock().unwrap();
            let n = attempts.entry(event.id).or_default();
            *n += 1;
            *n
        };
        if event.data == "never works" {
            return Err(HandleError::reject("this event can never be handled"));
        }
        if attempt <= self.fail_first || event.data == "always fails" {
            return Err(HandleError::retry(format!("attempt {attempt} fails on purpose")));
        }
        if let Some((started, release)) = &self.gate {
            started.notify_one();
            release.notified().await;
        }
        let id = event.id;
        self.db
            .write(move |tx| {
                if inbox::claim(tx, id)? {
                    tx.execute("INSERT INTO effects (event_id) VALUES (?1)", [id.to_string()])
                        .map_err(StoreError::from)?;
                }
                Ok::<_, HandleError>(())
            })
            .await
    }
}

struct Rig {
    bus: TestBus,
    db: Db,
    attempts: Arc<Mutex<HashMap<uuid::Uuid, u32>>>,
    stop: CancellationToken,
    running: tokio::task::JoinHandle<()>,
    _dir: tempfile::TempDir,
}

async fn rig(max_receive_count: u32, fail_first: u32, gate: Option<(Arc<Notify>, Arc<Notify>)>) -> Rig {
    rig_with_visibility(max_receive_count, fail_first, gate, None).await
}

/// [`rig`] on a queue whose visibility timeout is `visibility` seconds.
async fn rig_with_visibility(
    max_receive_count: u32,
    fail_first: u32,
    gate: Option<(Arc<Notify>, Arc<Notify>)>,
    visibility: Option<u32>,
) -> Rig {
    let bus =
        TestBus::start(TestSpec { service: "svc", listens: &["thing.happened"], publishes: &[], max_receive_count })
            .await;
    if let Some(seconds) = visibility {
        let url = bus.bus.queue_url(&bus.bus.namespace.queue("svc")).await.unwrap();
        let attributes = [("VisibilityTimeout".to_owned(), seconds.to_string())].into();
        bus.bus.set_queue_attributes(&url, &attributes).await.unwrap();
    }
    let dir = tempfile::tempdir().unwrap();
    let db = Db::open(&dir.path().join("svc.sqlite"), &[EFFECTS]).unwrap();
    let attempts = Arc::new(Mutex::new(HashMap::new()));
    let handler = Recorder { db: db.clone(), fail_first, attempts: attempts.clone(), gate };
    let options = ConsumerOptions {
        wait_seconds: 1,
        retry_base_seconds: 0,
        ..ConsumerOptions::new(bus.bus.namespace.queue("svc"))
    };
    let stop = CancellationToken::new();
    let running = tokio::spawn(Consumer::new(bus.bus.clone(), options, handler).run(stop.clone()));
    Rig { bus, db, attempts, stop, running, _dir: dir }
}

fn event_with(data: &str) -> Envelope {
    Envelope::new("test", EventType::parse("thing.happened").unwrap(), CorrelationId::generate(), None, &data).unwrap()
}

fn event() -> Envelope {
    event_with("x")
}

async fn effects(db: &Db) -> i64 {
    db.read(|c| c.query_row("SELECT count(*) FROM effects", [], |r| r.get(0)).map_err(StoreError::from)).await.unwrap()
}

#[tokio::test]
async fn a_failed_message_is_redelivered_until_it_succeeds() {
    let rig = rig(5, 2, None).await;
    let e = event();
    rig.bus.deliver(&e).await;
    rig.bus.wait_idle().await;
    assert_eq!(rig.attempts.lock().unwrap()[&e.id], 3);
    assert_eq!(effects(&rig.db).await, 1);
    assert!(rig.bus.dead_letters().await.is_empty());
}

#[tokio::test]
async fn a_message_that_keeps_failing_ends_in_the_dead_letter_queue() {
    let rig = rig(3, 0, None).await;
    let e = event_with("always fails");
    rig.bus.deliver(&e).await;
    rig.bus.wait_dead_letters(1).await;
    let dead = rig.bus.dead_letters().await;
    assert_eq!(dead.len(), 1);
    assert_eq!(Envelope::from_json(&dead[0]).unwrap().id, e.id);
    assert_eq!(rig.attempts.lock().unwrap()[&e.id], 3, "exactly max_receive_count attempts");
    assert_eq!(effects(&rig.db).await, 0);
    // The consumer keeps serving other messages.
    rig.bus.deliver(&event()).await;
    rig.bus.wait_idle().await;
    assert_eq!(effects(&rig.db).await, 1);
}

#[tokio::test]
async fn a_rejected_message_moves_to_the_dead_letter_queue_at_once() {
    let rig = rig(5, 0, None).await;
    let e = event_with("never works");
    rig.bus.deliver(&e).await;
    rig.bus.wait_dead_letters(1).await;
    assert_eq!(rig.attempts.lock().unwrap()[&e.id], 1, "one attempt, not max_receive_count");
    let dead = rig.bus.dead_letters().await;
    assert_eq!(Envelope::from_json(&dead[0]).unwrap().id, e.id);
    rig.bus.wait_idle().await;
}

#[tokio::test]
async fn a_duplicate_delivery_has_no_second_effect() {
    let rig = rig(3, 0, None).await;
    let e = event();
    rig.bus.deliver(&e).await;
    rig.bus.deliver(&e).await;
    rig.bus.wait_idle().await;
    assert_eq!(rig.attempts.lock().unwrap()[&e.id], 2, "both copies were handled");
    assert_eq!(effects(&rig.db).await, 1);
}

#[tokio::test]
async fn a_malformed_message_is_dead_lettered_and_others_flow() {
    let rig = rig(2, 0, None).await;
    rig.bus.send_raw("{\"not\": \"an envelope\"}").await;
    rig.bus.wait_dead_letters(1).await;
    rig.bus.deliver(&event()).await;
    rig.bus.wait_idle().await;
    assert_eq!(effects(&rig.db).await, 1);
}

#[tokio::test]
async fn shutdown_finishes_the_message_in_flight() {
    let started = Arc::new(Notify::new());
    let release = Arc::new(Notify::new());
    let rig = rig(3, 0, Some((started.clone(), release.clone()))).await;
    rig.bus.deliver(&event()).await;
    started.notified().await;
    rig.stop.cancel();
    assert!(!rig.running.is_finished(), "the consumer waits for the handler");
    release.notify_one();
    rig.running.await.unwrap();
    assert_eq!(effects(&rig.db).await, 1);
    rig.bus.wait_idle().await;
}

/// A handler slower than the queue's visibility timeout keeps its message:
/// the consumer extends the visibility while the handler runs, so the
/// message is neither handed out again nor counted as a second receive.
#[tokio::test]
async fn a_slow_handler_keeps_its_message_to_itself() {
    let started = Arc::new(Notify::new());
    let release = Arc::new(Notify::new());
    let rig = rig_with_visibility(2, 0, Some((started.clone(), release.clone())), Some(2)).await;
    let e = event();
    rig.bus.deliver(&e).await;
    started.notified().await;
    // Three visibility timeouts: without a heartbeat the message would be
    // received again, and dead-lettered after its second receive.
    tokio::time::sleep(std::time::Duration::from_secs(6)).await;
    release.notify_one();
    rig.bus.wait_idle().await;
    assert_eq!(rig.attempts.lock().unwrap()[&e.id], 1, "handled by one handler, once");
    assert_eq!(effects(&rig.db).await, 1);
    assert!(rig.bus.dead_letters().await.is_empty());
}
