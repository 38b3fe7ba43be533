//! The tracking service against a real moto, a wiremock carrier and the
//! wiremock users it asks whose session a request holds.

mod contracts;

use std::time::{Duration, Instant};

use kit::testing::{FORGED, OTHER, OWNER, TestApp, TestSpec};
use kit::{Config, CorrelationId, Envelope, EventType};
use serde_json::{Value, json};
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

const SPEC: TestSpec = TestSpec {
    service: "tracking",
    listens: &["shipment.requested"],
    publishes: &["package.delivered", "shipment.lost"],
    max_receive_count: 3,
};

/// The service with a carrier it can be told what to answer, and users
/// (kept alive with it); every shipment is u-1's.
struct Fixture<B> {
    app: TestApp<B>,
    carrier: MockServer,
    _users: MockServer,
}

async fn spawn_app() -> Fixture<impl AsyncFn(&Config) -> Result<kit::Application, kit::KitError>> {
    spawn_app_with(&[]).await
}

/// The service with `settings` over the test defaults.
async fn spawn_app_with(
    settings: &[(&str, &str)],
) -> Fixture<impl AsyncFn(&Config) -> Result<kit::Application, kit::KitError> + use<>> {
    let carrier = MockServer::start().await;
    let users = kit::testing::users().await;
    let mut config = Config::defaults(tracking::NAME, tracking::DEFAULTS)
        .with("USERS_URL", users.uri())
        .with("CARRIER_URL", carrier.uri())
        .with("TRACKING_POLL_INTERVAL_MS", "50");
    for (key, value) in settings {
        config = config.with(key, *value);
    }
    let app = TestApp::spawn(SPEC, config, tracking::build).await;
    Fixture { app, carrier, _users: users }
}

fn shipment_requested(tracking_number: &str) -> Envelope {
    let data = json!({
        "order_id": format!("o-{tracking_number}"), "user_id": "u-1",
        "shipment_id": format!("s-{tracking_number}"), "tracking_number": tracking_number, "carrier": "fedex-like"
    });
    Envelope::new(
        "fulfillment",
        EventType::parse("shipment.requested").unwrap(),
        CorrelationId::generate(),
        None,
        &data,
    )
    .unwrap()
}

fn in_transit(tracking_number: &str) -> ResponseTemplate {
    ResponseTemplate::new(200)
        .set_body_json(json!({"tracking_number": tracking_number, "status": "in_transit", "delivered_at": null}))
}

fn delivered(tracking_number: &str) -> ResponseTemplate {
    ResponseTemplate::new(200).set_body_json(
        json!({"tracking_number": tracking_number, "status": "delivered", "delivered_at": "2030-01-02T03:04:05Z"}),
    )
}

/// The carrier answers `first` `n` times for `tracking_number`, then `then`.
async fn carrier_answers(
    carrier: &MockServer,
    tracking_number: &str,
    first: ResponseTemplate,
    n: u64,
    then: ResponseTemplate,
) {
    let route = format!("/tracking/{tracking_number}");
    Mock::given(method("GET"))
        .and(path(&route))
        .respond_with(first)
        .up_to_n_times(n)
        .with_priority(1)
        .mount(carrier)
        .await;
    Mock::given(method("GET")).and(path(&route)).respond_with(then).with_priority(2).mount(carrier).await;
}

async fn shipment<B>(app: &TestApp<B>, tracking_number: &str) -> Value
where
    B: AsyncFn(&Config) -> Result<kit::Application, kit::KitError>,
{
    let resp = app.get(&format!("/shipments/{tracking_number}")).bearer_auth(OWNER).send().await.unwrap();
    assert_eq!(resp.status(), 200, "shipment {tracking_number}");
    resp.json().await.unwrap()
}

/// The domain work `/pending` reports: shipments in transit.
async fn pending_work<B>(app: &TestApp<B>) -> u64
where
    B: AsyncFn(&Config) -> Result<kit::Application, kit::KitError>,
{
    let body: Value = app.get("/pending").send().await.unwrap().json().await.unwrap();
    body["work"].as_u64().unwrap_or_else(|| panic!("no work count in {body}"))
}

