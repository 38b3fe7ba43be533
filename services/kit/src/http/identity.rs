//! Service identity: who is calling, proven. Each service holds its own
//! key ([`ServiceKey`], `FARE_SERVICE_KEY`) and signs every call it makes
//! to another service with a short-lived token naming itself (the caller),
//! the service it calls (the audience) and an expiry, MAC'd with
//! HMAC-SHA256 under its key, sent in [`HEADER`]. A callee holds the keys of
//! the callers its manifest grants (`FARE_CALLER_KEYS`), and only those: it
//! cannot even verify a caller it does not grant.
//!
//! `fare up` draws one random secret per run and derives every service's
//! key from it ([`ServiceKey::derive`]); the secret itself reaches no
//! service. The token travels in its own header, so a user's
//! `Authorization: Bearer` keeps carrying the user's session where it does.
//!
//! A token: `v1.<caller>.<audience>.<expires, unix seconds>.<MAC, hex>`.

use std::collections::BTreeMap;
use std::fmt;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use hmac::{Hmac, Mac};
use sha2::Sha256;

use crate::config::Config;

/// The header a service's identity travels in. Its name holds `token`, so
/// the kit's redaction masks its value wherever it is written.
pub const HEADER: &str = "x-service-token";
/// How long a token a client signs is good for.
pub const TTL: Duration = Duration::from_secs(60);
/// The longest a callee accepts: a token claiming more was not made by a
/// client of this kit (or its clock is far off).
pub const MAX_TTL: Duration = Duration::from_secs(300);
/// A service's own signing key, hex.
pub const SERVICE_KEY_VAR: &str = "FARE_SERVICE_KEY";
/// The keys of the callers a service's manifest grants: `store:<hex>,mailer:<hex>`.
pub const CALLER_KEYS_VAR: &str = "FARE_CALLER_KEYS";

const VERSION: &str = "v1";

type HmacSha256 = Hmac<Sha256>;

/// A 256-bit key. Its `Debug` shows nothing of it.
#[derive(Clone, PartialEq, Eq)]
pub struct ServiceKey([u8; 32]);

impl fmt::Debug for ServiceKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("ServiceKey(<redacted>)")
    }
}

#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    /// The value is never quoted: it is a secret.
    #[error("{var} is not valid: {why}")]
    Invalid { var: &'static str, why: String },
    #[error("{SERVICE_KEY_VAR} is not set: a service that asks others signs its calls with it (fare up sets it)")]
    Missing,
}

impl ServiceKey {
    /// 32 random bytes: a per-run secret.
    pub fn random() -> ServiceKey {
        ServiceKey(rand::random())
    }

    /// The key of `service` under the platform's `secret`: the same secret
    /// and name always give the same key; another name, an unrelated one.
    pub fn derive(secret: &ServiceKey, service: &str) -> ServiceKey {
        ServiceKey(mac(&secret.0, &format!("fare-service-key {VERSION}|{service}")))
    }

    pub fn to_hex(&self) -> String {
        self.0.iter().map(|b| format!("{b:02x}")).collect()
    }

    pub fn from_hex(hex: &str) -> Option<ServiceKey> {
        let hex = hex.trim();
        if hex.len() != 64 || !hex.is_ascii() {
            return None;
        }
        let mut key = [0u8; 32];
        for (i, byte) in key.iter_mut().enumerate() {
            *byte = u8::from_str_radix(&hex[2 * i..2 * i + 2], 16).ok()?;
        }
        Some(ServiceKey(key))
    }
}

fn mac(key: &[u8], message: &str) -> [u8; 32] {
    let mut mac = HmacSha256::new_from_slice(key).expect("HMAC takes a key of any length");
    mac.update(message.as_bytes());
    mac.finalize().into_bytes().into()
}

fn signed_text(caller: &str, audience: &str, expires: u64) -> String {
    format!("fare-service-token {VERSION}|{caller}|{audience}|{expires}")
}

