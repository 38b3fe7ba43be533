//! The `fare` binary as a user and a script meet it: help for every
//! subcommand, shell completions, colour only on a terminal and never with
//! `NO_COLOR`, `-q`, progress in the order things happen, `--json` that
//! parses, and errors that say what was meant.

// Only `root`: this binary starts platforms through the `fare` binary.
#[allow(dead_code)]
use crate::common;

use common::root;

use std::path::PathBuf;
use std::process::{Command, Output};

use clap::CommandFactory;
use fare::json::Doc;
use serde_json::Value;

/// `fare ARGS...` from the workspace root, with `env` added.
fn fare(args: &[&str], env: &[(&str, &str)]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_fare"))
        .current_dir(root())
        .args(args)
        .env_remove("NO_COLOR")
        .envs(env.iter().copied())
        .output()
        .unwrap()
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// A copy of the services' manifests where store listens to `device.alocated`.
fn typo_services() -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    for entry in std::fs::read_dir(root().join("services")).unwrap().flatten() {
        let manifest = entry.path().join("service.toml");
        if manifest.is_file() {
            let to = dir.path().join("services").join(entry.file_name());
            std::fs::create_dir_all(&to).unwrap();
            let mut body = std::fs::read_to_string(&manifest).unwrap();
            if entry.file_name() == "store" {
                body = body.replacen("event = \"device.allocated\"", "event = \"device.alocated\"", 1);
            }
            std::fs::write(to.join("service.toml"), body).unwrap();
        }
    }
    let services = dir.path().join("services");
    (dir, services)
}

#[test]
fn help_covers_every_subcommand_and_completions_know_them() {
    let _shared = common::shared_blocking();
    let help = text(&fare(&["--help"], &[]).stdout);
    let cli = fare::cli::Cli::command();
    let names: Vec<String> = cli.get_subcommands().map(|c| c.get_name().to_owned()).collect();
    assert!(names.len() >= 20, "{names:?}");
    for sub in cli.get_subcommands() {
        let name = sub.get_name();
        assert!(sub.get_about().is_some(), "`fare {name}` has no help text");
        assert!(help.lines().any(|l| l.trim_start().starts_with(name)), "`{name}` in fare --help:\n{help}");
        let own = fare(&[name, "--help"], &[]);
        assert!(own.status.success() && text(&own.stdout).contains("Usage: fare"), "fare {name} --help");
    }
    for flag in ["--quiet", "--verbose", "--json"] {
        let all = [help.clone(), text(&fare(&["e2e", "--help"], &[]).stdout)].concat();
        assert!(all.contains(flag), "{flag}");
    }
    for (shell, needle) in [("bash", "complete -F"), ("zsh", "#compdef fare"), ("fish", "complete -c fare")] {
        let out = fare(&["completions", shell], &[]);
        let script = text(&out.stdout);
        assert!(out.status.success() && script.contains(needle), "{shell}: {script}");
        assert!(script.contains("contracts") && script.contains("completions"), "{shell} completes subcommands");
    }
}