/// Polls the shipment until `done` holds for it.
async fn wait_for_shipment<B>(app: &TestApp<B>, tracking_number: &str, done: impl Fn(&Value) -> bool) -> Value
where
    B: AsyncFn(&Config) -> Result<kit::Application, kit::KitError>,
{
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let resp = app.get(&format!("/shipments/{tracking_number}")).bearer_auth(OWNER).send().await.unwrap();
        if resp.status() == 200 {
            let body: Value = resp.json().await.unwrap();
            if done(&body) {
                return body;
            }
            assert!(Instant::now() < deadline, "shipment {tracking_number} never got there: {body}");
        } else {
            assert!(Instant::now() < deadline, "shipment {tracking_number} never recorded: {}", resp.status());
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
}

#[tokio::test]
async fn a_delivery_after_some_polls_is_announced_once_in_its_chain() {
    let f = spawn_app().await;
    carrier_answers(&f.carrier, "T1", in_transit("T1"), 3, delivered("T1")).await;
    let requested = shipment_requested("T1");
    f.app.bus.deliver(&requested).await;
    let event = f.app.bus.published("package.delivered").await;
    assert_eq!(event.correlation_id, requested.correlation_id);
    assert_eq!(event.causation_id, Some(requested.id.to_string()));
    assert_eq!(event.producer, "tracking");
    assert_eq!(
        event.data,
        json!({"order_id": "o-T1", "user_id": "u-1", "shipment_id": "s-T1", "tracking_number": "T1", "delivered_at": "2030-01-02T03:04:05Z"})
    );
    let body = shipment(&f.app, "T1").await;
    assert_eq!(body["status"], "delivered");
    assert_eq!(body["delivered_at"], "2030-01-02T03:04:05Z");
    assert_eq!(body["shipment_id"], "s-T1");
    assert_eq!(body["order_id"], "o-T1");
    // Three answers in transit, one delivered, and no more questions after that.
    assert_eq!(body["polls"], 4, "{body}");
    assert!(f.app.bus.all_published().await.is_empty());
}

/// How many requests the carrier got for `tracking_number`.
async fn asked(carrier: &MockServer, tracking_number: &str) -> usize {
    let route = format!("/tracking/{tracking_number}");
    carrier.received_requests().await.unwrap_or_default().iter().filter(|r| r.url.path() == route).count()
}

/// Waits for the one `shipment.lost` of `requested`, checks its chain, and
/// that the platform then goes quiet with nothing else published.
async fn lost_once<B>(f: &Fixture<B>, requested: &Envelope) -> Envelope
where
    B: AsyncFn(&Config) -> Result<kit::Application, kit::KitError>,
{
    let lost = f.app.bus.published("shipment.lost").await;
    assert_eq!(lost.correlation_id, requested.correlation_id);
    assert_eq!(lost.causation_id, Some(requested.id.to_string()));
    assert_eq!(lost.producer, "tracking");
    // No longer pending: quiet returns, and nothing more is announced.
    let rest = f.app.all_published().await;
    assert!(rest.is_empty(), "{rest:?}");
    assert_eq!(pending_work(&f.app).await, 0, "a lost shipment is no longer work in hand");
    lost
}

#[tokio::test]
async fn a_shipment_the_carrier_keeps_refusing_is_given_up_once() {
    let f = spawn_app().await;
    let route = "/tracking/T10";
    let unknown = ResponseTemplate::new(404).set_body_json(json!({"error": "no such tracking number"}));
    Mock::given(method("GET")).and(path(route)).respond_with(unknown).mount(&f.carrier).await;
    let requested = shipment_requested("T10");
    f.app.bus.deliver(&requested).await;
    let lost = lost_once(&f, &requested).await;
    assert_eq!(
        lost.data,
        json!({"order_id": "o-T10", "user_id": "u-1", "shipment_id": "s-T10", "tracking_number": "T10", "reason": "refused", "last_status": 404, "polls": 5})
    );
    let body = shipment(&f.app, "T10").await;
    assert_eq!(body["status"], "lost");
    assert_eq!(body["lost_reason"], "refused");
    assert_eq!(body["polls"], 5);
    // Given up means no more questions, whatever the rounds do.
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(asked(&f.carrier, "T10").await, 5);
    assert!(f.app.bus.all_published().await.is_empty());
}

#[tokio::test]
async fn an_answer_in_between_starts_the_refusals_over() {
    let f = spawn_app_with(&[("TRACKING_MAX_REFUSALS", "3")]).await;
    let route = "/tracking/T11";
    let refused = || ResponseTemplate::new(404);
    let answers = [(refused(), 2), (in_transit("T11"), 1), (ResponseTemplate::new(503), 3)];
    for (priority, (answer, times)) in (1..).zip(answers) {
        let mock = Mock::given(method("GET")).and(path(route)).respond_with(answer).with_priority(priority);
        mock.up_to_n_times(times).mount(&f.carrier).await;
    }
    Mock::given(method("GET")).and(path(route)).respond_with(refused()).with_priority(9).mount(&f.carrier).await;
    let requested = shipment_requested("T11");
    f.app.bus.deliver(&requested).await;
    let lost = lost_once(&f, &requested).await;
    // Two refusals, an answer (the run starts over), three 503s (not
    // refusals), then three refusals in a row.
    assert_eq!(lost.data["reason"], "refused");
    assert_eq!(lost.data["polls"], 2 + 1 + 3 + 3, "{}", lost.data);
    assert_eq!(lost.data["last_status"], 404);
    assert_eq!(shipment(&f.app, "T11").await["status"], "lost");
}

#[tokio::test]
async fn a_shipment_in_transit_past_the_deadline_is_given_up_once() {
    let f = spawn_app_with(&[("TRACKING_DEADLINE_SECONDS", "0")]).await;
    Mock::given(method("GET")).and(path("/tracking/T12")).respond_with(in_transit("T12")).mount(&f.carrier).await;
    let requested = shipment_requested("T12");
    f.app.bus.deliver(&requested).await;
    let lost = lost_once(&f, &requested).await;
    assert_eq!(lost.data["reason"], "deadline");
    assert_eq!(lost.data["last_status"], 200);
    assert_eq!(lost.data["polls"], asked(&f.carrier, "T12").await, "{}", lost.data);
    let body = shipment(&f.app, "T12").await;
    assert_eq!((&body["status"], &body["lost_reason"]), (&json!("lost"), &json!("deadline")));
}

#[tokio::test]
async fn an_unreachable_carrier_is_given_up_at_the_deadline_with_no_status() {
    // A port that was free a moment ago: nothing listens there.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let closed = format!("http://{}", listener.local_addr().unwrap());
    drop(listener);
    let f = spawn_app_with(&[("TRACKING_DEADLINE_SECONDS", "0"), ("CARRIER_URL", &closed)]).await;
    let requested = shipment_requested("T13");
    f.app.bus.deliver(&requested).await;
    let lost = lost_once(&f, &requested).await;
    assert_eq!(lost.data["reason"], "deadline");
    assert_eq!(lost.data["last_status"], Value::Null);
}

#[tokio::test]
async fn a_carrier_that_fails_for_a_while_still_gets_the_delivery_through() {
    // As many 503s as the refusals that give a shipment up: they are not refusals.
    let f = spawn_app().await;
    carrier_answers(&f.carrier, "T2", ResponseTemplate::new(503), 5, delivered("T2")).await;
    let requested = shipment_requested("T2");
    f.app.bus.deliver(&requested).await;
    let event = f.app.bus.published("package.delivered").await;
    assert_eq!(event.causation_id, Some(requested.id.to_string()));
    let body = shipment(&f.app, "T2").await;
    assert_eq!(body["status"], "delivered");
    assert!(body["polls"].as_i64().unwrap() >= 6, "{body}");
}

#[tokio::test]
async fn an_answer_that_does_not_fit_is_polled_again() {
    let f = spawn_app().await;
    let unfit = ResponseTemplate::new(200).set_body_json(json!({"tracking_number": "T3", "status": "lost"}));
    carrier_answers(&f.carrier, "T3", unfit, 3, delivered("T3")).await;
    f.app.bus.deliver(&shipment_requested("T3")).await;
    f.app.bus.published("package.delivered").await;
    assert_eq!(shipment(&f.app, "T3").await["polls"], 4);
}

#[tokio::test]
async fn duplicates_are_tracked_and_announced_once() {
    let f = spawn_app().await;
    carrier_answers(&f.carrier, "T4", in_transit("T4"), 2, delivered("T4")).await;
    let requested = shipment_requested("T4");
    f.app.bus.deliver(&requested).await;
    f.app.bus.deliver(&requested).await;
    // The same shipment again under a new event id, as a re-published event would be.
    let mut again = requested.clone();
    again.id = uuid::Uuid::new_v4();
    f.app.bus.deliver(&again).await;
    f.app.bus.wait_idle().await;
    let first = f.app.bus.published("package.delivered").await;
    assert_eq!(first.data["tracking_number"], "T4");
    // A later shipment marks a later round: any second announcement of T4
    // would have been published before this one.
    carrier_answers(&f.carrier, "T5", in_transit("T5"), 1, delivered("T5")).await;
    f.app.bus.deliver(&shipment_requested("T5")).await;
    let marker = f.app.bus.published("package.delivered").await;
    assert_eq!(marker.data["tracking_number"], "T5");
    let rest = f.app.bus.all_published().await;
    assert!(rest.is_empty(), "{rest:?}");
}

#[tokio::test]
async fn tracking_resumes_after_a_restart_and_announces_once() {
    let mut f = spawn_app().await;
    Mock::given(method("GET")).and(path("/tracking/T6")).respond_with(in_transit("T6")).mount(&f.carrier).await;
    let requested = shipment_requested("T6");
    f.app.bus.deliver(&requested).await;
    let before = wait_for_shipment(&f.app, "T6", |s| s["polls"].as_i64() >= Some(2)).await;
    assert_eq!(before["status"], "in_transit");
    assert_eq!(pending_work(&f.app).await, 1, "a shipment in transit is unfinished work");
    f.app.stop().await;
    f.carrier.reset().await;
    Mock::given(method("GET")).and(path("/tracking/T6")).respond_with(delivered("T6")).mount(&f.carrier).await;
    f.app.restart().await;
    let event = f.app.bus.published("package.delivered").await;
    assert_eq!(event.correlation_id, requested.correlation_id);
    assert_eq!(event.causation_id, Some(requested.id.to_string()));
    let after = shipment(&f.app, "T6").await;
    assert_eq!(after["status"], "delivered");
    assert!(after["polls"].as_i64() > before["polls"].as_i64(), "{before} then {after}");
    assert!(f.app.bus.all_published().await.is_empty());
}

#[tokio::test]
async fn poison_goes_to_the_dead_letter_queue_and_the_service_keeps_serving() {
    let f = spawn_app().await;
    f.app.bus.send_raw("this is not json").await;
    let mut missing = shipment_requested("T7");
    missing.data = json!({"order_id": "o-T7"});
    f.app.bus.deliver(&missing).await;
    // A tracking number that would change the carrier's URL path.
    f.app.bus.deliver(&shipment_requested("../admin")).await;
    f.app.bus.wait_dead_letters(3).await;
    let dead = f.app.bus.dead_letters().await;
    assert!(dead.iter().any(|b| b == "this is not json"), "{dead:?}");
    carrier_answers(&f.carrier, "T8", in_transit("T8"), 1, delivered("T8")).await;
    f.app.bus.deliver(&shipment_requested("T8")).await;
    assert_eq!(f.app.bus.published("package.delivered").await.data["tracking_number"], "T8");
    assert_eq!(f.app.get("/shipments/T7").bearer_auth(OWNER).send().await.unwrap().status(), 404);
}

#[tokio::test]
async fn the_poller_stops_on_shutdown_even_while_the_carrier_hangs() {
    let mut f = spawn_app().await;
    let hang = in_transit("T9").set_delay(Duration::from_secs(60));
    Mock::given(method("GET")).and(path("/tracking/T9")).respond_with(hang).mount(&f.carrier).await;
    f.app.bus.deliver(&shipment_requested("T9")).await;
    let deadline = Instant::now() + Duration::from_secs(20);
    while f.carrier.received_requests().await.unwrap_or_default().is_empty() {
        assert!(Instant::now() < deadline, "the poller never asked the carrier");
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    let started = Instant::now();
    tokio::time::timeout(Duration::from_secs(10), f.app.stop()).await.expect("the service stopped");
    // Shorter than the carrier client's own timeout: the poll was cancelled.
    assert!(started.elapsed() < Duration::from_secs(5), "stopping took {:?}", started.elapsed());
}

#[tokio::test]
async fn bad_and_unknown_tracking_numbers_are_answered() {
    let f = spawn_app().await;
    let resp = f.app.get("/shipments/not%20one").bearer_auth(OWNER).send().await.unwrap();
    assert_eq!(resp.status(), 400);
    let body: Value = resp.json().await.unwrap();
    assert_eq!(body["field"], "tracking_number");
    let resp = f.app.get("/shipments/T404").bearer_auth(OWNER).send().await.unwrap();
    assert_eq!(resp.status(), 404);
    let body: Value = resp.json().await.unwrap();
    assert!(body["error"].as_str().unwrap().contains("T404"), "{body}");
}

#[tokio::test]
async fn shipments_tracked_before_the_lost_status_existed_are_still_followed() {
    let (_dir, db) = ::contracts::temp_db(&tracking::MIGRATIONS[..1]);
    db.write(|tx| {
        tx.execute(
            "INSERT INTO shipments (tracking_number, shipment_id, order_id, user_id, carrier, correlation_id,
             requested_event_id, status, polls) VALUES ('T14', 's-T14', 'o-T14', 'u-1', 'fedex', 'c-1', 'e-1', 'in_transit', 3)",
            [],
        )
        .map_err(kit::store::StoreError::from)
    })
    .await
    .unwrap();
    let path = db.path().to_owned();
    drop(db);
    let db = kit::store::Db::open(&path, tracking::MIGRATIONS).unwrap();
    let row: (String, i64, i64, Option<String>) = db
        .read(|c| {
            c.query_row(
                "SELECT status, polls, refusals, lost_reason FROM shipments WHERE tracking_number = 'T14'",
                [],
                |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)),
            )
            .map_err(kit::store::StoreError::from)
        })
        .await
        .unwrap();
    assert_eq!(row, ("in_transit".to_owned(), 3, 0, None));
}

#[tokio::test]
async fn only_the_owner_of_the_order_sees_its_shipment() {
    let f = spawn_app().await;
    carrier_answers(&f.carrier, "T15", in_transit("T15"), 1, delivered("T15")).await;
    f.app.bus.deliver(&shipment_requested("T15")).await;
    f.app.bus.published("package.delivered").await;
    assert_eq!(shipment(&f.app, "T15").await["status"], "delivered");
    let as_user = |token| kit::testing::answer_as(f.app.get("/shipments/T15"), token);
    // Another user's shipment reads as one not tracked: a guessed number is not confirmed.
    assert_eq!(as_user(Some(OTHER)).await, (404, json!({"error": "no shipment is tracked under T15"})));
    let (status, body) = as_user(None).await;
    assert_eq!(status, 401);
    assert!(body["error"].as_str().unwrap().starts_with("missing bearer token"), "{body}");
    assert_eq!(as_user(Some(FORGED)).await, (401, json!({"error": "unknown session"})));
}