fn now() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or_default()
}

/// Signs the calls one service makes.
#[derive(Debug, Clone)]
pub struct Signer {
    service: String,
    key: ServiceKey,
}

impl Signer {
    pub fn new(service: &str, key: ServiceKey) -> Signer {
        Signer { service: service.to_owned(), key }
    }

    /// The service's signer from `FARE_SERVICE_KEY`, which must be set.
    pub fn from_config(config: &Config) -> Result<Signer, KeyError> {
        let hex = config.get(SERVICE_KEY_VAR).ok_or(KeyError::Missing)?;
        let key = ServiceKey::from_hex(hex)
            .ok_or_else(|| KeyError::Invalid { var: SERVICE_KEY_VAR, why: "expected 64 hex digits".into() })?;
        Ok(Signer::new(config.service(), key))
    }

    pub fn service(&self) -> &str {
        &self.service
    }

    /// A token for a call to `audience`, good for [`TTL`].
    pub fn token(&self, audience: &str) -> String {
        self.token_until(audience, now() + TTL.as_secs())
    }

    /// A token for calls to `audience` over `ttl` (at most [`MAX_TTL`]): for
    /// a harness replaying several calls as this service.
    pub fn token_lasting(&self, audience: &str, ttl: Duration) -> String {
        self.token_until(audience, now() + ttl.min(MAX_TTL).as_secs())
    }

    /// A token for a call to `audience` that expires at `expires` (unix seconds).
    pub fn token_until(&self, audience: &str, expires: u64) -> String {
        let mac = mac(&self.key.0, &signed_text(&self.service, audience, expires));
        let hex: String = mac.iter().map(|b| format!("{b:02x}")).collect();
        format!("{VERSION}.{}.{audience}.{expires}.{hex}", self.service)
    }
}

/// Why a presented identity is not taken.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Refusal {
    #[error(
        "no service identity: this endpoint answers only services its manifest grants, which send `X-Service-Token`"
    )]
    Missing,
    #[error("the service identity is malformed: expected `v1.<caller>.<audience>.<expires>.<mac>`")]
    Malformed,
    #[error("{service} holds no key for `{caller}`: its manifest grants `{caller}` nothing")]
    UnknownCaller { service: String, caller: String },
    #[error("the service identity claiming `{caller}` does not verify (a wrong key, or the token was altered)")]
    BadSignature { caller: String },
    #[error("the service identity of `{caller}` is for `{audience}`, not for {service}")]
    WrongAudience { service: String, caller: String, audience: String },
    #[error("the service identity of `{caller}` expired {ago} s ago")]
    Expired { caller: String, ago: u64 },
    #[error("the service identity of `{caller}` claims to be good for {seconds} s; at most {} s are taken", MAX_TTL.as_secs())]
    TooLong { caller: String, seconds: u64 },
}

/// Checks the identities presented to one service.
#[derive(Debug, Clone, Default)]
pub struct Verifier {
    service: String,
    callers: BTreeMap<String, ServiceKey>,
}

impl Verifier {
    pub fn new(service: &str, callers: BTreeMap<String, ServiceKey>) -> Verifier {
        Verifier { service: service.to_owned(), callers }
    }

    /// The callers' keys from `FARE_CALLER_KEYS` (`name:<hex>,…`); none when unset.
    pub fn from_config(config: &Config) -> Result<Verifier, KeyError> {
        let invalid = |why: String| KeyError::Invalid { var: CALLER_KEYS_VAR, why };
        let mut callers = BTreeMap::new();
        for entry in config.get(CALLER_KEYS_VAR).unwrap_or_default().split(',').filter(|e| !e.trim().is_empty()) {
            let (name, hex) =
                entry.split_once(':').ok_or_else(|| invalid("expected `service:<64 hex digits>,…`".into()))?;
            let key = ServiceKey::from_hex(hex)
                .ok_or_else(|| invalid(format!("the key of `{}` is not 64 hex digits", name.trim())))?;
            callers.insert(name.trim().to_owned(), key);
        }
        Ok(Verifier::new(config.service(), callers))
    }

