//! Scenarios: files that cannot be read name the file, line and field;
//! every scenario of `scenarios/` reads against the real topology; and a
//! all of them run through the real platform (real moto, real processes),
//! with those of `tests/scenarios/` failing on purpose so that each
//! diagnosis (service, event, reason) is checked. No credential the
//! scenarios handled is left in a log, the record, a report or a pact.
//! And a second `fare`, knowing only a target file, runs them against a
//! platform it did not start (`fare e2e --target`).

use crate::common;

use common::root;

use std::sync::Arc;
use std::time::Duration;

use fare::diagnosis::{Evidence, Hop, Reason};
use fare::runtime::{NotQuiet, Platform};
use fare::scenario::failure::Failure;
use fare::scenario::{self, Outcome, RunOptions, ScenarioError, Silent, Target, render};
use fare::trace::FaultKind;
use kit::bus::Namespace;
use serde_json::{Value, json};

fn topology() -> fare::Topology {
    fare::load_topology(&root().join("services")).unwrap().0
}

/// Loads `text` as `name` from a fresh directory; the error, as printed.
fn error_of(name: &str, text: &str) -> (ScenarioError, String) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join(name);
    std::fs::write(&path, text).unwrap();
    let err = scenario::load(&path, &topology()).unwrap_err();
    let shown = err.to_string().replace(&dir.path().display().to_string(), "DIR");
    (err, shown)
}

#[test]
fn a_value_of_the_wrong_type_is_named_by_file_line_and_field() {
    let (err, shown) =
        error_of("bad-status.yaml", "description: d\nsteps:\n  - http: POST store /orders\n    status: fast\n");
    let ScenarioError::Invalid { line, field, .. } = &err else { panic!("{err:?}") };
    assert_eq!((*line, field.as_str()), (Some(4), "steps[0].status"), "{shown}");
    assert!(shown.starts_with("DIR/bad-status.yaml:4:13: steps[0].status: "), "{shown}");
    assert!(shown.contains("expected u16"), "{shown}");
}

#[test]
fn malformed_values_are_refused_where_they_are() {
    let cases = [
        ("steps:\n  - http: POST store\n", 2, "steps[0]", "expected `METHOD target /path`"),
        ("steps:\n  - wait_for: {event: Order-Placed}\n", 2, "steps[0]", "is not an event type"),
        (
            "steps: []\nfaults:\n  - stop: store\n    times: 2\n",
            3,
            "faults[0]",
            "`times` does not belong to a `stop` fault",
        ),
        (
            "steps: []\nfakes:\n  carrier:\n    - respond: [{delay_ms: 5}]\n",
            4,
            "fakes.carrier[0]",
            "respond[0]: give `status`",
        ),
        (
            "steps: []\nexpect:\n  chain: {tree: {order.placed: }, derive: order.placed}\n",
            3,
            "expect.chain",
            "either `tree`",
        ),
        ("steps: []\nsurprise: 1\n", 2, "surprise", "unknown field `surprise`"),
    ];
    for (text, want_line, want_field, want_message) in cases {
        let (err, shown) = error_of("case.yaml", text);
        let ScenarioError::Invalid { line, field, message, .. } = &err else { panic!("{err:?}") };
        assert_eq!(*line, Some(want_line), "{shown}");
        assert!(field.starts_with(want_field), "{want_field} in {shown}");
        assert!(message.contains(want_message), "{want_message} in {shown}");
    }
}

#[test]
fn names_the_topology_does_not_know_are_refused_with_their_line() {
    let text = "steps:\n  - {http: GET users /users/x/contact}\n  - http: POST shop /orders\nexpect:\n  dead_letters: {invoice: 1}\n";
    let (err, shown) = error_of("shop.yaml", text);
    assert!(
        shown.starts_with("DIR/shop.yaml:3:16: steps[1].http: no service `shop` (services: collector, devices"),
        "{shown}"
    );
    assert!(matches!(err, ScenarioError::Invalid { line: Some(3), .. }));
    let (_, shown) = error_of("event.yaml", "steps: []\nexpect:\n  chain:\n    derive: order.shipped\n");
    assert!(
        shown.starts_with("DIR/event.yaml:4:13: expect.chain: no service publishes or hears `order.shipped`"),
        "{shown}"
    );
    let (_, shown) = error_of("fake.yaml", "steps: []\nfakes:\n  fedex:\n    - respond: [{status: 500}]\n");
    assert!(
        shown.contains(
            "fake.yaml:3:3: fakes.fedex: no fake `fedex` (the manifests' fakes: carrier, fulfillment-center, mail-provider)"
        ),
        "{shown}"
    );
}

