//! users as a service's session check sees it, played by wiremock: each
//! token given is a live session of its user, [`FORGED`] is unknown and
//! [`EXPIRED`] has expired, each answered as users answers it.

use serde_json::json;
use wiremock::matchers::{header, method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

/// A token users never issued.
pub const FORGED: &str = "forgedtoken";
/// A token whose session has expired.
pub const EXPIRED: &str = "expiredtoken";

/// users vouching for `sessions`, `(token, user_id)` each.
pub async fn users_vouching(sessions: &[(&str, &str)]) -> MockServer {
    let users = MockServer::start().await;
    let live = |user_id: &str| (200, json!({"user_id": user_id, "expires_at": "2999-01-01T00:00:00Z"}));
    let answers = sessions.iter().map(|(token, user_id)| (*token, live(user_id))).chain([
        (FORGED, (401, json!({"error": "unknown session"}))),
        (EXPIRED, (401, json!({"error": "session expired"}))),
    ]);
    for (token, (status, body)) in answers {
        Mock::given(method("GET"))
            .and(path("/sessions/current"))
            .and(header("authorization", format!("Bearer {token}")))
            .respond_with(ResponseTemplate::new(status).set_body_json(body))
            .mount(&users)
            .await;
    }
    users
}
