//! The mailer service against a real moto, with wiremock playing the users
//! service (contacts and sessions) and the mail provider.

mod contracts;

use kit::testing::{FORGED, OTHER, OWNER, TestApp, TestSpec};
use kit::{Config, CorrelationId, Envelope, EventType};
use serde_json::{Value, json};
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, Request, ResponseTemplate};

const SPEC: TestSpec = TestSpec {
    service: "mailer",
    listens: &["user.registered", "order.placed", "package.delivered"],
    publishes: &["mail.sent"],
    max_receive_count: 3,
};

/// The service, the users service it asks and the provider it hands mail to.
struct Fixture<B> {
    app: TestApp<B>,
    users: MockServer,
    provider: MockServer,
}

/// Whether a call carries mailer's service identity for users (test keys).
fn signed_by_mailer(request: &wiremock::Request) -> bool {
    let keys = [("mailer".to_owned(), kit::testing::service_key("mailer"))].into_iter().collect();
    let users = kit::http::identity::Verifier::new("users", keys);
    let token = request.headers.get(kit::http::IDENTITY_HEADER).and_then(|v| v.to_str().ok()).unwrap_or_default();
    users.verify(token) == Ok("mailer".to_owned())
}

async fn spawn_app() -> Fixture<impl AsyncFn(&Config) -> Result<kit::Application, kit::KitError>> {
    let (users, provider) = (kit::testing::users().await, MockServer::start().await);
    let config = Config::defaults(mailer::NAME, mailer::DEFAULTS)
        .with("USERS_URL", users.uri())
        .with("MAIL_PROVIDER_URL", provider.uri());
    let app = TestApp::spawn(SPEC, config, mailer::build).await;
    Fixture { app, users, provider }
}

impl<B: AsyncFn(&Config) -> Result<kit::Application, kit::KitError>> Fixture<B> {
    /// Users knows `user_id` as Ada at `<user_id>@example.com`, signed in
    /// with [`session_of`] it, and tells the contact only to a call that
    /// proves mailer's identity, as users does.
    async fn user_exists(&self, user_id: &str) {
        kit::testing::vouch(&self.users, &session_of(user_id), user_id).await;
        let contact = json!({"user_id": user_id, "email": format!("{user_id}@example.com"), "name": "Ada"});
        Mock::given(method("GET"))
            .and(path(format!("/users/{user_id}/contact")))
            .and(signed_by_mailer)
            .respond_with(ResponseTemplate::new(200).set_body_json(contact))
            .mount(&self.users)
            .await;
    }

    /// The provider answers `status` the first `n` times, then accepts.
    async fn provider_fails_then_accepts(&self, status: u16, n: u64) {
        if n > 0 {
            Mock::given(method("POST"))
                .and(path("/messages"))
                .respond_with(ResponseTemplate::new(status).set_body_json(json!({"error": "no"})))
                .up_to_n_times(n)
                .with_priority(1)
                .mount(&self.provider)
                .await;
        }
        Mock::given(method("POST"))
            .and(path("/messages"))
            .respond_with(ResponseTemplate::new(202).set_body_json(json!({"message_id": "msg-1"})))
            .with_priority(2)
            .mount(&self.provider)
            .await;
    }

    async fn provider_requests(&self) -> Vec<Request> {
        self.provider.received_requests().await.unwrap_or_default()
    }

    /// The user's mails as they see them, signed in.
    async fn mails(&self, user_id: &str) -> Vec<Value> {
        let (status, body) = self.mails_as(user_id, Some(&session_of(user_id))).await;
        assert_eq!(status, 200, "{body}");
        body.as_array().unwrap().clone()
    }

    /// Status and body of the user's mails as `token`'s user (or nobody).
    async fn mails_as(&self, user_id: &str, token: Option<&str>) -> (u16, Value) {
        kit::testing::answer_as(self.app.get(&format!("/mails?user_id={user_id}")), token).await
    }
}

/// The session token `user_exists` signs `user_id` in with.
fn session_of(user_id: &str) -> String {
    match user_id {
        "u-1" => OWNER.to_owned(),
        "u-2" => OTHER.to_owned(),
        other => format!("{}session", other.replace('-', "")),
    }
}

fn event(event_type: &str, data: Value) -> Envelope {
    Envelope::new("test", EventType::parse(event_type).unwrap(), CorrelationId::generate(), None, &data).unwrap()
}

fn user_registered(user_id: &str) -> Envelope {
    event("user.registered", json!({"user_id": user_id, "email": "stale@example.com", "name": "Ada"}))
}

