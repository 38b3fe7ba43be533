//! Service manifests (`services/<name>/service.toml`): what a service
//! publishes, listens to, asks and wraps, whom it grants which endpoints
//! and which endpoints are for operators. Errors name the file, the line
//! and the key, and say what was expected. The grants and operator
//! endpoints are the kit's own types: the service enforces what it embeds
//! of the same file ([`kit::http::access`]).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use kit::EventType;
use kit::http::{Endpoint, Grant};
use serde::Deserialize;

mod run;
pub use run::{Binding, Contracts, Profile, Run};

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Manifest {
    pub name: String,
    pub description: String,
    #[serde(default)]
    pub publishes: Vec<EventType>,
    /// Published events that no service is expected to hear.
    #[serde(default)]
    pub terminal: Vec<EventType>,
    /// It hears events only to observe them (metrics, audit) and publishes
    /// nothing: no chain depends on it, so `fare chaos` leaves its hops out.
    #[serde(default)]
    pub observer: bool,
    pub queue: Option<QueueSettings>,
    #[serde(default)]
    pub listens: Vec<Listen>,
    #[serde(default)]
    pub asks: Vec<Ask>,
    #[serde(default)]
    pub wraps: Vec<Wrap>,
    /// Which services may call which of this service's endpoints.
    #[serde(default)]
    pub grants: Vec<Grant>,
    /// The endpoints only an operator may call.
    #[serde(default)]
    pub operator: Vec<Endpoint>,
    /// The service's own settings: name → what it means.
    #[serde(default)]
    pub env: BTreeMap<String, String>,
    /// How fare builds and starts it; without one, fare cannot run it.
    pub run: Option<Run>,
    /// Other ways to run it, picked by `fare --profile NAME`.
    #[serde(default)]
    pub profiles: BTreeMap<String, Profile>,
    /// Its conventions for provider verification.
    #[serde(default)]
    pub contracts: Contracts,
    #[serde(skip)]
    pub path: PathBuf,
    /// The file's text: problems found later (by the topology) locate what
    /// they name in it.
    #[serde(skip)]
    pub source: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct QueueSettings {
    #[serde(default = "default_max_receive_count")]
    pub max_receive_count: u32,
    #[serde(default = "default_visibility")]
    pub visibility_timeout_seconds: u32,
}

fn default_max_receive_count() -> u32 {
    5
}

fn default_visibility() -> u32 {
    30
}

#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Listen {
    pub event: EventType,
    /// An SNS filter policy on message attributes.
    pub filter: Option<BTreeMap<String, serde_json::Value>>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Ask {
    pub service: String,
    pub env: String,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Wrap {
    pub third_party: String,
    pub env: String,
    /// The file describing the fake fare plays it with (see
    /// `fakes::spec`), relative to the manifest.
    #[serde(default)]
    pub fake: Option<String>,
}

#[derive(Debug, thiserror::Error)]
pub enum ManifestError {
    #[error("reading {path}: {source}")]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{path}:{line}:{column}: {message}")]
    Syntax { path: PathBuf, line: usize, column: usize, message: String },
    #[error("{path}:{line}: `{key}`: {message}")]
    Invalid { path: PathBuf, line: usize, key: String, message: String },
    #[error("no manifests (services/*/service.toml) under {0}")]
    None(PathBuf),
    /// Every manifest's problem, when more than one cannot be read.
    #[error("{}", .0.iter().map(|e| e.to_string()).collect::<Vec<_>>().join("\n"))]
    Several(Vec<ManifestError>),
}

impl Manifest {
    pub fn parse(path: &Path, text: &str) -> Result<Manifest, ManifestError> {
        let syntax = |e: toml::de::Error, field: Option<String>| {
            let (line, column) = e.span().map(|s| line_col(text, s.start)).unwrap_or((1, 1));
            let message = e.message().trim();
            let suggestion = kit::suggest::for_serde_message(message);
            let message = match field {
                // The key whose value did not fit: the line alone may be a table's header.
                Some(field) if field != "." => format!("`{field}`: {message}{suggestion}"),
                _ => format!("{message}{suggestion}"),
            };
            ManifestError::Syntax { path: path.to_owned(), line, column, message }
        };
        let document = toml::Deserializer::parse(text).map_err(|e| syntax(e, None))?;
        let mut manifest: Manifest = serde_path_to_error::deserialize(document).map_err(|e| {
            let field = e.path().to_string();
            syntax(e.into_inner(), Some(field))
        })?;
        manifest.path = path.to_owned();
        manifest.source = text.to_owned();
        manifest.validate(text)?;
        Ok(manifest)
    }

    pub fn load(path: &Path) -> Result<Manifest, ManifestError> {
        let text =
            std::fs::read_to_string(path).map_err(|source| ManifestError::Read { path: path.to_owned(), source })?;
        Manifest::parse(path, &text)
    }

    fn validate(&self, text: &str) -> Result<(), ManifestError> {
        let invalid = |key: &str, message: String| ManifestError::Invalid {
            path: self.path.clone(),
            line: line_of(text, key),
            key: key.to_owned(),
            message,
        };
        let good_name = !self.name.is_empty()
            && self.name.starts_with(|c: char| c.is_ascii_lowercase())
            && self.name.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit());
        if !good_name {
            return Err(invalid(
                "name",
                format!("{:?} is not a service name; expected lower-case letters and digits", self.name),
            ));
        }
        if !self.listens.is_empty() && self.queue.is_none() {
            return Err(invalid(
                "listens",
                "a service that listens needs a [queue] table (max_receive_count, visibility_timeout_seconds)".into(),
            ));
        }
        if let Some(q) = self.queue {
            if !(1..=1000).contains(&q.max_receive_count) {
                return Err(invalid(
                    "max_receive_count",
                    format!("{} is out of range; expected 1 to 1000", q.max_receive_count),
                ));
            }
            if q.visibility_timeout_seconds > 43_200 {
                return Err(invalid(
                    "visibility_timeout_seconds",
                    format!("{} is out of range; expected 0 to 43200", q.visibility_timeout_seconds),
                ));
            }
        }
        for t in &self.terminal {
            if !self.publishes.contains(t) {
                return Err(invalid("terminal", format!("{t} is declared terminal but not in `publishes`")));
            }
        }
        let mut seen = std::collections::BTreeSet::new();
        for l in &self.listens {
            if !seen.insert(&l.event) {
                return Err(invalid("event", format!("{} is listened to twice", l.event)));
            }
        }
        let good_service = |s: &str| {
            !s.is_empty()
                && s.starts_with(|c: char| c.is_ascii_lowercase())
                && s.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit())
        };
        let mut granted = std::collections::BTreeSet::new();
        for g in &self.grants {
            if !good_service(&g.service) || g.service == self.name {
                let why = if g.service == self.name { "a service does not call itself" } else { "not a service name" };
                return Err(invalid("grants", format!("grants to {:?}: {why}", g.service)));
            }
            if !granted.insert(&g.service) {
                return Err(invalid(
                    "grants",
                    format!("{} is granted twice; list its endpoints in one grant", g.service),
                ));
            }
            if let Some(e) = g.endpoints.iter().find(|e| self.operator.contains(e)) {
                return Err(invalid(
                    "grants",
                    format!(
                        "{e} is granted to {} and listed in `operator`; an endpoint is one or the other",
                        g.service
                    ),
                ));
            }
        }
        for run in self.run.iter().chain(self.profiles.values().map(|p| &p.run)) {
            if let Some((key, message)) = run.problem() {
                return Err(invalid(key, message));
            }
        }
        for (key, env) in self.asks.iter().map(|a| ("asks", &a.env)).chain(self.wraps.iter().map(|w| ("wraps", &w.env)))
        {
            if !env.chars().all(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || c == '_') || env.is_empty() {
                return Err(invalid(
                    key,
                    format!("env {env:?} is not an environment variable name; expected UPPER_SNAKE_CASE"),
                ));
            }
        }
        Ok(())
    }
}

