//! `fare contracts`: the committed pacts pass the topology check, and each
//! rule, broken once in a temporary platform, fails with its own message;
//! every pact verifies against its real provider, and a provider (or a
//! pact) changed once fails with the pact, the interaction and the path;
//! every message pact matches what the real platform publishes on SNS, and
//! a published message changed once fails the same way.

use crate::common;

use std::path::Path;
use std::sync::Arc;

use fare::contracts::verify::queue::{self, Capture, Captured, QueueOptions};
use fare::contracts::verify::{Answer, Tamper, VerifyOptions, VerifyReport, report as verify_report, verify_dir};
use fare::contracts::{CheckReport, Rule, check_dirs};
use serde_json::json;

fn workspace() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().and_then(Path::parent).expect("harness/fare is two levels down")
}

/// A platform of two services: `shop` publishes `order.placed` and asks
/// `accounts`; `accounts` listens to it. Each test breaks one thing.
struct Fixture {
    dir: tempfile::TempDir,
}

const SHOP: &str = "name = \"shop\"\ndescription = \"sells\"\npublishes = [\"order.placed\"]\n\n[[asks]]\nservice = \"accounts\"\nenv = \"ACCOUNTS_URL\"\n";
const ACCOUNTS: &str = "name = \"accounts\"\ndescription = \"keeps accounts\"\npublishes = []\n\n[queue]\nmax_receive_count = 3\nvisibility_timeout_seconds = 30\n\n[[listens]]\nevent = \"order.placed\"\n\n[[grants]]\nservice = \"shop\"\nendpoints = [\"GET /accounts/{id}\"]\n";

impl Fixture {
    fn new() -> Fixture {
        let fixture = Fixture { dir: tempfile::tempdir().unwrap() };
        fixture.manifest("shop", SHOP);
        fixture.manifest("accounts", ACCOUNTS);
        fixture.pact("accounts", "shop", &[message("order.placed")]);
        fixture.pact("shop", "accounts", &[lookup("/accounts/a-1")]);
        fixture
    }

    fn manifest(&self, name: &str, text: &str) {
        let dir = self.dir.path().join("services").join(name);
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join("service.toml"), text).unwrap();
    }

    fn pact(&self, consumer: &str, provider: &str, interactions: &[serde_json::Value]) {
        let dir = self.dir.path().join("pacts");
        std::fs::create_dir_all(&dir).unwrap();
        let pact =
            json!({"consumer": {"name": consumer}, "provider": {"name": provider}, "interactions": interactions});
        std::fs::write(dir.join(format!("{consumer}-{provider}.json")), pact.to_string()).unwrap();
    }

    fn remove_pact(&self, consumer: &str, provider: &str) {
        std::fs::remove_file(self.dir.path().join("pacts").join(format!("{consumer}-{provider}.json"))).unwrap();
    }

    fn check(&self) -> CheckReport {
        check_dirs(&self.dir.path().join("services"), &self.dir.path().join("pacts")).unwrap()
    }
}

fn lookup(path: &str) -> serde_json::Value {
    json!({"type": "Synchronous/HTTP", "description": "a lookup", "request": {"method": "GET", "path": path}})
}

fn message(event_type: &str) -> serde_json::Value {
    json!({"type": "Asynchronous/Messages", "description": format!("a {event_type} event"), "metadata": {"event_type": event_type}})
}

/// The only failure of `report`: its rule and message.
fn only_failure(report: &CheckReport) -> (Rule, String) {
    let failures: Vec<_> = report.failures().collect();
    assert_eq!(failures.len(), 1, "expected one failure: {}", fare::contracts::table(report));
    (failures[0].rule, failures[0].failure.clone().unwrap_or_default())
}

#[test]
fn the_committed_pacts_pass_the_check() {
    let _shared = common::shared_blocking();
    let report = check_dirs(&workspace().join("services"), &workspace().join("contracts/pacts")).unwrap();
    assert!(report.passed(), "{}", fare::contracts::table(&report));
    assert!(report.findings.iter().filter(|f| f.rule == Rule::Listened).count() >= 19);
}