#[test]
fn a_file_with_several_mistakes_names_them_all_with_what_was_meant() {
    let text = "steps:\n  - http: POST stor /orders\n  - wait_for: {event: device.alocated}\nfakes:\n  carier:\n    - respond: [{status: 500}]\nfaults:\n  - {handler: fulfilment, on: device.allocated, do: crash}\n";
    let (err, shown) = error_of("typos.yaml", text);
    let lines: Vec<&str> = shown.lines().collect();
    assert_eq!(
        lines,
        [
            "DIR/typos.yaml:5:3: fakes.carier: no fake `carier`; did you mean `carrier`? (the manifests' fakes: carrier, fulfillment-center, mail-provider)",
            "DIR/typos.yaml:2:16: steps[0].http: no service `stor`; did you mean `store`? (services: collector, devices, fulfillment, invoice, loyalty, mailer, store, tracking, users)",
            "DIR/typos.yaml:3:23: steps[1].wait_for.event: no service publishes or hears `device.alocated`; did you mean `device.allocated`? (known: device.allocated, device.allocation_failed, invoice.issued, mail.sent, order.placed, package.delivered, points.awarded, shipment.lost, shipment.requested, user.registered)",
            "DIR/typos.yaml:8:15: faults[0].handler: no service `fulfilment`; did you mean `fulfillment`? (services: collector, devices, fulfillment, invoice, loyalty, mailer, store, tracking, users)",
        ],
        "{shown}"
    );
    assert_eq!(err.each().len(), 4);
    // Values of the wrong shape too: each step and fault is read on its own.
    let text = "steps:\n  - http: POST store /orders\n    status: fast\n  - wait_for: {event: Order-Placed}\nfaults:\n  - stop: store\n    times: 2\nexpct: {}\n";
    let (err, shown) = error_of("shapes.yaml", text);
    let found: Vec<(Option<usize>, &str)> = err
        .each()
        .iter()
        .map(|e| match e {
            ScenarioError::Invalid { line, field, .. } => (*line, field.as_str()),
            other => panic!("{other}"),
        })
        .collect();
    assert_eq!(
        found,
        [
            (Some(3), "steps[0].status"),
            (Some(4), "steps[1].wait_for.event"),
            (Some(6), "faults[0]"),
            (Some(8), "expct")
        ],
        "{shown}"
    );
    assert!(shown.contains("expected u16") && shown.contains("is not an event type"), "{shown}");
    assert!(shown.contains("`times` does not belong to a `stop` fault"), "{shown}");
    assert!(shown.contains("unknown field `expct`, expected one of") && shown.contains("did you mean `expect`?"));
    // Every file's problems, not only the first file's.
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("a.yaml"), "steps: []\nexpct: {}\n").unwrap();
    std::fs::write(dir.path().join("b.yaml"), "steps:\n  - http: POST shop /orders\n").unwrap();
    let err = scenario::load_dir(dir.path(), &[], &topology()).unwrap_err();
    let shown = err.to_string();
    assert_eq!(err.each().len(), 2, "{shown}");
    assert!(shown.contains("a.yaml:2:1: expct: unknown field `expct`, expected one of"), "{shown}");
    assert!(shown.contains("; did you mean `expect`?") && shown.contains("b.yaml:2:16: steps[0].http"), "{shown}");
}

#[test]
fn every_scenario_reads_against_the_topology_and_the_exclusive_ones_are_known() {
    let scenarios = scenario::load_dir(&root().join("scenarios"), &[], &topology()).unwrap();
    assert!(scenarios.len() >= 12, "{} scenarios", scenarios.len());
    let mut exclusive: Vec<&str> = scenarios.iter().filter(|s| s.exclusive()).map(|s| s.name.as_str()).collect();
    exclusive.sort();
    assert_eq!(exclusive, ["session-refused", "store-restarted"]);
    let err = scenario::load_dir(&root().join("scenarios"), &["no-such".into()], &topology()).unwrap_err();
    assert!(err.to_string().starts_with("no scenario named `no-such`"), "{err}");
}