impl Manifest {
    /// How the service runs under `profile`: the profile's `[run]` where it
    /// has one, its own `[run]` otherwise.
    pub fn run_for(&self, profile: Option<&str>) -> Option<&Run> {
        profile.and_then(|p| self.profiles.get(p)).map(|p| &p.run).or(self.run.as_ref())
    }

    /// `file:line` of the `[run]` table `profile` picks, for errors about starting it.
    pub fn run_position(&self, profile: Option<&str>) -> String {
        let header = match profile.filter(|p| self.profiles.contains_key(*p)) {
            Some(p) => format!("[profiles.{p}.run]"),
            None => "[run]".to_owned(),
        };
        let line = self.source.lines().position(|l| l.trim() == header).map_or(1, |i| i + 1);
        format!("{}:{line}", self.path.display())
    }

    /// The endpoints this manifest grants to `service`.
    pub fn granted_to(&self, service: &str) -> impl Iterator<Item = &Endpoint> {
        self.grants.iter().filter(move |g| g.service == service).flat_map(|g| &g.endpoints)
    }

    /// The line and column of the grant to `service` (its `service = "…"`).
    pub fn grant_position(&self, service: &str) -> (usize, usize) {
        let at = self.source.find("[[grants]]").unwrap_or(0);
        let quoted = format!("\"{service}\"");
        self.source[at..]
            .find(&quoted)
            .map(|i| line_col(&self.source, at + i + 1))
            .unwrap_or_else(|| self.position_of(service))
    }

