//! Container mode: the scenarios of `scenarios/` run through the platform
//! in containers (`--runtime containers`: LocalStack and every service in a
//! container of its own, images built here) and their chains match the same
//! snapshots as in process mode; those of `tests/scenarios-containers/`
//! fail on purpose with a network fault, which the diagnosis must name as
//! the cause; once the platform stops, nothing labelled with its namespace
//! is left in the engine. `fare doctor` passes its probes against the
//! LocalStack and the moto container, and removes each after;
//! `fare contracts verify --via-queue` passes with the platform in
//! containers, and leaves nothing either; and a platform fare knows
//! nothing of (`tests/platforms/tickets`) holds its load there too.
//!
//! It needs a running Docker engine, debootstrap and Python 3.13, and its
//! first run builds the images (minutes): it runs when
//! `FARE_TEST_CONTAINERS=1` is set, as `.ci/run` does, and says it skipped
//! otherwise.

use crate::common;

use std::collections::HashMap;
use std::process::Command;
use std::sync::Arc;

use common::root;
use fare::runtime::containers::Engine;
use fare::runtime::{Platform, Runtime, UpOptions};
use fare::scenario::{self, RunOptions, Silent, Target};
use fare::trace::FaultKind;
use kit::bus::Namespace;

/// Whether the container tests were asked for; says so when they were not.
fn asked(what: &str) -> bool {
    let asked = std::env::var_os("FARE_TEST_CONTAINERS").is_some();
    if !asked {
        eprintln!("skipped: set FARE_TEST_CONTAINERS=1 to run {what} (needs Docker)");
    }
    asked
}

#[tokio::test(flavor = "multi_thread")]
async fn the_scenarios_in_containers_match_their_snapshots_and_leave_nothing() {
    if !asked("the scenarios in containers") {
        return;
    }
    let _alone = common::exclusive().await;
    let ns = Namespace::parse(&format!("ct{}", std::process::id())).unwrap();
    let options = UpOptions { runtime: Runtime::Containers, ..common::up_options(&ns) };
    let mut platform =
        Platform::up_with_env(&options, &scenario::e2e_env(&common::root().join("scenarios")).unwrap(), &mut |l| {
            eprintln!("fare: {l}")
        })
        .await
        .unwrap();
    let topology = fare::load_topology(&root().join("services")).unwrap().0;
    let mut scenarios = scenario::load_dir(&root().join("scenarios"), &[], &topology).unwrap();
    let broken = scenario::load_dir(&root().join("harness/fare/tests/scenarios-containers"), &[], &topology).unwrap();
    let broken_names: Vec<String> = broken.iter().map(|s| s.name.clone()).collect();
    scenarios.extend(broken);
    let target = Target::of(&platform).unwrap();
    let report =
        scenario::run_all(&target, &scenarios, Some(&mut platform), &RunOptions::default(), Arc::new(Silent)).await;
    target.wait_quiet().await.unwrap();
    let recorder = platform.recorder().unwrap();
    recorder.caught_up(std::time::Duration::from_secs(10)).await;
    let mut skeletons = common::skeletons(&report, recorder);
    skeletons.retain(|(name, _)| !broken_names.contains(name));
    let failed: Vec<String> = report
        .scenarios
        .iter()
        .filter(|s| s.failed() && !broken_names.contains(&s.name))
        .map(|s| format!("{}:\n{}", s.name, s.failure_text()))
        .collect();
    // users cut off: mailer gave up on the delivery mail, owed to the disconnect.
    let cut = report.scenarios.iter().find(|s| s.name == "users-cut-off").expect("users-cut-off ran");
    let hop = cut.diagnosis.iter().flat_map(|d| &d.hops).next();
    let seen = hop.map(|h| {
        (h.hop.service.as_deref(), h.kind(), h.faults.first().map(|b| (b.fault.kind, b.fault.target.as_str())))
    });
    let text = cut.failure_text();
    eprintln!("users-cut-off, as diagnosed:\n{text}");
    platform.stop();
    let _ = std::fs::remove_dir_all(fare::runtime::state_dir(&root(), &ns));
    let left = Engine::get().await.unwrap().remove_labelled(ns.as_str()).await.unwrap();
    assert!(failed.is_empty(), "{}", failed.join("\n"));
    assert_eq!(seen, Some((Some("mailer"), "dead_lettered", Some((FaultKind::Disconnect, "users")))), "{text}");
    assert!(text.contains("why: users was cut off from the network (disconnect) from +"), "{text}");
    common::assert_snapshots(&skeletons);
    assert!(left.is_empty(), "left in the engine after the platform stopped: {left:?}");
}

