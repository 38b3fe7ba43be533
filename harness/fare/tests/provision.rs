//! Provisioning against a real moto: apply converges, a second apply changes
//! nothing, removed declarations are removed, namespaces do not touch each
//! other, and an event published to a provisioned topic reaches its queue.
//! The trace recorder, on such a namespace, records every dead letter,
//! however many are waiting, and waits for one another reader holds.

use crate::common;

use std::path::Path;

use fare::provision::{self, Change};
use fare::{Manifest, Topology};
use kit::bus::{Bus, Namespace};

fn topology(manifests: &[(&str, &str)]) -> Topology {
    let parsed = manifests
        .iter()
        .map(|(name, body)| {
            let text = format!("name = \"{name}\"\ndescription = \"d\"\n{body}");
            Manifest::parse(Path::new(&format!("services/{name}/service.toml")), &text).unwrap()
        })
        .collect();
    Topology::build(parsed).unwrap().0
}

const STORE: &str = "publishes = [\"order.placed\"]\n";
const INVOICE: &str = "publishes = [\"invoice.issued\"]\nterminal = [\"invoice.issued\"]\n[queue]\nmax_receive_count = 4\n\
                       [[listens]]\nevent = \"order.placed\"\n";
const MAILER: &str = "[queue]\n[[listens]]\nevent = \"order.placed\"\nfilter = { event_type = [\"order.placed\"] }\n";

async fn bus(endpoint: &str, ns: &str) -> Bus {
    let config = kit::Config::defaults("fare", &[]).with("AWS_ENDPOINT_URL", endpoint).with("FARE_NAMESPACE", ns);
    Bus::connect(&config).await.unwrap()
}

async fn converge(bus: &Bus, t: &Topology) -> Vec<Change> {
    let ns = bus.namespace.clone();
    provision::converge(bus, &ns, &provision::desired(t, &ns), &mut |_| {}).await.unwrap()
}

async fn pending(bus: &Bus, t: &Topology) -> Vec<String> {
    let ns = bus.namespace.clone();
    let current = provision::read_current(bus, &ns).await.unwrap();
    provision::plan(&provision::desired(t, &ns), &current).iter().map(|c| c.to_string()).collect()
}

#[tokio::test]
async fn apply_converges_and_a_second_apply_changes_nothing() {
    let _shared = common::shared().await;
    let moto = fare_emulator::start_moto().unwrap();
    let bus = bus(moto.endpoint(), "fare").await;
    let full = topology(&[("store", STORE), ("invoice", INVOICE), ("mailer", MAILER)]);
    let first = converge(&bus, &full).await;
    let shown: Vec<String> = first.iter().map(|c| c.to_string()).collect();
    assert!(shown.contains(&"+ topic fare-order-placed".to_owned()), "{shown:#?}");
    assert!(
        shown.contains(
            &"+ queue fare-invoice (visibility 30s, dead letters to fare-invoice-dlq after 4 receives)".to_owned()
        ),
        "{shown:#?}"
    );
    assert!(
        shown.iter().any(|c| c.starts_with("+ subscription fare-order-placed -> fare-mailer filter")),
        "{shown:#?}"
    );
    assert_eq!(pending(&bus, &full).await, Vec::<String>::new(), "a second apply changes nothing");

    // An event published by the kit's publisher reaches both listeners.
    let event = kit::Envelope::new(
        "store",
        kit::EventType::parse("order.placed").unwrap(),
        kit::CorrelationId::generate(),
        None,
        &1,
    )
    .unwrap();
    bus.publisher("store").publish(&event).await.unwrap();
    for queue in ["fare-invoice", "fare-mailer"] {
        let url = bus.queue_url(queue).await.unwrap();
        let got = bus.receive(&url, kit::bus::Receive { wait_seconds: 5, ..Default::default() }).await.unwrap();
        let body = got.into_iter().next().map(|m| m.body).unwrap_or_default();
        assert_eq!(kit::Envelope::from_json(&body).unwrap().id, event.id, "{queue} got the raw envelope");
    }

    // Dropping mailer and changing invoice's queue: plan shows it, apply does it.
    let smaller = topology(&[
        ("store", STORE),
        (
            "invoice",
            &INVOICE.replace("max_receive_count = 4", "max_receive_count = 4\nvisibility_timeout_seconds = 60"),
        ),
    ]);
    let plan = pending(&bus, &smaller).await;
    assert!(plan.contains(&"~ queue fare-invoice: visibility 30s -> 60s".to_owned()), "{plan:#?}");
    assert!(plan.contains(&"- subscription fare-order-placed -> fare-mailer".to_owned()), "{plan:#?}");
    assert!(
        plan.contains(&"- queue fare-mailer".to_owned()) && plan.contains(&"- queue fare-mailer-dlq".to_owned()),
        "{plan:#?}"
    );
    converge(&bus, &smaller).await;
    assert_eq!(pending(&bus, &smaller).await, Vec::<String>::new());
}