#[tokio::test]
async fn scenarios_run_through_the_platform_and_a_broken_hop_is_named() {
    let _alone = common::exclusive().await;
    let ns = Namespace::parse(&format!("e2e{}", std::process::id())).unwrap();
    let options = common::up_options(&ns);
    let mut platform =
        Platform::up_with_env(&options, &scenario::e2e_env(&common::root().join("scenarios")).unwrap(), &mut |l| {
            eprintln!("fare: {l}")
        })
        .await
        .unwrap();
    // Every scenario of the project, and those that must fail.
    let mut chosen = scenario::load_dir(&root().join("scenarios"), &[], &topology()).unwrap();
    let broken = scenario::load_dir(&root().join("harness/fare/tests/scenarios"), &[], &topology()).unwrap();
    let broken_names: Vec<String> = broken.iter().map(|s| s.name.clone()).collect();
    chosen.extend(broken);
    let target = Target::of(&platform).unwrap();
    let report =
        scenario::run_all(&target, &chosen, Some(&mut platform), &RunOptions::default(), Arc::new(Silent)).await;
    // What each scenario's chains did, for the snapshots below, once the
    // platform has finished what the last scenarios left in flight (a
    // service a fault kept down catches up after it is started again).
    target.wait_quiet().await.unwrap();
    let recorder = platform.recorder().unwrap();
    recorder.caught_up(std::time::Duration::from_secs(10)).await;
    let skeletons = common::skeletons(&report, recorder);
    // The record as `fare trace` serves it, for the leak check below.
    let mut records: Vec<(String, String)> = Vec::new();
    for c in report.scenarios.iter().flat_map(|s| &s.chains) {
        let trace = serde_json::to_string(&recorder.trace(&c.correlation_id)).unwrap();
        records.push((format!("the recorder's trace of {}", c.correlation_id), trace));
    }
    // And as `fare e2e` leaves it for `fare contracts coverage`.
    records.push(("the run's saved record".into(), serde_json::to_string(&recorder.saved()).unwrap()));
    // The run's own credentials: the operator token and every service's key.
    let credentials = platform.credentials();
    let mut run_secrets = vec![credentials.operator_token().to_owned()];
    run_secrets.extend(topology().services().map(|m| credentials.key(&m.name).to_hex()));
    platform.stop();
    let state_dir = fare::runtime::state_dir(&root(), &ns);
    // Every log, report and database of the run: users keeps a session
    // under its token's SHA-256, so not even its database holds a token.
    records.extend(files_under(&state_dir));
    let _ = std::fs::remove_dir_all(&state_dir);

    common::assert_snapshots(&skeletons);

    let summary = render::summary(&report);
    const BROKEN: &str = "expects-delivered-but-fulfillment-fails";
    for s in report.scenarios.iter().filter(|s| !broken_names.contains(&s.name)) {
        assert_eq!(s.outcome, Outcome::Passed, "{} should pass:\n{summary}", s.name);
    }
    // Each scenario that fails on purpose: the first broken hop's service,
    // expected event and reason, the injected fault it is owed to (if
    // fare injected one), and a verdict that did not wait out the
    // timeouts of its waits.
    let expected_failures = [
        ("carrier-refuses-tracking", "tracking", "package.delivered", "third_party_failing", None),
        ("chain-never-started", "store", "order.placed", "never_started", None),
        (
            "fulfillment-drops-its-follow-up",
            "fulfillment",
            "shipment.requested",
            "handled_without_follow_up",
            Some(FaultKind::Handler),
        ),
        ("fulfillment-killed-while-handling", "fulfillment", "shipment.requested", "crashed", Some(FaultKind::Kill)),
        ("fulfillment-stays-down", "fulfillment", "shipment.requested", "service_down", Some(FaultKind::Stop)),
        ("invoice-filters-the-order-out", "invoice", "invoice.issued", "filtered_out", Some(FaultKind::FilterOut)),
        // A Python service, which sends fare no spans: named from its queue and its stop.
        ("loyalty-stays-down", "loyalty", "points.awarded", "service_down", Some(FaultKind::Stop)),
        (BROKEN, "fulfillment", "shipment.requested", "dead_lettered", None),
    ];
    for (name, service, event, kind, fault) in expected_failures {
        let s = report.scenarios.iter().find(|s| s.name == name).unwrap_or_else(|| panic!("{name} did not run"));
        assert_eq!(s.outcome, Outcome::Failed, "{name}:\n{summary}");
        let hop =
            s.diagnosis.iter().flat_map(|d| &d.hops).next().unwrap_or_else(|| panic!("{name}: no hop:\n{summary}"));
        assert_eq!(
            (hop.hop.service.as_deref(), hop.hop.expected.as_str(), hop.kind()),
            (Some(service), event, kind),
            "{name}: {hop}\n{}",
            s.failure_text()
        );
        let named = hop.faults.first().map(|b| (b.fault.kind, b.fault.target.as_str()));
        assert_eq!(named, fault.map(|kind| (kind, service)), "{name}: {hop}");
        // Every wait that failed ended because the platform settled (quiet
        // or stuck) without what it waited for, not at its deadline: the
        // verdict does not depend on how fast this machine is.
        let timed_out: Vec<&Failure> = s
            .steps
            .iter()
            .filter_map(|l| l.failure())
            .filter(|f| matches!(f, Failure::NeverSeen { .. } | Failure::NotQuiet { error: NotQuiet::Timeout { .. } }))
            .collect();
        assert!(timed_out.is_empty(), "{name}: a wait ran out its deadline: {timed_out:?}");
    }
    assert!(
        report
            .scenarios
            .iter()
            .filter(|s| broken_names.contains(&s.name))
            .all(|s| expected_failures.iter().any(|f| f.0 == s.name)),
        "every scenario of tests/scenarios has its expected diagnosis listed here"
    );
    let failed = report.scenarios.iter().find(|s| s.name == BROKEN).unwrap();
    assert_eq!(failed.outcome, Outcome::Failed, "{summary}");
    let hop =
        failed.diagnosis.iter().flat_map(|d| &d.hops).next().unwrap_or_else(|| panic!("no broken hop:\n{summary}"));
    assert_eq!(
        hop.hop,
        Hop {
            after: Some("device.allocated".into()),
            queue: Some(ns.queue("fulfillment")),
            service: Some("fulfillment".into()),
            expected: "shipment.requested".into()
        },
        "{summary}"
    );
    let Reason::DeadLettered { queue, attempts, rejected: None } = &hop.reason else { panic!("{hop}") };
    assert_eq!((queue.as_str(), *attempts), (ns.dead_letter_queue("fulfillment").as_str(), 5), "{hop}");
    let answers = hop.evidence.iter().find_map(|e| match e {
        Evidence::Calls { callee, status, count, .. } if callee == "fulfillment-center" => Some((*status, *count)),
        _ => None,
    });
    assert!(matches!(answers, Some((Some(503), n)) if n >= 1), "the center's answers are the evidence: {hop}");
    let text = failed.failure_text();
    assert!(text.contains("missing order.placed > device.allocated > shipment.requested"), "{text}");
    assert!(text.contains("device.allocated (by devices)"), "the chain as seen is in the report:\n{text}");

    let junit = render::junit(&report);
    let total = report.scenarios.len();
    let failing = broken_names.len();
    let written = quick_junit::Report::deserialize_from_str(&junit).unwrap();
    assert_eq!((written.tests, written.failures), (total, failing), "{junit}");
    assert!(
        junit.contains(
            "<failure message=\"chain main: missing order.placed &gt; device.allocated &gt; shipment.requested"
        ),
        "{junit}"
    );
    let html = render::html(&report, &topology());
    assert!(html.contains(&format!("{} passed, {failing} failed, 0 skipped", total - failing)), "{html}");
    assert!(html.contains("class=\"diagnosis\""), "{html}");
    assert!(!html.contains("<script"), "the report needs no script");

    // No credential the scenarios sent or were given is in any log of the
    // run, the recorder's record, the reports or the pacts.
    let mut secrets: std::collections::BTreeSet<&str> =
        report.scenarios.iter().flat_map(|s| &s.secrets).map(String::as_str).collect();
    let given = secrets.len();
    secrets.extend(run_secrets.iter().map(String::as_str));
    let issued = secrets.iter().filter(|s| s.len() == 64 && s.chars().all(|c| c.is_ascii_hexdigit())).count();
    assert!(issued >= 3 + run_secrets.len(), "session tokens and the run's keys to look for: {given} given");
    records.push(("the JUnit report".into(), junit));
    records.push(("the HTML report".into(), html));
    records.extend(files_under(&root().join("contracts/pacts")));
    let leaks: Vec<String> = records
        .iter()
        .flat_map(|(place, text)| {
            let found: Vec<&&str> = secrets.iter().filter(|secret| text.contains(**secret)).collect();
            found.into_iter().map(move |secret| format!("{} chars of a secret in {place}", secret.len()))
        })
        .collect();
    eprintln!(
        "leak check: {} secrets ({issued} session tokens) in {} records: {} hits",
        secrets.len(),
        records.len(),
        leaks.len()
    );
    assert_eq!(leaks, Vec::<String>::new());
}

