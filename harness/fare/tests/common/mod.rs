//! What the harness's tests share: the workspace root, the options their
//! platforms start with, the scenarios' snapshots, and the lock that keeps
//! a whole platform's test apart from every other.

use std::path::PathBuf;

use fare::runtime::UpOptions;
use kit::bus::Namespace;

/// Held by a test that starts a whole platform (and looks at this
/// process's children, or times what it runs): no other test runs beside
/// it. Every other test holds it shared, and those run side by side.
static PLATFORM: tokio::sync::RwLock<()> = tokio::sync::RwLock::const_new(());

/// No other test runs until this is dropped.
pub async fn exclusive() -> tokio::sync::RwLockWriteGuard<'static, ()> {
    PLATFORM.write().await
}

/// No platform's test runs until this is dropped; other tests may.
pub async fn shared() -> tokio::sync::RwLockReadGuard<'static, ()> {
    PLATFORM.read().await
}

/// [`shared`], for a test that is not async.
pub fn shared_blocking() -> tokio::sync::RwLockReadGuard<'static, ()> {
    PLATFORM.blocking_read()
}

/// The workspace root: `services/`, `scenarios/` and `target/` are under it.
pub fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..").canonicalize().unwrap()
}

/// A platform in `ns`, as `fare e2e` starts it.
pub fn up_options(ns: &Namespace) -> UpOptions {
    UpOptions::new(&root(), ns.clone())
}

/// Each scenario's chains as traced, ids and times left out: what
/// `scenarios/snapshots/` holds.
pub fn skeletons(report: &fare::scenario::RunReport, recorder: &fare::trace::Recorder) -> Vec<(String, String)> {
    let mut skeletons = Vec::new();
    for s in &report.scenarios {
        let mut chains: Vec<_> = s.chains.iter().collect();
        chains.sort_by(|a, b| a.label.cmp(&b.label));
        let mut text = String::new();
        for c in chains {
            let skeleton = recorder.trace(&c.correlation_id).skeleton();
            let skeleton = if skeleton.is_empty() { "   (no events)\n".to_owned() } else { skeleton };
            text.push_str(&format!("chain {}\n{skeleton}", c.label));
        }
        skeletons.push((s.name.clone(), text));
    }
    skeletons
}

/// Holds each skeleton to its snapshot; `cargo insta review` shows a change.
/// A chain that gains or loses an event fails here.
pub fn assert_snapshots(skeletons: &[(String, String)]) {
    for (name, skeleton) in skeletons {
        insta::with_settings!({ snapshot_path => "../../../../scenarios/snapshots", prepend_module_to_snapshot => false }, {
            insta::assert_snapshot!(name.as_str(), skeleton);
        });
    }
}

/// Holds `value` to the JSON Schema of `doc` (what `fare schema` prints):
/// every way it departs from it, each at its path.
pub fn assert_conforms(doc: fare::json::Doc, value: &serde_json::Value) {
    let schema = doc.schema();
    let validator = jsonschema::validator_for(&schema).expect("a generated schema compiles");
    let errors: Vec<String> = validator.iter_errors(value).map(|e| format!("{}: {e}", e.instance_path())).collect();
    assert!(errors.is_empty(), "{} --json departs from its schema:\n{}\n{value:#}", doc.name(), errors.join("\n"));
}