#[tokio::test(flavor = "multi_thread")]
async fn doctor_passes_its_probes_against_each_emulator_container_and_removes_it() {
    let _shared = common::shared().await;
    if !asked("fare doctor against the emulators' containers") {
        return;
    }
    // LocalStack without --emulator: the container mode's default.
    for (flags, emulator) in [(&[][..], "localstack"), (&["--emulator", "moto"][..], "moto")] {
        let out = Command::new(env!("CARGO_BIN_EXE_fare"))
            .current_dir(root())
            .args(["--runtime", "containers"])
            .args(flags)
            .arg("doctor")
            .output()
            .unwrap();
        let (stdout, said) = said(&out);
        assert!(out.status.success(), "fare doctor against {emulator} in a container: {said}");
        assert!(stdout.contains(&format!("probing {emulator} at http://127.0.0.1:")), "{said}");
        assert!(stdout.contains(&format!("container of fare-{emulator}:")), "{said}");
        let passed = stdout.lines().filter(|l| l.split_whitespace().any(|w| w == "ok")).count();
        assert_eq!(passed, 4, "four probes passed against {emulator}: {said}");
        let left = left_in_the_engine("doctor-").await;
        assert!(left.is_empty(), "left in the engine after fare doctor against {emulator}: {left:?}");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn contracts_verify_via_queue_in_containers_passes_and_leaves_nothing() {
    let _shared = common::shared().await;
    if !asked("fare contracts verify --via-queue in containers") {
        return;
    }
    let out = Command::new(env!("CARGO_BIN_EXE_fare"))
        .current_dir(root())
        .args(["--runtime", "containers", "contracts", "verify", "--via-queue"])
        .output()
        .unwrap();
    let (stdout, said) = said(&out);
    assert!(out.status.success(), "fare contracts verify --via-queue in containers: {said}");
    assert!(said.contains("the localstack emulator's container"), "the platform ran in containers: {said}");
    assert!(stdout.contains(" 0 pacts failed"), "{said}");
    let left = left_in_the_engine("pactq").await;
    assert!(left.is_empty(), "left in the engine after contracts verify --via-queue: {left:?}");
}

/// The tickets platform (`tests/platforms/tickets`, two Python services fare
/// knows nothing of) under `fare chaos --load` in containers: its ledger
/// holds through a SIGKILL of a container, and nothing is left after.
#[tokio::test(flavor = "multi_thread")]
async fn a_platform_fare_knows_nothing_of_is_loaded_in_containers_and_leaves_nothing() {
    if !asked("the tickets platform in containers") {
        return;
    }
    let _alone = common::exclusive().await;
    let ns = format!("tkc{}", std::process::id());
    let services = root().join("harness/fare/tests/platforms/tickets/services");
    let out = Command::new(env!("CARGO_BIN_EXE_fare"))
        .current_dir(root())
        .args(["--services", services.to_str().unwrap(), "--namespace", &ns, "--runtime", "containers"])
        .args(["chaos", "--no-build", "--load", "6", "--kills", "1", "--users", "2", "--seed", "3", "--json"])
        .output()
        .unwrap();
    let (stdout, said) = said(&out);
    assert!(out.status.success(), "fare chaos --load on tickets in containers: {said}");
    assert!(said.contains("the localstack emulator's container"), "the platform ran in containers: {said}");
    let report: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    let found: Vec<u64> =
        report["ledger"]["rows"].as_array().unwrap().iter().map(|r| r["found"].as_u64().unwrap()).collect();
    assert_eq!(found, [6, 6, 6], "{said}");
    assert_eq!(report["kills"].as_array().unwrap().len(), 1, "{said}");
    let left = left_in_the_engine(&ns).await;
    assert!(left.is_empty(), "left in the engine after the load: {left:?}");
    let _ = std::fs::remove_dir_all(root().join("harness/fare/tests/platforms/tickets/.fare"));
}

/// A command's standard output, and all it said (standard output and error).
fn said(out: &std::process::Output) -> (String, String) {
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    let all = format!("{stdout}{}", String::from_utf8_lossy(&out.stderr));
    (stdout, all)
}

/// The containers and networks in the engine whose namespace starts with
/// `prefix` (`doctor-` for `fare doctor`'s, `pactq` for `contracts verify --via-queue`'s).
async fn left_in_the_engine(prefix: &str) -> Vec<String> {
    use testcontainers::bollard::query_parameters::{ListContainersOptionsBuilder, ListNetworksOptionsBuilder};
    let docker = Engine::get().await.unwrap().docker();
    let filters = HashMap::from([("label".to_owned(), vec![fare::runtime::containers::NAMESPACE_LABEL.to_owned()])]);
    let doctor = |labels: Option<HashMap<String, String>>| {
        labels
            .and_then(|l| l.get(fare::runtime::containers::NAMESPACE_LABEL).cloned())
            .is_some_and(|ns| ns.starts_with(prefix))
    };
    let containers =
        docker.list_containers(Some(ListContainersOptionsBuilder::new().all(true).filters(&filters).build()));
    let mut left: Vec<String> = containers
        .await
        .unwrap()
        .into_iter()
        .filter(|c| doctor(c.labels.clone()))
        .map(|c| format!("container {:?}", c.names))
        .collect();
    let networks = docker.list_networks(Some(ListNetworksOptionsBuilder::new().filters(&filters).build()));
    left.extend(
        networks
            .await
            .unwrap()
            .into_iter()
            .filter(|n| doctor(n.labels.clone()))
            .map(|n| format!("network {:?}", n.name)),
    );
    left
}

/// invoice rewritten in Python runs in a container as the Rust one does (its
/// manifest's command in the base image, its folder mounted): the scenarios
/// that lean on invoice pass against it, with their snapshots, and leave nothing.
#[tokio::test(flavor = "multi_thread")]
async fn invoice_rewritten_in_python_runs_in_containers() {
    if !asked("the Python invoice in containers") {
        return;
    }
    let _alone = common::exclusive().await;
    let ns = Namespace::parse(&format!("cp{}", std::process::id())).unwrap();
    let options = UpOptions { runtime: Runtime::Containers, profile: Some("python".into()), ..common::up_options(&ns) };
    let mut platform =
        Platform::up_with_env(&options, &scenario::e2e_env(&common::root().join("scenarios")).unwrap(), &mut |l| {
            eprintln!("fare: {l}")
        })
        .await
        .unwrap();
    let topology = fare::load_topology(&root().join("services")).unwrap().0;
    let names: Vec<String> =
        ["order-delivered", "poison-message", "duplicate-delivery", "loyalty-points"].map(String::from).to_vec();
    let scenarios = scenario::load_dir(&root().join("scenarios"), &names, &topology).unwrap();
    let target = Target::of(&platform).unwrap();
    let report =
        scenario::run_all(&target, &scenarios, Some(&mut platform), &RunOptions::default(), Arc::new(Silent)).await;
    target.wait_quiet().await.unwrap();
    let recorder = platform.recorder().unwrap();
    recorder.caught_up(std::time::Duration::from_secs(10)).await;
    let skeletons = common::skeletons(&report, recorder);
    let log = std::fs::read_to_string(platform.state_dir().join("logs/invoice.log")).unwrap_or_default();
    platform.stop();
    let _ = std::fs::remove_dir_all(fare::runtime::state_dir(&root(), &ns));
    let left = Engine::get().await.unwrap().remove_labelled(ns.as_str()).await.unwrap();
    let failed: Vec<String> =
        report.scenarios.iter().filter(|s| s.failed()).map(|s| format!("{}:\n{}", s.name, s.failure_text())).collect();
    assert!(failed.is_empty(), "{}", failed.join("\n"));
    assert_eq!(report.scenarios.len(), names.len());
    assert!(log.contains("INFO invoice: handled correlation_id="), "the Python invoice ran:\n{log}");
    common::assert_snapshots(&skeletons);
    assert_eq!(left, Vec::<String>::new(), "nothing of the namespace is left in the engine");
}
