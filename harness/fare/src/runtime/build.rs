//! What comes before a service starts: its manifest's `[run]` resolved into
//! a [`Start`], and its `build` command run. fare runs what the manifest
//! says and knows nothing of the language: `cargo build`, `bundle install`
//! and `go build` are all one shell command run in a folder.

use std::collections::BTreeMap;
use std::path::PathBuf;

use super::process::Start;
use crate::manifest::Manifest;

#[derive(Debug, thiserror::Error)]
pub enum BuildError {
    #[error(
        "{service} cannot be started: {manifest} has no [run] table (add `[run]` with `command = \"…\"`, the shell command that runs it; `fare init --help` writes one)"
    )]
    NoRun { service: String, manifest: PathBuf },
    #[error("{dir} does not exist: it is the `dir` of {declared_at} ({service})")]
    NoDir { service: String, dir: PathBuf, declared_at: String },
    #[error("building {services} failed ({status}): `{command}` in {dir} ({declared_at}); its output is above")]
    Failed { services: String, command: String, dir: PathBuf, declared_at: String, status: std::process::ExitStatus },
    #[error("building {services}: running `{command}` in {dir} ({declared_at}): {source}")]
    Spawn {
        services: String,
        command: String,
        dir: PathBuf,
        declared_at: String,
        #[source]
        source: std::io::Error,
    },
}

/// How `m` starts under `profile`.
pub fn start_of(m: &Manifest, profile: Option<&str>) -> Result<Start, BuildError> {
    let run =
        m.run_for(profile).ok_or_else(|| BuildError::NoRun { service: m.name.clone(), manifest: m.path.clone() })?;
    let declared_at = m.run_position(profile);
    let dir = run.dir_for(&m.path);
    // Canonical, so that `services/a/../..` and `services/b/../..` are one folder.
    let Some(dir) = std::fs::canonicalize(&dir).ok().filter(|d| d.is_dir()) else {
        return Err(BuildError::NoDir { service: m.name.clone(), dir, declared_at });
    };
    Ok(Start {
        command: run.command.clone(),
        dir,
        listen: run.listen,
        fault_hook: run.fault_hook,
        ready: run.ready.clone(),
        ready_timeout: run.ready_timeout_seconds.map(std::time::Duration::from_secs),
        declared_at,
        provider_states: false,
    })
}

/// Runs the `build` command of every one of `services` under `profile`,
/// each distinct (folder, command) once, in the order given; stops at the
/// first that fails.
pub fn build_services<'a>(
    services: impl IntoIterator<Item = &'a Manifest>,
    profile: Option<&str>,
    progress: &mut dyn FnMut(&str),
) -> Result<(), BuildError> {
    // (folder, command) -> (the services it builds, where the first declares it)
    let mut builds: BTreeMap<(PathBuf, String), (Vec<String>, String)> = BTreeMap::new();
    let mut order = Vec::new();
    for m in services {
        let start = start_of(m, profile)?;
        let Some(command) = m.run_for(profile).and_then(|r| r.build.clone()) else { continue };
        let key = (start.dir.clone(), command);
        let entry = builds.entry(key.clone()).or_insert_with(|| {
            order.push(key);
            (Vec::new(), start.declared_at.clone())
        });
        entry.0.push(m.name.clone());
    }
    for key in order {
        let (services, declared_at) = &builds[&key];
        let (dir, command) = key;
        let services = services.join(", ");
        progress(&format!("building {services}: {command}"));
        let status = build_command(&command, &dir).status().map_err(|source| BuildError::Spawn {
            services: services.clone(),
            command: command.clone(),
            dir: dir.clone(),
            declared_at: declared_at.clone(),
            source,
        })?;
        if !status.success() {
            return Err(BuildError::Failed { services, command, dir, declared_at: declared_at.clone(), status });
        }
    }
    Ok(())
}

/// `sh -c command` in `dir`, its output on fare's standard error.
fn build_command(command: &str, dir: &std::path::Path) -> std::process::Command {
    let mut cmd = std::process::Command::new("sh");
    cmd.arg("-c").arg(command).current_dir(dir).stdout(std::process::Stdio::inherit());
    // Under `cargo run` or `cargo test`, fare's environment describes fare's
    // own package; a cargo build that sees these (ring's build script
    // watches CARGO_MANIFEST_DIR) would rebuild, and every build after it again.
    for (key, _) in std::env::vars_os() {
        let key = key.to_string_lossy().into_owned();
        let per_package = ["CARGO_MANIFEST_", "CARGO_PKG_", "CARGO_CRATE_", "CARGO_BIN_", "CARGO_PRIMARY_PACKAGE"];
        if per_package.iter().any(|p| key.starts_with(p)) {
            cmd.env_remove(key);
        }
    }
    cmd
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::topology::Topology;

    fn topology(dir: &std::path::Path, manifests: &[(&str, &str)]) -> Topology {
        for (name, text) in manifests {
            std::fs::create_dir_all(dir.join(name)).unwrap();
            std::fs::write(dir.join(name).join("service.toml"), text).unwrap();
        }
        crate::load_topology(dir).unwrap().0
    }

    #[test]
    fn one_build_command_in_one_folder_runs_once_and_a_failed_one_is_located() {
        let dir = tempfile::tempdir().unwrap();
        let shared = "[run]\ncommand = \"true\"\ndir = \"..\"\nbuild = \"echo built >> builds.txt\"\n";
        let t = topology(
            dir.path(),
            &[
                ("a", &format!("name = \"a\"\ndescription = \"d\"\n{shared}")),
                ("b", &format!("name = \"b\"\ndescription = \"d\"\n{shared}")),
            ],
        );
        let mut said = Vec::new();
        build_services(t.services(), None, &mut |l| said.push(l.to_owned())).unwrap();
        assert_eq!(std::fs::read_to_string(dir.path().join("builds.txt")).unwrap(), "built\n");
        assert_eq!(said, ["building a, b: echo built >> builds.txt"]);
        let t = topology(
            dir.path(),
            &[("a", "name = \"a\"\ndescription = \"d\"\n\n[run]\ncommand = \"true\"\nbuild = \"exit 3\"\n")],
        );
        let e = build_services(t.services(), None, &mut |_| {}).unwrap_err().to_string();
        assert!(e.starts_with("building a failed (exit status: 3): `exit 3` in "), "{e}");
        assert!(e.contains("a/service.toml:4)"), "{e}");
    }

    #[test]
    fn a_service_without_run_or_with_a_missing_dir_is_named_with_its_manifest() {
        let dir = tempfile::tempdir().unwrap();
        let t = topology(dir.path(), &[("a", "name = \"a\"\ndescription = \"d\"\n")]);
        let e = build_services(t.services(), None, &mut |_| {}).unwrap_err().to_string();
        assert!(e.starts_with("a cannot be started: ") && e.contains("a/service.toml has no [run] table"), "{e}");
        let t = topology(
            dir.path(),
            &[("a", "name = \"a\"\ndescription = \"d\"\n[run]\ncommand = \"x\"\ndir = \"nope\"\n")],
        );
        let e = build_services(t.services(), None, &mut |_| {}).unwrap_err().to_string();
        assert!(e.contains("a/nope does not exist: it is the `dir` of ") && e.contains("a/service.toml:3 (a)"), "{e}");
    }
}
