//! A platform fare knows nothing about (`tests/platforms/tickets`: two
//! Python services, their own load and fault-matrix workloads) gets what
//! the reference platform gets: `fare chaos --load` through random kills
//! with its ledger held, and red when the ledger does not hold; `fare
//! bench` timing its chains though its services send no spans; the fault
//! matrix generated from its manifests, every cell passing; a scenario that
//! keeps one of its services down, diagnosed with that service named.

use std::path::PathBuf;
use std::process::Output;

use crate::common::{self, root};
use serde_json::Value;

fn services() -> PathBuf {
    root().join("harness/fare/tests/platforms/tickets/services")
}

/// `fare --services <tickets> --namespace NS ARGS...`, built already.
async fn fare(ns: &str, args: &[&str]) -> Output {
    let services = services();
    let mut all = vec!["--services", services.to_str().unwrap(), "--namespace", ns];
    all.extend_from_slice(args);
    tokio::process::Command::new(env!("CARGO_BIN_EXE_fare"))
        .current_dir(root())
        .args(&all)
        .env("NO_COLOR", "1")
        .output()
        .await
        .unwrap()
}

fn said(out: &Output) -> String {
    format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr))
}

#[tokio::test]
async fn a_platform_fare_knows_nothing_of_is_loaded_broken_and_benchmarked_by_its_own_workloads() {
    let _alone = common::exclusive().await;
    let ns = format!("tk{}", std::process::id());
    let load = ["chaos", "--no-build", "--load", "12", "--kills", "2", "--users", "3", "--seed", "4", "--json"];
    let out = fare(&ns, &load).await;
    assert_eq!(out.status.code(), Some(0), "{}", said(&out));
    let report: Value = serde_json::from_slice(&out.stdout).unwrap();
    common::assert_conforms(fare::json::Doc::Load, &report);
    let rows: Vec<(&str, &str, u64, u64)> = report["ledger"]["rows"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            (
                r["effect"].as_str().unwrap(),
                r["per"].as_str().unwrap(),
                r["expected"].as_u64().unwrap(),
                r["found"].as_u64().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        rows,
        [("ticket listed", "load", 12, 12), ("team notified", "order", 12, 12), ("ticket answered", "order", 12, 12)],
        "{}",
        said(&out)
    );
    assert_eq!(report["end"], 24, "placed, then answered (the workload's `done`)");
    assert_eq!(report["kills"].as_array().unwrap().len(), 2, "{}", said(&out));
    let services_killed: Vec<&str> =
        report["kills"].as_array().unwrap().iter().map(|k| k["service"].as_str().unwrap()).collect();
    assert!(services_killed.iter().all(|s| ["desk", "notifier"].contains(s)), "{services_killed:?}");

    // The same load, counted by a rule that sees each ticket's notification
    // more than once: the ledger says doubled, and fare exits 1.
    let dir = tempfile::tempdir().unwrap();
    let workload = root().join("harness/fare/tests/platforms/tickets/scenarios/chaos/load.yaml");
    let doubled = std::fs::read_to_string(&workload)
        .unwrap()
        .replace("\"GET notifier /notifications?ticket_id={{ticket_id}}\"", "GET desk /tickets");
    assert!(doubled.contains("read: {http: GET desk /tickets}\n  - effect: ticket answered"), "{doubled}");
    let doubled_path = dir.path().join("load.yaml");
    std::fs::write(&doubled_path, doubled).unwrap();
    let args = ["chaos", "--no-build", "--load", "6", "--kills", "0", "--users", "2", "--load-workload"];
    let mut args = args.to_vec();
    args.push(doubled_path.to_str().unwrap());
    let out = fare(&ns, &args).await;
    let shown = said(&out);
    assert_eq!(out.status.code(), Some(1), "{shown}");
    assert!(shown.contains("NOT every effect exactly once"), "{shown}");
    let notified = shown.lines().find(|l| l.starts_with("team notified")).unwrap_or_default();
    assert!(notified.ends_with('✗') && notified.contains(" 6 "), "{shown}");

    // fare bench: its services send no spans, so a chain ends when its end event occurred.
    let out = fare(&ns, &["bench", "--no-build", "--orders", "4", "--idle-seconds", "1", "--json", "-"]).await;
    assert_eq!(out.status.code(), Some(0), "{}", said(&out));
    let bench: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(bench["orders"], 4);
    assert!(bench["platform"]["chain"]["p50"].as_f64().unwrap() > 0.0, "{bench:#}");
    let steps: Vec<&str> = bench["sign_up"].as_array().unwrap().iter().map(|s| s["step"].as_str().unwrap()).collect();
    assert!(steps.is_empty(), "its users have no steps: {steps:?}");

    // The fault matrix, from its manifests and its cell.
    let out = fare(&ns, &["chaos", "--no-build", "--quick"]).await;
    let shown = said(&out);
    assert_eq!(out.status.code(), Some(0), "{shown}");
    assert!(shown.contains("0 failed"), "{shown}");

    // A scenario that keeps notifier down: the diagnosis names it.
    let scenario = root().join("harness/fare/tests/platforms/tickets/broken/notifier-stays-down.yaml");
    let out = fare(&ns, &["e2e", "--no-build", "--json", scenario.to_str().unwrap()]).await;
    assert_eq!(out.status.code(), Some(1), "{}", said(&out));
    let e2e: Value = serde_json::from_slice(&out.stdout).unwrap();
    let hop = &e2e["scenarios"][0]["diagnosis"][0]["hops"][0];
    let named = (hop["hop"]["service"].as_str(), hop["hop"]["expected"].as_str(), hop["reason"]["kind"].as_str());
    assert_eq!(named, (Some("notifier"), Some("ticket.answered"), Some("service_down")), "{hop:#}");
    let _ = std::fs::remove_dir_all(root().join("harness/fare/tests/platforms/tickets/.fare"));
}