#[test]
fn the_fixture_passes() {
    let _shared = common::shared_blocking();
    let report = Fixture::new().check();
    assert!(report.passed(), "{}", fare::contracts::table(&report));
}

#[test]
fn a_listened_event_without_a_pact_fails() {
    let _shared = common::shared_blocking();
    let fixture = Fixture::new();
    fixture.pact("accounts", "shop", &[message("order.cancelled")]);
    let (rule, message) = only_failure(&fixture.check());
    assert_eq!(rule, Rule::Listened);
    assert!(
        message.ends_with(
            "accounts-shop.json has no message interaction for order.placed: write it in accounts's consumer test"
        ),
        "{message}"
    );
    fixture.remove_pact("accounts", "shop");
    let report = fixture.check();
    let failure = report.failures().next().unwrap().failure.clone().unwrap();
    assert_eq!(failure, "no pact accounts-shop.json for order.placed");
}

#[test]
fn a_listened_event_nobody_publishes_fails() {
    let _shared = common::shared_blocking();
    let fixture = Fixture::new();
    fixture.manifest("accounts", &ACCOUNTS.replace("event = \"order.placed\"", "event = \"order.refunded\""));
    let report = fixture.check();
    let listened: Vec<_> = report.failures().filter(|f| f.rule == Rule::Listened).collect();
    assert_eq!(listened.len(), 1, "{}", fare::contracts::table(&report));
    let message = listened[0].failure.clone().unwrap();
    assert!(
        message.ends_with("accounts/service.toml: listens to order.refunded but no manifest publishes it"),
        "{message}"
    );
}

#[test]
fn a_published_event_nobody_hears_fails_unless_terminal() {
    let _shared = common::shared_blocking();
    let fixture = Fixture::new();
    fixture.manifest("shop", &SHOP.replace("[\"order.placed\"]", "[\"order.placed\", \"order.paid\"]"));
    let (rule, message) = only_failure(&fixture.check());
    assert_eq!(rule, Rule::Published);
    assert!(message.ends_with("publishes order.paid but nobody listens; declare it in `terminal` if that is intended"));
    fixture.manifest(
        "shop",
        &SHOP.replace("[\"order.placed\"]", "[\"order.placed\", \"order.paid\"]\nterminal = [\"order.paid\"]"),
    );
    assert!(fixture.check().passed());
}

#[test]
fn a_pact_with_an_unknown_party_fails() {
    let _shared = common::shared_blocking();
    let fixture = Fixture::new();
    fixture.pact("accounts", "ledger", &[message("order.placed")]);
    let (rule, message) = only_failure(&fixture.check());
    assert_eq!(rule, Rule::Parties);
    assert!(message.ends_with("provider `ledger` is neither a service nor a third party accounts wraps"), "{message}");
}

#[test]
fn an_ask_without_a_pact_fails() {
    let _shared = common::shared_blocking();
    let fixture = Fixture::new();
    fixture.remove_pact("shop", "accounts");
    let (rule, message) = only_failure(&fixture.check());
    assert_eq!(rule, Rule::Pairs);
    assert_eq!(message, "shop asks accounts but there is no pact shop-accounts.json");
}

#[test]
fn an_interaction_the_provider_does_not_grant_the_consumer_fails() {
    let _shared = common::shared_blocking();
    let fixture = Fixture::new();
    fixture.pact("shop", "accounts", &[lookup("/accounts/a-1/history")]);
    let (rule, message) = only_failure(&fixture.check());
    assert_eq!(rule, Rule::Granted);
    assert!(message.contains("shop-accounts.json: GET /accounts/a-1/history is not granted to shop by "), "{message}");
}

