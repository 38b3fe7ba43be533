//! The outbox relay against a real moto: a row that is no envelope and a
//! row whose event type has no topic do not hold back the event behind
//! them; both end in `fare_outbox_dead`, counted apart, with why.

use std::time::{Duration, Instant};

use kit::bus::relay;
use kit::store::{Db, StoreError, outbox};
use kit::testing::{TestBus, TestSpec};
use kit::{CorrelationId, Envelope, EventType};
use tokio_util::sync::CancellationToken;

fn event(event_type: &str) -> Envelope {
    Envelope::new("svc", EventType::parse(event_type).unwrap(), CorrelationId::generate(), None, &"x").unwrap()
}

/// (event type, error) of every row moved aside.
async fn set_aside(db: &Db) -> Vec<(String, String)> {
    db.read(|c| {
        let mut stmt = c.prepare("SELECT event_type, error FROM fare_outbox_dead ORDER BY seq")?;
        let rows = stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?;
        rows.collect::<Result<Vec<_>, _>>().map_err(StoreError::from)
    })
    .await
    .unwrap()
}

#[tokio::test]
async fn unpublishable_rows_are_moved_aside_and_the_rest_is_published() {
    let spec = TestSpec { publishes: &["thing.happened"], ..TestSpec::new("svc") };
    let bus = TestBus::start(spec).await;
    let dir = tempfile::tempdir().unwrap();
    let db = Db::open(&dir.path().join("svc.sqlite"), &[]).unwrap();
    // Oldest first: a corrupt row, an event nobody provisioned a topic for,
    // then the event that must not wait behind them.
    let good = event("thing.happened");
    let (orphan, staged) = (event("nobody.provisioned"), good.clone());
    db.write(move |tx| {
        tx.execute(
            "INSERT INTO fare_outbox (event_id, event_type, correlation_id, body) VALUES ('e-1', 'thing.happened', 'c-1', 'not json')",
            [],
        )?;
        outbox::stage(tx, &orphan)?;
        outbox::stage(tx, &staged)
    })
    .await
    .unwrap();

    let stop = CancellationToken::new();
    let running = tokio::spawn(relay::run(db.clone(), bus.bus.publisher("svc"), stop.clone()));
    let published = bus.published("thing.happened").await;
    assert_eq!(published.id, good.id, "the good event went out past the bad rows");

    // The orphan is retried a few times, one second apart, then moved aside.
    let bound = Duration::from_secs(4 * relay::MAX_ATTEMPTS as u64);
    let started = Instant::now();
    let aside = loop {
        let aside = set_aside(&db).await;
        if aside.len() == 2 || started.elapsed() > bound {
            break aside;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    assert_eq!(aside.len(), 2, "{aside:?}");
    assert_eq!(aside[0].0, "thing.happened");
    assert!(aside[0].1.contains("is not a valid envelope"), "{aside:?}");
    assert_eq!(aside[1].0, "nobody.provisioned");
    assert!(aside[1].1.contains("no topic"), "{aside:?}");
    let left: i64 = db
        .read(|c| c.query_row("SELECT count(*) FROM fare_outbox", [], |r| r.get(0)).map_err(StoreError::from))
        .await
        .unwrap();
    assert_eq!(left, 0);
    assert_eq!(db.read(outbox::dead_count).await.unwrap(), 2);
    stop.cancel();
    running.await.unwrap();
}
