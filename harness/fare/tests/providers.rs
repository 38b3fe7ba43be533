//! Any service is a provider, for any consumer: pacts written by outsiders
//! with the real pact-python (installed by this test's support code into a
//! virtual environment fare manages) are verified by `fare contracts
//! verify` against the real service, with its provider states.

use crate::common;

use std::path::Path;
use std::process::Command;

use fare::contracts::verify::{VerifyOptions, VerifyReport, report, verify_dir};

/// pact-python and the official `pact` CLI, installed once per machine.
fn pact_tools() -> fare_emulator::Venv {
    let progress = &mut |line: &str| eprintln!("fare: {line}");
    fare_emulator::Venv::ensure_tool(&fare_emulator::pact_tools(), progress).unwrap()
}

/// Runs the consumer test `outsiders/NAME.py` with pact-python; it writes its
/// pact into `dir`. `args` follow the directory.
fn consumer_test(name: &str, dir: &Path, args: &[&str]) {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/outsiders").join(format!("{name}.py"));
    let out = Command::new(pact_tools().bin("python")).arg(&script).arg(dir).args(args).output().unwrap();
    assert!(
        out.status.success(),
        "{name}.py: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

async fn verify(dir: &Path, providers: &[&str]) -> VerifyReport {
    verify_as(dir, providers, None).await
}

/// [`verify`], the providers started under `profile`.
async fn verify_as(dir: &Path, providers: &[&str], profile: Option<&str>) -> VerifyReport {
    // SAFETY: set before this test starts anything; Pact phones home unless told not to.
    unsafe { std::env::set_var("PACT_DO_NOT_TRACK", "true") };
    let options = VerifyOptions {
        providers: providers.iter().map(|p| (*p).to_owned()).collect(),
        services_dir: Some(common::root().join("services")),
        profile: profile.map(str::to_owned),
        ..VerifyOptions::default()
    };
    verify_dir(dir, &options).await.unwrap()
}

/// The `dashboard` frontend, unknown to the platform, asks store for an
/// order; its pact-python pact verifies against the real store (with the
/// real users it asks about the session), the states set by both.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_frontends_pact_python_pact_verifies_against_the_real_store() {
    let _shared = common::shared().await;
    let dir = tempfile::tempdir().unwrap();
    consumer_test("dashboard", dir.path(), &[]);
    let pact: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.path().join("dashboard-store.json")).unwrap()).unwrap();
    assert_eq!(pact["metadata"]["pactSpecification"]["version"], "4.0", "{pact:#}");
    let report = verify(dir.path(), &["store"]).await;
    let table = report::table(&report);
    assert!(report.passed(), "{table}");
    assert_eq!(report.pacts.len(), 1, "{table}");
    assert_eq!(report.pacts[0].interactions.len(), 1, "{table}");
    assert!(table.contains("dashboard → store"), "{table}");
}

/// Other services are providers the same way: a back-office tool's
/// pact-python pacts on devices, invoice and tracking verify against the
/// real services, each state set by the service's own registry.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_back_office_tools_pacts_verify_against_devices_invoice_and_tracking() {
    let _shared = common::shared().await;
    let dir = tempfile::tempdir().unwrap();
    consumer_test("backoffice", dir.path(), &[]);
    let report = verify(dir.path(), &["devices", "invoice", "tracking"]).await;
    let table = report::table(&report);
    assert!(report.passed(), "{table}");
    assert_eq!(report.pacts.len(), 3, "{table}");
    for pair in ["backoffice → devices", "backoffice → invoice", "backoffice → tracking"] {
        assert!(table.contains(pair), "{pair} missing from\n{table}");
    }
}

/// loyalty, a Python service, writes its pacts with pact-python: as a
/// consumer of users (HTTP) and of invoice's `invoice.issued` (a message
/// its own handler takes), and the shop's `web` frontend's pact on it as a
/// provider. The committed ones are what its test writes; each verifies
/// against its real provider, loyalty itself started from its manifest's
/// `[run]` with its states (and the session states forwarded to users).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_python_services_pact_python_pacts_verify_as_consumer_and_as_provider() {
    let _shared = common::shared().await;
    let dir = tempfile::tempdir().unwrap();
    let script = common::root().join("services/loyalty/tests/pacts.py");
    let out = Command::new(pact_tools().bin("python")).arg(&script).arg(dir.path()).output().unwrap();
    let said = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    assert!(out.status.success(), "pacts.py: {said}");
    for committed in ["loyalty-users.json", "loyalty-invoice.json"] {
        let written: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(dir.path().join(committed)).unwrap()).unwrap();
        let kept: serde_json::Value = serde_json::from_str(
            &std::fs::read_to_string(common::root().join("contracts/pacts").join(committed)).unwrap(),
        )
        .unwrap();
        assert_eq!(written, kept, "contracts/pacts/{committed} is not what services/loyalty/tests/pacts.py writes");
    }
    let report = verify(dir.path(), &["users", "invoice", "loyalty"]).await;
    let table = report::table(&report);
    assert!(report.passed(), "{table}");
    assert_eq!(report.pacts.len(), 3, "{table}");
    for pair in ["loyalty → users", "loyalty → invoice", "web → loyalty"] {
        assert!(table.contains(pair), "{pair} missing from\n{table}");
    }
}

