//! mailer's pacts. Its real `TriggerHandler` is handed every message it
//! listens to (from users, store and tracking) while its real clients ask
//! Pact's mocks of users (contact lookup) and of the mail provider: one test
//! writes all of them, so the HTTP pacts hold exactly the calls the handler
//! makes. A lookup of an unknown user is driven through the `Users` client,
//! and the session check of a request for a user's mails through the kit's.

use ::contracts::{EMAIL, ID, Pact, USER_ID, event_data};
use kit::CorrelationId;
use kit::http::{ClientOptions, ServiceClient};
use mailer::events::TriggerHandler;
use mailer::provider::Provider;
use mailer::users::{Users, UsersError};
use pact_consumer::prelude::*;
use serde_json::json;

const NOBODY: &str = "u-404";

fn client(service: &str, url: &str) -> ServiceClient {
    ServiceClient::new(service, url, ClientOptions { attempts: 1, ..ClientOptions::default() }).unwrap()
}

#[test]
fn mailer_hears_of_users_orders_and_deliveries_and_mails_them() {
    ::contracts::do_not_track();
    let mut users = Pact::new("mailer", "users").unwrap();
    users
        .builder()
        .interaction("a contact lookup for a known user", "", |mut i| {
            i.given_with_params(format!("user {USER_ID} exists"), &json!({"user_id": USER_ID}));
            i.request.get().path(format!("/users/{USER_ID}/contact"));
            i.response.status(200).json_body(json_pattern!({
                "user_id": USER_ID,
                "email": term!(EMAIL, "ada@example.com"),
                "name": like!("Ada Lovelace")
            }));
            i
        })
        .interaction("a contact lookup for an unknown user", "", |mut i| {
            i.given(format!("no user {NOBODY} exists"));
            i.request.get().path(format!("/users/{NOBODY}/contact"));
            i.response.status(404);
            i
        });
    ::contracts::sessions::session_checks(users.builder());
    users.event("user.registered", event_data("user.registered"));
    let mut provider = Pact::new("mailer", "mail-provider").unwrap();
    provider.builder().interaction("a mail handed over", "", |mut i| {
        i.request
            .post()
            .path("/messages")
            // The provider reads the body as JSON only when told so.
            .header("Content-Type", "application/json")
            .header(
                "Idempotency-Key",
                term!("^[A-Za-z0-9._:-]+:[0-9a-f-]{36}$", "u-1:3f2a6c1e-8a5b-4c1d-9e7f-0a1b2c3d4e5f"),
            )
            .json_body(json_pattern!({
                "to": term!(EMAIL, "ada@example.com"),
                "subject": like!("Welcome to fare, Ada Lovelace"),
                "body": like!("Hello Ada Lovelace,\n\nyour fare account is ready. Welcome aboard!\n"),
                "template": term!("^(welcome|order_confirmation|delivered)$", "welcome")
            }));
        i.response.status(202).json_body(json_pattern!({"message_id": term!(ID, "msg-1")}));
        i
    });
    let mut store = Pact::new("mailer", "store").unwrap();
    store.event("order.placed", event_data("order.placed"));
    let mut tracking = Pact::new("mailer", "tracking").unwrap();
    tracking.event("package.delivered", event_data("package.delivered"));

    let users_server = users.builder().start_mock_server(None, None);
    let provider_server = provider.builder().start_mock_server(None, None);
    let users_client = Users::new(client("users", users_server.url().as_str()));
    let provider_client = Provider::new(client("mail-provider", provider_server.url().as_str()));
    let mut messages = users.messages().unwrap();
    messages.extend(store.messages().unwrap());
    messages.extend(tracking.messages().unwrap());
    assert_eq!(messages.len(), 3);
    ::contracts::runtime().block_on(async {
        for message in &messages {
            let (_dir, db) = ::contracts::temp_db(mailer::MIGRATIONS);
            let handler =
                TriggerHandler { db: db.clone(), users: users_client.clone(), provider: provider_client.clone() };
            ::contracts::deliver(&handler, message).await.unwrap();
            assert_eq!(::contracts::staged(&db).await, 1, "{} sent no mail", message.description);
        }
        let nobody = mailer::domain::UserId::parse(NOBODY).unwrap();
        let unknown = users_client.contact(&nobody, &CorrelationId::generate()).await;
        assert!(matches!(unknown, Err(UsersError::Unknown(_))), "{unknown:?}");
        ::contracts::sessions::check_sessions(users_server.url().as_str()).await;
    });
    drop(users_server);
    drop(provider_server);
    for pact in [users, provider, store, tracking] {
        pact.publish().unwrap();
    }
}