#[test]
fn an_ask_the_callee_grants_nothing_and_a_grant_nobody_asks_for_fail() {
    let _shared = common::shared_blocking();
    let fixture = Fixture::new();
    fixture.manifest("accounts", &ACCOUNTS.replace("service = \"shop\"", "service = \"till\""));
    let report = fixture.check();
    let failures: Vec<String> = report.failures().filter_map(|f| f.failure.clone()).collect();
    assert_eq!(failures.len(), 3, "{}", fare::contracts::table(&report));
    assert!(failures.iter().any(|f| f.contains("shop/service.toml:6: asks `accounts`, which grants nothing to shop")));
    assert!(
        failures
            .iter()
            .any(|f| f.contains("accounts/service.toml:13: grants endpoints to `till`, which does not ask accounts"))
    );
    assert!(failures.iter().any(|f| f.contains("GET /accounts/a-1 is not granted to shop")));
}

#[test]
fn a_filter_the_published_attributes_do_not_pass_fails() {
    let _shared = common::shared_blocking();
    let fixture = Fixture::new();
    let filtered = |filter: &str| {
        ACCOUNTS.replace("event = \"order.placed\"\n", &format!("event = \"order.placed\"\nfilter = {filter}\n"))
    };
    fixture.manifest("accounts", &filtered("{ event_type = [\"order.placed\"], traceparent = [{ exists = true }] }"));
    assert!(fixture.check().passed(), "{}", fare::contracts::table(&fixture.check()));
    fixture.manifest("accounts", &filtered("{ region = [\"eu\"] }"));
    let (rule, message) = only_failure(&fixture.check());
    assert_eq!(rule, Rule::Filters);
    assert!(message.ends_with("the filter on order.placed drops what shop publishes: it filters on `region`, which is never set (the publisher sets event_type, correlation_id, traceparent)"), "{message}");
    fixture.manifest("accounts", &filtered("{ event_type = [{ prefix = \"invoice.\" }] }"));
    let (_, message) = only_failure(&fixture.check());
    assert!(message.ends_with("`event_type` = order.placed matches none of [{\"prefix\":\"invoice.\"}]"), "{message}");
}

// ---- provider verification (`fare contracts verify`) ----

/// Pact phones home unless told not to; set before the first verification.
fn do_not_track() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        if std::env::var_os("PACT_DO_NOT_TRACK").is_none() {
            // SAFETY: set once, before this test starts anything of its own;
            // `just verify` sets the variable anyway, which skips this.
            unsafe { std::env::set_var("PACT_DO_NOT_TRACK", "true") };
        }
    });
}

async fn verify(pacts: &Path, options: VerifyOptions) -> VerifyReport {
    do_not_track();
    verify_dir(pacts, &options).await.unwrap()
}

