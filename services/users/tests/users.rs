//! The users service against a real moto, through HTTP.

use std::time::{Duration, Instant};

use kit::Config;
use kit::http::IDENTITY_HEADER;
use kit::testing::{Build, TestApp, TestSpec, caller_keys, service_token};
use reqwest::Response;
use serde_json::{Value, json};

const SPEC: TestSpec =
    TestSpec { service: "users", listens: &[], publishes: &["user.registered"], max_receive_count: 3 };

async fn spawn_app() -> TestApp<impl Build> {
    spawn_app_with(Config::defaults(users::NAME, users::DEFAULTS)).await
}

/// users as `fare up` runs it: holding the keys of the callers its
/// manifest grants (store, mailer), and no others.
async fn spawn_app_with(config: Config) -> TestApp<impl Build> {
    TestApp::spawn(SPEC, config.with("FARE_CALLER_KEYS", caller_keys(&["store", "mailer"])), users::build).await
}

async fn post(app: &TestApp<impl Build>, path: &str, body: &Value) -> Response {
    app.post(path).json(body).send().await.unwrap()
}

async fn sign_up(app: &TestApp<impl Build>, email: &str) -> Value {
    let resp = post(app, "/users", &json!({"email": email, "password": "correct horse", "name": "Ada"})).await;
    assert_eq!(resp.status(), 201);
    resp.json().await.unwrap()
}

async fn log_in(app: &TestApp<impl Build>, email: &str, password: &str) -> Response {
    post(app, "/sessions", &json!({"email": email, "password": password})).await
}

/// Status and body of the session check for `token`, which travels in
/// `Authorization`, never in the path, asked as store asks it.
async fn session(app: &TestApp<impl Build>, token: &str) -> (u16, Value) {
    let resp = app.get("/sessions/current").bearer_auth(token).header(IDENTITY_HEADER, store()).send().await.unwrap();
    (resp.status().as_u16(), resp.json().await.unwrap())
}

/// store's identity, for a call to users.
fn store() -> String {
    service_token("store", "users")
}

/// Status and body of a contact lookup for `user_id`, as `caller` (or
/// without any identity).
async fn contact(app: &TestApp<impl Build>, user_id: &str, caller: Option<&str>) -> (u16, Value) {
    let mut req = app.get(&format!("/users/{user_id}/contact"));
    if let Some(caller) = caller {
        req = req.header(IDENTITY_HEADER, service_token(caller, "users"));
    }
    let resp = req.send().await.unwrap();
    (resp.status().as_u16(), resp.json().await.unwrap())
}

/// Status and body of `GET path`.
async fn get(app: &TestApp<impl Build>, path: &str) -> (u16, Value) {
    let resp = app.get(path).send().await.unwrap();
    (resp.status().as_u16(), resp.json().await.unwrap())
}

#[tokio::test]
async fn sign_up_publishes_user_registered_in_the_callers_chain() {
    let app = spawn_app().await;
    let resp = app
        .post("/users")
        .header("X-Correlation-ID", "signup-chain-1")
        .json(&json!({"email": "Ada@Example.com", "password": "correct horse", "name": "Ada"}))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 201);
    assert_eq!(resp.headers()["x-correlation-id"], "signup-chain-1");
    let user: Value = resp.json().await.unwrap();
    assert_eq!(user["email"], "ada@example.com");
    assert_eq!(user["name"], "Ada");
    assert!(user.get("password").is_none() && user.get("password_hash").is_none(), "{user}");

    let event = app.bus.published("user.registered").await;
    assert_eq!(event.correlation_id.as_str(), "signup-chain-1");
    assert!(event.causation_id.as_deref().is_some_and(|c| !c.is_empty()), "{event:?}");
    assert_eq!(event.producer, "users");
    assert_eq!(event.data, json!({"user_id": user["user_id"], "email": "ada@example.com", "name": "Ada"}));
}

