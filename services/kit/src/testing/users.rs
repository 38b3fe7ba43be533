//! users as a service's session check sees it, played by wiremock: each
//! token given is a live session of its user, [`FORGED`] is unknown and
//! [`EXPIRED`] has expired, each answered as users answers it. [`users`]
//! is the usual cast: [`OWNER`], the session of `u-1` whose records the
//! tests make, and [`OTHER`], the session of `u-2`, who owns none.

use serde_json::{Value, json};
use wiremock::matchers::{header, method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

/// A token users never issued.
pub const FORGED: &str = "forgedtoken";
/// A token whose session has expired.
pub const EXPIRED: &str = "expiredtoken";
/// The session of `u-1`.
pub const OWNER: &str = "ownertoken";
/// The session of `u-2`.
pub const OTHER: &str = "othertoken";

/// users vouching for [`OWNER`] and [`OTHER`].
pub async fn users() -> MockServer {
    users_vouching(&[(OWNER, "u-1"), (OTHER, "u-2")]).await
}

/// users vouching for `sessions`, `(token, user_id)` each.
pub async fn users_vouching(sessions: &[(&str, &str)]) -> MockServer {
    let users = MockServer::start().await;
    for (token, user_id) in sessions {
        vouch(&users, token, user_id).await;
    }
    answer(&users, FORGED, 401, json!({"error": "unknown session"})).await;
    answer(&users, EXPIRED, 401, json!({"error": "session expired"})).await;
    users
}

/// `users` vouches for `token` as a live session of `user_id` from now on.
pub async fn vouch(users: &MockServer, token: &str, user_id: &str) {
    answer(users, token, 200, json!({"user_id": user_id, "expires_at": "2999-01-01T00:00:00Z"})).await;
}

async fn answer(users: &MockServer, token: &str, status: u16, body: Value) {
    Mock::given(method("GET"))
        .and(path("/sessions/current"))
        .and(header("authorization", format!("Bearer {token}")))
        .respond_with(ResponseTemplate::new(status).set_body_json(body))
        .mount(users)
        .await;
}

/// Sends `request` as `token`'s user (or with no credentials): the status
/// and the JSON answer.
pub async fn answer_as(request: reqwest::RequestBuilder, token: Option<&str>) -> (u16, Value) {
    let request = match token {
        Some(token) => request.bearer_auth(token),
        None => request,
    };
    let resp = request.send().await.expect("an answer");
    (resp.status().as_u16(), resp.json().await.expect("a JSON answer"))
}
