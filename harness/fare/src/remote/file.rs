//! The target file: an environment fare did not start, as `fare e2e
//! --target FILE` reads it (TOML, or YAML for a `.yaml`/`.yml` file; the
//! format is in docs/remote.md). It says where the services answer, where
//! their SNS/SQS is and under which namespace, and how fare observes them.
//!
//! Secrets are never in it: it names the environment variable or the file
//! that holds the operator token, and AWS credentials come from the SDK's
//! own chain (`AWS_PROFILE`, `AWS_ACCESS_KEY_ID`, a CI job's role).

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use kit::bus::{Bus, BusError, Namespace};
use serde::Deserialize;

use crate::runtime::QuietOptions;
use crate::scenario::load::position;

/// The variable the operator token is read from when the file names none.
pub const OPERATOR_TOKEN_VAR: &str = "FARE_OPERATOR_TOKEN";

#[derive(Debug, thiserror::Error)]
pub enum TargetFileError {
    #[error("reading the target file {path}")]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// The file does not parse, or a field has the wrong type.
    #[error("{path}:{}: {message}", position(*.line, *.column))]
    Syntax { path: PathBuf, line: Option<usize>, column: Option<usize>, message: String },
    /// A value parses but cannot be used.
    #[error("{path}:{}: `{field}`: {message}", position(*.line, None))]
    Invalid { path: PathBuf, line: Option<usize>, field: String, message: String },
}

/// The file as written; [`TargetFile::parse`] checks every value.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Raw {
    name: Option<String>,
    namespace: String,
    endpoint: String,
    region: Option<String>,
    services: BTreeMap<String, String>,
    #[serde(default)]
    observe: RawObserve,
    #[serde(default)]
    credentials: RawCredentials,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawObserve {
    otlp: Option<String>,
    quiet_timeout_seconds: Option<u64>,
    stuck_after_seconds: Option<u64>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawCredentials {
    operator_token_env: Option<String>,
    operator_token_file: Option<PathBuf>,
}

/// Where the environment's SNS and SQS answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Endpoint {
    /// Real AWS (`endpoint = "aws"`), in the file's region.
    Aws,
    /// An emulator or any SNS/SQS-compatible endpoint.
    Url(String),
}

/// A value that is never printed: `Debug` shows none of it.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Secret(<redacted>)")
    }
}

/// An environment fare did not start, every value checked.
#[derive(Debug, Clone)]
pub struct TargetFile {
    pub path: PathBuf,
    /// What reports call it: `name`, else the file's name without extension.
    pub name: String,
    pub namespace: Namespace,
    pub endpoint: Endpoint,
    /// `None`: `AWS_REGION`, else `us-east-1`.
    pub region: Option<String>,
    /// Service name → base URL, without a trailing `/`.
    pub services: BTreeMap<String, String>,
    /// Where fare receives the services' OTLP/HTTP spans; `None`: it
    /// receives none, and its diagnosis says so.
    pub otlp: Option<SocketAddr>,
    pub quiet: QuietOptions,
    /// The operator token, for the operator endpoints fare reads.
    pub operator: Option<Secret>,
}

impl TargetFile {
    /// Reads and checks the file at `path`; `known` are the manifests'
    /// services, the only names `[services]` may use.
    pub fn load(path: &Path, known: &[&str]) -> Result<TargetFile, TargetFileError> {
        let text =
            std::fs::read_to_string(path).map_err(|source| TargetFileError::Read { path: path.to_owned(), source })?;
        TargetFile::parse(path, &text, known, &|k| std::env::var(k).ok())
    }

