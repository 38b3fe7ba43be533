//! The fault hook against a real moto: rules sent over a socket pair, as
//! fare sends them, reach the consumer and the outbox relay of a service
//! whose handler records each event once and stages one follow-up.

use std::os::unix::net::UnixStream;
use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

use kit::bus::{Consumer, ConsumerOptions, HandleError, Handler, relay};
use kit::faults::{self, FaultRules, Faults};
use kit::store::{Db, Migration, StoreError, inbox, outbox};
use kit::testing::{TestBus, TestSpec};
use kit::{CorrelationId, Envelope, EventType};
use tokio_util::sync::CancellationToken;

const EFFECTS: Migration =
    Migration { version: 1, name: "effects", sql: "CREATE TABLE effects (event_id TEXT NOT NULL);" };

/// Records each event once and stages `thing.followed` in answer.
struct FollowUp {
    db: Db,
    calls: Arc<AtomicU32>,
}

impl Handler for FollowUp {
    async fn handle(&self, event: Envelope) -> Result<(), HandleError> {
        self.calls.fetch_add(1, Ordering::SeqCst);
        let next = event.follow("svc", EventType::parse("thing.followed").unwrap(), &"next")?;
        self.db
            .write(move |tx| {
                if inbox::claim(tx, event.id)? {
                    tx.execute("INSERT INTO effects (event_id) VALUES (?1)", [event.id.to_string()])?;
                    outbox::stage(tx, &next)?;
                }
                Ok::<_, StoreError>(())
            })
            .await?;
        Ok(())
    }
}

struct Rig {
    bus: TestBus,
    db: Db,
    calls: Arc<AtomicU32>,
    /// fare's end of the hook.
    hook: UnixStream,
    _stop: StopOnDrop,
    _dir: tempfile::TempDir,
}

struct StopOnDrop(CancellationToken);

impl Drop for StopOnDrop {
    fn drop(&mut self) {
        self.0.cancel();
    }
}

/// A consumer and a relay sharing one hook, as a service has them.
async fn rig(max_receive_count: u32) -> Rig {
    let spec =
        TestSpec { service: "svc", listens: &["thing.happened"], publishes: &["thing.followed"], max_receive_count };
    let bus = TestBus::start(spec).await;
    let dir = tempfile::tempdir().unwrap();
    let db = Db::open(&dir.path().join("svc.sqlite"), &[EFFECTS]).unwrap();
    let calls = Arc::new(AtomicU32::new(0));
    let (hook, theirs) = UnixStream::pair().unwrap();
    let faults = Faults::listen(theirs);
    let options = ConsumerOptions {
        wait_seconds: 1,
        retry_base_seconds: 0,
        ..ConsumerOptions::new(bus.bus.namespace.queue("svc"))
    };
    let stop = CancellationToken::new();
    let handler = FollowUp { db: db.clone(), calls: calls.clone() };
    let consumer = Consumer::new(bus.bus.clone(), options, handler).with_faults(faults.clone());
    tokio::spawn(consumer.run(stop.clone()));
    tokio::spawn(relay::run_with_faults(db.clone(), bus.bus.publisher("svc"), faults, stop.clone()));
    Rig { bus, db, calls, hook, _stop: StopOnDrop(stop), _dir: dir }
}

impl Rig {
    fn set(&self, rules: &str) {
        let rules: FaultRules = serde_json::from_str(rules).unwrap();
        let reply = faults::send(&self.hook, &rules, Duration::from_secs(5)).unwrap();
        assert_eq!(reply.rules, rules.rules.len());
    }

    async fn count(&self, table: &'static str) -> i64 {
        let sql = format!("SELECT count(*) FROM {table}");
        self.db.read(move |c| c.query_row(&sql, [], |r| r.get(0)).map_err(StoreError::from)).await.unwrap()
    }