#[test]
fn check_names_the_line_and_what_was_meant_in_text_and_json() {
    let _shared = common::shared_blocking();
    let (_dir, services) = typo_services();
    let services = services.to_str().unwrap();
    let out = fare(&["--services", services, "check"], &[]);
    assert_eq!(out.status.code(), Some(1));
    let err = text(&out.stderr);
    let wanted = "store/service.toml:11:10: listens to device.alocated but no service publishes it; \
                  did you mean `device.allocated`?";
    assert!(err.contains(wanted), "{err}");
    assert!(!err.contains('\x1b'), "no colour when standard error is not a terminal: {err:?}");

    let out = fare(&["--services", services, "check", "--json"], &[]);
    assert_eq!(out.status.code(), Some(1));
    let json: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(json["ok"], false);
    common::assert_conforms(Doc::Check, &json);
    let problem = &json["problems"][0];
    assert_eq!((&problem["severity"], &problem["line"], &problem["column"]), (&"error".into(), &11.into(), &10.into()));
    assert!(problem["message"].as_str().unwrap().ends_with("did you mean `device.allocated`?"), "{json:#}");

    // Manifests that cannot be read: every one of them, where it goes wrong.
    let (_dir, broken) = typo_services();
    std::fs::write(broken.join("users/service.toml"), "name = \"users\"\ndescription = \"d\"\npublishs = []\n")
        .unwrap();
    std::fs::write(broken.join("mailer/service.toml"), "name = \"mailer\"\n").unwrap();
    let out = fare(&["--services", broken.to_str().unwrap(), "check", "--json"], &[]);
    assert_eq!(out.status.code(), Some(2));
    let json: Value = serde_json::from_slice(&out.stdout).unwrap();
    common::assert_conforms(Doc::Check, &json);
    let problems = json["problems"].as_array().unwrap();
    assert_eq!(problems.len(), 2, "{json:#}");
    assert!(problems[1]["message"].as_str().unwrap().ends_with("did you mean `publishes`?"), "{json:#}");
    assert_eq!((&problems[1]["line"], &problems[1]["column"]), (&3.into(), &1.into()), "{json:#}");

    let out = fare(&["check", "--json"], &[]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let json: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!((&json["ok"], &json["services"]), (&true.into(), &9.into()), "{json:#}");
}

/// A copy of the tickets platform (`tests/platforms/tickets`): its services and workloads.
fn tickets() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let from = root().join("harness/fare/tests/platforms/tickets");
    for file in [
        "services/desk/service.toml",
        "services/notifier/service.toml",
        "scenarios/chaos/cell.yaml",
        "scenarios/chaos/load.yaml",
    ] {
        let to = dir.path().join(file);
        std::fs::create_dir_all(to.parent().unwrap()).unwrap();
        std::fs::copy(from.join(file), to).unwrap();
    }
    dir
}

