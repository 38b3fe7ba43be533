//! Password hashing with argon2. Hashing is deliberately slow and CPU-bound,
//! so it runs on the blocking pool, never on the async threads.

use std::sync::OnceLock;

use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::{Argon2, password_hash};

#[derive(Debug, thiserror::Error)]
pub enum HashError {
    #[error("hashing a password: {0}")]
    Hash(#[source] password_hash::Error),
    #[error("a stored password hash is not in PHC format: {0}")]
    Stored(#[source] password_hash::Error),
    #[error("the hashing task stopped before it finished: {0}")]
    Task(#[from] tokio::task::JoinError),
}

/// A PHC string (`$argon2id$v=19$...`) with its own random salt.
pub async fn hash(password: String) -> Result<String, HashError> {
    tokio::task::spawn_blocking(move || hash_now(&password)).await?
}

fn hash_now(password: &str) -> Result<String, HashError> {
    let salt = SaltString::encode_b64(&rand::random::<[u8; 16]>()).map_err(HashError::Hash)?;
    Argon2::default().hash_password(password.as_bytes(), &salt).map(|h| h.to_string()).map_err(HashError::Hash)
}

/// Whether `password` matches `stored`. With no stored hash (an unknown
/// email) a throwaway hash is checked instead, so that an unknown email
/// costs as much time as a wrong password and timing does not tell which
/// addresses have accounts.
pub async fn verify(password: String, stored: Option<String>) -> Result<bool, HashError> {
    tokio::task::spawn_blocking(move || {
        let stored = match stored {
            Some(s) => s,
            None => throwaway()?.to_owned(),
        };
        let parsed = PasswordHash::new(&stored).map_err(HashError::Stored)?;
        match Argon2::default().verify_password(password.as_bytes(), &parsed) {
            Ok(()) => Ok(true),
            Err(password_hash::Error::Password) => Ok(false),
            Err(e) => Err(HashError::Stored(e)),
        }
    })
    .await?
}

fn throwaway() -> Result<&'static str, HashError> {
    static THROWAWAY: OnceLock<String> = OnceLock::new();
    if let Some(h) = THROWAWAY.get() {
        return Ok(h);
    }
    let h = hash_now("no account has this password")?;
    Ok(THROWAWAY.get_or_init(|| h))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_hash_verifies_its_password_only() {
        let stored = hash("correct horse".into()).await.unwrap();
        assert!(stored.starts_with("$argon2id$"), "{stored}");
        assert!(verify("correct horse".into(), Some(stored.clone())).await.unwrap());
        assert!(!verify("wrong horse".into(), Some(stored)).await.unwrap());
        assert!(!verify("correct horse".into(), None).await.unwrap());
    }
}
