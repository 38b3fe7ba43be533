//! The broker's HTTP API, one file per resource. Every path is the Pact
//! Broker's own, so links a client builds by hand (the `pact` CLI builds
//! some) land here too.

mod environments;
mod index;
mod matrix;
mod pacticipants;
mod pacts;
mod publish;

use axum::Router;
use axum::routing::{get, post, put};

use crate::BrokerError;
use crate::db::Db;
use crate::model::Snapshot;

#[derive(Clone)]
pub struct App {
    db: Db,
}

impl App {
    /// Everything the broker knows, read in one transaction.
    async fn snapshot(&self) -> Result<Snapshot, BrokerError> {
        self.db.read(|conn| Snapshot::load(conn).map_err(BrokerError::from)).await
    }
}

pub fn router(db: Db) -> Router {
    Router::new()
        .route("/", get(index::index))
        .route("/contracts/publish", post(publish::publish))
        .route("/pacticipants", get(pacticipants::list))
        .route("/pacticipants/{p}", get(pacticipants::show).put(pacticipants::update).patch(pacticipants::update))
        .route("/pacticipants/{p}/versions/{v}", get(pacticipants::version).put(pacticipants::put_version))
        .route("/pacticipants/{p}/branches/{b}/versions/{v}", put(pacticipants::put_branch_version))
        .route("/pacticipants/{p}/versions/{v}/tags/{t}", put(pacticipants::put_tag))
        .route(
            "/pacticipants/{p}/versions/{v}/deployed-versions/environment/{e}",
            post(environments::record_deployment),
        )
        .route("/pacts/provider/{p}/latest", get(pacts::latest))
        .route("/pacts/provider/{p}/for-verification", get(pacts::for_verification_doc).post(pacts::for_verification))
        .route("/pacts/provider/{p}/consumer/{c}/version/{v}", get(pacts::by_consumer_version))
        .route("/pacts/provider/{p}/consumer/{c}/pact-version/{sha}", get(pacts::by_pact_version))
        .route(
            "/pacts/provider/{p}/consumer/{c}/pact-version/{sha}/verification-results",
            post(pacts::publish_verification),
        )
        .route(
            "/pacts/provider/{p}/consumer/{c}/pact-version/{sha}/verification-results/{id}",
            get(pacts::verification),
        )
        .route("/matrix", get(matrix::matrix))
        .route("/can-i-deploy", get(matrix::can_i_deploy))
        .route("/environments", get(environments::list).post(environments::create))
        .route("/environments/{uuid}", get(environments::show))
        .with_state(App { db })
}

/// A JSON request body, or a 400 in the Pact Broker's shape naming what is wrong.
fn parse_body<T: serde::de::DeserializeOwned>(body: &[u8]) -> Result<T, BrokerError> {
    let de = &mut serde_json::Deserializer::from_slice(body);
    serde_path_to_error::deserialize(de).map_err(|e| {
        let path = e.path().to_string();
        let field = if path == "." { "body".to_owned() } else { path };
        BrokerError::invalid(&field, e.into_inner().to_string())
    })
}
