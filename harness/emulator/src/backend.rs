//! The emulators fare knows how to install and start, with their pinned
//! versions. Pins live here and nowhere else.

use std::path::Path;
use std::process::Command;

/// The moto release fare installs; its SNS→SQS delivery, redelivery and
/// dead-letter behaviour is what the platform's tests were written against.
pub const MOTO_VERSION: &str = "5.2.5";

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Backend {
    /// moto's standalone server: small, quick to start, the default.
    #[default]
    Moto,
}

impl Backend {
    pub fn name(self) -> &'static str {
        match self {
            Backend::Moto => "moto",
        }
    }

    /// The directory name of this backend's virtual environment: it carries
    /// the pin, so changing a pin installs beside the old one.
    pub(crate) fn venv_name(self) -> String {
        match self {
            Backend::Moto => format!("moto-{MOTO_VERSION}"),
        }
    }

    /// What `pip install` is given.
    pub(crate) fn requirements(self) -> Vec<String> {
        match self {
            Backend::Moto => vec![format!("moto[server]=={MOTO_VERSION}")],
        }
    }

    /// The command that serves the emulator on `port` of 127.0.0.1.
    pub(crate) fn command(self, venv: &Path, port: u16) -> Command {
        match self {
            Backend::Moto => {
                let mut cmd = Command::new(venv.join("bin").join("moto_server"));
                cmd.args(["-H", "127.0.0.1", "-p", &port.to_string()]);
                cmd
            }
        }
    }

    /// The path that answers once the emulator can take requests.
    pub(crate) fn ready_path(self) -> &'static str {
        match self {
            Backend::Moto => "/moto-api/",
        }
    }
}