/// invoice rewritten in Python (`--profile python`), behind the same
/// manifest: every scenario of the project passes against it, and each
/// chain has the shape of its snapshot, event for event, as with the Rust one.
#[tokio::test]
async fn every_scenario_passes_against_invoice_rewritten_in_python() {
    let _alone = common::exclusive().await;
    let ns = Namespace::parse(&format!("py{}", std::process::id())).unwrap();
    let options = fare::runtime::UpOptions { profile: Some("python".into()), ..common::up_options(&ns) };
    let mut platform =
        Platform::up_with_env(&options, &scenario::e2e_env(&common::root().join("scenarios")).unwrap(), &mut |l| {
            eprintln!("fare: {l}")
        })
        .await
        .unwrap();
    let invoice = platform.state.services.iter().find(|s| s.name == "invoice").unwrap().log.clone();
    let chosen = scenario::load_dir(&root().join("scenarios"), &[], &topology()).unwrap();
    let target = Target::of(&platform).unwrap();
    let report =
        scenario::run_all(&target, &chosen, Some(&mut platform), &RunOptions::default(), Arc::new(Silent)).await;
    target.wait_quiet().await.unwrap();
    let recorder = platform.recorder().unwrap();
    recorder.caught_up(std::time::Duration::from_secs(10)).await;
    let skeletons = common::skeletons(&report, recorder);
    let log = std::fs::read_to_string(&invoice).unwrap();
    platform.stop();
    let _ = std::fs::remove_dir_all(fare::runtime::state_dir(&root(), &ns));
    assert!(log.contains("INFO invoice: handled correlation_id="), "the Python invoice ran:\n{log}");
    let summary = render::summary(&report);
    for s in &report.scenarios {
        assert_eq!(s.outcome, Outcome::Passed, "{} should pass against the Python invoice:\n{summary}", s.name);
    }
    common::assert_snapshots(&skeletons);
}