    /// The callers this service can verify.
    pub fn callers(&self) -> impl Iterator<Item = &str> {
        self.callers.keys().map(String::as_str)
    }

    /// The caller `token` proves, at `now` (unix seconds).
    pub fn verify_at(&self, token: &str, now: u64) -> Result<String, Refusal> {
        let parts: Vec<&str> = token.trim().split('.').collect();
        let [VERSION, caller, audience, expires, mac_hex] = parts[..] else { return Err(Refusal::Malformed) };
        let expires: u64 = expires.parse().map_err(|_| Refusal::Malformed)?;
        let presented = ServiceKey::from_hex(mac_hex).ok_or(Refusal::Malformed)?;
        let key = self.callers.get(caller).ok_or_else(|| Refusal::UnknownCaller {
            service: self.service.clone(),
            caller: caller.chars().take(40).collect(),
        })?;
        let mut check = HmacSha256::new_from_slice(&key.0).expect("HMAC takes a key of any length");
        check.update(signed_text(caller, audience, expires).as_bytes());
        // Constant time: the MAC is compared by `hmac`, not by `==`.
        check.verify_slice(&presented.0).map_err(|_| Refusal::BadSignature { caller: caller.to_owned() })?;
        let caller = caller.to_owned();
        if audience != self.service {
            return Err(Refusal::WrongAudience {
                service: self.service.clone(),
                caller,
                audience: audience.to_owned(),
            });
        }
        if expires < now {
            return Err(Refusal::Expired { caller, ago: now - expires });
        }
        if expires - now > MAX_TTL.as_secs() {
            return Err(Refusal::TooLong { caller, seconds: expires - now });
        }
        Ok(caller)
    }

    /// The caller `token` proves, now.
    pub fn verify(&self, token: &str) -> Result<String, Refusal> {
        self.verify_at(token, now())
    }
}

