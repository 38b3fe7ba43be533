//! How a service runs: its manifest's `[run]` table (and the `[run]` of a
//! profile, `[profiles.NAME.run]`, that `fare --profile NAME` picks instead).
//! fare knows nothing of a service's language: it runs the `build` command
//! once, then the `command` through `sh -c` in `dir`, hands it its settings
//! by one convention (`docs/services.md`) and waits until `ready` answers.

use std::path::{Path, PathBuf};

use serde::Deserialize;

/// `[run]`: how fare builds and starts a service in process mode.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Run {
    /// A shell command (`sh -c`) that runs the service in the foreground:
    /// `exec python3 -m loyalty`, `bundle exec ruby app.rb`, `go run .`.
    pub command: String,
    /// Where `build` and `command` run, relative to the manifest's folder.
    #[serde(default)]
    pub dir: Option<PathBuf>,
    /// Run once before the platform starts (`bundle install`, `go build`,
    /// `cargo build`); services that declare the same command in the same
    /// folder share one run of it.
    #[serde(default)]
    pub build: Option<String>,
    /// The path that answers 2xx once the service can do its work.
    #[serde(default = "default_ready")]
    pub ready: String,
    /// How the service gets its socket: `port` (it binds `HOST`:`PORT`) or
    /// `fd` (it takes the socket fare bound, `FARE_LISTEN_FD`).
    #[serde(default)]
    pub listen: Binding,
    /// Whether it speaks fare's fault hook (`FARE_FAULT_FD`): the handler
    /// faults of scenarios and `fare chaos` need it.
    #[serde(default)]
    pub fault_hook: bool,
    /// How long it may take to become ready, in seconds.
    #[serde(default)]
    pub ready_timeout_seconds: Option<u64>,
}

/// How a service's listening socket reaches it.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Binding {
    /// It binds `HOST`:`PORT` itself, as every web framework can.
    #[default]
    Port,
    /// It takes the socket fare bound for it (`FARE_LISTEN_FD`), so nothing
    /// else can take the port between fare choosing it and the service
    /// binding it.
    Fd,
}

/// `[profiles.NAME]`: what a profile changes of a service.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Profile {
    pub run: Run,
}

/// `[contracts]`: the conventions a service follows for provider verification.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Contracts {
    /// The provider-state change URL's path (`POST {state, params, action}`),
    /// served when `FARE_PROVIDER_STATES=on` is handed to it.
    pub states: Option<String>,
    /// The path of its message transport (`POST {description,
    /// providerStates}` answered with the message and its metadata in
    /// `Pact-Message-Metadata`, as Pact's `message` transport is), served
    /// under the same switch. Without it, its messages are verified over
    /// the real queue (`fare contracts verify --via-queue`).
    pub messages: Option<String>,
}

fn default_ready() -> String {
    "/ready".to_owned()
}

impl Run {
    /// The folder `build` and `command` run in, for a manifest at `manifest`.
    pub fn dir_for(&self, manifest: &Path) -> PathBuf {
        let folder = manifest.parent().unwrap_or(Path::new("."));
        match &self.dir {
            Some(dir) => folder.join(dir),
            None => folder.to_owned(),
        }
    }

    /// What is wrong with it, as (key, message); `None` when nothing is.
    pub(super) fn problem(&self) -> Option<(&'static str, String)> {
        if self.command.trim().is_empty() {
            return Some(("command", "is empty; expected the shell command that runs the service".into()));
        }
        if self.build.as_deref().is_some_and(|b| b.trim().is_empty()) {
            return Some(("build", "is empty; leave it out when the service needs no build".into()));
        }
        if !self.ready.starts_with('/') {
            return Some(("ready", format!("{:?} is not a path; expected one such as \"/ready\"", self.ready)));
        }
        if self.ready_timeout_seconds == Some(0) {
            return Some(("ready_timeout_seconds", "is 0; expected a number of seconds above 0".into()));
        }
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::manifest::Manifest;

    fn parse(text: &str) -> Result<Manifest, crate::ManifestError> {
        Manifest::parse(Path::new("services/x/service.toml"), text)
    }

    #[test]
    fn a_run_table_parses_with_its_defaults_and_a_profile_replaces_it() {
        let m = parse(
            "name = \"x\"\ndescription = \"d\"\n[run]\ncommand = \"exec python3 -m x\"\n\
             [profiles.go.run]\ncommand = \"go run .\"\ndir = \"go\"\nbuild = \"go build\"\nlisten = \"port\"\n",
        )
        .unwrap();
        let run = m.run_for(None).unwrap();
        assert_eq!((run.ready.as_str(), run.listen, run.fault_hook), ("/ready", Binding::Port, false));
        assert_eq!(run.dir_for(&m.path), Path::new("services/x"));
        let go = m.run_for(Some("go")).unwrap();
        assert_eq!(go.command, "go run .");
        assert_eq!(go.dir_for(&m.path), Path::new("services/x/go"));
        assert_eq!(m.run_for(Some("ruby")).unwrap().command, "exec python3 -m x", "an absent profile keeps [run]");
    }

    #[test]
    fn a_bad_run_table_is_located() {
        let e = parse("name = \"x\"\ndescription = \"d\"\n\n[run]\ncommand = \" \"\n").unwrap_err().to_string();
        assert_eq!(
            e,
            "services/x/service.toml:5: `command`: is empty; expected the shell command that runs the service"
        );
        let e = parse("name = \"x\"\ndescription = \"d\"\n[run]\ncommand = \"a\"\nready = \"ready\"\n")
            .unwrap_err()
            .to_string();
        assert!(e.starts_with("services/x/service.toml:5: `ready`: \"ready\" is not a path"), "{e}");
        let e = parse("name = \"x\"\ndescription = \"d\"\n[run]\ncommand = \"a\"\nlisten = \"socket\"\n")
            .unwrap_err()
            .to_string();
        assert!(
            e.starts_with("services/x/service.toml:5:10: `run.listen`") && e.contains("expected `port` or `fd`"),
            "{e}"
        );
        let e = parse("name = \"x\"\ndescription = \"d\"\n[run]\ncommandd = \"a\"\n").unwrap_err().to_string();
        assert!(e.contains("did you mean `command`?"), "{e}");
        let e =
            parse("name = \"x\"\ndescription = \"d\"\n[profiles.py.run]\ncommand = \"\"\n").unwrap_err().to_string();
        assert!(e.starts_with("services/x/service.toml:4: `command`"), "{e}");
    }
}
