//! Layered configuration: a service's defaults, then an optional TOML file
//! (`FARE_CONFIG_FILE`), then the process environment. Every value remembers
//! where it came from, so an error can say which layer to fix.
//!
//! Keys are the environment variable names (`DATABASE_PATH`, `USERS_URL`):
//! one name per setting, whichever layer sets it. The names the kit reads
//! for every service are [`COMMON`]; a service's own are declared in its
//! manifest's `[env]` table. A runtime that does not hand a service its whole
//! environment (fare's container mode) passes on those two.

use std::collections::BTreeMap;
use std::fmt;
use std::path::PathBuf;
use std::str::FromStr;

/// Where a configuration value was set.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Source {
    Default,
    File(PathBuf),
    Env,
    /// Set in code, as tests do.
    Override,
}

impl fmt::Display for Source {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Source::Default => write!(f, "the service's defaults"),
            Source::File(path) => write!(f, "{}", path.display()),
            Source::Env => write!(f, "the environment"),
            Source::Override => write!(f, "an override"),
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("{key} is not set; expected {expected}")]
    Missing { key: String, expected: &'static str },
    #[error("{key}={value:?} (from {source_}) is not valid; expected {expected}")]
    Invalid { key: String, value: String, source_: Source, expected: &'static str },
    #[error("reading the configuration file {path}: {source}")]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{path}: {message}")]
    File { path: PathBuf, message: String },
}

/// What a process started by fare is handed for one run, never a setting:
/// [`Config::load`] skips them, and `fare up` strips them from the
/// environment it passes down, so an exported one reaches no service.
/// (`FARE_PROVIDER_STATES` is read by [`crate::Switches::from_env`] alone,
/// in a debug build, and only fare sets it, for one verification run.)
pub const HARNESS_ONLY: &[&str] = &["FARE_PROVIDER_STATES", "FARE_LISTEN_FD", "FARE_FAULT_FD", "FARE_FAULT_SOCKET"];

/// What the kit reads from the environment for every service, whichever it
/// is: its settings ([`crate::app::Settings`], [`crate::bus::Bus::connect`]),
/// its logs and traces ([`crate::telemetry`]: `RUST_LOG` and the
/// OpenTelemetry SDK's `OTEL_*`) and the Rust runtime's backtraces. A
/// trailing `*` stands for any rest of the name ([`is_common`]). A service's
/// own settings are those its manifest declares in `[env]`. Not listed:
/// `FARE_CONFIG_FILE`, a path on one machine, which another (a container)
/// may not have.
pub const COMMON: &[&str] = &[
    "HOST",
    "PORT",
    "DATABASE_PATH",
    "FARE_NAMESPACE",
    "FARE_MAX_IN_FLIGHT",
    "FARE_POLL_WAIT_SECONDS",
    "FARE_RETRY_BASE_SECONDS",
    "FARE_RETRY_MAX_SECONDS",
    "AWS_ENDPOINT_URL",
    "AWS_REGION",
    "AWS_ACCESS_KEY_ID",
    "AWS_SECRET_ACCESS_KEY",
    "RUST_LOG",
    "RUST_BACKTRACE",
    "RUST_LIB_BACKTRACE",
    "OTEL_*",
];

/// Whether the kit reads `name` for every service ([`COMMON`]); never a
/// [`HARNESS_ONLY`] one.
pub fn is_common(name: &str) -> bool {
    !HARNESS_ONLY.contains(&name)
        && COMMON.iter().any(|known| match known.strip_suffix('*') {
            Some(prefix) => name.starts_with(prefix),
            None => name == *known,
        })
}

#[derive(Debug, Clone)]
pub struct Config {
    service: String,
    values: BTreeMap<String, (String, Source)>,
}

impl Config {
    /// Defaults only: what tests start from before their overrides.
    pub fn defaults(service: &str, defaults: &[(&str, &str)]) -> Config {
        let values = defaults.iter().map(|(k, v)| ((*k).to_owned(), ((*v).to_owned(), Source::Default))).collect();
        Config { service: service.to_owned(), values }
    }

    /// Defaults, then `FARE_CONFIG_FILE` if set, then the environment.
    pub fn load(service: &str, defaults: &[(&str, &str)]) -> Result<Config, ConfigError> {
        let mut config = Config::defaults(service, defaults);
        if let Some(path) = std::env::var_os("FARE_CONFIG_FILE") {
            config.merge_file(PathBuf::from(path))?;
        }
        for (key, value) in std::env::vars().filter(|(k, _)| !HARNESS_ONLY.contains(&k.as_str())) {
            config.values.insert(key, (value, Source::Env));
        }
        Ok(config)
    }

    fn merge_file(&mut self, path: PathBuf) -> Result<(), ConfigError> {
        let text = std::fs::read_to_string(&path).map_err(|source| ConfigError::Read { path: path.clone(), source })?;
        let table: toml::Table = text
            .parse()
            .map_err(|e: toml::de::Error| ConfigError::File { path: path.clone(), message: e.to_string() })?;
        for (key, value) in table {
            let value = match value {
                toml::Value::String(s) => s,
                toml::Value::Integer(i) => i.to_string(),
                toml::Value::Float(f) => f.to_string(),
                toml::Value::Boolean(b) => b.to_string(),
                other => {
                    return Err(ConfigError::File {
                        path,
                        message: format!("key `{key}` is a {}; expected a string, number or boolean", other.type_str()),
                    });
                }
            };
            self.values.insert(key, (value, Source::File(path.clone())));
        }
        Ok(())
    }

    /// Sets a value in code (tests, the harness).
    pub fn with(mut self, key: &str, value: impl Into<String>) -> Config {
        self.values.insert(key.to_owned(), (value.into(), Source::Override));
        self
    }

    pub fn service(&self) -> &str {
        &self.service
    }

    pub fn get(&self, key: &str) -> Option<&str> {
        self.values.get(key).map(|(v, _)| v.as_str()).filter(|v| !v.is_empty())
    }

    pub fn require(&self, key: &str, expected: &'static str) -> Result<&str, ConfigError> {
        self.get(key).ok_or_else(|| ConfigError::Missing { key: key.to_owned(), expected })
    }

    /// Parses a value that must be set.
    pub fn parse<T: FromStr>(&self, key: &str, expected: &'static str) -> Result<T, ConfigError> {
        self.require(key, expected)?;
        Ok(self.parse_opt(key, expected)?.expect("checked above"))
    }

    /// Parses a value that may be unset.
    pub fn parse_opt<T: FromStr>(&self, key: &str, expected: &'static str) -> Result<Option<T>, ConfigError> {
        let Some((value, source)) = self.values.get(key).filter(|(v, _)| !v.is_empty()) else {
            return Ok(None);
        };
        value.parse().map(Some).map_err(|_| ConfigError::Invalid {
            key: key.to_owned(),
            value: value.clone(),
            source_: source.clone(),
            expected,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn later_layers_win_and_errors_name_key_value_and_layer() {
        let config = Config::defaults("svc", &[("PORT", "8080"), ("NAME", "a")]).with("PORT", "eighty");
        assert_eq!(config.get("NAME"), Some("a"));
        let err = config.parse::<u16>("PORT", "a port number").unwrap_err().to_string();
        assert_eq!(err, "PORT=\"eighty\" (from an override) is not valid; expected a port number");
        let err = config.require("USERS_URL", "the users service's base URL").unwrap_err().to_string();
        assert_eq!(err, "USERS_URL is not set; expected the users service's base URL");
    }

    #[test]
    fn file_layer_reports_the_file_on_bad_types() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("svc.toml");
        std::fs::write(&path, "PORT = 9000\nLIST = [1]\n").unwrap();
        let mut config = Config::defaults("svc", &[]);
        let err = config.merge_file(path.clone()).unwrap_err().to_string();
        assert!(err.starts_with(&path.display().to_string()), "{err}");
        assert!(err.contains("key `LIST` is a array"), "{err}");
        std::fs::write(&path, "PORT = 9000\n").unwrap();
        config.merge_file(path).unwrap();
        assert_eq!(config.parse::<u16>("PORT", "a port").unwrap(), 9000);
    }

    #[test]
    fn common_names_are_exact_or_by_prefix() {
        assert!(is_common("RUST_LOG") && is_common("OTEL_BSP_SCHEDULE_DELAY") && is_common("AWS_REGION"));
        assert!(!is_common("RUST_LOGS") && !is_common("PATH") && !is_common("FARE_CONFIG_FILE"));
        assert!(HARNESS_ONLY.iter().all(|switch| !is_common(switch)));
    }
}