/// Failed chains of three origins each become, from their record, a
/// scenario file written as `fare trace ID --as-scenario --expect-topology`
/// writes it: two scenarios of `tests/scenarios/` that fail on purpose (a
/// third party that fails for good, a handler fault), a cell of the fault
/// matrix (its handler failing for good), and a chain driven by hand
/// against the running platform as a developer would with curl (the
/// carrier told to fail, then a sign-up, a login and an order). The loader
/// reads each file, it holds none of the credentials the original handled,
/// it fails at the same broken hop for the same reason, and it passes once
/// its fault is taken away.
#[tokio::test]
async fn a_failed_chain_written_as_a_scenario_fails_at_the_same_hop_and_passes_without_its_fault() {
    use fare::scenario::write::{ExpectFrom, WriteOptions, write};
    let _alone = common::exclusive().await;
    let ns = Namespace::parse(&format!("wr{}", std::process::id())).unwrap();
    let mut platform = Platform::up_with_env(
        &common::up_options(&ns),
        &scenario::e2e_env(&common::root().join("scenarios")).unwrap(),
        &mut |l| eprintln!("fare: {l}"),
    )
    .await
    .unwrap();
    let target = Target::of(&platform).unwrap();
    let (hand, hand_secrets) = by_hand(&platform).await;
    target.wait_quiet().await.unwrap();
    platform.recorder().unwrap().caught_up(std::time::Duration::from_secs(10)).await;
    let hand_hop = {
        let trace = platform.recorder().unwrap().trace(&hand);
        let delivered = [kit::EventType::parse("package.delivered").unwrap()];
        let env = fare::diagnosis::Environment::default();
        let expected = fare::diagnosis::Expected::Events(&delivered);
        let hops = fare::diagnosis::diagnose(&trace, expected, &topology(), &ns, &env, "main");
        let hop = hops.first().unwrap_or_else(|| panic!("the chain driven by hand did not break:\n{trace:#?}"));
        (hop.hop.service.clone(), hop.hop.after.clone(), hop.hop.expected.clone(), hop.kind())
    };
    carrier_behaves(&platform, json!({})).await;

    let names = ["expects-delivered-but-fulfillment-fails".to_owned(), "fulfillment-drops-its-follow-up".to_owned()];
    let mut originals = scenario::load_dir(&root().join("harness/fare/tests/scenarios"), &names, &topology()).unwrap();
    let workload = fare::chaos::Workload::load(&fare::chaos::Workload::default_path(&root())).unwrap();
    let cells = fare::chaos::matrix(&topology(), &Arc::new(workload), None);
    let cell = cells
        .iter()
        .find(|c| c.kind == fare::chaos::Kind::HandlerFailsAlways && c.hop.service.as_deref() == Some("invoice"))
        .expect("a cell where invoice's handler fails for good");
    originals.push(fare::chaos::run::scenario_of(cell, &topology()).unwrap());
    let first =
        scenario::run_all(&target, &originals, Some(&mut platform), &RunOptions::default(), Arc::new(Silent)).await;
    target.wait_quiet().await.unwrap();
    platform.recorder().unwrap().caught_up(std::time::Duration::from_secs(10)).await;
    let mut record = platform.recorder().unwrap().saved();
    let fakes: Vec<(String, String)> = platform.state.fakes.iter().map(|f| (f.name.clone(), f.url.clone())).collect();
    record.add_fakes(&fakes).await;

    // The report of the failed run offers, per failed chain, the command that writes it.
    let html = render::html(&first, &topology());
    for s in &first.scenarios {
        let command =
            format!("fare --namespace {ns} trace {} --as-scenario {}-regression.yaml", s.correlation_id, s.name);
        assert!(html.contains(&command), "{command} in the HTML report");
    }
    let dir = tempfile::tempdir().unwrap();
    let hop_of = |s: &scenario::ScenarioReport| {
        let hop = s.diagnosis.iter().flat_map(|d| &d.hops).next().unwrap_or_else(|| panic!("{}: no hop", s.name));
        (hop.hop.service.clone(), hop.hop.after.clone(), hop.hop.expected.clone(), hop.kind())
    };
    let mut written = Vec::new();
    let mut without_fault = Vec::new();
    let mut chains: Vec<(&str, &str, &[String])> = Vec::new();
    for s in &first.scenarios {
        assert_eq!(s.outcome, Outcome::Failed, "{}: {}", s.name, s.failure_text());
        chains.push((&s.name, &s.correlation_id, &s.secrets));
    }
    chains.push(("by-hand", &hand, &hand_secrets));
    for (name, correlation_id, secrets) in chains {
        let options = WriteOptions { expect: ExpectFrom::Topology { except: None }, command: None };
        let w = write(&record, correlation_id, &topology(), &options).unwrap_or_else(|e| panic!("{name}: {e}"));
        eprintln!("written from {name}:\n{}", w.yaml);
        for secret in secrets {
            assert!(!w.yaml.contains(secret.as_str()), "{name}: a credential of the run in\n{}", w.yaml);
        }
        let path = dir.path().join(format!("{name}-regression.yaml"));
        std::fs::write(&path, &w.yaml).unwrap();
        written.push(path.display().to_string());
        // The fault taken away: the fakes' rules and the injected faults.
        let mut doc: serde_norway::Value = serde_norway::from_str(&w.yaml).unwrap();
        let map = doc.as_mapping_mut().unwrap();
        assert!(map.remove("fakes").is_some() || map.remove("faults").is_some(), "{name}: no fault written");
        let path = dir.path().join(format!("{name}-fixed.yaml"));
        std::fs::write(&path, serde_norway::to_string(&doc).unwrap()).unwrap();
        without_fault.push(path.display().to_string());
    }
    // `fare e2e FILE` takes a path wherever the file is.
    let rerun = scenario::load_dir(&root().join("scenarios"), &written, &topology()).unwrap();
    let fixed = scenario::load_dir(&root().join("scenarios"), &without_fault, &topology()).unwrap();
    rerun.iter().chain(&fixed).for_each(|s| assert!(s.path.starts_with(dir.path()), "{}", s.path.display()));
    let again = scenario::run_all(&target, &rerun, Some(&mut platform), &RunOptions::default(), Arc::new(Silent)).await;
    let healed =
        scenario::run_all(&target, &fixed, Some(&mut platform), &RunOptions::default(), Arc::new(Silent)).await;
    platform.stop();
    let _ = std::fs::remove_dir_all(fare::runtime::state_dir(&root(), &ns));

    let originals = first.scenarios.iter().map(hop_of).chain([hand_hop]);
    assert_eq!(again.scenarios.len(), 4);
    for (original, replay) in originals.zip(&again.scenarios) {
        assert_eq!(replay.outcome, Outcome::Failed, "{}: {}", replay.name, replay.failure_text());
        assert_eq!(hop_of(replay), original, "{}:\n{}", replay.name, replay.failure_text());
    }
    for s in &healed.scenarios {
        assert_eq!(s.outcome, Outcome::Passed, "{} without its fault:\n{}", s.name, s.failure_text());
    }
}