/// invoice rewritten in Python keeps invoice's pacts: every committed pact
/// on invoice, and a back-office tool's, verify against the Python one,
/// started from the manifest's `[profiles.python.run]`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn invoices_pacts_verify_against_its_python_rewrite() {
    let _shared = common::shared().await;
    let dir = tempfile::tempdir().unwrap();
    consumer_test("backoffice", dir.path(), &[]);
    let committed = common::root().join("contracts/pacts");
    for pact in std::fs::read_dir(&committed).unwrap().flatten() {
        if pact.file_name().to_string_lossy().ends_with("-invoice.json") {
            std::fs::copy(pact.path(), dir.path().join(pact.file_name())).unwrap();
        }
    }
    let report = verify_as(dir.path(), &["invoice"], Some("python")).await;
    let table = report::table(&report);
    assert!(report.passed(), "{table}");
    assert!(table.contains("backoffice → invoice"), "{table}");
}

/// A state neither store nor the users it asks knows fails, and says every
/// state each of them knows.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unknown_state_fails_with_the_states_the_provider_knows() {
    let _shared = common::shared().await;
    let dir = tempfile::tempdir().unwrap();
    consumer_test("dashboard", dir.path(), &["user u-1 has order o-1 in staus delivered"]);
    let report = verify(dir.path(), &["store"]).await;
    let failures = report.failures();
    assert_eq!(failures.len(), 1, "{failures:#?}");
    let failure = &failures[0];
    assert!(failure.contains("store knows no provider state `user u-1 has order o-1 in staus delivered`; did you mean `user U has order O in status S`?; it knows `user U has order O in status S`, `no order O exists`"), "{failure}");
    assert!(failure.contains("users knows no provider state"), "{failure}");
    assert!(failure.contains("`user U has a valid session token T`"), "{failure}");
}

/// `fare contracts serve`, as a user starts it, stopped (SIGTERM) when dropped.
struct Serve {
    child: std::process::Child,
    port: String,
}

impl Serve {
    fn start() -> Serve {
        use std::io::BufRead;
        let mut child = Command::new(env!("CARGO_BIN_EXE_fare"))
            .args(["contracts", "serve", "--port", "0", "--provider", "store"])
            .current_dir(common::root())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap();
        let mut line = String::new();
        std::io::BufReader::new(child.stdout.take().unwrap()).read_line(&mut line).unwrap();
        // `http://127.0.0.1:PORT/messages/PROVIDER`
        let port = line.trim().trim_end_matches("/messages/PROVIDER").rsplit(':').next().unwrap().to_owned();
        assert!(port.parse::<u16>().is_ok(), "fare contracts serve printed {line:?}");
        Serve { child, port }
    }

    /// The official `pact verifier` on `pact`, with `provider`'s messages from here.
    fn pact_verifier(&self, pact: &Path, provider: &str) -> std::process::Output {
        // The `message` transport at its port and path, as `pact verifier --help` spells it.
        let transport = format!("message:{}/messages/{provider}", self.port);
        let args = ["verifier", "--transports", &transport, "--hostname", "127.0.0.1"];
        Command::new(pact_tools().bin("pact"))
            .args(args)
            .args(["--provider-name", provider, "--no-colour", "--file"])
            .arg(pact)
            .env("PACT_DO_NOT_TRACK", "true")
            .output()
            .unwrap()
    }
}

impl Drop for Serve {
    fn drop(&mut self) {
        // SAFETY: kill(2) on our own child, not yet reaped.
        unsafe { libc::kill(self.child.id() as i32, libc::SIGTERM) };
        let _ = self.child.wait();
    }
}

/// The official `pact verifier` verifies fare's message pacts through
/// `fare contracts serve`, which answers with the provider's own builder;
/// a pact the builder does not honour fails there too.
#[test]
fn the_official_pact_verifier_verifies_a_message_pact_through_fare_contracts_serve() {
    let _shared = common::shared_blocking();
    let serve = Serve::start();
    let pact = common::root().join("contracts/pacts/devices-store.json");
    let out = serve.pact_verifier(&pact, "store");
    let text = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    assert!(out.status.success(), "{text}");
    assert!(text.contains("a order.placed event"), "{text}");

    let dir = tempfile::tempdir().unwrap();
    let renamed = std::fs::read_to_string(&pact).unwrap().replace("\"price_cents\"", "\"price_in_cents\"");
    let broken = dir.path().join("devices-store.json");
    std::fs::write(&broken, renamed).unwrap();
    let out = serve.pact_verifier(&broken, "store");
    let text = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    assert!(!out.status.success(), "{text}");
    assert!(text.contains("price_in_cents"), "{text}");
}