fn order_placed(user_id: &str, order_id: &str) -> Envelope {
    let address = json!({"name": "Ada", "line1": "1 Road", "city": "Town", "postal_code": "1000", "country": "NL"});
    let data = json!({"order_id": order_id, "user_id": user_id, "model": "phone-pro", "price_cents": 99900,
                      "currency": "EUR", "shipping_address": address});
    event("order.placed", data)
}

fn package_delivered(user_id: &str, order_id: &str) -> Envelope {
    let data = json!({"order_id": order_id, "user_id": user_id, "shipment_id": "s-1", "tracking_number": "T1",
                      "delivered_at": "2030-01-02T03:04:05Z"});
    event("package.delivered", data)
}

fn header<'a>(request: &'a Request, name: &str) -> &'a str {
    request.headers.get(name).and_then(|v| v.to_str().ok()).unwrap_or_default()
}

#[tokio::test]
async fn each_trigger_sends_one_mail_to_the_address_users_gave() {
    let f = spawn_app().await;
    f.user_exists("u-1").await;
    f.provider_fails_then_accepts(500, 0).await;
    let cases = [
        (user_registered("u-1"), "welcome", "Welcome to fare, Ada"),
        (order_placed("u-1", "o-1"), "order_confirmation", "Your order o-1 is confirmed"),
        (package_delivered("u-1", "o-1"), "delivered", "Your order o-1 has been delivered"),
    ];
    for (i, (trigger, template, subject)) in cases.iter().enumerate() {
        f.app.bus.deliver(trigger).await;
        let sent = f.app.bus.published("mail.sent").await;
        assert_eq!(sent.correlation_id, trigger.correlation_id);
        assert_eq!(sent.causation_id, Some(trigger.id.to_string()));
        assert_eq!(sent.data["user_id"], "u-1");
        assert_eq!(sent.data["template"], *template);
        assert_eq!(sent.data["trigger_event_id"], trigger.id.to_string());
        assert_eq!(sent.data["trigger_event_type"], trigger.event_type.as_str());
        assert_eq!(sent.data["provider_message_id"], "msg-1");

        let requests = f.provider_requests().await;
        assert_eq!(requests.len(), i + 1);
        let request = &requests[i];
        assert_eq!(header(request, "idempotency-key"), format!("u-1:{}", trigger.id));
        assert_eq!(header(request, "x-correlation-id"), trigger.correlation_id.as_str());
        let body: Value = request.body_json().unwrap();
        assert_eq!(body["to"], "u-1@example.com", "the address from users, not the event");
        assert_eq!(body["template"], *template);
        assert_eq!(body["subject"], *subject);
        assert!(body["body"].as_str().unwrap().contains("Ada"), "{body}");

        let mails = f.mails("u-1").await;
        assert_eq!(mails.len(), i + 1);
        assert_eq!(mails[i]["mail_id"], sent.data["mail_id"]);
        assert_eq!(mails[i]["subject"], *subject);
        assert_eq!(mails[i]["to"], "u-1@example.com");
    }
    assert!(f.app.bus.all_published().await.is_empty());
}

#[tokio::test]
async fn a_duplicate_reaches_the_provider_with_the_same_key_and_mails_once() {
    let f = spawn_app().await;
    f.user_exists("u-2").await;
    f.provider_fails_then_accepts(500, 0).await;
    let order = order_placed("u-2", "o-2");
    f.app.bus.deliver(&order).await;
    f.app.bus.deliver(&order).await;
    let published = f.app.bus.all_published().await;
    assert_eq!(published.len(), 1, "{published:?}");
    let keys: Vec<String> =
        f.provider_requests().await.iter().map(|r| header(r, "idempotency-key").to_owned()).collect();
    assert_eq!(keys, [format!("u-2:{}", order.id), format!("u-2:{}", order.id)]);
    assert_eq!(f.mails("u-2").await.len(), 1);
}

#[tokio::test]
async fn a_provider_down_for_good_sends_the_event_to_the_dead_letter_queue() {
    let f = spawn_app().await;
    f.user_exists("u-3").await;
    Mock::given(method("POST"))
        .and(path("/messages"))
        .respond_with(ResponseTemplate::new(503))
        .mount(&f.provider)
        .await;
    f.app.bus.deliver(&user_registered("u-3")).await;
    f.app.bus.wait_dead_letters(1).await;
    // Every receive tried, each with the client's own retries.
    assert!(f.provider_requests().await.len() >= SPEC.max_receive_count as usize);
    assert!(f.mails("u-3").await.is_empty());
    assert!(f.app.bus.all_published().await.is_empty());
}

