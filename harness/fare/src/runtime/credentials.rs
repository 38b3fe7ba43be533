//! The credentials of one run, drawn fresh by every `fare up`: a random
//! platform secret from which each service's key derives (the secret
//! itself reaches no service), and an operator token whose SHA-256 the
//! services with operator endpoints hold. Each service is handed only its
//! own key, the keys of the callers its manifest grants, and the digest.
//!
//! The operator token is written to `.fare/<namespace>/operator-token`,
//! readable by its owner only, for a developer (`curl -H "Authorization:
//! Bearer $(cat .fare/fare/operator-token)"`) and for a `fare` that attaches
//! to the run; no log line, report or state file holds it.

use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};

use kit::http::access::{OPERATOR_VAR, operator_digest};
use kit::http::identity::{CALLER_KEYS_VAR, SERVICE_KEY_VAR, ServiceKey, Signer, caller_keys_value};

use super::state::OPERATOR_TOKEN_FILE;
use crate::manifest::Manifest;

/// A run's platform secret and operator token. `Debug` shows neither.
#[derive(Clone)]
pub struct Credentials {
    secret: ServiceKey,
    operator: String,
}

impl std::fmt::Debug for Credentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Credentials(<redacted>)")
    }
}

impl Credentials {
    pub fn generate() -> Credentials {
        Credentials { secret: ServiceKey::random(), operator: ServiceKey::random().to_hex() }
    }

    /// `service`'s key.
    pub fn key(&self, service: &str) -> ServiceKey {
        ServiceKey::derive(&self.secret, service)
    }

    /// What signs `service`'s calls: for the harness to call as a service
    /// (contract verification replays a consumer's pact as that consumer).
    pub fn signer(&self, service: &str) -> Signer {
        Signer::new(service, self.key(service))
    }

    pub fn operator_token(&self) -> &str {
        &self.operator
    }

    /// The access settings of the service `m` describes: its own key, its
    /// granted callers' keys (empty for none, over any inherited value),
    /// the operator digest where it has operator endpoints.
    pub fn service_env(&self, m: &Manifest) -> BTreeMap<String, String> {
        let callers: Vec<(&str, ServiceKey)> =
            m.grants.iter().map(|g| (g.service.as_str(), self.key(&g.service))).collect();
        let digest = if m.operator.is_empty() { String::new() } else { operator_digest(&self.operator) };
        BTreeMap::from([
            (SERVICE_KEY_VAR.to_owned(), self.key(&m.name).to_hex()),
            (CALLER_KEYS_VAR.to_owned(), caller_keys_value(callers.iter().map(|(n, k)| (*n, k)))),
            (OPERATOR_VAR.to_owned(), digest),
        ])
    }

    /// Writes the operator token to `dir`, for its owner alone; the path.
    pub fn write_operator_token(&self, dir: &Path) -> std::io::Result<PathBuf> {
        use std::os::unix::fs::OpenOptionsExt;
        let path = dir.join(OPERATOR_TOKEN_FILE);
        let _ = std::fs::remove_file(&path);
        let mut file = std::fs::OpenOptions::new().write(true).create_new(true).mode(0o600).open(&path)?;
        file.write_all(self.operator.as_bytes())?;
        Ok(path)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn manifest(text: &str) -> Manifest {
        Manifest::parse(Path::new("services/x/service.toml"), text).unwrap()
    }

    #[test]
    fn a_service_gets_its_own_key_its_granted_callers_keys_and_no_others() {
        let run = Credentials::generate();
        let users = manifest(
            "name = \"users\"\ndescription = \"d\"\n[[grants]]\nservice = \"mailer\"\nendpoints = [\"GET /u/{id}\"]\n",
        );
        let env = run.service_env(&users);
        assert_eq!(env[SERVICE_KEY_VAR], run.key("users").to_hex());
        assert_eq!(env[CALLER_KEYS_VAR], format!("mailer:{}", run.key("mailer").to_hex()));
        assert!(!env[CALLER_KEYS_VAR].contains(&run.key("store").to_hex()));
        assert_eq!(env[OPERATOR_VAR], "", "no operator endpoints, no digest");
        let devices = manifest("name = \"devices\"\ndescription = \"d\"\noperator = [\"POST /devices\"]\n");
        let env = run.service_env(&devices);
        assert_eq!(env[OPERATOR_VAR], operator_digest(run.operator_token()));
        assert!(!env.values().any(|v| v.contains(run.operator_token())), "the token itself reaches no service");
        assert!(!env.values().any(|v| v.contains(&run.secret.to_hex())), "nor the platform secret");
        let other = Credentials::generate();
        assert_ne!(other.key("users"), run.key("users"), "each run its own keys");
        assert_eq!(format!("{run:?}"), "Credentials(<redacted>)");
    }

    #[test]
    fn the_operator_token_file_is_the_owners_alone() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let run = Credentials::generate();
        let path = run.write_operator_token(dir.path()).unwrap();
        assert_eq!(std::fs::metadata(&path).unwrap().permissions().mode() & 0o777, 0o600);
        assert_eq!(std::fs::read_to_string(&path).unwrap(), run.operator_token());
        // A second run replaces it.
        let next = Credentials::generate();
        next.write_operator_token(dir.path()).unwrap();
        assert_eq!(std::fs::read_to_string(&path).unwrap(), next.operator_token());
    }
}
