//! Password hashing with argon2. Hashing is deliberately slow and CPU-bound
//! (about 19 MiB and, unoptimised, a second each), so it runs on the
//! blocking pool, never on the async threads, and at most `limit` hashes run
//! at once: a login flood queues here instead of taking every core from the
//! database calls, the consumer and the relay.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, OnceLock};

use tokio::sync::Semaphore;

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

/// Hashes and verifies passwords, `limit` at a time.
#[derive(Debug, Clone)]
pub struct Hasher {
    permits: Arc<Semaphore>,
    running: Arc<AtomicUsize>,
    /// The most hashes seen running at once.
    peak: Arc<AtomicUsize>,
}

impl Hasher {
    pub fn new(limit: usize) -> Hasher {
        Hasher { permits: Arc::new(Semaphore::new(limit.max(1))), running: Arc::default(), peak: Arc::default() }
    }

    /// As many as there are cores: more at once would only queue for the
    /// CPU while each holds its 19 MiB, and the blocking pool stays free for
    /// the database calls.
    pub fn default_limit() -> usize {
        std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1)
    }

    /// The most hashes that ran at once so far.
    #[cfg(test)]
    pub fn peak(&self) -> usize {
        self.peak.load(Ordering::Relaxed)
    }

    /// Runs `work` on the blocking pool once a permit is free.
    async fn run<T: Send + 'static>(&self, work: impl FnOnce() -> T + Send + 'static) -> Result<T, HashError> {
        let _permit = self.permits.acquire().await.expect("the semaphore is never closed");
        let (running, peak) = (self.running.clone(), self.peak.clone());
        tokio::task::spawn_blocking(move || {
            let now = running.fetch_add(1, Ordering::SeqCst) + 1;
            peak.fetch_max(now, Ordering::SeqCst);
            let out = work();
            running.fetch_sub(1, Ordering::SeqCst);
            out
        })
        .await
        .map_err(HashError::from)
    }

    /// A PHC string (`$argon2id$v=19$...`) with its own random salt.
    pub async fn hash(&self, password: String) -> Result<String, HashError> {
        self.run(move || hash_now(&password)).await?
    }

    /// Whether `password` matches `stored`; see [`verify_now`].
    pub async fn verify(&self, password: String, stored: Option<String>) -> Result<bool, HashError> {
        self.run(move || verify_now(&password, stored)).await?
    }
}

fn hash_now(password: &str) -> Result<String, HashError> {
    let salt = SaltString::encode_b64(&rand::random::<[u8; 16]>()).map_err(HashError::Hash)?;
    Argon2::default().hash_password(password.as_bytes(), &salt).map(|h| h.to_string()).map_err(HashError::Hash)
}

/// Whether `password` matches `stored`. With no stored hash (an unknown
/// email) a throwaway hash is checked instead, so that an unknown email
/// costs as much time as a wrong password and timing does not tell which
/// addresses have accounts.
fn verify_now(password: &str, stored: Option<String>) -> Result<bool, HashError> {
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
        let hasher = Hasher::new(1);
        let stored = hasher.hash("correct horse".into()).await.unwrap();
        assert!(stored.starts_with("$argon2id$"), "{stored}");
        assert!(hasher.verify("correct horse".into(), Some(stored.clone())).await.unwrap());
        assert!(!hasher.verify("wrong horse".into(), Some(stored)).await.unwrap());
        assert!(!hasher.verify("correct horse".into(), None).await.unwrap());
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
    async fn no_more_hashes_run_at_once_than_the_limit() {
        let hasher = Hasher::new(2);
        let mut hashes = tokio::task::JoinSet::new();
        for i in 0..6 {
            let hasher = hasher.clone();
            hashes.spawn(async move { hasher.hash(format!("password {i}")).await });
        }
        while let Some(h) = hashes.join_next().await {
            h.unwrap().unwrap();
        }
        assert_eq!(hasher.peak(), 2, "six hashes asked for at once ran two at a time");
    }
}
