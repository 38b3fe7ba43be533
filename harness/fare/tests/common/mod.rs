//! What the harness's test binaries share: the workspace root, and the
//! options their platforms start with.

use std::path::PathBuf;

use fare::fakes::CarrierOptions;
use fare::runtime::UpOptions;
use kit::bus::Namespace;

/// The workspace root: `services/`, `scenarios/` and `target/` are under it.
pub fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..").canonicalize().unwrap()
}

/// A platform in `ns` whose carrier delivers at the first poll, as `fare e2e` starts it.
#[allow(dead_code, reason = "not every test binary starts a platform")]
pub fn up_options(ns: &Namespace) -> UpOptions {
    UpOptions { carrier: CarrierOptions { polls_until_delivered: 1 }, ..UpOptions::new(&root(), ns.clone()) }
}
