//! Container mode: the scenarios of `scenarios/` run through the platform
//! in containers (`--runtime containers`: LocalStack and every service in a
//! container of its own, images built here) and their chains match the same
//! snapshots as in process mode; once the platform stops, nothing labelled
//! with its namespace is left in the engine.
//!
//! It needs a running Docker engine, debootstrap and Python 3.13, and its
//! first run builds the images (minutes): it runs when
//! `FARE_TEST_CONTAINERS=1` is set, as `.ci/run` does, and says it skipped
//! otherwise.

mod common;

use std::sync::Arc;

use common::root;
use fare::runtime::containers::Engine;
use fare::runtime::{Platform, Runtime, UpOptions};
use fare::scenario::{self, RunOptions, Silent, Target};
use kit::bus::Namespace;

#[tokio::test(flavor = "multi_thread")]
async fn the_scenarios_in_containers_match_their_snapshots_and_leave_nothing() {
    if std::env::var_os("FARE_TEST_CONTAINERS").is_none() {
        eprintln!("skipped: set FARE_TEST_CONTAINERS=1 to run the scenarios in containers (needs Docker)");
        return;
    }
    let ns = Namespace::parse(&format!("ct{}", std::process::id())).unwrap();
    let options = UpOptions { runtime: Runtime::Containers, ..common::up_options(&ns) };
    let mut platform =
        Platform::up_with_env(&options, &scenario::e2e_env(), &mut |l| eprintln!("fare: {l}")).await.unwrap();
    let topology = fare::load_topology(&root().join("services")).unwrap().0;
    let scenarios = scenario::load_dir(&root().join("scenarios"), &[], &topology).unwrap();
    let target = Target::of(&platform).unwrap();
    let report =
        scenario::run_all(&target, &scenarios, Some(&mut platform), &RunOptions::default(), Arc::new(Silent)).await;
    target.wait_quiet().await.unwrap();
    let recorder = platform.recorder().unwrap();
    recorder.caught_up(std::time::Duration::from_secs(10)).await;
    let skeletons = common::skeletons(&report, recorder);
    let failed: Vec<String> =
        report.scenarios.iter().filter(|s| s.failed()).map(|s| format!("{}:\n{}", s.name, s.failure_text())).collect();
    platform.stop();
    let _ = std::fs::remove_dir_all(fare::runtime::state_dir(&root(), &ns));
    let left = Engine::get().await.unwrap().remove_labelled(ns.as_str()).await.unwrap();
    assert!(failed.is_empty(), "{}", failed.join("\n"));
    common::assert_snapshots(&skeletons);
    assert!(left.is_empty(), "left in the engine after the platform stopped: {left:?}");
}
