//! What a service receives from fare's environment, by runtime.
//!
//! A child process inherits all of it but [`kit::config::HARNESS_ONLY`]
//! (`ServiceProcess::spawn` leaves that to the OS, so the host's own
//! variables, `PATH` and `HOME`, reach it too). A container inherits
//! nothing, and the host's own would be wrong inside it, so [`for_container`]
//! chooses: what the service's manifest declares in `[env]` and what the
//! kit reads for every service ([`kit::config::COMMON`]). So
//! `ARGON2_CONCURRENCY=4 fare up` or `RUST_LOG=debug fare up` reach the
//! services either way; a variable neither declared nor common reaches only
//! a process. In both, fare's own settings (ports, URLs, the AWS endpoint,
//! the namespace) win over inherited ones, and no `HARNESS_ONLY` switch
//! gets through.

use std::collections::BTreeMap;

use crate::manifest::Manifest;

/// fare's environment, as far as it is text (the others no service reads).
pub fn fare_environment() -> impl Iterator<Item = (String, String)> {
    std::env::vars_os().filter_map(|(key, value)| Some((key.into_string().ok()?, value.into_string().ok()?)))
}

/// The environment of `manifest`'s service in a container: the variables of
/// `inherited` (fare's environment) that the manifest declares or the kit
/// reads for every service, with fare's `own` settings laid over them.
pub fn for_container(
    inherited: impl IntoIterator<Item = (String, String)>,
    manifest: &Manifest,
    own: &BTreeMap<String, String>,
) -> BTreeMap<String, String> {
    let mut env: BTreeMap<String, String> = inherited
        .into_iter()
        .filter(|(key, _)| manifest.env.contains_key(key) || kit::config::is_common(key))
        .collect();
    env.extend(own.iter().map(|(key, value)| (key.clone(), value.clone())));
    env.retain(|key, _| !kit::config::HARNESS_ONLY.contains(&key.as_str()));
    env
}

#[cfg(test)]
mod tests {
    use super::*;

    fn users() -> Manifest {
        let text = "name = \"users\"\ndescription = \"d\"\n[env]\nARGON2_CONCURRENCY = \"hashes at once\"\nFARE_FAULT_FD = \"x\"\n";
        Manifest::parse(std::path::Path::new("users/service.toml"), text).unwrap()
    }

    #[test]
    fn a_container_gets_declared_and_common_variables_under_fares_own() {
        let inherited = [
            ("ARGON2_CONCURRENCY", "4"),
            ("LOGINS_PER_CLIENT", "50"),
            ("RUST_LOG", "debug"),
            ("OTEL_SERVICE_NAME", "mine"),
            ("PORT", "9999"),
            ("PATH", "/usr/bin"),
            ("HOME", "/root"),
            ("FARE_FAULT_FD", "7"),
            ("FARE_PROVIDER_STATES", "1"),
        ];
        let inherited = inherited.map(|(k, v)| (k.to_owned(), v.to_owned()));
        let own =
            BTreeMap::from([("PORT".to_owned(), "8080".to_owned()), ("FARE_LISTEN_FD".to_owned(), "3".to_owned())]);
        let env = for_container(inherited, &users(), &own);
        let expected =
            [("ARGON2_CONCURRENCY", "4"), ("OTEL_SERVICE_NAME", "mine"), ("PORT", "8080"), ("RUST_LOG", "debug")];
        let expected: BTreeMap<String, String> =
            expected.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect();
        assert_eq!(env, expected);
    }
}