    /// The 1-based line and column of the first string whose value is
    /// `value` (`"value"` or `'value'`); (1, 1) when it is not found.
    pub fn position_of(&self, value: &str) -> (usize, usize) {
        [format!("\"{value}\""), format!("'{value}'")]
            .iter()
            .filter_map(|quoted| self.source.find(quoted.as_str()))
            .min()
            .map(|at| line_col(&self.source, at + 1))
            .unwrap_or((1, 1))
    }
}

/// Every `*/service.toml` one level under `services_dir`, sorted by name.
pub fn load_all(services_dir: &Path) -> Result<Vec<Manifest>, ManifestError> {
    let entries = std::fs::read_dir(services_dir)
        .map_err(|source| ManifestError::Read { path: services_dir.to_owned(), source })?;
    let mut paths: Vec<PathBuf> =
        entries.filter_map(|e| e.ok()).map(|e| e.path().join("service.toml")).filter(|p| p.is_file()).collect();
    paths.sort();
    if paths.is_empty() {
        return Err(ManifestError::None(services_dir.to_owned()));
    }
    // Every file's problem at once, not only the first file's.
    let (loaded, mut errors): (Vec<_>, Vec<_>) = paths.iter().map(|p| Manifest::load(p)).partition(Result::is_ok);
    match errors.len() {
        0 => Ok(loaded.into_iter().flatten().collect()),
        1 => Err(errors.remove(0).unwrap_err()),
        _ => Err(ManifestError::Several(errors.into_iter().filter_map(Result::err).collect())),
    }
}

pub(crate) fn line_col(text: &str, offset: usize) -> (usize, usize) {
    let before = &text[..offset.min(text.len())];
    let line = before.matches('\n').count() + 1;
    let column = before.len() - before.rfind('\n').map(|i| i + 1).unwrap_or(0) + 1;
    (line, column)
}

