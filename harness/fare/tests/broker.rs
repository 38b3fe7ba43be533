//! The deploy workflow against `fare broker`, run as a team runs it: two
//! consumers (store, fulfillment) and one provider (devices) that ships a
//! breaking change. Publish → verify with results → can-i-deploy says no,
//! and why → fix → yes → record-deployment. Once with fare's own client,
//! once with the official `pact` CLI (PyPI `pact-python-cli`, installed by
//! the test itself), both against a real `fare broker` process.

// Each test binary uses a part of the shared helpers.
#[allow(dead_code)]
use crate::common;

use std::collections::BTreeSet;
use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Output, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use fare::contracts::broker::BrokerConfig;
use fare::contracts::verify::broker::{BrokerVerifyOptions, verify_from_broker};
use fare::contracts::verify::providers::Providers;
use fare::contracts::verify::standin::StandIn;
use fare::contracts::verify::{Answer, Tamper};
use tokio_util::sync::CancellationToken;

/// A `fare broker` process on a free port with its own database; killed on drop.
struct RunningBroker {
    child: Child,
    url: String,
    _dir: tempfile::TempDir,
}

impl Drop for RunningBroker {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn start_broker() -> RunningBroker {
    let dir = tempfile::tempdir().unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_fare"))
        .args(["broker", "--port", "0", "--db"])
        .arg(dir.path().join("broker.sqlite"))
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .unwrap();
    // Its first line is its URL, printed once it listens.
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap()).read_line(&mut line).unwrap();
    let url = line.trim().to_owned();
    assert!(url.starts_with("http://127.0.0.1:"), "fare broker printed {line:?}");
    RunningBroker { child, url, _dir: dir }
}

/// The text a step printed, shown in the test's output (the note quotes it).
fn shown(step: &str, out: &Output) -> String {
    let text = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    eprintln!("$ {step}  (exit {})\n{text}", out.status.code().unwrap_or(-1));
    text
}

/// Runs `fare ARGS` against the broker, from the workspace root; asserts the exit code.
async fn fare(broker: &RunningBroker, args: &[&str], code: i32) -> String {
    let out = tokio::process::Command::new(env!("CARGO_BIN_EXE_fare"))
        .args(args)
        .current_dir(common::root())
        .env("PACT_BROKER_BASE_URL", &broker.url)
        .env("PACT_DO_NOT_TRACK", "true")
        .output()
        .await
        .unwrap();
    let text = shown(&format!("fare {}", args.join(" ")), &out);
    assert_eq!(out.status.code(), Some(code), "fare {}:\n{text}", args.join(" "));
    text
}

/// Whether a matrix table has the row whose cells are `cells`, space-separated.
fn has_row(table: &str, cells: &str) -> bool {
    table.lines().any(|l| l.split_whitespace().collect::<Vec<_>>().join(" ") == cells)
}

