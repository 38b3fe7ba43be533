//! fare as a Pact Broker client: the deploy workflow against a Pact Broker,
//! PactFlow or `fare broker`. Publishing pacts, the matrix and can-i-deploy,
//! environments and deployments are here; verifying the pacts a broker
//! selects is `verify::broker`, through `pact_verifier`'s own broker client.
//!
//! Configured as every Pact tool is: `PACT_BROKER_BASE_URL`, and
//! `PACT_BROKER_TOKEN` or `PACT_BROKER_USERNAME`/`PACT_BROKER_PASSWORD`.
//! Credentials never appear in a log line, error or report.
//!
//! # Layout
//! - `client`: [`BrokerClient`]: HAL navigation, credentials, errors that quote the broker.
//! - `vcs`: the version, branch and build URL from CI variables and git.
//! - `publish`: `POST /contracts/publish`, one request per consumer.
//! - `deploy`: can-i-deploy (the matrix as a table), environments, record-deployment.

pub mod client;
pub mod deploy;
pub mod publish;
pub mod vcs;

pub use client::{Auth, BrokerClient, BrokerConfig, ClientError};