    /// Parses `text` as the file at `path` (TOML, or YAML by extension);
    /// `var` reads the environment.
    pub fn parse(
        path: &Path,
        text: &str,
        known: &[&str],
        var: &dyn Fn(&str) -> Option<String>,
    ) -> Result<TargetFile, TargetFileError> {
        let raw = parse_raw(path, text)?;
        let invalid = |field: &str, needle: &str, message: String| TargetFileError::Invalid {
            path: path.to_owned(),
            line: crate::scenario::load::position_of(text, needle).map(|(line, _)| line),
            field: field.to_owned(),
            message,
        };
        let namespace =
            Namespace::parse(&raw.namespace).map_err(|e| invalid("namespace", &raw.namespace, e.to_string()))?;
        let endpoint = match raw.endpoint.as_str() {
            crate::AWS => Endpoint::Aws,
            url if is_http_url(url) => Endpoint::Url(url.trim_end_matches('/').to_owned()),
            other => {
                let message = format!("`{other}` is neither `aws` (real AWS) nor an http(s) URL of SNS/SQS");
                return Err(invalid("endpoint", other, message));
            }
        };
        if raw.services.is_empty() {
            return Err(invalid("services", "services", "names no service: give each one's base URL".into()));
        }
        let mut services = BTreeMap::new();
        for (name, url) in raw.services {
            if !known.contains(&name.as_str()) {
                let hint = kit::suggest::did_you_mean(&name, known.iter().copied());
                let message = format!("no service `{name}` in the manifests{hint} (services: {})", known.join(", "));
                return Err(invalid(&format!("services.{name}"), &name, message));
            }
            if !is_http_url(&url) {
                let message = format!("`{url}` is not an http(s) base URL");
                return Err(invalid(&format!("services.{name}"), &name, message));
            }
            services.insert(name, url.trim_end_matches('/').to_owned());
        }
        let otlp = match &raw.observe.otlp {
            Some(addr) => Some(addr.parse::<SocketAddr>().map_err(|_| {
                let message = format!("`{addr}` is not IP:PORT, such as `0.0.0.0:4318`");
                invalid("observe.otlp", addr, message)
            })?),
            None => None,
        };
        let defaults = QuietOptions { timeout: Duration::from_secs(120), ..QuietOptions::default() };
        let quiet = QuietOptions {
            timeout: raw.observe.quiet_timeout_seconds.map_or(defaults.timeout, Duration::from_secs),
            stuck_after: raw.observe.stuck_after_seconds.map_or(defaults.stuck_after, Duration::from_secs),
            ..defaults
        };
        let operator = operator_token(path, &raw.credentials, var)
            .map_err(|(field, needle, message)| invalid(field, &needle, message))?;
        let name = raw.name.unwrap_or_else(|| {
            path.file_stem().map(|s| s.to_string_lossy().into_owned()).unwrap_or_else(|| "target".into())
        });
        Ok(TargetFile {
            path: path.to_owned(),
            name,
            namespace,
            endpoint,
            region: raw.region,
            services,
            otlp,
            quiet,
            operator,
        })
    }

    /// The environment's SNS and SQS, in its namespace and region.
    pub async fn connect(&self) -> Result<Bus, BusError> {
        let endpoint = match &self.endpoint {
            Endpoint::Aws => None,
            Endpoint::Url(url) => Some(url.clone()),
        };
        crate::connect_in(&endpoint, self.region.as_deref(), &self.namespace).await
    }

    /// `namespace X at ENDPOINT`, as progress lines say where the run goes.
    pub fn whereabouts(&self) -> String {
        let at = match &self.endpoint {
            Endpoint::Aws => format!("AWS ({})", self.region.as_deref().unwrap_or("AWS_REGION or us-east-1")),
            Endpoint::Url(url) => url.clone(),
        };
        format!("namespace {} at {at}", self.namespace)
    }
}

fn parse_raw(path: &Path, text: &str) -> Result<Raw, TargetFileError> {
    let yaml = path.extension().is_some_and(|e| e == "yaml" || e == "yml");
    let syntax = |field: String, line, column, message: String| {
        let suggestion = kit::suggest::for_serde_message(&message);
        let message = match field.as_str() {
            "" | "." => format!("{message}{suggestion}"),
            field => format!("`{field}`: {message}{suggestion}"),
        };
        TargetFileError::Syntax { path: path.to_owned(), line, column, message }
    };
    if yaml {
        serde_path_to_error::deserialize(serde_norway::Deserializer::from_str(text)).map_err(|e| {
            let field = e.path().to_string();
            let inner = e.into_inner();
            let (line, column) = (inner.location().map(|l| l.line()), inner.location().map(|l| l.column()));
            let mut message = inner.to_string();
            if let Some(rest) = message.strip_prefix(&format!("{field}: ")) {
                message = rest.to_owned();
            }
            if let Some(at) = message.rfind(" at line ") {
                message.truncate(at);
            }
            syntax(field, line, column, message)
        })
    } else {
        let at = |e: &toml::de::Error| e.span().map(|s| crate::manifest::line_col(text, s.start)).unzip();
        let document = toml::Deserializer::parse(text).map_err(|e| {
            let (line, column) = at(&e);
            syntax(String::new(), line, column, e.message().trim().to_owned())
        })?;
        serde_path_to_error::deserialize(document).map_err(|e| {
            let field = e.path().to_string();
            let inner = e.into_inner();
            let (line, column) = at(&inner);
            syntax(field, line, column, inner.message().trim().to_owned())
        })
    }
}