/// A provider whose message is changed by `tamper` before the verifier sees it.
fn tampered(provider: &str, tamper: impl Fn(&mut Answer) + Send + Sync + 'static) -> VerifyOptions {
    let only = provider.to_owned();
    let tamper: Tamper = Arc::new(move |p: &str, answer: &mut Answer| {
        if p == only {
            tamper(answer)
        }
    });
    VerifyOptions { providers: vec![provider.to_owned()], tamper: Some(tamper), ..VerifyOptions::default() }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_committed_pact_verifies_against_its_real_provider() {
    let _shared = common::shared().await;
    let pacts = workspace().join("contracts/pacts");
    let report = verify(&pacts, VerifyOptions::default()).await;
    let table = verify_report::table(&report);
    assert!(report.passed(), "{table}");
    let committed = fare::contracts::pacts::load_dir(&pacts).unwrap();
    assert_eq!(report.pacts.len(), committed.len(), "{table}");
    for (verified, pact) in report.pacts.iter().zip(&committed) {
        assert_eq!(verified.interactions.len(), pact.interactions.len(), "{}: {table}", pact.path.display());
    }
    for pair in ["store → users", "mailer → users", "tracking → carrier", "invoice → store", "collector → mailer"]
    {
        assert!(table.contains(pair), "{pair} missing from\n{table}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_provider_that_renames_a_field_fails_naming_the_pact_the_interaction_and_the_path() {
    let _shared = common::shared().await;
    let options = tampered("store", |answer| {
        let data = answer.body["data"].as_object_mut().unwrap();
        let id = data.remove("order_id").unwrap();
        data.insert("orderId".into(), id);
    });
    let report = verify(&workspace().join("contracts/pacts"), options).await;
    assert!(!report.passed());
    let consumers: Vec<&str> = report.pacts.iter().map(|p| p.consumer.as_str()).collect();
    assert_eq!(consumers, ["collector", "devices", "invoice", "mailer"], "every pact with store, and only those");
    assert!(report.pacts.iter().all(|p| !p.passed()));
    let failures = report.failures();
    let expected = "invoice-store.json (invoice → store) `a order.placed event`: $.data: expected ";
    let line = failures.iter().find(|f| f.starts_with(expected)).unwrap_or_else(|| panic!("{failures:#?}"));
    assert!(line.ends_with("(Actual map is missing the following keys: order_id)"), "{line}");
    let table = verify_report::table(&report);
    eprintln!("{table}");
    assert!(table.contains("FAIL invoice-store.json"), "{table}");
    let junit = verify_report::junit(&report);
    let written = quick_junit::Report::deserialize_from_str(&junit).unwrap();
    let suite = written.test_suites.iter().find(|s| s.name.as_str() == "invoice → store");
    assert_eq!(suite.map(|s| (s.tests, s.failures)), Some((1, 1)), "{junit}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_provider_that_drops_an_attribute_fails_naming_it() {
    let _shared = common::shared().await;
    let options = tampered("devices", |answer| {
        answer.metadata.remove("event_type");
    });
    let report = verify(&workspace().join("contracts/pacts"), options).await;
    let failures = report.failures();
    assert!(
        failures.contains(
            &"store-devices.json (store → devices) `a device.allocation_failed event`: metadata.event_type: \
              expected device.allocation_failed, actual (nothing) (Expected message metadata 'event_type' but was \
              missing)"
                .to_owned()
        ),
        "{failures:#?}"
    );
}

/// A consumer that starts relying on something users does not do: the pact
/// changes in the consumer's diff, and users' verification says where.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_pact_the_real_users_does_not_honour_fails_with_the_path_and_an_unknown_state_with_its_name() {
    let _shared = common::shared().await;
    let dir = tempfile::tempdir().unwrap();
    let text = std::fs::read_to_string(workspace().join("contracts/pacts/store-users.json")).unwrap();
    let changed = text
        .replacen("\"user_id\": \"u-1\"\n          },", "\"user\": \"u-1\"\n          },", 1)
        .replace("no session has the token feedfacecafe", "the token feedfacecafe was revoked");
    assert_ne!(changed, text);
    std::fs::write(dir.path().join("store-users.json"), changed).unwrap();
    let report = verify(dir.path(), VerifyOptions::default()).await;
    let failures = report.failures();
    assert_eq!(failures.len(), 2, "{failures:#?}");
    assert!(
        failures[0].starts_with("store-users.json (store → users) `a session check for a valid token`: $: expected "),
        "{failures:#?}"
    );
    assert!(failures[0].contains("user"), "{failures:#?}");
    assert!(
        failures[1].starts_with("store-users.json (store → users) `a session check for an unknown token`: ")
            && failures[1].contains("users knows no provider state `the token feedfacecafe was revoked`"),
        "{failures:#?}"
    );
}

// ---- over the real queue (`fare contracts verify --via-queue`) ----

/// What the real platform published for the flows: captured once, shared by
/// the tests below (the platform is stopped before the capture is returned).
async fn captured() -> &'static Capture {
    static CAPTURE: tokio::sync::OnceCell<Capture> = tokio::sync::OnceCell::const_new();
    CAPTURE
        .get_or_init(|| async {
            let options = QueueOptions {
                root: workspace().to_owned(),
                services_dir: workspace().join("services"),
                namespace: kit::bus::Namespace::parse(&format!("pactq{}", std::process::id())).unwrap(),
                build: true,
                runtime: Default::default(),
                flows: QueueOptions::flows_of(workspace()),
            };
            queue::capture(&options, &mut |line| eprintln!("fare: {line}")).await.unwrap()
        })
        .await
}

async fn match_captured(capture: &Capture, providers: &[&str]) -> VerifyReport {
    let providers: Vec<String> = providers.iter().map(|p| p.to_string()).collect();
    queue::match_capture(&workspace().join("contracts/pacts"), &providers, capture).await.unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_committed_message_pact_matches_what_the_real_providers_publish_over_the_real_queue() {
    let _shared = common::shared().await;
    let report = match_captured(captured().await, &[]).await;
    let table = verify_report::table(&report);
    assert!(report.passed(), "{table}");
    let committed = fare::contracts::pacts::load_dir(&workspace().join("contracts/pacts")).unwrap();
    let is_message =
        |i: &&fare::contracts::pacts::Interaction| matches!(i.kind, fare::contracts::pacts::Kind::Message { .. });
    let with_messages: Vec<_> = committed.iter().filter(|p| p.interactions.iter().any(|i| is_message(&i))).collect();
    assert_eq!(report.pacts.len(), with_messages.len(), "{table}");
    for (verified, pact) in report.pacts.iter().zip(&with_messages) {
        assert_eq!(verified.path, pact.path, "{table}");
        let messages = pact.interactions.iter().filter(is_message).count();
        assert_eq!(verified.interactions.len(), messages, "{}: {table}", pact.path.display());
    }
    for pair in ["store → devices", "collector → users", "mailer → tracking", "tracking → fulfillment"] {
        assert!(table.contains(pair), "{pair} missing from\n{table}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_published_message_that_differs_from_the_pact_fails_naming_the_pact_the_interaction_and_the_path() {
    let _shared = common::shared().await;
    let mut capture = captured().await.clone();
    let is = |m: &Captured, producer: &str, event_type: &str| {
        m.producer().as_deref() == Some(producer) && m.event_type().as_deref() == Some(event_type)
    };
    // store renames a field in the order it publishes (one of its two).
    let order = capture.messages.iter_mut().find(|m| is(m, "store", "order.placed")).unwrap();
    order.body = order.body.replacen("\"order_id\"", "\"orderId\"", 1);
    assert!(order.body.contains("\"orderId\""), "{}", order.body);
    let report = match_captured(&capture, &["store"]).await;
    assert!(!report.passed());
    let failures = report.failures();
    let expected = "invoice-store.json (invoice → store) `a order.placed event`: $.data: expected ";
    let line = failures.iter().find(|f| f.starts_with(expected)).unwrap_or_else(|| panic!("{failures:#?}"));
    assert!(line.contains("(Actual map is missing the following keys: order_id; SNS message "), "{line}");

    // devices publishes an allocation failure without its event_type attribute.
    let failed = capture.messages.iter_mut().find(|m| is(m, "devices", "device.allocation_failed")).unwrap();
    assert!(failed.attributes.remove("event_type").is_some());
    let failures = match_captured(&capture, &["devices"]).await.failures();
    let expected = "store-devices.json (store → devices) `a device.allocation_failed event`: metadata.event_type: \
                    expected device.allocation_failed, actual (nothing) (Expected message metadata 'event_type' but \
                    was missing; SNS message ";
    assert!(failures.iter().any(|f| f.starts_with(expected)), "{failures:#?}");

    // tracking publishes no package.delivered at all (its shipment.lost still matches).
    capture.messages.retain(|m| !is(m, "tracking", "package.delivered"));
    let failures = match_captured(&capture, &["tracking"]).await.failures();
    let nothing = "`a package.delivered event`: tracking published no package.delivered on SNS during the run; it \
                   published shipment.lost";
    let expected: Vec<String> = ["collector", "mailer", "store"]
        .iter()
        .map(|c| format!("{c}-tracking.json ({c} → tracking) {nothing}"))
        .collect();
    assert_eq!(failures, expected);
}