/// The first line that sets `key`, for errors found after parsing.
fn line_of(text: &str, key: &str) -> usize {
    text.lines()
        .position(|l| {
            let l = l.trim_start();
            l.starts_with(key) || l.starts_with(&format!("[{key}")) || l.starts_with(&format!("[[{key}"))
        })
        .map(|i| i + 1)
        .unwrap_or(1)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn err(text: &str) -> String {
        Manifest::parse(Path::new("services/x/service.toml"), text).unwrap_err().to_string()
    }

    #[test]
    fn a_good_manifest_parses() {
        let m = Manifest::parse(
            Path::new("s.toml"),
            "name = \"store\"\ndescription = \"d\"\npublishes = [\"order.placed\"]\n[queue]\nmax_receive_count = 4\n\
             [[listens]]\nevent = \"device.allocated\"\nfilter = { event_type = [\"device.allocated\"] }\n\
             [[asks]]\nservice = \"users\"\nenv = \"USERS_URL\"\n",
        )
        .unwrap();
        assert_eq!(m.queue.unwrap().max_receive_count, 4);
        assert_eq!(m.queue.unwrap().visibility_timeout_seconds, 30);
        assert_eq!(m.listens[0].filter.as_ref().unwrap()["event_type"], serde_json::json!(["device.allocated"]));
    }

    #[test]
    fn grants_and_operator_endpoints_parse_and_errors_locate_them() {
        let m = Manifest::parse(
            Path::new("s.toml"),
            "name = \"users\"\ndescription = \"d\"\noperator = [\"POST /devices\"]\n\
             [[grants]]\nservice = \"mailer\"\nendpoints = [\"GET /users/{user_id}/contact\"]\n",
        )
        .unwrap();
        assert_eq!(m.granted_to("mailer").map(|e| e.to_string()).collect::<Vec<_>>(), ["GET /users/{user_id}/contact"]);
        assert_eq!(m.grant_position("mailer"), (5, 12));
        assert_eq!(m.operator[0].to_string(), "POST /devices");
        let e =
            err("name = \"users\"\ndescription = \"d\"\n[[grants]]\nservice = \"store\"\nendpoints = [\"FETCH /x\"]\n");
        assert!(e.starts_with("services/x/service.toml:5:"), "{e}");
        assert!(e.contains("`grants[0].endpoints[0]`") && e.contains("\"FETCH /x\" is not an endpoint"), "{e}");
        let e = err("name = \"users\"\ndescription = \"d\"\n[[grants]]\nservice = \"store\"\nendpoint = []\n");
        assert!(e.contains("unknown field `endpoint`"), "{e}");
        let twice = "name = \"users\"\ndescription = \"d\"\n[[grants]]\nservice = \"store\"\nendpoints = []\n\
                     [[grants]]\nservice = \"store\"\nendpoints = []\n";
        assert_eq!(
            err(twice),
            "services/x/service.toml:3: `grants`: store is granted twice; list its endpoints in one grant"
        );
        let both = "name = \"users\"\ndescription = \"d\"\noperator = [\"GET /x\"]\n[[grants]]\nservice = \"a\"\nendpoints = [\"GET /x\"]\n";
        assert!(
            err(both).ends_with("GET /x is granted to a and listed in `operator`; an endpoint is one or the other")
        );
    }

    #[test]
    fn every_manifest_that_cannot_be_read_is_named_at_once() {
        let dir = tempfile::tempdir().unwrap();
        for (name, body) in [("a", "name = \"a\"\n"), ("b", "name = \"b\"\ndescription = \"d\"\n"), ("c", "nam = 1\n")]
        {
            std::fs::create_dir_all(dir.path().join(name)).unwrap();
            std::fs::write(dir.path().join(name).join("service.toml"), body).unwrap();
        }
        let e = load_all(dir.path()).unwrap_err();
        let ManifestError::Several(all) = &e else { panic!("{e}") };
        assert_eq!(all.len(), 2, "{e}");
        assert!(e.to_string().contains("a/service.toml") && e.to_string().contains("c/service.toml"), "{e}");
    }

    #[test]
    fn errors_name_file_line_and_key() {
        let e = err("name = \"store\"\ndescription = \"d\"\npublishes = [\"Order\"]\n");
        assert!(e.starts_with("services/x/service.toml:3:"), "{e}");
        assert!(e.contains("not an event type"), "{e}");
        let e = err("name = \"store\"\ndescription = \"d\"\nlistenz = []\n");
        assert!(e.starts_with("services/x/service.toml:3:") && e.contains("unknown field `listenz`"), "{e}");
        assert!(e.ends_with("; did you mean `listens`?"), "{e}");
        let e = err("name = \"store\"\ndescription = \"d\"\n\n[[listens]]\nevent = \"a.b\"\n");
        assert_eq!(
            e,
            "services/x/service.toml:4: `listens`: a service that listens needs a [queue] table (max_receive_count, visibility_timeout_seconds)"
        );
        let e = err("name = \"store\"\ndescription = \"d\"\n[queue]\nmax_receive_count = 0\n");
        assert!(e.starts_with("services/x/service.toml:4: `max_receive_count`"), "{e}");
        let e = err("name = \"store\"\n");
        assert!(e.contains("missing field `description`"), "{e}");
    }
}
