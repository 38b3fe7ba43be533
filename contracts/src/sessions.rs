//! The session check every service that serves a user's data asks users
//! for, through the kit's one client ([`kit::http::Sessions`]): the same
//! three interactions (a valid, an expired and an unknown token, each in
//! `Authorization`, never in the path) in every such consumer's pact with
//! users, and the real client driven through them. The tokens are examples
//! that users' provider states create for the one verification run.

use std::path::PathBuf;

use kit::CorrelationId;
use kit::http::{AuthError, ClientOptions, ServiceClient, Sessions};
use pact_consumer::prelude::*;
use serde_json::json;

use crate::{ContractError, ID, Pact, TIMESTAMP, USER_ID};

pub const VALID: &str = "0a1b2c3d4e5f";
pub const EXPIRED: &str = "9f8e7d6c5b4a";
pub const UNKNOWN: &str = "feedfacecafe";

/// Adds the three session-check interactions to `builder`.
pub fn session_checks(builder: &mut PactBuilder) -> &mut PactBuilder {
    builder
        .interaction("a session check for a valid token", "", |mut i| {
            i.given_with_params(
                format!("user {USER_ID} has a valid session token {VALID}"),
                &json!({"user_id": USER_ID, "token": VALID}),
            );
            i.request.get().path("/sessions/current").header("Authorization", format!("Bearer {VALID}"));
            i.response.status(200).json_body(json_pattern!({
                "user_id": term!(ID, USER_ID),
                "expires_at": term!(TIMESTAMP, "2030-01-01T13:00:00Z")
            }));
            i
        })
        .interaction("a session check for an expired token", "", |mut i| {
            i.given_with_params(
                format!("user {USER_ID} has an expired session token {EXPIRED}"),
                &json!({"user_id": USER_ID, "token": EXPIRED}),
            );
            i.request.get().path("/sessions/current").header("Authorization", format!("Bearer {EXPIRED}"));
            i.response.status(401).json_body(json_pattern!({"error": like!("session expired")}));
            i
        })
        .interaction("a session check for an unknown token", "", |mut i| {
            i.given(format!("no session has the token {UNKNOWN}"));
            i.request.get().path("/sessions/current").header("Authorization", format!("Bearer {UNKNOWN}"));
            i.response.status(401).json_body(json_pattern!({"error": like!("unknown session")}));
            i
        })
}

/// Drives the kit's real session client against users at `url` (Pact's
/// mock): the valid token is [`USER_ID`]'s, the other two are refused.
pub async fn check_sessions(url: &str) {
    let options = ClientOptions { attempts: 1, ..ClientOptions::default() };
    let sessions = Sessions::new(ServiceClient::new("users", url, options).expect("a users client"));
    let correlation = CorrelationId::generate();
    let caller = sessions.who(VALID, &correlation).await.expect("the valid token's session");
    assert_eq!(caller.user_id, USER_ID);
    for token in [EXPIRED, UNKNOWN] {
        let refused = sessions.who(token, &correlation).await;
        assert!(matches!(refused, Err(AuthError::Refused(_))), "{token}: {refused:?}");
    }
}

/// Writes and publishes `consumer`'s pact with users when the session check
/// is all it asks users for.
pub fn asks_users_for_sessions(consumer: &str) -> Result<PathBuf, ContractError> {
    crate::do_not_track();
    let mut pact = Pact::new(consumer, "users")?;
    session_checks(pact.builder());
    let server = pact.builder().start_mock_server(None, None);
    crate::runtime().block_on(check_sessions(server.url().as_str()));
    drop(server);
    pact.publish()
}