#[test]
fn check_holds_the_platforms_workloads_against_its_manifests() {
    let _shared = common::shared_blocking();
    let dir = tickets();
    let services = dir.path().join("services");
    let services = services.to_str().unwrap();
    let out = fare(&["--services", services, "check"], &[]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert!(
        text(&out.stdout).contains("the fault matrix's and the load's workloads fit them"),
        "{}",
        text(&out.stdout)
    );

    let load = dir.path().join("scenarios/chaos/load.yaml");
    let good = std::fs::read_to_string(&load).unwrap();
    std::fs::write(
        &load,
        good.replace(
            "GET notifier /notifications?ticket_id={{ticket_id}}",
            "GET notifer /notifications?ticket_id={{ticket_id}}",
        ),
    )
    .unwrap();
    let cell = dir.path().join("scenarios/chaos/cell.yaml");
    let cell_text = std::fs::read_to_string(&cell).unwrap().replace("derive: ticket.opened", "derive: ticket.closed");
    std::fs::write(&cell, cell_text).unwrap();
    let out = fare(&["--services", services, "check"], &[]);
    let err = text(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(err.contains("effects[1].read.http: no service `notifer`; did you mean `notifier`?"), "{err}");
    assert!(err.contains("scenarios/chaos/load.yaml:28:"), "at the line of the read: {err}");
    assert!(
        err.contains("scenarios/chaos/cell.yaml:14:") && err.contains("no service publishes or hears `ticket.closed`"),
        "{err}"
    );
    let out = fare(&["--services", services, "check", "--json"], &[]);
    assert_eq!(out.status.code(), Some(1));
    let json: Value = serde_json::from_slice(&out.stdout).unwrap();
    common::assert_conforms(Doc::Check, &json);
    assert_eq!(json["ok"], false, "{json:#}");

    // No load workload at all: a warning, for the commands that need one.
    std::fs::remove_file(&load).unwrap();
    std::fs::write(
        &cell,
        std::fs::read_to_string(root().join("harness/fare/tests/platforms/tickets/scenarios/chaos/cell.yaml")).unwrap(),
    )
    .unwrap();
    let out = fare(&["--services", services, "check"], &[]);
    let err = text(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{err}");
    assert!(
        err.contains("warning: ") && err.contains("no workload here: `fare chaos --load` and `fare bench` need one"),
        "{err}"
    );
}

/// `command` run under a pseudo-terminal (`script`), as a person would see it.
fn on_a_terminal(command: &str, env: &[(&str, &str)]) -> String {
    let out = Command::new("script")
        .args(["-qec", command, "/dev/null"])
        .current_dir(root())
        .env_remove("NO_COLOR")
        .envs(env.iter().copied())
        .output()
        .unwrap();
    text(&out.stdout)
}

#[test]
fn colour_shows_on_a_terminal_unless_no_color_is_set() {
    let _shared = common::shared_blocking();
    let (_dir, services) = typo_services();
    let command = format!("{} --services {} check", env!("CARGO_BIN_EXE_fare"), services.display());
    let seen = on_a_terminal(&command, &[]);
    assert!(seen.contains("\x1b[31merror\x1b[0m: "), "red on a terminal: {seen:?}");
    let seen = on_a_terminal(&command, &[("NO_COLOR", "1")]);
    assert!(seen.contains("error: ") && !seen.contains('\x1b'), "NO_COLOR: {seen:?}");
}

/// `fare up` on a machine where the emulator is not installed yet and
/// cannot be (its Python is `false`): what it says, and in which order.
fn first_run(flags: &[&str]) -> (Option<i32>, Vec<String>) {
    let cache = tempfile::tempdir().unwrap();
    let ns = format!("first{}{}", std::process::id(), flags.len());
    let mut args = vec!["--namespace", &ns, "up", "--no-build"];
    args.extend(flags);
    let env = [("FARE_CACHE_DIR", cache.path().to_str().unwrap()), ("FARE_PYTHON", "false")];
    let out = fare(&args, &env);
    let _ = std::fs::remove_dir_all(fare::runtime::state_dir(&root(), &kit::bus::Namespace::parse(&ns).unwrap()));
    (out.status.code(), text(&out.stderr).lines().map(str::to_owned).collect())
}

#[test]
fn progress_comes_in_the_order_things_happen_and_quiet_keeps_only_the_error() {
    let _shared = common::shared_blocking();
    let (code, lines) = first_run(&[]);
    assert_eq!(code, Some(2), "{lines:#?}");
    let installing = lines.iter().position(|l| l.contains("creating a virtual environment for moto"));
    let starting = lines.iter().position(|l| l.contains("starting the moto emulator"));
    assert!(installing.is_some(), "{lines:#?}");
    assert_eq!(starting, None, "moto never started, so fare never says it starts: {lines:#?}");
    assert!(lines.iter().any(|l| l.starts_with("fare: ") && l.contains("false")), "the error: {lines:#?}");

    let (code, lines) = first_run(&["-q"]);
    assert_eq!(code, Some(2));
    assert_eq!(lines.iter().filter(|l| l.starts_with("fare: ")).count(), 1, "only the error: {lines:#?}");
    assert!(lines[0].contains("failed"), "{lines:#?}");
}

#[test]
fn contracts_verify_prints_json_a_script_reads() {
    let _shared = common::shared_blocking();
    let out = fare(&["contracts", "verify", "--provider", "carrier", "--json"], &[("PACT_DO_NOT_TRACK", "true")]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let json: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(json["passed"], true, "{json:#}");
    common::assert_conforms(Doc::Verify, &json);
    let pact = &json["pacts"][0];
    assert_eq!(pact["provider"], "carrier", "{json:#}");
    let interaction = &pact["interactions"][0];
    assert_eq!((&interaction["result"], &interaction["error"]), (&"passed".into(), &Value::Null), "{json:#}");
    assert!(root().join(pact["file"].as_str().unwrap()).exists());
}

#[test]
fn e2e_on_ci_writes_junit_without_a_flag_and_json_on_request() {
    let _shared = common::shared_blocking();
    let junit = root().join(fare::cli::CI_JUNIT);
    let _ = std::fs::remove_file(&junit);
    let ns = format!("ci{}", std::process::id());
    let out = fare(&["-v", "--namespace", &ns, "e2e", "order-delivered", "--json"], &[("CI", "true")]);
    let json: Value = serde_json::from_slice(&out.stdout).unwrap_or_default();
    // The chain again, from the record the run left, as `fare trace --json` prints it.
    let cid = json["scenarios"][0]["correlation_id"].as_str().unwrap_or_default().to_owned();
    let ran = format!("{ns}-e2e");
    let traced = fare(&["--namespace", &ran, "trace", &cid, "--expect", "package.delivered", "--json"], &[]);
    let _ = std::fs::remove_dir_all(fare::runtime::state_dir(&root(), &kit::bus::Namespace::parse(&ran).unwrap()));
    assert!(out.status.success(), "{}", text(&out.stderr));
    common::assert_conforms(Doc::E2e, &json);
    assert!(traced.status.success(), "{}", text(&traced.stderr));
    let trace: Value = serde_json::from_slice(&traced.stdout).unwrap();
    common::assert_conforms(Doc::Trace, &trace);
    assert_eq!(trace["diagnosis"]["hops"], serde_json::json!([]), "{trace:#}");
    assert_eq!((&json["passed"], &json["failed"]), (&1.into(), &0.into()), "{json:#}");
    let s = &json["scenarios"][0];
    assert_eq!((&s["name"], &s["result"]), (&"order-delivered".into(), &"passed".into()), "{json:#}");
    assert_eq!(json["junit"].as_str().map(PathBuf::from), Some(junit.clone()));
    // -v: every provisioning change, and each scenario as it starts even off a terminal.
    let err = text(&out.stderr);
    assert!(err.contains(&format!("fare: + topic {ns}-e2e-order-placed")), "{err}");
    assert!(err.contains("fare: e2e: order-delivered …"), "{err}");
    let xml = std::fs::read_to_string(&junit).unwrap();
    assert!(xml.contains("<testsuite") && xml.contains("order-delivered"), "{xml}");
}

#[test]
fn plan_prints_json_a_script_reads() {
    let _shared = common::shared_blocking();
    let moto = fare_emulator::start_moto().unwrap();
    let at = ["--endpoint", moto.endpoint(), "--namespace", "planjson"];
    let plan = |args: &[&str]| -> Value {
        let out = fare(&[&at[..], args].concat(), &[]);
        assert!(out.status.success(), "{}", text(&out.stderr));
        serde_json::from_slice(&out.stdout).unwrap_or_else(|e| panic!("{e}: {}", text(&out.stdout)))
    };
    let before = plan(&["plan", "--json"]);
    common::assert_conforms(Doc::Plan, &before);
    assert_eq!((&before["namespace"], &before["endpoint"]), (&"planjson".into(), &moto.endpoint().into()));
    let changes = before["changes"].as_array().unwrap();
    assert!(changes.iter().all(|c| c["op"] == "create"), "{before:#}");
    let queue = changes.iter().find(|c| c["kind"] == "queue" && c["name"] == "planjson-store").unwrap();
    assert!(queue["text"].as_str().unwrap().starts_with("+ queue planjson-store"), "{queue}");
    assert!(
        changes.iter().any(|c| c["kind"] == "subscription" && c["name"] == "planjson-order-placed -> planjson-devices")
    );
    assert!(fare(&[&at[..], &["apply"]].concat(), &[]).status.success());
    assert_eq!(plan(&["plan", "--json"])["changes"], serde_json::json!([]));
}
