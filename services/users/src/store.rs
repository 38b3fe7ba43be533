//! The users and sessions tables.
//!
//! A session is stored under the SHA-256 of its token, never the token: a
//! stolen copy of the database yields no token that works. A fast unsalted
//! hash is enough here (unlike for passwords) because a token is 256 random
//! bits, which no dictionary holds, and it keeps the lookup on every order
//! request one indexed query.

use rusqlite::{Connection, OptionalExtension, Transaction};
use serde::Serialize;
use sha2::{Digest, Sha256};

/// The key a session is stored under: the SHA-256 of its token, hex.
fn digest(token: &str) -> String {
    Sha256::digest(token.as_bytes()).iter().map(|b| format!("{b:02x}")).collect()
}

/// What other services may know about a user.
#[derive(Debug, Clone, Serialize)]
pub struct Contact {
    pub user_id: String,
    pub email: String,
    pub name: String,
}

/// A user as a login needs it.
pub struct Credentials {
    pub user_id: String,
    pub password_hash: String,
}

pub struct Session {
    pub user_id: String,
    pub expires_at_ms: i64,
}

/// Inserts a user unless the email is taken; `true` if inserted.
pub fn insert_user(
    tx: &Transaction<'_>,
    contact: &Contact,
    password_hash: &str,
    created_at: &str,
) -> rusqlite::Result<bool> {
    let n = tx.execute(
        "INSERT INTO users (id, email, name, password_hash, created_at) VALUES (?1, ?2, ?3, ?4, ?5)
         ON CONFLICT (email) DO NOTHING",
        rusqlite::params![contact.user_id, contact.email, contact.name, password_hash, created_at],
    )?;
    Ok(n == 1)
}

pub fn credentials(conn: &Connection, email: &str) -> rusqlite::Result<Option<Credentials>> {
    conn.query_row("SELECT id, password_hash FROM users WHERE email = ?1", [email], |r| {
        Ok(Credentials { user_id: r.get(0)?, password_hash: r.get(1)? })
    })
    .optional()
}

pub fn contact(conn: &Connection, user_id: &str) -> rusqlite::Result<Option<Contact>> {
    conn.query_row("SELECT id, email, name FROM users WHERE id = ?1", [user_id], |r| {
        Ok(Contact { user_id: r.get(0)?, email: r.get(1)?, name: r.get(2)? })
    })
    .optional()
}

/// How long an expired session is kept, so that it is still reported as
/// expired rather than unknown for a while.
const EXPIRED_KEPT_MS: i64 = 24 * 60 * 60 * 1000;

/// Starts the session `token`.
pub fn insert_session(tx: &Transaction<'_>, token: &str, session: &Session) -> rusqlite::Result<()> {
    tx.execute(
        "INSERT INTO sessions (token_sha256, user_id, expires_at_ms) VALUES (?1, ?2, ?3)",
        rusqlite::params![digest(token), session.user_id, session.expires_at_ms],
    )?;
    Ok(())
}

/// Forgets sessions that expired long enough ago; how many it forgot.
pub fn purge_expired(tx: &Transaction<'_>, now_ms: i64) -> rusqlite::Result<usize> {
    tx.execute("DELETE FROM sessions WHERE expires_at_ms < ?1", [now_ms.saturating_sub(EXPIRED_KEPT_MS)])
}

pub fn session(conn: &Connection, token: &str) -> rusqlite::Result<Option<Session>> {
    conn.query_row("SELECT user_id, expires_at_ms FROM sessions WHERE token_sha256 = ?1", [digest(token)], |r| {
        Ok(Session { user_id: r.get(0)?, expires_at_ms: r.get(1)? })
    })
    .optional()
}

/// Ends the session `token`, if there is one.
pub fn forget_session(tx: &Transaction<'_>, token: &str) -> rusqlite::Result<()> {
    tx.execute("DELETE FROM sessions WHERE token_sha256 = ?1", [digest(token)])?;
    Ok(())
}

/// Deletes the user `user_id` and their sessions, if there is one.
pub fn forget_user(tx: &Transaction<'_>, user_id: &str) -> rusqlite::Result<()> {
    tx.execute("DELETE FROM sessions WHERE user_id = ?1", [user_id])?;
    tx.execute("DELETE FROM users WHERE id = ?1", [user_id])?;
    Ok(())
}