#[tokio::test]
async fn a_taken_email_is_a_conflict_and_publishes_nothing_more() {
    let app = spawn_app().await;
    sign_up(&app, "grace@example.com").await;
    let resp =
        post(&app, "/users", &json!({"email": "GRACE@example.com", "password": "another one", "name": "G"})).await;
    assert_eq!(resp.status(), 409);
    let body: Value = resp.json().await.unwrap();
    assert!(body["error"].as_str().unwrap().contains("already exists"), "{body}");
    let published = app.bus.all_published().await;
    assert_eq!(published.len(), 1, "{published:?}");
}

#[tokio::test]
async fn bad_sign_ups_are_refused_naming_the_field() {
    let app = spawn_app().await;
    let cases = [
        (json!({"email": "not-an-email", "password": "correct horse", "name": "A"}), 422, Some("email")),
        (json!({"email": "a@example.com", "password": "short", "name": "A"}), 422, Some("password")),
        (json!({"email": "a@example.com", "password": "correct horse"}), 422, Some("name")),
        (json!({"password": "correct horse", "name": "A"}), 422, Some("email")),
        (json!({"email": "a@example.com", "password": 12345678, "name": "A"}), 422, Some("password")),
        (json!({"email": "a@example.com", "password": "correct horse", "name": "  "}), 422, Some("name")),
    ];
    for (body, status, field) in cases {
        let resp = post(&app, "/users", &body).await;
        assert_eq!(resp.status(), status, "{body}");
        let answer: Value = resp.json().await.unwrap();
        assert_eq!(answer["field"].as_str(), field, "{body} -> {answer}");
        assert!(answer["error"].as_str().unwrap().starts_with(field.unwrap()), "{answer}");
    }

    let resp = app.post("/users").header("content-type", "application/json").body("{\"email\": ").send().await.unwrap();
    assert_eq!(resp.status(), 400);
    let answer: Value = resp.json().await.unwrap();
    assert!(answer["error"].as_str().unwrap().contains("not valid JSON"), "{answer}");

    let huge = json!({"email": "a@example.com", "password": "correct horse", "name": "x".repeat(70 * 1024)});
    let resp = post(&app, "/users", &huge).await;
    assert_eq!(resp.status(), 413);

    assert!(app.bus.all_published().await.is_empty());
    assert_eq!(log_in(&app, "a@example.com", "correct horse").await.status(), 401);
}

#[tokio::test]
async fn a_login_gives_a_session_that_validates() {
    let app = spawn_app().await;
    let user = sign_up(&app, "linus@example.com").await;
    let resp = log_in(&app, "Linus@Example.com", "correct horse").await;
    assert_eq!(resp.status(), 201);
    let session: Value = resp.json().await.unwrap();
    let token = session["token"].as_str().unwrap();
    assert_eq!(token.len(), 64);
    assert!(token.chars().all(|c| c.is_ascii_hexdigit()), "{token}");
    assert_eq!(session["user_id"], user["user_id"]);

    let (status, valid) = self::session(&app, token).await;
    assert_eq!(status, 200);
    assert_eq!(valid["user_id"], user["user_id"]);
    assert_eq!(valid["expires_at"], session["expires_at"]);
}

#[tokio::test]
async fn a_wrong_password_and_an_unknown_email_get_the_same_401() {
    let app = spawn_app().await;
    sign_up(&app, "ken@example.com").await;
    let wrong_password = log_in(&app, "ken@example.com", "incorrect horse").await;
    let unknown_email = log_in(&app, "nobody@example.com", "correct horse").await;
    assert_eq!(wrong_password.status(), 401);
    assert_eq!(unknown_email.status(), 401);
    let a: Value = wrong_password.json().await.unwrap();
    let b: Value = unknown_email.json().await.unwrap();
    assert_eq!(a, b);
    assert_eq!(a["error"], "wrong email or password");
}

#[tokio::test]
async fn a_forged_session_is_unknown() {
    let app = spawn_app().await;
    let (status, body) = session(&app, &"ab".repeat(32)).await;
    assert_eq!(status, 401);
    assert_eq!(body["error"], "unknown session");
    let resp = app.get("/sessions/current").header(IDENTITY_HEADER, store()).send().await.unwrap();
    assert_eq!(resp.status(), 401, "no token, no session");
    // A token is never read from a path: there is no such route.
    let resp = app.get(&format!("/sessions/{}", "ab".repeat(32))).send().await.unwrap();
    assert_eq!(resp.status(), 404);
}