    /// Waits until `table` holds `n` rows.
    async fn wait_rows(&self, table: &'static str, n: i64) {
        let deadline = Instant::now() + Duration::from_secs(20);
        while self.count(table).await != n {
            assert!(Instant::now() < deadline, "{table} never held {n} rows (it holds {})", self.count(table).await);
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
}

fn event(correlation_id: &str) -> Envelope {
    let (t, c) = (EventType::parse("thing.happened").unwrap(), CorrelationId::parse(correlation_id).unwrap());
    Envelope::new("test", t, c, None, &"x").unwrap()
}

#[tokio::test]
async fn fail_n_times_then_the_event_is_handled_once() {
    let rig = rig(3).await;
    rig.set(r#"{"rules":[{"event":"thing.happened","action":{"fail":{"times":2}}}]}"#);
    let e = event("c-fail");
    rig.bus.deliver(&e).await;
    let next = rig.bus.published("thing.followed").await;
    assert_eq!(next.causation_id, Some(e.id.to_string()));
    rig.bus.wait_idle().await;
    assert_eq!(rig.calls.load(Ordering::SeqCst), 1, "the handler ran only after the two injected failures");
    assert_eq!(rig.count("effects").await, 1);
    assert!(rig.bus.dead_letters().await.is_empty(), "two failures are fewer than max_receive_count");
}

#[tokio::test]
async fn fail_always_ends_in_the_dead_letter_queue_and_other_chains_flow() {
    let rig = rig(3).await;
    rig.set(r#"{"rules":[{"event":"thing.happened","action":"fail_always","correlation_id":"c-doomed"}]}"#);
    let doomed = event("c-doomed");
    rig.bus.deliver(&doomed).await;
    rig.bus.wait_dead_letters(1).await;
    let dead = rig.bus.dead_letters().await;
    assert_eq!(Envelope::from_json(&dead[0]).unwrap().id, doomed.id);
    assert_eq!(rig.calls.load(Ordering::SeqCst), 0, "the handler never ran");
    // A chain the rule is not scoped to is not touched.
    rig.bus.deliver(&event("c-other")).await;
    rig.bus.published("thing.followed").await;
    assert_eq!(rig.count("effects").await, 1);
}

#[tokio::test]
async fn drop_follow_up_handles_the_event_and_publishes_nothing() {
    let rig = rig(3).await;
    rig.set(r#"{"rules":[{"event":"thing.happened","action":"drop_follow_up","correlation_id":"c-drop"}]}"#);
    rig.bus.deliver(&event("c-drop")).await;
    rig.wait_rows("effects", 1).await;
    // Another chain's follow-up, staged after, is published: the relay has
    // been past the dropped one by then.
    let kept = event("c-kept");
    rig.bus.deliver(&kept).await;
    let next = rig.bus.published("thing.followed").await;
    assert_eq!(next.causation_id, Some(kept.id.to_string()));
    rig.wait_rows("fare_outbox", 0).await;
    let published = rig.bus.all_published().await;
    assert!(published.is_empty(), "the dropped follow-up was published: {published:?}");
    assert_eq!(rig.count("effects").await, 2, "both events were handled");
    assert!(rig.bus.dead_letters().await.is_empty());
}

#[tokio::test]
async fn delay_waits_then_handles() {
    let rig = rig(3).await;
    rig.set(r#"{"rules":[{"event":"thing.happened","action":{"delay":{"ms":1500}}}]}"#);
    let started = Instant::now();
    rig.bus.deliver(&event("c-slow")).await;
    rig.wait_rows("effects", 1).await;
    assert!(started.elapsed() >= Duration::from_millis(1500), "handled after {:?}", started.elapsed());
    rig.bus.published("thing.followed").await;
    // Cleared: the next one is not delayed.
    rig.set(r#"{"rules":[]}"#);
    let again = Instant::now();
    rig.bus.deliver(&event("c-quick")).await;
    rig.wait_rows("effects", 2).await;
    assert!(again.elapsed() < Duration::from_millis(1500), "still delayed: {:?}", again.elapsed());
    assert_eq!(rig.calls.load(Ordering::SeqCst), 2);
}