/// What a developer does by hand against a running platform, as with
/// curl: tells the carrier to fail for good (`POST /__fare/behaviour`),
/// signs up, logs in and orders. The order's correlation id (its answer's
/// `x-correlation-id`), and the credentials used.
async fn by_hand(platform: &Platform) -> (String, Vec<String>) {
    carrier_behaves(platform, json!({"fail_always": true})).await;
    let url = |name: &str| platform.state.services.iter().find(|s| s.name == name).unwrap().url.clone();
    let http = reqwest::Client::new();
    let (email, password) = (format!("hand.{}@example.com", std::process::id()), "correct horse battery");
    let user = json!({"email": email, "password": password, "name": "Ada"});
    let signed_up = http.post(format!("{}/users", url("users"))).json(&user).send().await.unwrap();
    assert_eq!(signed_up.status(), 201);
    let login = json!({"email": email, "password": password});
    let session = http.post(format!("{}/sessions", url("users"))).json(&login).send().await.unwrap();
    let token = session.json::<Value>().await.unwrap()["token"].as_str().unwrap().to_owned();
    let address = json!({"name": "Ada", "line1": "1 Road", "city": "Town", "postal_code": "1000", "country": "NL"});
    let order = json!({"model": "phone-basic", "shipping_address": address});
    let placed = http.post(format!("{}/orders", url("store"))).bearer_auth(&token).json(&order).send().await.unwrap();
    assert_eq!(placed.status(), 201);
    let cid = placed.headers()["x-correlation-id"].to_str().unwrap().to_owned();
    (cid, vec![email, password.to_owned(), token])
}

/// Sets how the platform's carrier fake behaves, as `curl -d` would.
async fn carrier_behaves(platform: &Platform, behaviour: Value) {
    let carrier = platform.state.fakes.iter().find(|f| f.name == "carrier").unwrap();
    let url = format!("{}/__fare/behaviour", carrier.url);
    let set = reqwest::Client::new().post(url).json(&behaviour).send().await.unwrap();
    assert!(set.status().is_success(), "{}", set.status());
}

/// Every file under `dir`, read as text: (path, contents).
fn files_under(dir: &std::path::Path) -> Vec<(String, String)> {
    let mut found = Vec::new();
    let mut dirs = vec![dir.to_owned()];
    while let Some(d) = dirs.pop() {
        for entry in std::fs::read_dir(&d).into_iter().flatten().flatten() {
            let path = entry.path();
            if path.is_dir() {
                dirs.push(path);
            } else if let Ok(bytes) = std::fs::read(&path) {
                found.push((path.display().to_string(), String::from_utf8_lossy(&bytes).into_owned()));
            }
        }
    }
    found
}