#[tokio::test]
async fn a_session_past_its_ttl_is_expired() {
    let config = Config::defaults(users::NAME, users::DEFAULTS).with("SESSION_TTL_SECONDS", "0");
    let app = spawn_app_with(config).await;
    sign_up(&app, "barbara@example.com").await;
    let session: Value = log_in(&app, "barbara@example.com", "correct horse").await.json().await.unwrap();
    let token = session["token"].as_str().unwrap();
    // A TTL of 0 expires at once; the poll only guards against clock granularity.
    let deadline = Instant::now() + Duration::from_secs(5);
    let (status, body) = loop {
        let (status, body) = self::session(&app, token).await;
        if status != 200 || Instant::now() > deadline {
            break (status, body);
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    assert_eq!(status, 401, "{body}");
    assert_eq!(body["error"], "session expired");
}

#[tokio::test]
async fn contacts_are_found_by_user_id() {
    let app = spawn_app().await;
    let user = sign_up(&app, "margaret@example.com").await;
    let (status, found) = contact(&app, user["user_id"].as_str().unwrap(), Some("mailer")).await;
    assert_eq!(status, 200);
    assert_eq!(found, user);
    let (status, body) = contact(&app, "no-such-user", Some("mailer")).await;
    assert_eq!(status, 404);
    assert!(body["error"].as_str().unwrap().contains("no-such-user"), "{body}");
}

/// A contact goes to mailer, which users' manifest grants it, and to no
/// one else: not to store (granted sessions only), not to a service users
/// holds no key for, not to a caller with no identity or a stale one.
#[tokio::test]
async fn contacts_answer_only_the_services_granted_them() {
    let app = spawn_app().await;
    let user = sign_up(&app, "mary@example.com").await;
    let id = user["user_id"].as_str().unwrap();
    assert_eq!(contact(&app, id, Some("mailer")).await.0, 200);
    let (status, body) = contact(&app, id, Some("store")).await;
    assert_eq!(status, 403, "{body}");
    assert_eq!(
        body["error"],
        "store may not call GET /users/{user_id}/contact: users's manifest does not grant it to store"
    );
    let (status, body) = contact(&app, id, Some("devices")).await;
    assert_eq!(status, 401, "{body}");
    assert_eq!(body["error"], "users holds no key for `devices`: its manifest grants `devices` nothing");
    let (status, body) = contact(&app, id, None).await;
    assert_eq!(status, 401, "{body}");
    assert!(body["error"].as_str().unwrap().starts_with("no service identity"), "{body}");
    let stale = kit::http::Signer::new("mailer", kit::testing::service_key("mailer")).token_until("users", 1);
    let resp = app.get(&format!("/users/{id}/contact")).header(IDENTITY_HEADER, stale).send().await.unwrap();
    assert_eq!(resp.status(), 401);
    // A user's own session is no service identity: the contact is mailer's to ask.
    let session: Value = log_in(&app, "mary@example.com", "correct horse").await.json().await.unwrap();
    let own = app.get(&format!("/users/{id}/contact")).bearer_auth(session["token"].as_str().unwrap());
    assert_eq!(own.send().await.unwrap().status(), 401);
}

/// Asked with mailer's identity and a user's session, the contact is that
/// user's own only.
#[tokio::test]
async fn a_signed_in_user_reads_their_own_contact_only() {
    let app = spawn_app().await;
    let ada = sign_up(&app, "ada.own@example.com").await;
    let bob = sign_up(&app, "bob.own@example.com").await;
    let mut tokens = Vec::new();
    for email in ["ada.own@example.com", "bob.own@example.com"] {
        let session: Value = log_in(&app, email, "correct horse").await.json().await.unwrap();
        tokens.push(session["token"].as_str().unwrap().to_owned());
    }
    let (ada_token, bob_token) = (tokens[0].as_str(), tokens[1].as_str());
    let contact = |user: &Value, token: &str| {
        let request = app
            .get(&format!("/users/{}/contact", user["user_id"].as_str().unwrap()))
            .bearer_auth(token)
            .header(IDENTITY_HEADER, service_token("mailer", "users"));
        async move {
            let resp = request.send().await.unwrap();
            (resp.status().as_u16(), resp.json::<Value>().await.unwrap())
        }
    };
    assert_eq!(contact(&ada, ada_token).await, (200, ada.clone()));
    // Another user's contact is answered as an unknown user's: ids cannot be probed.
    let (status, body) = contact(&ada, bob_token).await;
    assert_eq!(status, 404, "{body}");
    assert_eq!(body["error"], format!("no user {}", ada["user_id"].as_str().unwrap()));
    assert_eq!(contact(&bob, bob_token).await.0, 200);
    assert_eq!(contact(&ada, "forgedtoken").await, (401, json!({"error": "unknown session"})));
}

#[tokio::test]
async fn users_and_sessions_survive_a_restart() {
    let mut app = spawn_app().await;
    let user = sign_up(&app, "edsger@example.com").await;
    let session: Value = log_in(&app, "edsger@example.com", "correct horse").await.json().await.unwrap();
    app.restart().await;
    let (status, valid) = self::session(&app, session["token"].as_str().unwrap()).await;
    assert_eq!(status, 200);
    assert_eq!(valid["user_id"], user["user_id"]);
    assert_eq!(log_in(&app, "edsger@example.com", "correct horse").await.status(), 201);
    assert_eq!(
        post(&app, "/users", &json!({"email": "edsger@example.com", "password": "p4ssword!", "name": "E"}))
            .await
            .status(),
        409
    );
}

/// Provider states write users and sessions as the caller likes: only a
/// users built for contract verification has the route; no setting, not
/// even the variable that once turned it on, mounts it.
#[tokio::test]
async fn the_provider_state_endpoint_exists_only_for_contract_verification() {
    let state = json!({"state": "user u-1 has a valid session token 0a1b2c3d4e5f", "action": "setup"});
    let config = Config::defaults(users::NAME, users::DEFAULTS).with("FARE_PROVIDER_STATES", "1");
    let app = spawn_app_with(config).await;
    assert_eq!(post(&app, "/_pact/state", &state).await.status(), 404);
    assert_eq!(session(&app, "0a1b2c3d4e5f").await.0, 401);

    let switches = users::Switches { provider_states: true };
    let build = async move |c: &Config| users::build_with(c, switches).await;
    let config = Config::defaults(users::NAME, users::DEFAULTS).with("FARE_CALLER_KEYS", caller_keys(&["store"]));
    let app = TestApp::spawn(SPEC, config, build).await;
    assert_eq!(post(&app, "/_pact/state", &state).await.status(), 200);
    let (status, session) = session(&app, "0a1b2c3d4e5f").await;
    assert_eq!((status, session["user_id"].as_str()), (200, Some("u-1")), "{session}");
    let unknown = post(&app, "/_pact/state", &json!({"state": "user u-1 is happy"})).await;
    assert_eq!(unknown.status(), 422);
    let error = unknown.text().await.unwrap();
    assert!(error.contains("users knows no provider state `user u-1 is happy`; it knows"), "{error}");
    let typo = post(&app, "/_pact/state", &json!({"state": "user u-1 has a valid sesion token 0a1b2c3d4e5f"})).await;
    let error = typo.text().await.unwrap();
    assert!(error.contains("; did you mean `user U has a valid session token T`?"), "{error}");
}

/// An outbox row that can never be published is moved aside, and `/pending`
/// counts it apart from the work in hand.
#[tokio::test]
async fn a_poisoned_outbox_row_is_moved_aside_and_counted_on_pending() {
    let app = spawn_app().await;
    let db = rusqlite::Connection::open(app.dir.path().join("service.sqlite")).unwrap();
    db.execute(
        "INSERT INTO fare_outbox (event_id, event_type, correlation_id, body) VALUES ('e-1', 'user.registered', 'c-1', '{')",
        [],
    )
    .unwrap();
    let deadline = Instant::now() + Duration::from_secs(10);
    let pending = loop {
        let (_, pending) = get(&app, "/pending").await;
        if pending["outbox_dead"] == 1 || Instant::now() > deadline {
            break pending;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    assert_eq!(pending, json!({"handling": 0, "outbox": 0, "work": 0, "outbox_dead": 1}));
    sign_up(&app, "alan@example.com").await;
    app.bus.published("user.registered").await;
}

/// A session is stored under the SHA-256 of its token: the database holds
/// no token that works. Logging out ends it.
#[tokio::test]
async fn tokens_are_hashed_at_rest_and_a_logout_ends_the_session() {
    let app = spawn_app().await;
    sign_up(&app, "frances@example.com").await;
    let session: Value = log_in(&app, "frances@example.com", "correct horse").await.json().await.unwrap();
    let token = session["token"].as_str().unwrap().to_owned();
    let file = std::fs::read(app.dir.path().join("service.sqlite")).unwrap();
    let wal = std::fs::read(app.dir.path().join("service.sqlite-wal")).unwrap_or_default();
    for bytes in [&file, &wal] {
        assert!(!String::from_utf8_lossy(bytes).contains(&token), "the token is in the database");
    }
    assert_eq!(self::session(&app, &token).await.0, 200);

    let out = app.http.delete(format!("{}/sessions", app.url)).bearer_auth(&token).send().await.unwrap();
    assert_eq!(out.status(), 204);
    let (status, body) = self::session(&app, &token).await;
    assert_eq!((status, body["error"].as_str()), (401, Some("unknown session")));
    let again = app.http.delete(format!("{}/sessions", app.url)).bearer_auth(&token).send().await.unwrap();
    assert_eq!(again.status(), 204, "logging out twice is no error");
    let anonymous = app.http.delete(format!("{}/sessions", app.url)).send().await.unwrap();
    assert_eq!(anonymous.status(), 401);
}

/// Failed logins are limited per account, attempts per client: over
/// either, 429 with `Retry-After`, even for the right password.
#[tokio::test]
async fn logins_are_rate_limited_per_account_and_per_client() {
    let config = Config::defaults(users::NAME, users::DEFAULTS)
        .with("LOGIN_FAILURES_PER_ACCOUNT", "3")
        .with("LOGINS_PER_CLIENT", "8");
    let app = spawn_app_with(config).await;
    sign_up(&app, "hedy@example.com").await;
    for _ in 0..3 {
        assert_eq!(log_in(&app, "hedy@example.com", "wrong horse").await.status(), 401);
    }
    let held = log_in(&app, "HEDY@example.com", "correct horse").await;
    assert_eq!(held.status(), 429);
    let retry_after: u64 = held.headers()["retry-after"].to_str().unwrap().parse().unwrap();
    assert!((1..=60).contains(&retry_after), "{retry_after}");
    let body: Value = held.json().await.unwrap();
    assert!(body["error"].as_str().unwrap().starts_with("too many attempts"), "{body}");

    // Three attempts counted so far from this client (a refused one is not):
    // five more, then it is held too.
    sign_up(&app, "joan@example.com").await;
    for _ in 0..5 {
        assert_eq!(log_in(&app, "joan@example.com", "correct horse").await.status(), 201);
    }
    assert_eq!(log_in(&app, "joan@example.com", "correct horse").await.status(), 429);
}

/// Sessions expired over a day ago are deleted by a periodic purge, not
/// only when someone logs in.
#[tokio::test]
async fn long_expired_sessions_are_purged_periodically() {
    let config = Config::defaults(users::NAME, users::DEFAULTS).with("SESSION_PURGE_SECONDS", "1");
    let app = spawn_app_with(config).await;
    let user = sign_up(&app, "katherine@example.com").await;
    let db = rusqlite::Connection::open(app.dir.path().join("service.sqlite")).unwrap();
    db.execute(
        "INSERT INTO sessions (token_sha256, user_id, expires_at_ms) VALUES ('old', ?1, 1000)",
        [user["user_id"].as_str().unwrap()],
    )
    .unwrap();
    let count = || -> i64 { db.query_row("SELECT count(*) FROM sessions", [], |r| r.get(0)).unwrap() };
    assert_eq!(count(), 1);
    let deadline = Instant::now() + Duration::from_secs(10);
    while count() > 0 && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(count(), 0, "the expired session was not purged");
}
