//! The emulators fare knows how to install and start, with their pinned
//! versions. Pins live here and nowhere else.

use std::path::{Path, PathBuf};
use std::process::Command;

/// The moto release fare installs; its SNS→SQS delivery, redelivery and
/// dead-letter behaviour is what the platform's tests were written against.
pub const MOTO_VERSION: &str = "5.2.5";

/// The LocalStack core release fare installs on the host (no container, no
/// auth token on this path). It needs Python 3.12 or newer.
pub const LOCALSTACK_VERSION: &str = "2026.3.0";

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Backend {
    /// moto's standalone server: small, quick to start, the default.
    #[default]
    Moto,
    /// LocalStack's SNS and SQS, run on the host from `localstack-core`.
    LocalStack,
}

impl Backend {
    /// Every backend, as `fare images` builds their container images.
    pub const ALL: [Backend; 2] = [Backend::LocalStack, Backend::Moto];

    pub fn name(self) -> &'static str {
        match self {
            Backend::Moto => "moto",
            Backend::LocalStack => "localstack",
        }
    }

    /// Parses a backend's name as the CLI takes it.
    pub fn parse(name: &str) -> Option<Backend> {
        match name {
            "moto" => Some(Backend::Moto),
            "localstack" => Some(Backend::LocalStack),
            _ => None,
        }
    }

    /// The virtual environment the backend runs from.
    pub fn tool(self) -> crate::Tool {
        crate::Tool {
            name: self.name(),
            venv: self.venv_name(),
            requirements: self.requirements(),
            python_versions: self.python_versions(),
        }
    }

    /// The Python versions that can run the backend, newest first; empty
    /// means any `python3`.
    fn python_versions(self) -> &'static [&'static str] {
        match self {
            Backend::Moto => &[],
            Backend::LocalStack => &["3.13", "3.12"],
        }
    }

    /// The directory name of this backend's virtual environment: it carries
    /// the pin, so changing a pin installs beside the old one.
    fn venv_name(self) -> String {
        match self {
            Backend::Moto => format!("moto-{MOTO_VERSION}"),
            Backend::LocalStack => format!("localstack-{LOCALSTACK_VERSION}"),
        }
    }

    /// What `pip install` is given.
    fn requirements(self) -> Vec<String> {
        match self {
            Backend::Moto => vec![format!("moto[server]=={MOTO_VERSION}")],
            // The upper bounds keep pip from pairing this release with
            // libraries newer than it was built against.
            Backend::LocalStack => vec![
                format!("localstack-core[runtime]=={LOCALSTACK_VERSION}"),
                "cbor2<6".into(),
                "pyopenssl<26".into(),
                "cryptography<47".into(),
                "service_identity".into(),
            ],
        }
    }

    /// How the backend serves on `host:port` from the virtual environment
    /// at `venv`, keeping what it keeps in `state` (LocalStack does): the
    /// host's emulator process and the emulator's container image (`fare
    /// images`) are both started from this.
    pub fn serve(self, venv: &Path, state: &Path, host: &str, port: u16) -> Serve {
        match self {
            Backend::Moto => Serve {
                program: venv.join("bin").join("moto_server"),
                args: vec!["-H".into(), host.into(), "-p".into(), port.to_string()],
                env: Vec::new(),
            },
            Backend::LocalStack => Serve {
                program: venv.join("bin").join("python"),
                args: vec!["-m".into(), "localstack.runtime.main".into()],
                env: [
                    ("GATEWAY_LISTEN", format!("{host}:{port}")),
                    ("SERVICES", "sns,sqs".into()),
                    ("SKIP_SSL_CERT_DOWNLOAD", "1".into()),
                    ("DISABLE_EVENTS", "1".into()),
                    ("LOCALSTACK_VOLUME_DIR", state.display().to_string()),
                ]
                .into_iter()
                .map(|(k, v)| (k.to_owned(), v))
                .collect(),
            },
        }
    }

    /// The command that serves the emulator on `port` of 127.0.0.1.
    pub(crate) fn command(self, venv: &Path, port: u16) -> Command {
        let serve = self.serve(venv, &venv.join("volume"), "127.0.0.1", port);
        let mut cmd = Command::new(&serve.program);
        cmd.args(&serve.args).envs(serve.env);
        cmd
    }

    /// The path that answers 200 once the emulator can take requests.
    pub fn ready_path(self) -> &'static str {
        match self {
            Backend::Moto => "/moto-api/",
            Backend::LocalStack => "/_localstack/health",
        }
    }
}

/// A backend's server: a program of its virtual environment, its arguments
/// and the environment it needs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Serve {
    pub program: PathBuf,
    pub args: Vec<String>,
    pub env: Vec<(String, String)>,
}