/// An environment fare did not start, stood in for by a platform this test
/// starts (with `fare e2e`'s settings, its spans forwarded to a port picked
/// here). A second `fare`, a copy of the binary in a directory of its own
/// that holds the manifests, the scenarios and a target file written from
/// what the stand-in's operator knows (URLs, endpoint, namespace) and
/// nothing of the first's state, runs every scenario of the project against
/// it: those that can run there pass; those that program fakes or act on
/// processes are reported not applicable, in the terminal, JSON and JUnit.
/// Ctrl-C in mid-run leaves no tap behind. With one service of the
/// stand-in stopped, the run names it as the broken hop from the tapped
/// events, dead letters and /health alone (its target file names no span
/// receiver), and says so.
#[tokio::test]
async fn scenarios_run_against_an_environment_fare_did_not_start_through_a_target_file_alone() {
    let _alone = common::exclusive().await;
    let started = std::time::Instant::now();
    // First, while the binary is the one this test was built with.
    let elsewhere = Elsewhere::new();
    let ns = Namespace::parse(&format!("rm{}", std::process::id())).unwrap();
    let spans = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap();
    let forward = fare::trace::OtlpTarget { url: format!("http://{spans}/v1/traces"), headers: Vec::new() };
    let options = fare::runtime::UpOptions { otlp_forward: Some(forward), ..common::up_options(&ns) };
    let mut standin =
        Platform::up_with_env(&options, &scenario::e2e_env(&common::root().join("scenarios")).unwrap(), &mut |l| {
            eprintln!("fare: {l}")
        })
        .await
        .unwrap();
    elsewhere.target("stand-in.toml", &standin.state, Some(spans));
    elsewhere.target("no-spans.toml", &standin.state, None);
    let bus = fare::connect(&standin.state.endpoint, &ns).await.unwrap();
    let taps = format!("{ns}-fare-tap-");

    // Every scenario: those that can run there pass, the others are not applicable.
    let out = elsewhere.fare(&["e2e", "--target", "stand-in.toml", "--json", "--junit", "junit.xml"]).await;
    let summary: Value = serde_json::from_slice(&out.stdout).unwrap_or_else(|_| panic!("{}", out.text()));
    assert_eq!(out.status.code(), Some(0), "{}", out.text());
    let scenarios = scenario::load_dir(&root().join("scenarios"), &[], &topology()).unwrap();
    assert!(scenarios.len() >= 12, "{} scenarios", scenarios.len());
    for s in &scenarios {
        let seen = summary["scenarios"].as_array().unwrap().iter().find(|r| r["name"] == s.name.as_str());
        let seen = seen.unwrap_or_else(|| panic!("{} not reported: {}", s.name, out.text()));
        let (result, reason) = (seen["result"].as_str().unwrap(), seen["reason"].as_str().unwrap_or_default());
        if !s.file.fakes.is_empty() {
            assert_eq!(result, "skipped", "{}: {seen:#}", s.name);
            assert!(reason.starts_with("not applicable to stand-in: it programs "), "{}: {reason}", s.name);
        } else if s.needs_control().is_some() {
            assert_eq!(result, "skipped", "{}: {seen:#}", s.name);
            assert!(reason.contains("a process fare did not start") || reason.contains("stop store"), "{reason}");
        } else {
            assert_eq!(result, "passed", "{} should pass there: {}", s.name, out.text());
        }
    }
    assert!(summary["passed"].as_u64().unwrap() >= 7, "{summary:#}");
    assert_eq!(summary["notes"], json!([]), "spans reached the second fare through the stand-in's forwarding");
    let junit = std::fs::read_to_string(elsewhere.dir.path().join("junit.xml")).unwrap();
    assert!(junit.contains("<skipped message=\"not applicable to stand-in: it programs fulfillment-center"), "{junit}");
    let html = elsewhere.dir.path().join(format!(".fare/{ns}-remote/reports"));
    assert_eq!(std::fs::read_dir(&html).unwrap().count(), 1, "the report is the second fare's own");
    assert_eq!(bus.queues(&taps).await.unwrap(), Vec::<String>::new(), "the run's tap is removed");

    // Ctrl-C once its tap exists: the tap and its subscriptions go all the same.
    let child = elsewhere.command(&["e2e", "--target", "stand-in.toml", "order-delivered"]).spawn().unwrap();
    let asked = std::time::Instant::now();
    let tap = loop {
        if let Some(url) = bus.queues(&taps).await.unwrap().pop() {
            break url;
        }
        assert!(asked.elapsed() < Duration::from_secs(60), "no tap queue appeared");
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    let tap_arn = bus.queue_arn(&tap).await.unwrap();
    fare::runtime::signal(child.id().unwrap(), libc::SIGINT).unwrap();
    let out = Ran::of(child).await;
    assert_eq!(out.status.code(), Some(2), "{}", out.text());
    assert!(out.text().contains("fare: interrupted; removed the tap queue"), "{}", out.text());
    assert_eq!(bus.queues(&taps).await.unwrap(), Vec::<String>::new(), "{}", out.text());
    for topic in bus.topics().await.unwrap() {
        let subscriptions = bus.subscriptions(&topic).await.unwrap();
        assert!(subscriptions.iter().all(|s| s.endpoint != tap_arn), "{topic} still delivers to {tap_arn}");
    }

    // One service of the stand-in down: named as the broken hop, without spans.
    standin.stop_service("fulfillment").await.unwrap();
    let out = elsewhere.fare(&["e2e", "--target", "no-spans.toml", "order-delivered", "--json"]).await;
    standin.stop();
    let _ = std::fs::remove_dir_all(fare::runtime::state_dir(&root(), &ns));
    assert_eq!(out.status.code(), Some(1), "{}", out.text());
    let summary: Value = serde_json::from_slice(&out.stdout).unwrap();
    let failed = &summary["scenarios"][0];
    assert_eq!(failed["result"], "failed", "{summary:#}");
    let hop = &failed["diagnosis"][0]["hops"][0];
    assert_eq!(hop["hop"]["service"], "fulfillment", "{hop:#}");
    assert_eq!(hop["hop"]["expected"], "shipment.requested", "{hop:#}");
    assert_eq!(hop["reason"]["kind"], "service_down", "{hop:#}");
    let notes = summary["notes"].as_array().unwrap();
    assert!(notes.iter().any(|n| n.as_str().unwrap().starts_with("no spans: ")), "{notes:?}");
    eprintln!("remote runs against the stand-in: {:.0}s in all", started.elapsed().as_secs_f64());
}

/// A second fare, elsewhere: a directory holding a copy of the binary, the
/// manifests (`services/*/service.toml` alone), the scenarios and target
/// files. It runs with no environment but `PATH` and `HOME`.
struct Elsewhere {
    dir: tempfile::TempDir,
}

impl Elsewhere {
    fn new() -> Elsewhere {
        let dir = tempfile::tempdir().unwrap();
        let copy = |from: &std::path::Path, to: std::path::PathBuf| {
            std::fs::create_dir_all(to.parent().unwrap()).unwrap();
            std::fs::copy(from, to).unwrap();
        };
        copy(std::path::Path::new(env!("CARGO_BIN_EXE_fare")), dir.path().join("bin/fare"));
        for entry in std::fs::read_dir(root().join("services")).unwrap() {
            let manifest = entry.unwrap().path().join("service.toml");
            if manifest.is_file() {
                let name = manifest.parent().unwrap().file_name().unwrap().to_owned();
                copy(&manifest, dir.path().join("services").join(name).join("service.toml"));
            }
        }
        for entry in std::fs::read_dir(root().join("scenarios")).unwrap() {
            let path = entry.unwrap().path();
            if path.extension().is_some_and(|e| e == "yaml") {
                copy(&path, dir.path().join("scenarios").join(path.file_name().unwrap()));
            }
        }
        Elsewhere { dir }
    }

    /// Writes the target file `name` for the platform `state` describes.
    fn target(&self, name: &str, state: &fare::runtime::PlatformState, spans: Option<std::net::SocketAddr>) {
        let mut text = format!(
            "name = \"stand-in\"\nnamespace = \"{}\"\nendpoint = \"{}\"\nregion = \"us-east-1\"\n\n[services]\n",
            state.namespace,
            state.endpoint.as_deref().unwrap()
        );
        for s in &state.services {
            text.push_str(&format!("{} = \"{}\"\n", s.name, s.url));
        }
        if let Some(addr) = spans {
            text.push_str(&format!("\n[observe]\notlp = \"{addr}\"\n"));
        }
        std::fs::write(self.dir.path().join(name), text).unwrap();
    }

    fn command(&self, args: &[&str]) -> tokio::process::Command {
        let mut command = tokio::process::Command::new(self.dir.path().join("bin/fare"));
        command
            .current_dir(self.dir.path())
            .env_clear()
            .envs(["PATH", "HOME"].iter().filter_map(|k| Some((k, std::env::var_os(k)?))))
            .args(args)
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .kill_on_drop(true);
        command
    }

    /// Runs `fare ARGS...` to its end (within a bound), without holding up
    /// this test's runtime, which serves the stand-in's fakes and recorder.
    async fn fare(&self, args: &[&str]) -> Ran {
        Ran::of(self.command(args).spawn().unwrap()).await
    }
}

/// A finished `fare`: its exit status and what it printed.
struct Ran {
    status: std::process::ExitStatus,
    stdout: Vec<u8>,
    stderr: Vec<u8>,
}

impl Ran {
    async fn of(child: tokio::process::Child) -> Ran {
        let out = tokio::time::timeout(Duration::from_secs(300), child.wait_with_output()).await;
        let out = out.expect("fare ran within 300 s").unwrap();
        Ran { status: out.status, stdout: out.stdout, stderr: out.stderr }
    }

    fn text(&self) -> String {
        format!("{}{}", String::from_utf8_lossy(&self.stderr), String::from_utf8_lossy(&self.stdout))
    }
}