/// `name:<hex>,…`: how `fare` hands a service its callers' keys.
pub fn caller_keys_value<'a>(keys: impl IntoIterator<Item = (&'a str, &'a ServiceKey)>) -> String {
    keys.into_iter().map(|(name, key)| format!("{name}:{}", key.to_hex())).collect::<Vec<_>>().join(",")
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOW: u64 = 1_800_000_000;

    fn keys() -> (ServiceKey, ServiceKey) {
        let secret = ServiceKey::from_hex(&"ab".repeat(32)).unwrap();
        (ServiceKey::derive(&secret, "store"), ServiceKey::derive(&secret, "mailer"))
    }

    fn users_granting(callers: &[(&str, &ServiceKey)]) -> Verifier {
        Verifier::new("users", callers.iter().map(|(n, k)| ((*n).to_owned(), (*k).clone())).collect())
    }

    #[test]
    fn a_token_names_caller_and_audience_and_verifies_with_the_callers_key() {
        let (store, mailer) = keys();
        assert_ne!(store, mailer, "each service's key is its own");
        let token = Signer::new("store", store.clone()).token_until("users", NOW + 60);
        assert!(token.starts_with("v1.store.users.1800000060."), "{token}");
        let users = users_granting(&[("store", &store), ("mailer", &mailer)]);
        assert_eq!(users.verify_at(&token, NOW), Ok("store".to_owned()));
        assert_eq!(users.verify_at(&token, NOW + 60), Ok("store".to_owned()));
    }

    #[test]
    fn a_wrong_key_a_wrong_audience_an_expired_or_altered_token_is_refused() {
        let (store, mailer) = keys();
        let users = users_granting(&[("store", &store), ("mailer", &mailer)]);
        // Signed by mailer's key while claiming to be store.
        let forged = Signer::new("store", mailer.clone()).token_until("users", NOW + 60);
        assert_eq!(users.verify_at(&forged, NOW), Err(Refusal::BadSignature { caller: "store".into() }));
        let elsewhere = Signer::new("store", store.clone()).token_until("invoice", NOW + 60);
        assert_eq!(
            users.verify_at(&elsewhere, NOW),
            Err(Refusal::WrongAudience { service: "users".into(), caller: "store".into(), audience: "invoice".into() })
        );
        let old = Signer::new("store", store.clone()).token_until("users", NOW - 5);
        assert_eq!(users.verify_at(&old, NOW), Err(Refusal::Expired { caller: "store".into(), ago: 5 }));
        let long = Signer::new("store", store.clone()).token_until("users", NOW + 3600);
        assert_eq!(users.verify_at(&long, NOW), Err(Refusal::TooLong { caller: "store".into(), seconds: 3600 }));
        // The expiry pushed on, or the caller swapped, without a new MAC.
        let good = Signer::new("store", store.clone()).token_until("users", NOW + 60);
        let later = good.replace(".1800000060.", ".1800000200.");
        assert_eq!(users.verify_at(&later, NOW), Err(Refusal::BadSignature { caller: "store".into() }));
        let swapped = good.replacen("store", "mailer", 1);
        assert_eq!(users.verify_at(&swapped, NOW), Err(Refusal::BadSignature { caller: "mailer".into() }));
        for malformed in
            ["", "v1.store.users", "v2.store.users.1.ab", &good.replace("v1.", "v0."), &good[..good.len() - 2]]
        {
            assert_eq!(users.verify_at(malformed, NOW), Err(Refusal::Malformed), "{malformed:?}");
        }
    }

    #[test]
    fn a_callee_cannot_verify_a_caller_it_holds_no_key_for() {
        let (store, mailer) = keys();
        let users = users_granting(&[("mailer", &mailer)]);
        let token = Signer::new("store", store).token_until("users", NOW + 60);
        let refusal = users.verify_at(&token, NOW).unwrap_err();
        assert_eq!(refusal, Refusal::UnknownCaller { service: "users".into(), caller: "store".into() });
        assert_eq!(refusal.to_string(), "users holds no key for `store`: its manifest grants `store` nothing");
    }

    #[test]
    fn keys_travel_as_hex_and_never_show_in_debug_or_errors() {
        let (store, mailer) = keys();
        let value = caller_keys_value([("store", &store), ("mailer", &mailer)]);
        let config = Config::defaults("users", &[]).with(CALLER_KEYS_VAR, &value);
        let verifier = Verifier::from_config(&config).unwrap();
        assert_eq!(verifier.callers().collect::<Vec<_>>(), ["mailer", "store"]);
        assert_eq!(format!("{store:?}"), "ServiceKey(<redacted>)");
        let bad = Config::defaults("users", &[]).with(CALLER_KEYS_VAR, format!("store:{}", &store.to_hex()[2..]));
        let err = Verifier::from_config(&bad).unwrap_err().to_string();
        assert_eq!(err, "FARE_CALLER_KEYS is not valid: the key of `store` is not 64 hex digits");
        let signer = Signer::from_config(&Config::defaults("store", &[]).with(SERVICE_KEY_VAR, store.to_hex()));
        assert_eq!(signer.unwrap().service(), "store");
        assert!(matches!(Signer::from_config(&Config::defaults("store", &[])), Err(KeyError::Missing)));
    }

    #[test]
    fn the_header_is_masked_by_redaction() {
        let (store, _) = keys();
        let token = Signer::new("store", store).token_until("users", NOW + 60);
        assert!(crate::redact::is_secret_key(HEADER));
        let line = format!("x-service-token: {token} sent");
        assert_eq!(crate::redact::text(&line), "x-service-token: <redacted> sent");
        let mut headers = serde_json::json!({ "X-Service-Token": token });
        crate::redact::json(&mut headers);
        assert_eq!(headers, serde_json::json!({ "X-Service-Token": "<redacted>" }));
    }
}
