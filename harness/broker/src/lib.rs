//! A local stand-in for the Pact Broker, for a laptop and for CI where no
//! broker runs: the library behind `fare broker`, which only binds it and
//! serves it until stopped. It speaks the part of the Pact Broker's HTTP API
//! that the clients use (fare's own, `pact_verifier`'s broker client and the
//! official `pact` CLI), keeps everything in one SQLite file, and listens on
//! loopback only: it has no authentication of its own, and accepts (and
//! ignores) the credentials clients send.
//!
//! What it covers: the HAL index and its relations; `POST /contracts/publish`;
//! pacticipants (main branch), versions, branches and tags; pacts by consumer
//! version and by pact version; pacts for verification with consumer
//! version selectors (`mainBranch`, `branch`, `matchingBranch`, `tag` with
//! or without `latest`, `latest`, `deployedOrReleased`/`deployed`,
//! `environment`, `consumer`, fallbacks), pending and WIP pacts; verification
//! results; `/matrix` and `/can-i-deploy`; environments and deployed
//! versions (record-deployment). Not covered: webhooks, releases
//! (record-release / support ended), undeployment, labels, the HTML UI,
//! the old `PUT /pacts/...` publication, and deleting anything.
//!
//! # Layout
//! - `schema.sql`: the tables (one migration).
//! - `db`: the SQLite file: private to its owner, migrated, used off the async threads.
//! - `model`: everything the broker knows, read at once for the decisions.
//! - `store`: the writes (pacticipants, versions, pacts, verifications, deployments).
//! - `select`: which pacts a provider verifies: selectors, pending, WIP.
//! - `matrix`: the matrix between versions, and the can-i-deploy answer.
//! - `hal`: links, the base URL, HAL+JSON responses.
//! - `error`: [`BrokerError`], and how it answers a client.
//! - `routes`: the HTTP API, one file per resource.

mod db;
mod error;
mod hal;
pub mod matrix;
pub mod model;
mod routes;
pub mod select;
mod store;

use std::net::SocketAddr;
use std::path::Path;

use tokio::net::TcpListener;

use db::{Db, Migration};
pub use error::BrokerError;
pub use hal::encode as encode_segment;

const MIGRATIONS: &[Migration] = &[Migration { version: 1, name: "pact broker", sql: include_str!("schema.sql") }];

/// A broker bound to its port, not yet serving.
pub struct Broker {
    listener: TcpListener,
    db: Db,
}

impl Broker {
    /// Opens (or creates) the broker's database at `db_path` and binds
    /// `127.0.0.1:port` (0: any free port).
    pub async fn bind(db_path: &Path, port: u16) -> Result<Broker, BrokerError> {
        let db = Db::open(db_path, MIGRATIONS)?;
        let addr = SocketAddr::from(([127, 0, 0, 1], port));
        let listener = TcpListener::bind(addr).await.map_err(|source| BrokerError::Bind { addr, source })?;
        Ok(Broker { listener, db })
    }

    /// Where it listens: `http://127.0.0.1:PORT`.
    pub fn url(&self) -> String {
        match self.listener.local_addr() {
            Ok(addr) => format!("http://{addr}"),
            Err(_) => "http://127.0.0.1".into(),
        }
    }

    /// Serves until `shutdown` resolves.
    pub async fn run_until_stopped(self, shutdown: impl Future<Output = ()> + Send + 'static) -> std::io::Result<()> {
        let router = routes::router(self.db);
        axum::serve(self.listener, router).with_graceful_shutdown(shutdown).await
    }
}