/// devices' breaking change: `device.allocated` calls `device_id` `device`.
fn rename_device_id(answer: &mut Answer) {
    if let Some(data) = answer.body.get_mut("data").and_then(|d| d.as_object_mut())
        && let Some(id) = data.remove("device_id")
    {
        data.insert("device".into(), id);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fare_gates_a_breaking_provider_until_it_is_fixed() {
    let _shared = common::shared().await;
    let broker = start_broker();
    fare(&broker, &["contracts", "create-environment", "--name", "production", "--production"], 0).await;
    // The two consumers' pacts with devices (their others would need providers verified too).
    let pacts = tempfile::tempdir().unwrap();
    for file in ["store-devices.json", "fulfillment-devices.json"] {
        std::fs::copy(common::root().join("contracts/pacts").join(file), pacts.path().join(file)).unwrap();
    }
    let dir = pacts.path().to_str().unwrap();
    let publish = ["contracts", "--pacts", dir, "publish", "--consumer-app-version", "1", "--branch", "main"];
    let text = fare(&broker, &publish, 0).await;
    assert!(text.contains("published store 1 on main: pacts with devices"), "{text}");

    let verify = ["contracts", "verify", "--broker", "--provider", "devices", "--provider-branch", "main", "--publish"];
    fare(&broker, &[&verify[..], &["--provider-version", "d1"]].concat(), 0).await;
    for (who, version) in [("store", "1"), ("fulfillment", "1"), ("devices", "d1")] {
        let record = ["contracts", "record-deployment", "--environment", "production"];
        fare(&broker, &[&record[..], &["--pacticipant", who, "--version", version]].concat(), 0).await;
    }

    // d2 renames a field both consumers read. Its pacts were verified on
    // main, so they are not pending: the verification fails, and says so
    // to the broker.
    let tamper: Tamper = Arc::new(|_: &str, answer: &mut Answer| rename_device_id(answer));
    let options = BrokerVerifyOptions {
        provider: "devices".into(),
        provider_version: "d2".into(),
        provider_branch: Some("main".into()),
        pending: true,
        publish: true,
        tamper: Some(tamper),
        ..BrokerVerifyOptions::default()
    };
    let config = BrokerConfig::new(&broker.url, None, None, None);
    let result = verify_from_broker(&config, &options).await.unwrap();
    eprintln!(
        "$ (devices d2, the breaking change) verify --broker --publish\n{}",
        fare::contracts::verify::broker::table(&result)
    );
    assert!(!result.passed, "a breaking change in pacts verified before must fail");
    assert!(result.pending_failures.is_empty(), "{:?}", result.pending_failures);
    let failed: Vec<&str> = result.report.pacts.iter().filter(|p| !p.passed()).map(|p| p.consumer.as_str()).collect();
    assert_eq!(failed, ["fulfillment", "store"], "{:#?}", result.report);

    let can = ["contracts", "can-i-deploy", "--pacticipant", "devices", "--to-environment", "production"];
    let no = fare(&broker, &[&can[..], &["--version", "d2"]].concat(), 1).await;
    assert!(no.contains("can I deploy? no: "), "{no}");
    assert!(no.contains("The verification of the pact between store (1) and devices (d2) failed"), "{no}");
    assert!(no.contains("The verification of the pact between fulfillment (1) and devices (d2) failed"), "{no}");
    assert!(has_row(&no, "store 1 devices d2 false"), "{no}");

    // The fix: d3 is d2 without the rename.
    fare(&broker, &[&verify[..], &["--provider-version", "d3"]].concat(), 0).await;
    let yes = fare(&broker, &[&can[..], &["--version", "d3"]].concat(), 0).await;
    assert!(yes.contains("can I deploy? yes: All required verification results are published and successful"), "{yes}");
    let record = ["contracts", "record-deployment", "--environment", "production", "--pacticipant", "devices"];
    fare(&broker, &[&record[..], &["--version", "d3"]].concat(), 0).await;

    // With d3 in production, the consumers' versions there still go.
    let consumer = ["contracts", "can-i-deploy", "--version", "1", "--to-environment", "production", "--pacticipant"];
    let text = fare(&broker, &[&consumer[..], &["store"]].concat(), 0).await;
    assert!(has_row(&text, "store 1 devices d3 true"), "{text}");
}

/// Runs the official `pact` CLI; asserts the exit code.
async fn pact(bin: &std::path::Path, args: &[&str], success: bool) -> String {
    let out = tokio::process::Command::new(bin)
        .args(args)
        .env("PACT_DO_NOT_TRACK", "true")
        .env_remove("PACT_BROKER_BASE_URL")
        .output()
        .await
        .unwrap();
    let text = shown(&format!("pact {}", args.join(" ")), &out);
    assert_eq!(out.status.success(), success, "pact {}:\n{text}", args.join(" "));
    text
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_official_pact_cli_runs_the_same_flow_against_fare_broker() {
    let _shared = common::shared().await;
    let tools =
        fare_emulator::Venv::ensure_tool(&fare_emulator::pact_tools(), &mut |l| eprintln!("fare: {l}")).unwrap();
    let bin = tools.bin("pact");
    let broker = start_broker();
    let url = broker.url.as_str();
    let pacts = common::root().join("contracts/pacts");
    let (store_pact, fulfillment_pact) = (
        pacts.join("store-devices.json").display().to_string(),
        pacts.join("fulfillment-devices.json").display().to_string(),
    );

    pact(&bin, &["broker", "create-environment", "--name", "production", "--production", "-b", url], true).await;
    for file in [&store_pact, &fulfillment_pact] {
        let text = pact(&bin, &["broker", "publish", file, "-a", "1", "--branch", "main", "-b", url], true).await;
        assert!(text.contains("Pact published for"), "{text}");
    }

    // devices' messages, made by the real devices' own builders (started
    // from its manifest) and passed through fare's stand-in; `broken` turns
    // the breaking change on.
    let manifests = fare::manifest::load_all(&common::root().join("services")).unwrap();
    let providers = Providers::start(&BTreeSet::from(["devices".to_owned()]), &manifests, None).await.unwrap();
    let broken = Arc::new(AtomicBool::new(false));
    let flag = broken.clone();
    let tamper: Tamper = Arc::new(move |_: &str, answer: &mut Answer| {
        if flag.load(Ordering::SeqCst) {
            rename_device_id(answer)
        }
    });
    let stop = CancellationToken::new();
    let _stop = stop.clone().drop_guard();
    let standin = StandIn::start(providers.targets(), Some(tamper), stop).await.unwrap();
    let port = standin.url.rsplit(':').next().unwrap().to_owned();
    let transport = format!("message:{port}/messages/devices");
    let verify = |version: &'static str| {
        [
            "verifier",
            "--broker-url",
            url,
            "--provider-name",
            "devices",
            "--hostname",
            "127.0.0.1",
            "--transports",
            &transport,
            "--provider-version",
            version,
            "--provider-branch",
            "main",
            "--enable-pending",
            "--publish",
            "--no-colour",
        ]
        .map(str::to_owned)
    };
    let run_verify = |version: &'static str, success: bool| {
        let args = verify(version);
        let bin = bin.clone();
        async move {
            let args: Vec<&str> = args.iter().map(String::as_str).collect();
            pact(&bin, &args, success).await
        }
    };
    run_verify("d1", true).await;
    for (who, version) in [("store", "1"), ("fulfillment", "1"), ("devices", "d1")] {
        let args = ["broker", "record-deployment", "--pacticipant", who, "--version", version];
        pact(&bin, &[&args[..], &["--environment", "production", "-b", url]].concat(), true).await;
    }

    broken.store(true, Ordering::SeqCst);
    run_verify("d2", false).await;
    let can = ["broker", "can-i-deploy", "--pacticipant", "devices", "--to-environment", "production", "-b", url];
    let no = pact(&bin, &[&can[..], &["--version", "d2"]].concat(), false).await;
    assert!(no.contains("Computer says no"), "{no}");
    assert!(no.contains("The verification of the pact between store (1) and devices (d2) failed"), "{no}");

    broken.store(false, Ordering::SeqCst);
    run_verify("d3", true).await;
    let yes = pact(&bin, &[&can[..], &["--version", "d3"]].concat(), true).await;
    assert!(yes.contains("Computer says yes"), "{yes}");
    let args = ["broker", "record-deployment", "--pacticipant", "devices", "--version", "d3"];
    pact(&bin, &[&args[..], &["--environment", "production", "-b", url]].concat(), true).await;

    // fare's client reads what the pact CLI wrote.
    let can =
        ["contracts", "can-i-deploy", "--pacticipant", "store", "--version", "1", "--to-environment", "production"];
    let text = fare(&broker, &can, 0).await;
    assert!(has_row(&text, "store 1 devices d3 true"), "{text}");
}