#[tokio::test]
async fn a_provider_down_for_a_while_sends_one_mail() {
    let f = spawn_app().await;
    f.user_exists("u-4").await;
    // More failures than one receive's retries: the queue has to redeliver.
    f.provider_fails_then_accepts(503, 4).await;
    let registered = user_registered("u-4");
    f.app.bus.deliver(&registered).await;
    let sent = f.app.bus.published("mail.sent").await;
    assert_eq!(sent.causation_id, Some(registered.id.to_string()));
    assert_eq!(f.provider_requests().await.len(), 5);
    assert_eq!(f.mails("u-4").await.len(), 1);
    assert!(f.app.bus.all_published().await.is_empty());
}

#[tokio::test]
async fn an_unknown_user_or_a_refused_mail_goes_to_the_dead_letter_queue() {
    let f = spawn_app().await;
    // Users knows no u-404: wiremock answers 404 to what it has no mock for.
    f.app.bus.deliver(&user_registered("u-404")).await;
    f.app.bus.wait_dead_letters(1).await;
    assert!(f.provider_requests().await.is_empty(), "no user, no mail");
    f.user_exists("u-5").await;
    Mock::given(method("POST"))
        .and(path("/messages"))
        .respond_with(ResponseTemplate::new(422).set_body_json(json!({"error": "bad recipient"})))
        .mount(&f.provider)
        .await;
    f.app.bus.deliver(&user_registered("u-5")).await;
    f.app.bus.wait_dead_letters(2).await;
    // A refusal is final: the message moves to the dead-letter queue after
    // the one attempt, and the provider is asked once.
    assert_eq!(f.provider_requests().await.len(), 1);
    assert!(f.mails("u-5").await.is_empty());
    assert!(f.app.bus.all_published().await.is_empty());
}

#[tokio::test]
async fn poison_goes_to_the_dead_letter_queue_and_the_service_keeps_serving() {
    let f = spawn_app().await;
    f.user_exists("u-6").await;
    f.provider_fails_then_accepts(500, 0).await;
    f.app.bus.send_raw("this is not json").await;
    let mut broken = order_placed("u-6", "o-6");
    broken.data = json!({"order_id": "o-6"});
    f.app.bus.deliver(&broken).await;
    let stray = event("invoice.issued", json!({"user_id": "u-6"}));
    f.app.bus.send_raw(&stray.to_json().unwrap()).await;
    f.app.bus.wait_dead_letters(3).await;
    let dead = f.app.bus.dead_letters().await;
    assert!(dead.iter().any(|b| b == "this is not json"), "{dead:?}");
    f.app.bus.deliver(&order_placed("u-6", "o-7")).await;
    f.app.bus.published("mail.sent").await;
    assert_eq!(f.mails("u-6").await.len(), 1);
}

#[tokio::test]
async fn mails_survive_a_restart() {
    let mut f = spawn_app().await;
    f.user_exists("u-7").await;
    f.provider_fails_then_accepts(500, 0).await;
    f.app.bus.deliver(&user_registered("u-7")).await;
    let sent = f.app.bus.published("mail.sent").await;
    f.app.restart().await;
    let mails = f.mails("u-7").await;
    assert_eq!(mails.len(), 1);
    assert_eq!(mails[0]["mail_id"], sent.data["mail_id"]);
    assert_eq!(mails[0]["template"], "welcome");
}

#[tokio::test]
async fn a_missing_or_bad_user_id_is_named() {
    let f = spawn_app().await;
    for query in ["/mails", "/mails?user_id=", "/mails?user_id=a%2Fb"] {
        let resp = f.app.get(query).bearer_auth(OWNER).send().await.unwrap();
        assert_eq!(resp.status(), 400, "{query}");
        let body: Value = resp.json().await.unwrap();
        assert_eq!(body["field"], "user_id", "{query}: {body}");
    }
    assert_eq!(f.mails_as("nobody", Some(OWNER)).await, (200, json!([])));
}

#[tokio::test]
async fn only_the_user_sees_their_mails() {
    let f = spawn_app().await;
    f.user_exists("u-1").await;
    f.provider_fails_then_accepts(503, 0).await;
    f.app.bus.deliver(&user_registered("u-1")).await;
    f.app.bus.published("mail.sent").await;
    assert_eq!(f.mails("u-1").await.len(), 1);
    // Another user's mails read as none, as for a user with no mail yet.
    assert_eq!(f.mails_as("u-1", Some(OTHER)).await, (200, json!([])));
    let (status, body) = f.mails_as("u-1", None).await;
    assert_eq!(status, 401);
    assert!(body["error"].as_str().unwrap().starts_with("missing bearer token"), "{body}");
    assert_eq!(f.mails_as("u-1", Some(FORGED)).await, (401, json!({"error": "unknown session"})));
}