#[tokio::test]
async fn namespaces_that_share_a_prefix_do_not_touch_each_other() {
    let _shared = common::shared().await;
    let moto = fare_emulator::start_moto().unwrap();
    let t = topology(&[("store", STORE), ("invoice", INVOICE)]);
    let a = bus(moto.endpoint(), "fare").await;
    let b = bus(moto.endpoint(), "fare-b").await;
    converge(&a, &t).await;
    converge(&b, &t).await;
    // Destroying `fare` (desired: nothing) must leave `fare-b` whole.
    let ns = Namespace::parse("fare").unwrap();
    let current = provision::read_current(&a, &ns).await.unwrap();
    let changes = provision::plan(&provision::Desired::default(), &current);
    assert!(changes.iter().all(|c| !c.to_string().contains("fare-b")), "{changes:#?}");
    provision::apply(&a, &ns, current, &changes, &mut |_| {}).await.unwrap();
    assert_eq!(pending(&b, &t).await, Vec::<String>::new(), "fare-b is untouched");
    assert_eq!(pending(&a, &t).await.len(), changes.len(), "fare is gone");
}

#[tokio::test]
async fn the_recorder_records_every_dead_letter_however_many_wait() {
    let _shared = common::shared().await;
    let moto = fare_emulator::start_moto().unwrap();
    let bus = bus(moto.endpoint(), "dl").await;
    let t = topology(&[("store", STORE), ("invoice", INVOICE)]);
    converge(&bus, &t).await;
    let dlq = bus.queue_url(&bus.namespace.dead_letter_queue("invoice")).await.unwrap();
    // More than one receive can return: a sweep that read one batch only
    // would never see the later ones.
    for i in 0..25 {
        bus.send(&dlq, "not an event", &[("correlation_id", &format!("dl-{i}"))]).await.unwrap();
    }
    let shutdown = tokio_util::sync::CancellationToken::new();
    let recorder = fare::trace::Recorder::start(&bus, &t, None, shutdown.clone()).await.unwrap();
    recorder.caught_up(std::time::Duration::from_secs(20)).await;
    let missing: Vec<usize> = (0..25).filter(|i| recorder.trace(&format!("dl-{i}")).dead_letters.len() != 1).collect();
    shutdown.cancel();
    assert!(missing.is_empty(), "dead letters not recorded: {missing:?}");
}

/// A second reader of the same dead-letter queue (another fare watching the
/// same environment, an operator's tool) may hold a dead letter hidden for
/// a moment. A record read then waits until it is back, rather than answer
/// without it; and the recorder's own sweep leaves every message visible.
#[tokio::test]
async fn a_dead_letter_another_reader_holds_is_waited_for_and_sweeps_hide_nothing() {
    let _shared = common::shared().await;
    let moto = fare_emulator::start_moto().unwrap();
    let bus = bus(moto.endpoint(), "held").await;
    let t = topology(&[("store", STORE), ("invoice", INVOICE)]);
    converge(&bus, &t).await;
    let dlq = bus.queue_url(&bus.namespace.dead_letter_queue("invoice")).await.unwrap();
    let shutdown = tokio_util::sync::CancellationToken::new();
    let recorder = fare::trace::Recorder::start(&bus, &t, None, shutdown.clone()).await.unwrap();
    recorder.caught_up(std::time::Duration::from_secs(5)).await;

    // Twelve: more than one peek returns, so the sweep pages and releases.
    for i in 0..12 {
        bus.send(&dlq, "not an event", &[("correlation_id", &format!("seen-{i}"))]).await.unwrap();
    }
    recorder.caught_up(std::time::Duration::from_secs(5)).await;
    assert_eq!(bus.depth(&dlq).await.unwrap().in_flight, 0, "the sweep released what it paged past");

    bus.send(&dlq, "not an event", &[("correlation_id", "held")]).await.unwrap();
    let other = kit::bus::Receive { visibility_seconds: Some(2), wait_seconds: 0, max: 10 };
    let mut held = Vec::new();
    while held.len() < 13 {
        held.extend(bus.receive(&dlq, other).await.unwrap());
    }
    recorder.caught_up(std::time::Duration::from_secs(5)).await;
    let found = recorder.trace("held").dead_letters.len();
    let seen = (0..12).filter(|i| recorder.trace(&format!("seen-{i}")).dead_letters.len() == 1).count();
    shutdown.cancel();
    assert_eq!(found, 1, "the dead letter the other reader held was waited for");
    assert_eq!(seen, 12);
}