fn is_http_url(text: &str) -> bool {
    reqwest::Url::parse(text).is_ok_and(|u| matches!(u.scheme(), "http" | "https") && u.has_host())
}

/// The operator token: from the file `operator_token_file` names
/// (relative to the target file), or the variable `operator_token_env`
/// names (an error if unset), or [`OPERATOR_TOKEN_VAR`] if set.
/// Errors as (field, text to find its line by, message).
fn operator_token(
    path: &Path,
    c: &RawCredentials,
    var: &dyn Fn(&str) -> Option<String>,
) -> Result<Option<Secret>, (&'static str, String, String)> {
    let token = |text: String| Some(text.trim().to_owned()).filter(|t| !t.is_empty()).map(Secret);
    match (&c.operator_token_env, &c.operator_token_file) {
        (Some(_), Some(_)) => Err((
            "credentials",
            "operator_token_file".into(),
            "give `operator_token_env` or `operator_token_file`, not both".into(),
        )),
        (None, Some(file)) => {
            let file = path.parent().map(|d| d.join(file)).unwrap_or_else(|| file.clone());
            match std::fs::read_to_string(&file) {
                Ok(text) => Ok(token(text)),
                Err(e) => Err((
                    "credentials.operator_token_file",
                    "operator_token_file".into(),
                    format!("reading {}: {e}", file.display()),
                )),
            }
        }
        (Some(name), None) => match var(name).and_then(token) {
            Some(secret) => Ok(Some(secret)),
            None => Err(("credentials.operator_token_env", name.clone(), format!("`{name}` is not set"))),
        },
        (None, None) => Ok(var(OPERATOR_TOKEN_VAR).and_then(token)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const KNOWN: &[&str] = &["store", "users", "fulfillment"];

    fn parse_as(name: &str, text: &str, vars: &[(&str, &str)]) -> Result<TargetFile, TargetFileError> {
        let vars: BTreeMap<String, String> = vars.iter().map(|(k, v)| ((*k).into(), (*v).into())).collect();
        TargetFile::parse(Path::new(name), text, KNOWN, &|k| vars.get(k).cloned())
    }

    const TOML: &str = r#"
namespace = "staging"
endpoint = "aws"
region = "eu-west-1"

[services]
store = "https://store.staging.example.com/"
users = "https://users.staging.example.com"

[observe]
otlp = "0.0.0.0:4318"
stuck_after_seconds = 30

[credentials]
operator_token_env = "STAGING_OPERATOR_TOKEN"
"#;

    #[test]
    fn a_toml_file_and_the_same_in_yaml_read_alike() {
        let vars = [("STAGING_OPERATOR_TOKEN", "s3cr3t-token\n")];
        let toml = parse_as("deploy/staging.toml", TOML, &vars).unwrap();
        assert_eq!(toml.name, "staging");
        assert_eq!(toml.namespace.as_str(), "staging");
        assert_eq!(toml.endpoint, Endpoint::Aws);
        assert_eq!(toml.region.as_deref(), Some("eu-west-1"));
        assert_eq!(toml.services["store"], "https://store.staging.example.com", "no trailing slash");
        assert_eq!(toml.otlp, Some("0.0.0.0:4318".parse().unwrap()));
        assert_eq!(toml.quiet.stuck_after, Duration::from_secs(30));
        assert_eq!(toml.quiet.timeout, Duration::from_secs(120));
        assert_eq!(toml.operator.as_ref().map(Secret::expose), Some("s3cr3t-token"));
        assert!(!format!("{toml:?}").contains("s3cr3t"), "the token is never printed");

        let yaml = "name: stage-2\nnamespace: staging\nendpoint: http://127.0.0.1:5000\nservices:\n  store: http://127.0.0.1:8001\n";
        let yaml = parse_as("stage.yaml", yaml, &[(OPERATOR_TOKEN_VAR, "t")]).unwrap();
        assert_eq!(yaml.name, "stage-2");
        assert_eq!(yaml.endpoint, Endpoint::Url("http://127.0.0.1:5000".into()));
        assert_eq!((yaml.otlp, yaml.region.as_deref()), (None, None), "no spans, the default region");
        assert_eq!(yaml.operator.as_ref().map(Secret::expose), Some("t"), "the default variable");
        assert_eq!(yaml.whereabouts(), "namespace staging at http://127.0.0.1:5000");
    }

    #[test]
    fn each_mistake_is_named_with_its_line_and_field() {
        let cases: &[(&str, &str, &str)] = &[
            (
                "t.toml",
                "namespace = \"staging\"\nendpoint = \"aws\"\n[services]\nstor = \"http://s\"\n",
                "t.toml:4: `services.stor`: no service `stor` in the manifests; did you mean `store`?",
            ),
            (
                "t.toml",
                "namespace = \"Staging\"\nendpoint = \"aws\"\n[services]\nstore = \"http://s\"\n",
                "t.toml:1: `namespace`: `Staging` is not a namespace",
            ),
            (
                "t.toml",
                "namespace = \"s\"\nendpoint = \"sqs.example.com\"\n[services]\nstore = \"http://s\"\n",
                "t.toml:2: `endpoint`: `sqs.example.com` is neither `aws`",
            ),
            (
                "t.toml",
                "namespace = \"s\"\nendpoint = \"aws\"\n[services]\nstore = \"store:8080\"\n",
                "t.toml:4: `services.store`: `store:8080` is not an http(s) base URL",
            ),
            (
                "t.toml",
                "namespace = \"s\"\nendpoint = \"aws\"\n[services]\nstore = \"http://s\"\n[observe]\notlp = \"4318\"\n",
                "t.toml:6: `observe.otlp`: `4318` is not IP:PORT",
            ),
            (
                "t.toml",
                "namespace = \"s\"\nendpoint = \"aws\"\n[services]\nstore = \"http://s\"\n[observe]\notpl = \"0.0.0.0:1\"\n",
                "t.toml:6:1: `observe.otpl`: unknown field `otpl`, expected one of `otlp`, `quiet_timeout_seconds`, `stuck_after_seconds`; did you mean `otlp`?",
            ),
            ("t.toml", "namespace = \"s\"\n[services]\nstore = \"http://s\"\n", "t.toml:1:1: missing field `endpoint`"),
            (
                "t.yaml",
                "namespace: s\nendpoint: aws\nservices:\n  store: [1]\n",
                "t.yaml:4:10: `services.store`: invalid type: sequence, expected a string",
            ),
            (
                "t.toml",
                "namespace = \"s\"\nendpoint = \"aws\"\n[services]\nstore = \"http://s\"\n[credentials]\noperator_token_env = \"NOPE\"\n",
                "t.toml:6: `credentials.operator_token_env`: `NOPE` is not set",
            ),
        ];
        for (name, text, want) in cases {
            let err = parse_as(name, text, &[]).unwrap_err().to_string();
            assert!(err.starts_with(want), "want {want}\n got {err}");
        }
    }

    #[test]
    fn the_operator_token_may_come_from_a_file_beside_it() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("token"), "from-a-file\n").unwrap();
        let text = "namespace = \"s\"\nendpoint = \"aws\"\n[services]\nstore = \"http://s\"\n[credentials]\noperator_token_file = \"token\"\n";
        let file = parse_as(&dir.path().join("t.toml").display().to_string(), text, &[]).unwrap();
        assert_eq!(file.operator.map(|s| s.expose().to_owned()).as_deref(), Some("from-a-file"));
    }
}
