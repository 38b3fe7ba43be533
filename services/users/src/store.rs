//! The users and sessions tables.
//!
//! Session tokens are stored as they are, not hashed. A hash would keep a
//! stolen copy of the database from yielding live tokens, but the only hash
//! in the workspace is argon2, whose cost (and per-hash salt, which makes
//! the column unsearchable) is wrong for a lookup on every order request.
//! The tokens are 256 random bits that expire, and the database is private
//! to this service.

use rusqlite::{Connection, OptionalExtension, Transaction};
use serde::Serialize;

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

/// Starts a session, and forgets sessions long expired.
pub fn insert_session(tx: &Transaction<'_>, token: &str, session: &Session, now_ms: i64) -> rusqlite::Result<()> {
    tx.execute("DELETE FROM sessions WHERE expires_at_ms < ?1", [now_ms - EXPIRED_KEPT_MS])?;
    tx.execute(
        "INSERT INTO sessions (token, user_id, expires_at_ms) VALUES (?1, ?2, ?3)",
        rusqlite::params![token, session.user_id, session.expires_at_ms],
    )?;
    Ok(())
}

pub fn session(conn: &Connection, token: &str) -> rusqlite::Result<Option<Session>> {
    conn.query_row("SELECT user_id, expires_at_ms FROM sessions WHERE token = ?1", [token], |r| {
        Ok(Session { user_id: r.get(0)?, expires_at_ms: r.get(1)? })
    })
    .optional()
}

/// Ends the session `token`, if there is one.
pub fn forget_session(tx: &Transaction<'_>, token: &str) -> rusqlite::Result<()> {
    tx.execute("DELETE FROM sessions WHERE token = ?1", [token])?;
    Ok(())
}

/// Deletes the user `user_id` and their sessions, if there is one.
pub fn forget_user(tx: &Transaction<'_>, user_id: &str) -> rusqlite::Result<()> {
    tx.execute("DELETE FROM sessions WHERE user_id = ?1", [user_id])?;
    tx.execute("DELETE FROM users WHERE id = ?1", [user_id])?;
    Ok(())
}
